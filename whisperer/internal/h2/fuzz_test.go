package h2

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// fuzzEncode writes chunks as the fuzz input format: records of one byte (high bit: from
// the client; low 7 bits: length) followed by that many bytes.
func fuzzEncode(chunks []chunk) []byte {
	var out []byte
	for _, ch := range chunks {
		for b := ch.b; len(b) > 0; {
			n := min(len(b), 127)
			hdr := byte(n)
			if ch.client {
				hdr |= 0x80
			}
			out = append(out, hdr)
			out = append(out, b[:n]...)
			b = b[n:]
		}
	}
	return out
}

func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	w := newWire(t).prior()
	w.get(1, "/a", "authorization", "x").headers(false, 1, false, ":status", "200", "content-type", "text/plain").data(false, 1, true, "ok")
	seeds = append(seeds, fuzzEncode(w.chunks))

	w = newWire(t).prior()
	w.headers(true, 1, false, ":method", "POST", ":scheme", "http", ":authority", "g", ":path", "/p.S/M", "content-type", "application/grpc")
	w.client(func(f *http2.Framer) error {
		return f.WriteDataPadded(1, true, []byte("\x00\x00\x00\x00\x01x"), []byte{0, 0})
	})
	blk := w.block(false, ":status", "200", "content-type", "application/grpc", "x-long", strings.Repeat("v", 200))
	w.server(func(f *http2.Framer) error {
		return f.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:3], PadLength: 2})
	})
	w.server(func(f *http2.Framer) error { return f.WriteContinuation(1, true, blk[3:]) })
	w.data(false, 1, false, "\x00\x00\x00\x00\x00").headers(false, 1, true, "grpc-status", "3", "grpc-message", "bad%20x")
	w.get(3, "/b").server(func(f *http2.Framer) error { return f.WriteRSTStream(3, http2.ErrCodeCancel) })
	w.server(func(f *http2.Framer) error { return f.WriteGoAway(3, 0, nil) })
	seeds = append(seeds, fuzzEncode(w.chunks))
	return seeds
}

func FuzzConn(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{0x80 | 24, 'P', 'R', 'I'})
	up := newWire(f)
	up.server(func(f *http2.Framer) error { return f.WriteSettings() })
	up.headers(false, 1, false, ":status", "200").data(false, 1, true, "up")
	up.raw(true, []byte(preface)).client(func(f *http2.Framer) error { return f.WriteSettings() })
	f.Add(append([]byte{0xff}, fuzzEncode(up.chunks)...))
	f.Fuzz(fuzzConn)
}

// fuzzConn feeds one fuzz input: records of a byte (high bit: from the client; low 7
// bits: length) and that many bytes; a leading 0xff makes the connection an upgraded one.
func fuzzConn(t *testing.T, data []byte) {
	var emitted []*exchange.Exchange
	opts := Options{BodyCap: 1024, OnParseError: func(err error) {
		if strings.Contains(err.Error(), "internal error") {
			t.Fatalf("panic recovered: %v", err)
		}
	}}
	emit := func(e *exchange.Exchange) { emitted = append(emitted, e) }
	var c *Conn
	// A leading 0xff: the connection was upgraded from HTTP/1.1.
	if len(data) > 0 && data[0] == 0xff {
		c = NewUpgradedConn(opts, emit, exchange.Request{Method: "GET", Path: "/"}, t0)
		data = data[1:]
	} else {
		c = NewConn(opts, emit)
	}
	ts := t0
	for len(data) > 0 {
		n := min(int(data[0]&0x7f), len(data)-1)
		p := data[1 : 1+n]
		if data[0]&0x80 != 0 {
			c.FromClient(p, ts)
		} else {
			c.FromServer(p, ts)
		}
		data = data[1+n:]
		ts = ts.Add(time.Millisecond)
		if len(c.streams) > maxOpenStreams || c.retained < 0 || c.retained > maxRetained {
			t.Fatalf("unbounded: %d streams, %d bytes held", len(c.streams), c.retained)
		}
	}
	c.Close(ts, false)
	if len(c.streams) != 0 || c.retained != 0 {
		t.Fatalf("after close: %d streams, %d bytes held", len(c.streams), c.retained)
	}
	for _, e := range emitted {
		checkShape(t, e)
	}
}

// checkShape asserts what spider-common's capturedExchangeSchema would refuse.
func checkShape(t *testing.T, e *exchange.Exchange) {
	t.Helper()
	r := e.Request
	if r.Method == "" || len(r.Method) > 64 || len(r.Path) > exchange.MaxPathChars || len(r.Authority) > exchange.MaxAuthorityChars {
		t.Fatalf("request out of shape: %+v", r)
	}
	lists := [][]exchange.Header{r.Headers}
	if e.Response != nil {
		if e.Response.Status < 100 || e.Response.Status > 999 {
			t.Fatalf("status %d", e.Response.Status)
		}
		lists = append(lists, e.Response.Headers, e.Response.Trailers)
	}
	for _, h := range lists {
		if h == nil || len(h) > exchange.MaxHeaders {
			t.Fatalf("headers nil or too many: %d", len(h))
		}
		for _, f := range h {
			if len(f[0]) > exchange.MaxHeaderNameChars || len(f[1]) > exchange.MaxHeaderValueChars {
				t.Fatalf("header too long: %d %d", len(f[0]), len(f[1]))
			}
		}
	}
	if e.DurationMs < 0 || e.DurationMs > maxDurationMs {
		t.Fatalf("duration %v", e.DurationMs)
	}
	if g := e.GRPC; g != nil && (len(g.Service) > 1024 || len(g.Method) > 1024 || g.Message != nil && len(*g.Message) > 4096 ||
		g.Status != nil && (*g.Status < 0 || *g.Status > 1000)) {
		t.Fatalf("grpc out of shape: %+v", g)
	}
	if e.Protocol != exchange.ProtoH2 && e.Protocol != exchange.ProtoGRPC {
		t.Fatalf("protocol %q", e.Protocol)
	}
}

// FuzzFrames reaches past the preface more often than FuzzConn: the input describes frames
// (a byte: high bit from the client, low 4 bits the type; then flags, stream id, payload
// length and the payload), written after a valid preface and SETTINGS on both sides.
func FuzzFrames(f *testing.F) {
	w := newWire(f)
	hdr := func(client bool, sid byte, flags byte, kv ...string) []byte {
		blk := w.block(client, kv...)
		typ := byte(frameHeaders)
		if client {
			typ |= 0x80
		}
		return append([]byte{typ, flags, sid, byte(len(blk))}, blk...)
	}
	var seed []byte
	seed = append(seed, hdr(true, 1, flagEndHeaders, ":method", "POST", ":path", "/a.B/C", "content-type", "application/grpc")...)
	seed = append(seed, 0x80|frameData, flagEndStream|flagPadded, 1, 4, 2, 'h', 0, 0)
	seed = append(seed, hdr(false, 1, 0, ":status", "200")...)
	seed = append(seed, frameContinuation, flagEndHeaders, 1, 0)
	seed = append(seed, frameData, 0, 1, 3, 'a', 'b', 'c')
	seed = append(seed, hdr(false, 1, flagEndHeaders|flagEndStream, "grpc-status", "0")...)
	seed = append(seed, frameRSTStream, 0, 3, 4, 0, 0, 0, 8)
	seed = append(seed, frameGoAway, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		var out []byte
		var chunks []chunk
		pre := newWire(t).prior()
		chunks = append(chunks, pre.chunks...)
		for len(data) >= 4 {
			client := data[0]&0x80 != 0
			n := min(int(data[3]), len(data)-4)
			out = out[:0]
			out = append(out, 0, 0, byte(n), data[0]&0x0f, data[1], 0, 0, 0, data[2]&0x7f)
			out = append(out, data[4:4+n]...)
			// Bit 6 splits the frame in two segments.
			if cut := len(out) / 2; data[0]&0x40 != 0 && cut > 0 {
				chunks = append(chunks, chunk{client: client, b: append([]byte(nil), out[:cut]...)},
					chunk{client: client, b: append([]byte(nil), out[cut:]...)})
			} else {
				chunks = append(chunks, chunk{client: client, b: append([]byte(nil), out...)})
			}
			data = data[4+n:]
		}
		fuzzConn(t, fuzzEncode(chunks))
	})
}
