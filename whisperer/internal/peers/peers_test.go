package peers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestNamesCache(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	now := time.Unix(1000, 0)
	n := &Names{ttl: time.Minute, negTTL: 10 * time.Second, cache: map[string]entry{}, queue: make(chan string, 8), maxSize: 100,
		now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	n.lookup = func(ctx context.Context, ip string) ([]string, error) {
		mu.Lock()
		calls[ip]++
		mu.Unlock()
		if ip == "10.0.0.9" {
			return nil, errors.New("NXDOMAIN")
		}
		return []string{"web.shop.svc.cluster.local."}, nil
	}
	step := func(ip string) *string {
		name := n.Name(ip)
		select {
		case q := <-n.queue:
			n.resolve(q)
		default:
		}
		return name
	}
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	if got := step("10.0.0.1"); got != nil {
		t.Fatalf("first ask answers nil, got %q", *got)
	}
	if got := step("10.0.0.1"); got == nil || *got != "web.shop.svc.cluster.local" {
		t.Fatalf("cached name: %v", got)
	}
	if step("10.0.0.9"); step("10.0.0.9") != nil {
		t.Fatal("negative answer must be nil")
	}
	advance(5 * time.Second)
	step("10.0.0.9")
	step("10.0.0.1")
	if calls["10.0.0.9"] != 1 || calls["10.0.0.1"] != 1 {
		t.Fatalf("cache not used: %v", calls)
	}
	advance(10 * time.Second) // negative entry expired, positive not
	step("10.0.0.9")
	step("10.0.0.1")
	if calls["10.0.0.9"] != 2 || calls["10.0.0.1"] != 1 {
		t.Fatalf("ttl: %v", calls)
	}
	advance(time.Minute)
	if got := step("10.0.0.1"); got == nil { // an expired name is still shown while it is refreshed
		t.Fatal("expired name dropped during refresh")
	}
	if calls["10.0.0.1"] != 2 {
		t.Fatalf("positive ttl: %v", calls)
	}
}

func TestNoServer(t *testing.T) {
	if New("").Name("10.0.0.1") != nil {
		t.Fatal("no DNS server: names are null")
	}
}

func TestLookupSaysWhenAFirstAnswerIsPending(t *testing.T) {
	n := &Names{ttl: time.Minute, negTTL: 10 * time.Second, cache: map[string]entry{}, queue: make(chan string, 8), maxSize: 100, now: time.Now}
	n.lookup = func(ctx context.Context, ip string) ([]string, error) {
		if ip == "10.0.0.9" {
			return nil, errors.New("NXDOMAIN")
		}
		return []string{"web.shop.svc.cluster.local."}, nil
	}
	if name, pending := n.Lookup("10.0.0.1"); name != nil || !pending {
		t.Fatalf("first ask: %v pending %v, want nil and pending", name, pending)
	}
	if _, pending := n.Lookup("10.0.0.1"); !pending {
		t.Fatal("asked again before the answer: still pending")
	}
	n.resolve(<-n.queue)
	if name, pending := n.Lookup("10.0.0.1"); name == nil || pending {
		t.Fatalf("answered: %v pending %v", name, pending)
	}
	n.Lookup("10.0.0.9")
	n.resolve(<-n.queue)
	if name, pending := n.Lookup("10.0.0.9"); name != nil || pending {
		t.Fatalf("a failed lookup is answered, not pending: %v %v", name, pending)
	}
}
