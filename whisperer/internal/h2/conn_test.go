package h2

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

func gz(s string) string {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	_, _ = z.Write([]byte(s))
	_ = z.Close()
	return b.String()
}

func errOf(e *exchange.Exchange) string {
	if e.Error == nil {
		return ""
	}
	return *e.Error
}

func bodyText(b *exchange.Body) string {
	if b == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s:%s:%v", b.Encoding, b.Text, b.Truncated)
}

// summary is the part of an exchange most cases check, in one comparable string.
func summary(e *exchange.Exchange) string {
	s := fmt.Sprintf("%s %s %s %s req=%d/%s", e.Protocol, e.Request.Method, e.Request.Authority, e.Request.Path,
		e.Request.BodySize, bodyText(e.Request.Body))
	if e.Response != nil {
		s += fmt.Sprintf(" -> %d resp=%d/%s", e.Response.Status, e.Response.BodySize, bodyText(e.Response.Body))
	} else {
		s += " -> no response"
	}
	if e := errOf(e); e != "" {
		s += " error=" + e
	}
	return s
}

func summaries(r *result) []string {
	out := make([]string, len(r.ex))
	for i, e := range r.ex {
		out[i] = summary(e)
	}
	return out
}

func wantSummaries(t *testing.T, r *result, want ...string) {
	t.Helper()
	got := summaries(r)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exchanges:\n got %q\nwant %q", got, want)
	}
}

func wantNoErrors(t *testing.T, r *result) {
	t.Helper()
	if len(r.errs) > 0 {
		t.Errorf("parse errors: %v", r.errs)
	}
}

func wantError(t *testing.T, r *result, substr string) {
	t.Helper()
	for _, err := range r.errs {
		if strings.Contains(err.Error(), substr) {
			return
		}
	}
	t.Errorf("parse errors %v: none contains %q", r.errs, substr)
}

func TestConn(t *testing.T) {
	cases := []struct {
		name     string
		build    func(w *wire)
		opts     Options
		mk       func(Options, func(*exchange.Exchange)) *Conn
		keepOpen bool
		check    func(t *testing.T, r *result)
	}{
		{
			name: "single request and response",
			build: func(w *wire) {
				w.prior().get(1, "/items?x=1", "accept", "application/json", "authorization", "Bearer secret-xyz")
				w.headers(false, 1, false, ":status", "200", "content-type", "application/json", "set-cookie", "s=1")
				w.data(false, 1, true, `{"ok":true}`)
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, `h2 GET svc:8080 /items?x=1 req=0/<nil> -> 200 resp=11/utf8:{"ok":true}:false`)
				e := r.ex[0]
				if !e.StartedAt.Equal(ms(5)) || e.DurationMs != 2 {
					t.Errorf("startedAt %v duration %v, want %v and 2", e.StartedAt, e.DurationMs, ms(5))
				}
				wantHeaders := []exchange.Header{{"accept", "application/json"}, {"authorization", exchange.Redacted}}
				if fmt.Sprint(e.Request.Headers) != fmt.Sprint(wantHeaders) {
					t.Errorf("request headers %v, want %v", e.Request.Headers, wantHeaders)
				}
				wantResp := []exchange.Header{{"content-type", "application/json"}, {"set-cookie", exchange.Redacted}}
				if fmt.Sprint(e.Response.Headers) != fmt.Sprint(wantResp) {
					t.Errorf("response headers %v, want %v", e.Response.Headers, wantResp)
				}
				if e.Response.Trailers == nil || len(e.Response.Trailers) != 0 || e.GRPC != nil {
					t.Errorf("trailers %#v grpc %v, want empty and nil", e.Response.Trailers, e.GRPC)
				}
				if e.ID != "" || e.Direction != "" || e.Client.IP != "" {
					t.Errorf("core fields set: %+v", e)
				}
			},
		},
		{
			name: "request body and gzip response",
			build: func(w *wire) {
				w.prior().headers(true, 1, false, ":method", "POST", ":scheme", "http", ":authority", "svc", ":path", "/orders",
					"content-type", "text/plain")
				w.data(true, 1, false, "hello ")
				w.data(true, 1, true, "world")
				w.headers(false, 1, false, ":status", "201", "content-encoding", "gzip", "content-type", "text/plain")
				w.data(false, 1, true, gz("created"))
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, fmt.Sprintf("h2 POST svc /orders req=11/utf8:hello world:false -> 201 resp=%d/utf8:created:false", len(gz("created"))))
			},
		},
		{
			name: "interleaved streams answered out of order",
			build: func(w *wire) {
				w.prior()
				for _, sid := range []uint32{1, 3, 5} {
					w.headers(true, sid, false, ":method", "PUT", ":scheme", "http", ":authority", "a", ":path", fmt.Sprintf("/s%d", sid))
				}
				w.data(true, 3, false, "3a").data(true, 1, false, "1a").data(true, 5, true, "5a").data(true, 3, true, "3b").data(true, 1, true, "1b")
				w.headers(false, 5, false, ":status", "200")
				w.headers(false, 1, false, ":status", "404")
				w.data(false, 5, false, "five").data(false, 1, true, "one").data(false, 5, true, "!")
				w.headers(false, 3, true, ":status", "204")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r,
					"h2 PUT a /s1 req=4/utf8:1a1b:false -> 404 resp=3/utf8:one:false",
					"h2 PUT a /s5 req=2/utf8:5a:false -> 200 resp=5/utf8:five!:false",
					"h2 PUT a /s3 req=4/utf8:3a3b:false -> 204 resp=0/<nil>")
			},
		},
		{
			name: "CONTINUATION frames",
			build: func(w *wire) {
				w.prior()
				blk := w.block(true, ":method", "GET", ":scheme", "http", ":authority", "c", ":path", "/long",
					"x-a", strings.Repeat("a", 300), "x-b", "b")
				w.client(func(f *http2.Framer) error {
					return f.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:7], EndStream: true})
				})
				w.client(func(f *http2.Framer) error { return f.WriteContinuation(1, false, blk[7:200]) })
				w.client(func(f *http2.Framer) error { return f.WriteContinuation(1, true, blk[200:]) })
				w.headers(false, 1, true, ":status", "200")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 GET c /long req=0/<nil> -> 200 resp=0/<nil>")
				if h := r.ex[0].Request.Headers; len(h) != 2 || h[0][1] != strings.Repeat("a", 300) || h[1][1] != "b" {
					t.Errorf("headers %v", h)
				}
			},
		},
		{
			name: "padding and priority flags, PRIORITY, PING, WINDOW_UPDATE and unknown frames",
			build: func(w *wire) {
				w.prior()
				blk := w.block(true, ":method", "POST", ":scheme", "http", ":authority", "p", ":path", "/pad")
				w.client(func(f *http2.Framer) error {
					return f.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndHeaders: true, PadLength: 7,
						Priority: http2.PriorityParam{StreamDep: 0, Weight: 200, Exclusive: true}})
				})
				w.client(func(f *http2.Framer) error { return f.WritePriority(1, http2.PriorityParam{Weight: 3}) })
				w.client(func(f *http2.Framer) error { return f.WritePriorityUpdate(1, "u=1") })
				w.client(func(f *http2.Framer) error { return f.WriteDataPadded(1, false, []byte("abc"), make([]byte, 10)) })
				w.client(func(f *http2.Framer) error { return f.WriteDataPadded(1, true, nil, make([]byte, 255)) })
				w.server(func(f *http2.Framer) error { return f.WritePing(false, [8]byte{1}) })
				w.client(func(f *http2.Framer) error { return f.WritePing(true, [8]byte{1}) })
				w.server(func(f *http2.Framer) error { return f.WriteWindowUpdate(0, 1000) })
				w.server(func(f *http2.Framer) error { return f.WriteRawFrame(0xfa, 0, 1, []byte("unknown frame type")) })
				w.headers(false, 1, false, ":status", "200")
				w.server(func(f *http2.Framer) error { return f.WriteDataPadded(1, true, []byte("padded"), []byte{0, 0}) })
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 POST p /pad req=3/utf8:abc:false -> 200 resp=6/utf8:padded:false")
			},
		},
		{
			name: "RST_STREAM from the client mid-response",
			build: func(w *wire) {
				w.prior().get(1, "/stream")
				w.headers(false, 1, false, ":status", "200")
				w.data(false, 1, false, "partial")
				w.client(func(f *http2.Framer) error { return f.WriteRSTStream(1, http2.ErrCodeCancel) })
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 GET svc:8080 /stream req=0/<nil> -> 200 resp=7/utf8:partial:true error=reset")
				if r.ex[0].DurationMs != 3 {
					t.Errorf("duration %v, want 3 (to the reset)", r.ex[0].DurationMs)
				}
			},
		},
		{
			name: "RST_STREAM from the server before any response",
			build: func(w *wire) {
				w.prior().get(1, "/refused")
				w.server(func(f *http2.Framer) error { return f.WriteRSTStream(1, http2.ErrCodeRefusedStream) })
				w.get(3, "/ok").headers(false, 3, true, ":status", "200")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 GET svc:8080 /refused req=0/<nil> -> no response error=reset",
					"h2 GET svc:8080 /ok req=0/<nil> -> 200 resp=0/<nil>")
			},
		},
		{
			name: "connection closes before the responses complete",
			build: func(w *wire) {
				w.prior().get(1, "/a").get(3, "/b")
				w.headers(false, 3, false, ":status", "200").data(false, 3, false, "half")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 GET svc:8080 /a req=0/<nil> -> no response error=truncated",
					"h2 GET svc:8080 /b req=0/<nil> -> 200 resp=4/utf8:half:true error=truncated")
			},
		},
		{
			name:     "reset connection",
			keepOpen: true,
			build:    func(w *wire) { w.prior().get(1, "/a") },
			check: func(t *testing.T, r *result) {
				if len(r.ex) != 0 {
					t.Fatalf("emitted before close: %v", summaries(r))
				}
				r.conn.Close(ms(100), true)
				r.conn.Close(ms(200), false)
				r.conn.FromServer([]byte("late"), ms(300))
				wantSummaries(t, r, "h2 GET svc:8080 /a req=0/<nil> -> no response error=reset")
				if r.ex[0].DurationMs != 95 {
					t.Errorf("duration %v, want 95", r.ex[0].DurationMs)
				}
			},
		},
		{
			name: "trailers",
			build: func(w *wire) {
				w.prior().get(1, "/t", "te", "trailers")
				w.headers(false, 1, false, ":status", "200", "trailer", "x-checksum")
				w.data(false, 1, false, "body")
				w.headers(false, 1, true, "x-checksum", "abc123")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 GET svc:8080 /t req=0/<nil> -> 200 resp=4/utf8:body:false")
				if tr := r.ex[0].Response.Trailers; fmt.Sprint(tr) != "[[x-checksum abc123]]" {
					t.Errorf("trailers %v", tr)
				}
			},
		},
		{
			name: "1xx informational before the final response",
			build: func(w *wire) {
				w.prior().headers(true, 1, false, ":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/up", "expect", "100-continue")
				w.headers(false, 1, false, ":status", "100")
				w.data(true, 1, true, "payload")
				w.headers(false, 1, false, ":status", "103", "link", "</a.css>; rel=preload")
				w.headers(false, 1, true, ":status", "200", "x-final", "yes")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 POST x /up req=7/utf8:payload:false -> 200 resp=0/<nil>")
				if h := r.ex[0].Response.Headers; fmt.Sprint(h) != "[[x-final yes]]" {
					t.Errorf("headers %v", h)
				}
			},
		},
		{
			name: "gRPC unary with trailers and a trailers-only error",
			build: func(w *wire) {
				w.prior()
				req := func(sid uint32, path string) {
					w.headers(true, sid, false, ":method", "POST", ":scheme", "http", ":authority", "grpc:50051", ":path", path,
						"content-type", "application/grpc+proto", "te", "trailers")
					w.data(true, sid, true, "\x00\x00\x00\x00\x02\x08\x01")
				}
				req(1, "/pkg.v1.Greeter/SayHello")
				w.headers(false, 1, false, ":status", "200", "content-type", "application/grpc")
				w.data(false, 1, false, "\x00\x00\x00\x00\x00")
				w.headers(false, 1, true, "grpc-status", "0")
				req(3, "/pkg.v1.Greeter/Fail")
				w.headers(false, 3, true, ":status", "200", "content-type", "application/grpc", "grpc-status", "5",
					"grpc-message", "no such user: %E2%9C%93 100%")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r,
					"grpc POST grpc:50051 /pkg.v1.Greeter/SayHello req=7/base64:AAAAAAIIAQ==:false -> 200 resp=5/base64:AAAAAAA=:false",
					"grpc POST grpc:50051 /pkg.v1.Greeter/Fail req=7/base64:AAAAAAIIAQ==:false -> 200 resp=0/<nil>")
				g := r.ex[0].GRPC
				if g == nil || g.Service != "pkg.v1.Greeter" || g.Method != "SayHello" || g.Status == nil || *g.Status != 0 || g.Message != nil {
					t.Errorf("grpc %+v", g)
				}
				g = r.ex[1].GRPC
				if g == nil || g.Method != "Fail" || g.Status == nil || *g.Status != 5 || g.Message == nil || *g.Message != "no such user: ✓ 100%" {
					t.Errorf("grpc %+v", g)
				}
			},
		},
		{
			name: "gRPC call reset before any response, grpc-message redacted by the settings",
			opts: Options{Redactor: redact.New([]string{"grpc-message"})},
			build: func(w *wire) {
				w.prior()
				for _, sid := range []uint32{1, 3} {
					w.headers(true, sid, true, ":method", "POST", ":scheme", "http", ":authority", "g", ":path", "/a.B/C", "content-type", "application/grpc")
				}
				w.client(func(f *http2.Framer) error { return f.WriteRSTStream(1, http2.ErrCodeCancel) })
				w.headers(false, 3, true, ":status", "200", "grpc-status", "13", "grpc-message", "secret detail")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "grpc POST g /a.B/C req=0/<nil> -> no response error=reset", "grpc POST g /a.B/C req=0/<nil> -> 200 resp=0/<nil>")
				if g := r.ex[0].GRPC; g == nil || g.Service != "a.B" || g.Status != nil {
					t.Errorf("reset call: grpc %+v", g)
				}
				if g := r.ex[1].GRPC; g == nil || g.Status == nil || *g.Status != 13 || g.Message == nil || *g.Message != exchange.Redacted {
					t.Errorf("redacted message: grpc %+v", g)
				}
			},
		},
		{
			name: "HPACK dynamic table size updates",
			build: func(w *wire) {
				w.prior()
				w.get(1, "/one", "x-repeat", "value-in-the-table")
				w.enc[0].SetMaxDynamicTableSize(0)
				w.get(3, "/two", "x-repeat", "value-in-the-table")
				w.enc[0].SetMaxDynamicTableSize(4096)
				w.get(5, "/three", "x-repeat", "value-in-the-table")
				w.get(7, "/three", "x-repeat", "value-in-the-table")
				for _, sid := range []uint32{1, 3, 5, 7} {
					w.headers(false, sid, true, ":status", "200", "x-repeat", "server-value")
				}
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				if len(r.ex) != 4 || r.ex[3].Request.Path != "/three" || fmt.Sprint(r.ex[2].Request.Headers) != "[[x-repeat value-in-the-table]]" {
					t.Errorf("got %v", summaries(r))
				}
			},
		},
		{
			name: "large frames after SETTINGS_MAX_FRAME_SIZE, body over the cap",
			opts: Options{BodyCap: 1000},
			build: func(w *wire) {
				w.raw(true, []byte(preface))
				w.client(func(f *http2.Framer) error { return f.WriteSettings() })
				w.server(func(f *http2.Framer) error {
					return f.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 65536})
				})
				w.headers(true, 1, false, ":method", "POST", ":scheme", "http", ":authority", "big", ":path", "/upload")
				w.data(true, 1, true, strings.Repeat("x", 300_000))
				w.headers(false, 1, true, ":status", "413")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, fmt.Sprintf("h2 POST big /upload req=300000/utf8:%s:true -> 413 resp=0/<nil>", strings.Repeat("x", 1000)))
			},
		},
		{
			name: "server push",
			build: func(w *wire) {
				w.prior().get(1, "/index.html")
				blk := w.block(false, ":method", "GET", ":scheme", "http", ":authority", "svc:8080", ":path", "/style.css")
				w.server(func(f *http2.Framer) error {
					return f.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: blk, EndHeaders: true, PadLength: 3})
				})
				w.headers(false, 1, false, ":status", "200").data(false, 1, true, "<html>")
				w.headers(false, 2, false, ":status", "200").data(false, 2, true, "body{}")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 GET svc:8080 /index.html req=0/<nil> -> 200 resp=6/utf8:<html>:false",
					"h2 GET svc:8080 /style.css req=0/<nil> -> 200 resp=6/utf8:body{}:false")
			},
		},
		{
			name: "a stream promised twice is followed once",
			build: func(w *wire) {
				w.prior().get(1, "/index.html")
				for range 2 {
					blk := w.block(false, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/pushed")
					w.server(func(f *http2.Framer) error {
						return f.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: blk, EndHeaders: true})
					})
				}
				w.headers(false, 2, false, ":status", "200").data(false, 2, true, "x")
			},
			check: func(t *testing.T, r *result) {
				wantError(t, r, "promised twice")
				wantSummaries(t, r, "h2 GET a /pushed req=0/<nil> -> 200 resp=1/utf8:x:false",
					"h2 GET svc:8080 /index.html req=0/<nil> -> no response error=truncated")
				if r.conn.retained != 0 {
					t.Errorf("%d bytes still held", r.conn.retained)
				}
			},
		},
		{
			name: "GOAWAY: streams above the last one are reset, the rest complete",
			build: func(w *wire) {
				w.prior().get(1, "/a").get(3, "/b")
				w.server(func(f *http2.Framer) error { return f.WriteGoAway(1, http2.ErrCodeNo, []byte("shutting down")) })
				w.headers(false, 1, true, ":status", "200")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 GET svc:8080 /b req=0/<nil> -> no response error=reset",
					"h2 GET svc:8080 /a req=0/<nil> -> 200 resp=0/<nil>")
			},
		},
		{
			name: "request trailers and frames for finished streams are ignored",
			build: func(w *wire) {
				w.prior().headers(true, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/p")
				w.data(true, 1, false, "x")
				w.headers(false, 1, true, ":status", "200")
				w.headers(true, 1, true, "x-late-trailer", "1")
				w.client(func(f *http2.Framer) error { return f.WriteRSTStream(1, http2.ErrCodeCancel) })
				w.data(true, 1, true, "after")
				w.get(3, "/next").headers(false, 3, true, ":status", "200")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 POST a /p req=1/utf8:x:false -> 200 resp=0/<nil>",
					"h2 GET svc:8080 /next req=0/<nil> -> 200 resp=0/<nil>")
			},
		},
		{
			name: "upgraded connection: stream 1 is the HTTP/1.1 request",
			mk: func(o Options, emit func(*exchange.Exchange)) *Conn {
				return NewUpgradedConn(o, emit, exchange.Request{Method: "POST", Path: "/up", Authority: "h:1",
					Headers: []exchange.Header{{"Upgrade", "h2c"}, {"Authorization", "Basic c2VjcmV0"}}, BodySize: 2,
					Body: &exchange.Body{Encoding: "utf8", Text: "hi"}}, ms(-10))
			},
			build: func(w *wire) {
				w.server(func(f *http2.Framer) error { return f.WriteSettings() })
				w.headers(false, 1, false, ":status", "200").data(false, 1, true, "upgraded")
				w.raw(true, []byte(preface)).client(func(f *http2.Framer) error { return f.WriteSettings() })
				w.get(3, "/next").headers(false, 3, true, ":status", "200")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				wantSummaries(t, r, "h2 POST h:1 /up req=2/utf8:hi:false -> 200 resp=8/utf8:upgraded:false",
					"h2 GET svc:8080 /next req=0/<nil> -> 200 resp=0/<nil>")
				if e := r.ex[0]; e.DurationMs != 12 || fmt.Sprint(e.Request.Headers) != "[[Upgrade h2c] [Authorization [redacted]]]" {
					t.Errorf("duration %v headers %v", e.DurationMs, e.Request.Headers)
				}
			},
		},
		{
			name:  "no redaction when the redactor says so",
			opts:  Options{Redactor: redact.None()},
			build: func(w *wire) { w.prior().get(1, "/", "cookie", "a=b").headers(false, 1, true, ":status", "200") },
			check: func(t *testing.T, r *result) {
				if h := r.ex[0].Request.Headers; fmt.Sprint(h) != "[[cookie a=b]]" {
					t.Errorf("headers %v", h)
				}
			},
		},
		{
			name: "limits: long values clipped, at most MaxHeaders fields",
			build: func(w *wire) {
				kv := []string{":method", "GET", ":scheme", "http", ":authority", strings.Repeat("é", 600), ":path", "/" + strings.Repeat("p", 20000)}
				for i := range 250 {
					kv = append(kv, fmt.Sprintf("x-%d", i), "v")
				}
				kv = append(kv[:8], append([]string{"x-big", strings.Repeat("v", 20000)}, kv[8:]...)...)
				w.prior().headers(true, 1, true, kv...).headers(false, 1, true, ":status", "200")
			},
			check: func(t *testing.T, r *result) {
				wantNoErrors(t, r)
				req := r.ex[0].Request
				if len(req.Path) != exchange.MaxPathChars || len(req.Authority) != exchange.MaxAuthorityChars ||
					len(req.Headers) != exchange.MaxHeaders || len(req.Headers[0][1]) != exchange.MaxHeaderValueChars {
					t.Errorf("path %d authority %d headers %d first value %d", len(req.Path), len(req.Authority), len(req.Headers), len(req.Headers[0][1]))
				}
			},
		},
		// Malformed and unfollowable input: reported, never garbage.
		{
			name:  "capture started mid-connection: no preface",
			build: func(w *wire) { w.get(1, "/a").headers(false, 1, true, ":status", "200") },
			check: func(t *testing.T, r *result) {
				wantError(t, r, "no connection preface")
				wantSummaries(t, r)
			},
		},
		{
			name: "capture started mid-connection: server's first frame is not SETTINGS",
			build: func(w *wire) {
				w.headers(false, 1, true, ":status", "200")
				w.raw(true, []byte(preface))
			},
			check: func(t *testing.T, r *result) {
				wantError(t, r, "not SETTINGS")
				wantSummaries(t, r)
			},
		},
		{
			name: "HPACK state unknown: an index into a dynamic table never seen",
			build: func(w *wire) {
				w.prior()
				w.client(func(f *http2.Framer) error {
					return f.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82, 0x86, 0xbe}, EndHeaders: true, EndStream: true})
				})
				w.get(3, "/after")
			},
			check: func(t *testing.T, r *result) {
				wantError(t, r, "HPACK")
				wantSummaries(t, r)
			},
		},
		{
			name: "a stream open when decoding fails is emitted as unparsed",
			build: func(w *wire) {
				w.prior().get(1, "/open")
				w.server(func(f *http2.Framer) error { return f.WriteRawFrame(http2.FrameData, 0, 0, []byte("x")) })
			},
			check: func(t *testing.T, r *result) {
				wantError(t, r, "on stream 0")
				wantSummaries(t, r, "h2 GET svc:8080 /open req=0/<nil> -> no response error=unparsed")
			},
		},
		{
			name: "CONTINUATION without HEADERS",
			build: func(w *wire) {
				w.prior().client(func(f *http2.Framer) error { return f.WriteContinuation(1, true, []byte{0x82}) })
			},
			check: func(t *testing.T, r *result) { wantError(t, r, "without a header block") },
		},
		{
			name: "another frame inside a header block",
			build: func(w *wire) {
				w.prior()
				blk := w.block(true, ":method", "GET", ":path", "/")
				w.client(func(f *http2.Framer) error {
					return f.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk})
				})
				w.data(true, 1, true, "x")
			},
			check: func(t *testing.T, r *result) { wantError(t, r, "inside the header block") },
		},
		{
			name: "padding longer than the frame",
			build: func(w *wire) {
				w.prior().get(1, "/")
				w.server(func(f *http2.Framer) error {
					return f.WriteRawFrame(http2.FrameData, http2.FlagDataPadded, 1, []byte{9, 1, 2})
				})
			},
			check: func(t *testing.T, r *result) { wantError(t, r, "padding of 9 bytes") },
		},
		{
			name: "bad fixed-size frames and settings",
			build: func(w *wire) {
				w.prior().client(func(f *http2.Framer) error { return f.WriteRawFrame(http2.FrameRSTStream, 0, 1, []byte{0, 0, 0}) })
			},
			check: func(t *testing.T, r *result) { wantError(t, r, "want 4") },
		},
		{
			name: "settings out of range",
			build: func(w *wire) {
				w.raw(true, []byte(preface)).client(func(f *http2.Framer) error {
					return f.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 100})
				})
			},
			check: func(t *testing.T, r *result) { wantError(t, r, "SETTINGS_MAX_FRAME_SIZE 100") },
		},
		{
			name: "response without :status, request without :method",
			build: func(w *wire) {
				w.prior().headers(true, 1, true, ":path", "/nomethod")
				w.get(3, "/").headers(false, 3, true, "x", "y")
				w.get(5, "/ok").headers(false, 5, true, ":status", "200")
			},
			check: func(t *testing.T, r *result) {
				wantError(t, r, "without :method")
				wantError(t, r, "without a valid :status")
				wantSummaries(t, r, "h2 GET svc:8080 / req=0/<nil> -> no response error=unparsed",
					"h2 GET svc:8080 /ok req=0/<nil> -> 200 resp=0/<nil>")
			},
		},
		{
			name: "open streams are capped",
			build: func(w *wire) {
				w.prior()
				for i := range maxOpenStreams + 5 {
					w.get(uint32(2*i+1), "/")
				}
			},
			check: func(t *testing.T, r *result) {
				if len(r.errs) != 1 || !strings.Contains(r.errs[0].Error(), "not followed") {
					t.Errorf("errors %v, want one 'not followed'", r.errs)
				}
				if len(r.ex) != maxOpenStreams {
					t.Errorf("%d exchanges on close, want %d", len(r.ex), maxOpenStreams)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			tc.build(w)
			var first string
			for _, mode := range []feedMode{whole, byteByByte, randomSplits} {
				if testing.Short() && mode == byteByByte && tc.name == "large frames after SETTINGS_MAX_FRAME_SIZE, body over the cap" {
					continue
				}
				r := run(w.chunks, mode, tc.opts, tc.mk, tc.keepOpen)
				t.Run(mode.String(), func(t *testing.T) { tc.check(t, r) })
				// Where the bytes are split must not change anything.
				got, _ := json.Marshal(struct {
					Ex   []*exchange.Exchange
					Errs int
				}{r.ex, len(r.errs)})
				if mode == whole {
					first = string(got)
				} else if string(got) != first {
					t.Errorf("%s differs from whole frames:\n%s\n%s", mode, got, first)
				}
			}
		})
	}
}

func TestIsPreface(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{preface + "\x00\x00", true},
		{preface, true},
		{"PRI * HTTP/2", true},
		{"P", true},
		{"", false},
		{"GET / HTTP/1.1\r\n", false},
		{"PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n", false},
	} {
		if got := IsPreface([]byte(tc.in)); got != tc.want {
			t.Errorf("IsPreface(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPercentDecode(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "plain",
		"a%20b":         "a b",
		"%E2%9C%93":     "✓",
		"100%":          "100%",
		"%zz and %4":    "%zz and %4",
		"%25%2525":      "%%25",
		"trailing %2":   "trailing %2",
		"%41%42%43done": "ABCdone",
	} {
		if got := percentDecode(in); got != want {
			t.Errorf("percentDecode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc": true, "application/grpc+proto": true, "application/grpc;charset=utf-8": true,
		"Application/GRPC+json": true, "application/grpc-web": false, "application/json": false, "": false,
	} {
		if isGRPC(ct) != want {
			t.Errorf("isGRPC(%q) = %v", ct, !want)
		}
	}
}

// StartedAt is when the request's first byte was captured, the end when the response's
// last byte was, however the frames are split.
func TestTimesFromFirstAndLastByte(t *testing.T) {
	w := newWire(t).prior()
	n := len(w.chunks)
	w.get(1, "/t").headers(false, 1, false, ":status", "200").data(false, 1, true, "body")
	var got []*exchange.Exchange
	c := NewConn(Options{BodyCap: 100}, func(e *exchange.Exchange) { got = append(got, e) })
	for _, ch := range w.chunks[:n] {
		feedChunks(c, []chunk{ch})
	}
	req, resp, data := w.chunks[n].b, w.chunks[n+1].b, w.chunks[n+2].b
	c.FromClient(req[:3], ms(100))
	c.FromClient(req[3:], ms(110))
	c.FromServer(resp, ms(120))
	c.FromServer(data[:len(data)-1], ms(130))
	c.FromServer(data[len(data)-1:], ms(145))
	if len(got) != 1 || !got[0].StartedAt.Equal(ms(100)) || got[0].DurationMs != 45 {
		t.Fatalf("got %+v", got)
	}
}

// Bodies of concurrent streams share one budget per connection: past it, bodies are cut
// (and say so) while their sizes are still counted.
func TestHeldBytesBounded(t *testing.T) {
	const streams, size = 12, 1 << 20
	w := newWire(t).prior()
	for i := range streams {
		w.headers(true, uint32(2*i+1), false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/up")
	}
	payload := strings.Repeat("z", size)
	for i := range streams {
		w.data(true, uint32(2*i+1), true, payload)
	}
	var got []*exchange.Exchange
	c := NewConn(Options{BodyCap: size}, func(e *exchange.Exchange) { got = append(got, e) })
	feedChunks(c, w.chunks)
	if c.retained > maxRetained || len(c.streams) != streams {
		t.Fatalf("%d bytes held for %d streams, budget %d", c.retained, len(c.streams), maxRetained)
	}
	c.Close(ms(1000), false)
	full := 0
	for _, e := range got {
		if e.Request.BodySize != size {
			t.Errorf("bodySize %d", e.Request.BodySize)
		}
		if !e.Request.Body.Truncated {
			full++
		}
	}
	if full != maxRetained/size || c.retained != 0 {
		t.Errorf("%d bodies whole, want %d; %d bytes still held", full, maxRetained/size, c.retained)
	}
}
