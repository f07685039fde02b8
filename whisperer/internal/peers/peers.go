// Package peers names the other ends of connections: PTR through the agent's DNS proxy
// (SPIDER_DNS), cached per IP with a TTL, failures cached for less. Lookups run in the
// background; a name not known yet is null and the next exchange gets it.
package peers

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"
)

// Names is safe for concurrent use.
type Names struct {
	res     *net.Resolver
	ttl     time.Duration
	negTTL  time.Duration
	now     func() time.Time
	lookup  func(ctx context.Context, ip string) ([]string, error)
	mu      sync.Mutex
	cache   map[string]entry
	queue   chan string
	maxSize int
}

type entry struct {
	name    *string
	expires time.Time
	pending bool
}

// New resolves through the DNS server at server ("host:port"); empty: names stay null.
func New(server string) *Names {
	n := &Names{ttl: 5 * time.Minute, negTTL: 30 * time.Second, now: time.Now, cache: map[string]entry{},
		queue: make(chan string, 256), maxSize: 16384}
	if server == "" {
		return n
	}
	n.res = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
	n.lookup = n.res.LookupAddr
	for i := 0; i < 2; i++ {
		go n.work()
	}
	return n
}

// Name returns the cached name of ip, or nil, and asks for it when not cached.
func (n *Names) Name(ip string) *string {
	name, _ := n.Lookup(ip)
	return name
}

// Lookup is Name that also says whether a first lookup of ip is still under way, so a
// caller can hold an exchange back briefly instead of shipping it nameless.
func (n *Names) Lookup(ip string) (name *string, pending bool) {
	if n.lookup == nil {
		return nil, false
	}
	now := n.now()
	n.mu.Lock()
	e, ok := n.cache[ip]
	if ok && (e.pending || now.Before(e.expires)) {
		n.mu.Unlock()
		return e.name, e.pending && e.name == nil
	}
	if len(n.cache) >= n.maxSize {
		n.evictExpired(now)
	}
	if len(n.cache) >= n.maxSize {
		n.mu.Unlock()
		return e.name, false
	}
	e.pending = true
	n.cache[ip] = e
	n.mu.Unlock()
	select {
	case n.queue <- ip:
	default:
		// Busy: forget the request, a later exchange asks again.
		n.mu.Lock()
		delete(n.cache, ip)
		n.mu.Unlock()
		return e.name, false
	}
	return e.name, e.name == nil
}

func (n *Names) evictExpired(now time.Time) {
	for k, e := range n.cache {
		if !e.pending && !now.Before(e.expires) {
			delete(n.cache, k)
		}
	}
}

func (n *Names) work() {
	for ip := range n.queue {
		n.resolve(ip)
	}
}

func (n *Names) resolve(ip string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	names, err := n.lookup(ctx, ip)
	cancel()
	e := entry{expires: n.now().Add(n.negTTL)}
	if err == nil && len(names) > 0 {
		name := strings.TrimSuffix(names[0], ".")
		if len(name) > 0 && len(name) <= 253 {
			e.name = &name
			e.expires = n.now().Add(n.ttl)
		}
	}
	n.mu.Lock()
	n.cache[ip] = e
	n.mu.Unlock()
}
