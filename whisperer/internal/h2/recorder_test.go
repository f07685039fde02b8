package h2

import (
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
)

// recorder keeps, per accepted connection, both byte directions in the order the server
// saw them, with the time of each read or write: what a capture in the server's network
// namespace would hand the dissector.
type recorder struct {
	mu    sync.Mutex
	conns [][]chunk
}

type recListener struct {
	net.Listener
	rec *recorder
}

func listenRecorded(t *testing.T) (*recListener, *recorder) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	return &recListener{Listener: l, rec: rec}, rec
}

func (l *recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	l.rec.conns = append(l.rec.conns, nil)
	return &recConn{Conn: c, rec: l.rec, id: len(l.rec.conns) - 1}, nil
}

type recConn struct {
	net.Conn
	rec *recorder
	id  int
}

func (c *recConn) add(client bool, p []byte) {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	c.rec.conns[c.id] = append(c.rec.conns[c.id], chunk{client: client, b: append([]byte(nil), p...), ts: time.Now()})
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.add(true, p[:n])
	}
	return n, err
}

// Write records before writing, so a reply the peer sends to these bytes is never
// recorded ahead of them.
func (c *recConn) Write(p []byte) (int, error) {
	c.add(false, p)
	return c.Conn.Write(p)
}

func (r *recorder) recorded() [][]chunk {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]chunk, len(r.conns))
	copy(out, r.conns)
	return out
}

// replay feeds every recorded connection into its own prior-knowledge Conn and returns
// all exchanges, ordered by start.
func replay(t *testing.T, rec *recorder, bodyCap int) []*exchange.Exchange {
	t.Helper()
	var out []*exchange.Exchange
	for i, chunks := range rec.recorded() {
		c := NewConn(Options{
			BodyCap:      bodyCap,
			Redactor:     redact.New([]string{"x-api-key"}),
			OnParseError: func(err error) { t.Errorf("conn %d: parse error: %v", i, err) },
		}, func(e *exchange.Exchange) { out = append(out, e) })
		last := time.Now()
		for _, ch := range chunks {
			if ch.client {
				c.FromClient(ch.b, ch.ts)
			} else {
				c.FromServer(ch.b, ch.ts)
			}
			last = ch.ts
		}
		c.Close(last, false)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}
