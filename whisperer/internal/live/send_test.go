package live

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/agent"
	"github.com/spider-backstage/spider/whisperer/internal/ship"
)

// agentScript answers the traffic endpoint with the statuses given, in turn.
type agentScript struct {
	mu       sync.Mutex
	statuses []int
	retry    string
	got      [][]byte
}

func (a *agentScript) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	status := http.StatusAccepted
	if len(a.statuses) > 0 {
		status, a.statuses = a.statuses[0], a.statuses[1:]
	}
	if status == http.StatusAccepted {
		a.got = append(a.got, b)
	}
	if a.retry != "" {
		w.Header().Set("Retry-After", a.retry)
	}
	w.WriteHeader(status)
	io.WriteString(w, `{"error":"scripted"}`)
}

func newRunner(t *testing.T, a *agentScript) *runner {
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &runner{env: Env{Instance: "spider-x"}, log: io.Discard, client: agent.New(srv.URL, "spider-x", ""),
		started: time.Now(), stopCh: make(chan struct{}), kick: make(chan struct{}, 1), queue: ship.NewQueue(1 << 20)}
}

func TestSendOne(t *testing.T) {
	cases := []struct {
		name      string
		statuses  []int
		retry     string
		wantWait  time.Duration
		wantLeft  int
		wantDrop  int64
		wantStop  string
		delivered int
	}{
		{name: "accepted", statuses: []int{202}, delivered: 1},
		{name: "429 keeps the batch and waits Retry-After", statuses: []int{429}, retry: "3", wantWait: 3 * time.Second, wantLeft: 1},
		{name: "503 without Retry-After backs off", statuses: []int{503}, wantWait: backOff, wantLeft: 1},
		{name: "400 drops and counts", statuses: []int{400}, wantDrop: 1},
		{name: "413 drops and counts", statuses: []int{413}, wantDrop: 1},
		{name: "410 stops", statuses: []int{410}, wantStop: "deleted", wantLeft: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &agentScript{statuses: c.statuses, retry: c.retry}
			r := newRunner(t, a)
			r.queue.Push([]byte(`{"id":"r.1"}`))
			wait, _ := r.sendOne(context.Background())
			left, _ := r.queue.Len()
			if wait != c.wantWait || left != c.wantLeft || r.queue.Dropped() != c.wantDrop || len(a.got) != c.delivered {
				t.Fatalf("wait %v left %d dropped %d delivered %d", wait, left, r.queue.Dropped(), len(a.got))
			}
			reason, _ := r.reason.Load().(string)
			if reason != c.wantStop {
				t.Fatalf("stop reason %q", reason)
			}
			if c.delivered > 0 && r.stats().Dropped != 0 {
				t.Fatal("stats count a delivered exchange as dropped")
			}
		})
	}
}

func TestFlushRetriesThenDelivers(t *testing.T) {
	a := &agentScript{statuses: []int{503, 503, 202, 202}, retry: "0"}
	r := newRunner(t, a)
	for i := 0; i < 2500; i++ { // two batches: 2000 + 500
		r.queue.Push([]byte(`{"id":"r.1"}`))
	}
	start := time.Now()
	r.flush()
	if left, _ := r.queue.Len(); left != 0 || len(a.got) != 2 {
		t.Fatalf("left %d, delivered %d batches", left, len(a.got))
	}
	if time.Since(start) > finalFlush {
		t.Fatal("flush took longer than its bound")
	}
}

func TestFlushGivesUpAtItsBound(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the flush bound")
	}
	a := &agentScript{statuses: []int{503, 503, 503, 503, 503, 503, 503, 503, 503, 503}, retry: "1"}
	r := newRunner(t, a)
	r.queue.Push([]byte(`{"id":"r.1"}`))
	start := time.Now()
	r.flush()
	if d := time.Since(start); d > finalFlush+2*time.Second {
		t.Fatalf("flush took %s", d)
	}
	// What could not be delivered is counted as dropped, so the terminated report says so.
	if left, _ := r.queue.Len(); left != 0 || r.stats().Dropped != 1 {
		t.Fatalf("left %d, stats.dropped %d: the undelivered exchange must be counted", left, r.stats().Dropped)
	}
}
