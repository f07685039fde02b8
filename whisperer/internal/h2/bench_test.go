package h2

import (
	"fmt"
	"testing"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
)

// BenchmarkConn pushes small keep-alive style requests through one connection at a time
// (a new one every 1,000 exchanges); one op is one exchange. Each request and each
// response is one chunk, as a TCP segment would bring it.
func BenchmarkConn(b *testing.B) {
	const perConn = 1000
	w := newWire(b).prior()
	prelude := len(w.chunks)
	for i := range perConn {
		sid := uint32(2*i + 1)
		w.get(sid, fmt.Sprintf("/api/items/%d?page=2", i), "user-agent", "bench-client/1.0", "accept", "application/json",
			"accept-encoding", "gzip", "authorization", "Bearer token-value")
		w.headers(false, sid, false, ":status", "200", "content-type", "application/json", "content-length", "27",
			"date", "Tue, 01 Dec 2026 12:00:00 GMT", "server", "bench")
		w.data(false, sid, true, `{"id":1,"name":"item","x":1}`)
	}
	merge := func(chunks []chunk) []chunk {
		var out []chunk
		for _, ch := range chunks {
			if n := len(out); n > 0 && out[n-1].client == ch.client {
				out[n-1].b = append(out[n-1].b, ch.b...)
				continue
			}
			out = append(out, ch)
		}
		return out
	}
	pre := merge(w.chunks[:prelude])
	var per [][]chunk
	for i := range perConn {
		per = append(per, merge(w.chunks[prelude+3*i:prelude+3*i+3]))
	}

	emitted := 0
	opts := Options{BodyCap: exchange.DefaultBodyCapBytes, Redactor: redact.New(nil)}
	emit := func(*exchange.Exchange) { emitted++ }
	var c *Conn
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%perConn == 0 {
			c = NewConn(opts, emit)
			feedChunks(c, pre)
		}
		feedChunks(c, per[i%perConn])
	}
	b.StopTimer()
	if emitted != b.N {
		b.Fatalf("%d exchanges emitted for %d requests", emitted, b.N)
	}
	var bytes int
	for _, ch := range per[0] {
		bytes += len(ch.b)
	}
	b.SetBytes(int64(bytes))
}

func feedChunks(c *Conn, chunks []chunk) {
	for _, ch := range chunks {
		if ch.client {
			c.FromClient(ch.b, ch.ts)
		} else {
			c.FromServer(ch.b, ch.ts)
		}
	}
}
