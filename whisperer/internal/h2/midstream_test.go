package h2

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// A real h2c connection whose first requests happened before the capture began: from the
// attach point on, streams are reported with what decodes, never with a wrong value.
func TestMidStreamRealConnection(t *testing.T) {
	addr, rec := serveH2C(t)
	tr := &http2.Transport{
		AllowHTTP:          true,
		DisableCompression: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	client := &http.Client{Transport: tr}
	do := func(method, path, body string) int {
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, "http://"+addr+path, r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Before", "filled-in-before-attach")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 3 {
		do("GET", fmt.Sprintf("/hello?n=before-%d", i), "")
	}
	conns := rec.recorded()
	if len(conns) != 1 {
		t.Fatalf("%d connections, want 1", len(conns))
	}
	attach := len(conns[0])
	do("GET", "/hello?n=after-1", "")
	do("POST", "/echo", "posted after attach")
	do("GET", "/hello?n=before-0", "") // its :path is in the part of the table not seen
	do("GET", "/missing", "")
	// The server reads a frame's header and its payload separately; on the wire, each
	// frame the client wrote travels in one packet: join consecutive client reads.
	var chunks []chunk
	for i, ch := range rec.recorded()[0] {
		if n := len(chunks); n > 0 && ch.client && chunks[n-1].client && i != attach {
			chunks[n-1].b = append(chunks[n-1].b, ch.b...)
			continue
		}
		if i == attach {
			attach = len(chunks)
		}
		chunks = append(chunks, ch)
	}

	var got []*exchange.Exchange
	c := NewMidStreamConn(Options{BodyCap: 1024, OnParseError: func(err error) { t.Logf("parse error: %v", err) }}, func(e *exchange.Exchange) { got = append(got, e) })
	// The capture begins inside a packet: half of the last one before the attach.
	prev := chunks[attach-1]
	half := prev.b[len(prev.b)/2:]
	if prev.client {
		c.FromClient(half, prev.ts)
	} else {
		c.FromServer(half, prev.ts)
	}
	for _, ch := range chunks[attach:] {
		if ch.client {
			c.FromClient(ch.b, ch.ts)
		} else {
			c.FromServer(ch.b, ch.ts)
		}
	}
	c.Close(chunks[len(chunks)-1].ts, false)

	byPath := map[string]*exchange.Exchange{}
	for _, e := range got {
		if e.Request.Path != "" && !strings.Contains("/hello?n=after-1 /echo /missing", e.Request.Path) {
			t.Errorf("a path never requested after the attach, or a wrong one: %q", e.Request.Path)
		}
		byPath[e.Request.Path] = e
	}
	if len(got) != 4 {
		t.Fatalf("%d exchanges, want the 4 after the attach: %+v", len(got), got)
	}
	check := func(path, method string, status int, respBody string) {
		t.Helper()
		e := byPath[path]
		if e == nil {
			t.Errorf("no exchange for %s", path)
			return
		}
		if e.Request.Method != method || e.Response == nil || e.Response.Status != status {
			t.Errorf("%s: %s %+v", path, e.Request.Method, e.Response)
			return
		}
		if respBody != "" && (e.Response.Body == nil || e.Response.Body.Text != respBody) {
			t.Errorf("%s: response body %+v, want %q", path, e.Response.Body, respBody)
		}
		// Fields the client set before the attach (user-agent, x-before) are indexed in
		// the unseen part of the table: the exchange says it is incomplete.
		if e.Error == nil || *e.Error != exchange.ErrUnparsed {
			t.Errorf("%s: error %v, want unparsed (fields not decodable)", path, e.Error)
		}
	}
	check("/hello?n=after-1", "GET", 200, "hello after-1")
	check("/echo", "POST", 200, base64.StdEncoding.EncodeToString([]byte("posted after attach"))) // octet-stream
	check("/missing", "GET", 404, "")
	// The repeated path was indexed before the attach: unknown, so empty, not guessed.
	if e := byPath[""]; e == nil || e.Request.Method != "GET" || e.Error == nil || *e.Error != exchange.ErrUnparsed {
		t.Errorf("the request with an undecodable path: %+v", e)
	}
}

// Every field form decodes as x/net's decoder does when the table is fully seen, and
// references to entries inserted before the decoder began are counted, not guessed.
func TestPartialDecoder(t *testing.T) {
	var buf strings.Builder
	enc := hpack.NewEncoder(&buf)
	before := []hpack.HeaderField{{Name: "x-old", Value: "old value"}, {Name: ":path", Value: "/old"}}
	for _, f := range before {
		_ = enc.WriteField(f)
	}
	buf.Reset()
	after := []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, // static
		{Name: ":path", Value: "/new"},  // literal, static name, indexed
		{Name: "x-new", Value: "fresh"}, // literal name, indexed
		{Name: "authorization", Value: "secret", Sensitive: true},
	}
	for _, f := range after {
		_ = enc.WriteField(f)
	}
	var d partialDecoder
	var out []hpack.HeaderField
	unknown, err := d.decode([]byte(buf.String()), func(f hpack.HeaderField) { out = append(out, f) })
	if err != nil || unknown != 0 || fmt.Sprint(out) != fmt.Sprint(after) {
		t.Fatalf("first block: %v %d %v", out, unknown, err)
	}
	// Now both new entries (dynamic) and the old ones (unseen) are referenced.
	buf.Reset()
	for _, f := range []hpack.HeaderField{after[1], after[2], before[0], before[1]} {
		_ = enc.WriteField(f)
	}
	out = nil
	unknown, err = d.decode([]byte(buf.String()), func(f hpack.HeaderField) { out = append(out, f) })
	if err != nil || unknown != 2 || fmt.Sprint(out) != fmt.Sprint(after[1:3]) {
		t.Fatalf("second block: %v %d %v", out, unknown, err)
	}
	if _, err := d.decode([]byte{0x80}, func(hpack.HeaderField) {}); err == nil {
		t.Error("index 0 accepted")
	}
	if _, err := d.decode([]byte{0x40, 0x05, 'a'}, func(hpack.HeaderField) {}); err == nil {
		t.Error("a string longer than the block accepted")
	}
}

func TestLooksLikeFrames(t *testing.T) {
	hdr := func(n int, typ, flags byte, sid uint32) []byte {
		return []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, byte(sid >> 24), byte(sid >> 16), byte(sid >> 8), byte(sid)}
	}
	frame := func(n int, typ, flags byte, sid uint32) []byte {
		return append(hdr(n, typ, flags, sid), make([]byte, n)...)
	}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		p    []byte
		want bool
	}{
		{"one HEADERS frame", frame(20, frameHeaders, flagEndHeaders, 1), true},
		{"HEADERS and DATA", cat(frame(20, frameHeaders, flagEndHeaders, 3), frame(5, frameData, flagEndStream, 3)), true},
		{"two frames and the start of a third", cat(frame(4, frameWindowUpdate, 0, 0), frame(8, framePing, 0, 0), hdr(100, frameData, 0, 5), make([]byte, 10)), true},
		{"one frame continuing", cat(hdr(100, frameData, 0, 5), make([]byte, 10)), false},
		{"DATA on stream 0", frame(5, frameData, 0, 0), false},
		{"SETTINGS on a stream", frame(6, frameSettings, 0, 1), false},
		{"unknown flag", frame(5, frameData, 0x40, 1), false},
		{"PING of 7 bytes", frame(7, framePing, 0, 0), false},
		{"reserved bit", frame(5, frameData, 0, 1<<31|1), false},
		{"unknown type", frame(5, 0x20, 0, 1), false},
		{"text", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{"trailing garbage", cat(frame(5, frameData, 0, 1), []byte{1, 2, 3}), false},
	} {
		if got := LooksLikeFrames(tc.p); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

var fuzzT0 = time.Unix(1_700_000_000, 0)

// FuzzPartial: the mid-stream decoder and frame sync never panic on any bytes, and whatever
// a mid-stream connection emits has the contract's shape.
func FuzzPartial(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d partialDecoder
		_, _ = d.decode(data, func(hpack.HeaderField) {})
		_ = LooksLikeFrames(data)
		_, _ = MidStreamSender(data)
		c := NewMidStreamConn(Options{BodyCap: 64}, func(e *exchange.Exchange) { checkShape(t, e) })
		half := len(data) / 2
		c.FromClient(data[:half], fuzzT0)
		c.FromServer(data[half:], fuzzT0)
		c.Close(fuzzT0, false)
	})
}
