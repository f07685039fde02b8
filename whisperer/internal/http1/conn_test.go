package http1

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// step is one piece of a conversation: bytes from a side, a gap, a FIN, or the end.
type step struct {
	client bool
	data   string
	gap    int
	fin    bool
	close  bool
	reset  bool
	expire time.Duration
}

func c(s string) step { return step{client: true, data: s} }
func s(s string) step { return step{data: s} }

// want is what the test checks of an emitted exchange.
type want struct {
	proto, method, path, authority string
	status                         int // 0: no response
	reqBody, respBody              string
	respTruncated                  bool
	reqSize, respSize              int64
	err                            string
	trailers                       int
}

func describe(e *exchange.Exchange) want {
	w := want{proto: e.Protocol, method: e.Request.Method, path: e.Request.Path, authority: e.Request.Authority, reqSize: e.Request.BodySize}
	if e.Request.Body != nil {
		w.reqBody = e.Request.Body.Text
	}
	if e.Response != nil {
		w.status, w.respSize, w.trailers = e.Response.Status, e.Response.BodySize, len(e.Response.Trailers)
		if e.Response.Body != nil {
			w.respBody, w.respTruncated = e.Response.Body.Text, e.Response.Body.Truncated
		}
	}
	if e.Error != nil {
		w.err = *e.Error
	}
	return w
}

// run plays the steps; split > 0 cuts every data step into pieces of that many bytes.
func run(steps []step, split int, opts Options) ([]*exchange.Exchange, int) {
	var out []*exchange.Exchange
	errs := 0
	opts.OnParseError = func(error) { errs++ }
	if opts.BodyCap == 0 {
		opts.BodyCap = 1024
	}
	conn := NewConn(opts, func(e *exchange.Exchange) { out = append(out, e) })
	ts := t0
	for _, st := range steps {
		ts = ts.Add(time.Millisecond)
		switch {
		case st.gap > 0:
			conn.Gap(st.client, st.gap, ts)
		case st.fin:
			conn.EndOfStream(st.client, ts)
		case st.close:
			conn.Close(ts, st.reset)
		case st.expire > 0:
			conn.Expire(ts.Add(st.expire), st.expire)
		default:
			parts := []string{st.data}
			if split > 0 {
				parts = nil
				for i := 0; i < len(st.data); i += split {
					parts = append(parts, st.data[i:min(i+split, len(st.data))])
				}
			}
			for _, p := range parts {
				if st.client {
					conn.FromClient([]byte(p), ts)
				} else {
					conn.FromServer([]byte(p), ts)
				}
			}
		}
	}
	return out, errs
}

func gzipped(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func TestConn(t *testing.T) {
	z := gzipped("compressed hello")
	cases := []struct {
		name     string
		steps    []step
		want     []want
		errs     int
		noSplit  bool // gaps and resync depend on packet boundaries
		bodyCap  int
		h2cCalls int
	}{
		{name: "GET with a body", steps: []step{c("GET /a?x=1 HTTP/1.1\r\nHost: web\r\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/a?x=1", authority: "web", status: 200, respBody: "hello", respSize: 5}}},
		{name: "keep-alive", steps: []step{c("GET /1 HTTP/1.1\r\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"),
			c("POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), s("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/1", status: 200, respBody: "a", respSize: 1},
				{proto: "http/1.1", method: "POST", path: "/2", status: 201, reqBody: "abc", reqSize: 3}}},
		{name: "pipelining", steps: []step{c("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
			s("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nB")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/1", status: 200, respBody: "A", respSize: 1},
				{proto: "http/1.1", method: "GET", path: "/2", status: 404, respBody: "B", respSize: 1}}},
		{name: "chunked both ways with trailers", steps: []step{
			c("PUT /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"),
			s("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nwxyz\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n")},
			want: []want{{proto: "http/1.1", method: "PUT", path: "/u", status: 200, reqBody: "abcde", reqSize: 5, respBody: "wxyz", respSize: 4, trailers: 2}}},
		{name: "HEAD has no body despite Content-Length", steps: []step{c("HEAD /h HTTP/1.1\r\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
			c("GET /n HTTP/1.1\r\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
			want: []want{{proto: "http/1.1", method: "HEAD", path: "/h", status: 200},
				{proto: "http/1.1", method: "GET", path: "/n", status: 200, respBody: "ok", respSize: 2}}},
		{name: "100 continue then final", steps: []step{c("POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
			s("HTTP/1.1 100 Continue\r\n\r\n"), c("hi"), s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
			want: []want{{proto: "http/1.1", method: "POST", path: "/p", status: 200, reqBody: "hi", reqSize: 2}}},
		{name: "204 and 304 carry no body", steps: []step{c("DELETE /d HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nGET /e HTTP/1.1\r\n\r\n"),
			s("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nZ")},
			want: []want{{proto: "http/1.1", method: "DELETE", path: "/d", status: 204}, {proto: "http/1.1", method: "GET", path: "/c", status: 304},
				{proto: "http/1.1", method: "GET", path: "/e", status: 200, respBody: "Z", respSize: 1}}},
		{name: "HTTP/1.0 body until close", steps: []step{c("GET / HTTP/1.0\r\n\r\n"), s("HTTP/1.0 200 OK\r\n\r\nuntil "), s("close"), step{fin: true}},
			want: []want{{proto: "http/1.0", method: "GET", path: "/", status: 200, respBody: "until close", respSize: 11}}},
		{name: "gzip body decoded", steps: []step{c("GET /z HTTP/1.1\r\n\r\n"),
			s(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(z), z))},
			want: []want{{proto: "http/1.1", method: "GET", path: "/z", status: 200, respBody: "compressed hello", respSize: int64(len(z))}}},
		{name: "body cut at the cap", bodyCap: 4, steps: []step{c("GET /big HTTP/1.1\r\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/big", status: 200, respBody: "0123", respTruncated: true, respSize: 10}}},
		{name: "not HTTP is a parse error", steps: []step{c("\x16\x03\x01\x02\x00garbage\r\n\r\n")}, errs: 1},
		{name: "bad Content-Length is unparsed", steps: []step{c("POST /x HTTP/1.1\r\nContent-Length: ten\r\n\r\n"), step{close: true}},
			want: []want{{proto: "http/1.1", method: "POST", path: "/x", err: "unparsed"}}, errs: 1},
		{name: "conflicting Content-Length is unparsed", steps: []step{c("GET /x HTTP/1.1\r\n\r\n"),
			s("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/x", status: 200, err: "unparsed"}}, errs: 1},
		{name: "bad chunk size", steps: []step{c("GET /x HTTP/1.1\r\n\r\n"), s("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/x", status: 200, err: "unparsed"}}, errs: 1},
		{name: "response cut by the end of capture", steps: []step{c("GET /t HTTP/1.1\r\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), step{close: true}},
			want: []want{{proto: "http/1.1", method: "GET", path: "/t", status: 200, respBody: "abc", respTruncated: true, respSize: 3, err: "truncated"}}},
		{name: "response cut by FIN", steps: []step{c("GET /t HTTP/1.1\r\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), step{fin: true}},
			want: []want{{proto: "http/1.1", method: "GET", path: "/t", status: 200, respBody: "abc", respTruncated: true, respSize: 3, err: "truncated"}}},
		{name: "reset before the response", steps: []step{c("GET /r HTTP/1.1\r\n\r\n"), step{close: true, reset: true}},
			want: []want{{proto: "http/1.1", method: "GET", path: "/r", err: "reset"}}},
		{name: "timeout", steps: []step{c("GET /slow HTTP/1.1\r\n\r\n"), step{expire: time.Minute}, s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/slow", err: "timeout"}}, noSplit: true},
		{name: "gap inside a sized body", noSplit: true, steps: []step{c("GET /g HTTP/1.1\r\n\r\n"),
			s("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"), step{gap: 5}, s("fgh")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/g", status: 200, respBody: "abfgh", respTruncated: true, respSize: 10}}},
		{name: "gap in a head resyncs at the next request", noSplit: true, steps: []step{c("GET /lost HTTP/1.1\r\nHo"), step{client: true, gap: 20},
			c("rest of it\r\n\r\n"), c("GET /next HTTP/1.1\r\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/next", status: 200}}},
		{name: "websocket upgrade ends parsing", steps: []step{c("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
			s("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"), c("\x81\x85abcdefghi")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/ws", status: 101}}},
		{name: "h2c upgrade declined", steps: []step{c("GET /u HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\nGET /v HTTP/1.1\r\n\r\n"),
			s("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nuHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nv")},
			want: []want{{proto: "http/1.1", method: "GET", path: "/u", status: 200, respBody: "u", respSize: 1},
				{proto: "http/1.1", method: "GET", path: "/v", status: 200, respBody: "v", respSize: 1}}},
		{name: "h2c upgrade accepted", h2cCalls: 1, steps: []step{c("GET /u HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
			s("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nSERVERFRAMES"), c("MORE"), step{close: true}}},
	}
	for _, tc := range cases {
		splits := []int{0, 1, 7}
		if tc.noSplit {
			splits = []int{0}
		}
		for _, split := range splits {
			t.Run(fmt.Sprintf("%s/split=%d", tc.name, split), func(t *testing.T) {
				fake := &fakeH2{}
				opts := Options{BodyCap: tc.bodyCap, Redactor: redact.New(nil)}
				opts.H2C = func(req exchange.Request, startedAt time.Time) Stream {
					fake.calls++
					fake.req = req
					return fake
				}
				got, errs := run(tc.steps, split, opts)
				if errs != tc.errs {
					t.Errorf("parse errors: got %d, want %d", errs, tc.errs)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("got %d exchanges, want %d: %+v", len(got), len(tc.want), describeAll(got))
				}
				for i := range got {
					if d := describe(got[i]); d != tc.want[i] {
						t.Errorf("exchange %d:\n got %+v\nwant %+v", i, d, tc.want[i])
					}
					checkShape(t, got[i])
				}
				if fake.calls != tc.h2cCalls {
					t.Fatalf("h2c hand-offs: %d, want %d", fake.calls, tc.h2cCalls)
				}
				if tc.h2cCalls > 0 {
					if fake.req.Path != "/u" || fake.req.Authority != "h" {
						t.Errorf("h2c request %+v", fake.req)
					}
					if fake.client.String() != "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nMORE" || fake.server.String() != "SERVERFRAMES" || !fake.closed {
						t.Errorf("h2c got client %q server %q closed %v", fake.client.String(), fake.server.String(), fake.closed)
					}
				}
			})
		}
	}
}

type fakeH2 struct {
	calls          int
	req            exchange.Request
	client, server bytes.Buffer
	closed         bool
}

func (f *fakeH2) FromClient(p []byte, ts time.Time) { f.client.Write(p) }
func (f *fakeH2) FromServer(p []byte, ts time.Time) { f.server.Write(p) }
func (f *fakeH2) Close(ts time.Time, reset bool)    { f.closed = true }

func describeAll(es []*exchange.Exchange) []want {
	var out []want
	for _, e := range es {
		out = append(out, describe(e))
	}
	return out
}

func checkShape(t *testing.T, e *exchange.Exchange) {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`"headers":null`)) || bytes.Contains(b, []byte(`"trailers":null`)) {
		t.Fatalf("null headers: %s", b)
	}
	if e.DurationMs < 0 || e.StartedAt.IsZero() {
		t.Fatalf("bad timing: %s", b)
	}
}

func TestRedaction(t *testing.T) {
	got, _ := run([]step{c("GET / HTTP/1.1\r\nAuthorization: Bearer secret-123\r\nCookie: s=secret-456\r\nX-Api-Key: secret-789\r\n\r\n"),
		s("HTTP/1.1 200 OK\r\nSet-Cookie: id=secret-000\r\nContent-Length: 0\r\n\r\n")}, 0, Options{Redactor: redact.New([]string{"x-api-key"})})
	if len(got) != 1 {
		t.Fatalf("got %d", len(got))
	}
	b, _ := json.Marshal(got[0])
	if strings.Contains(string(b), "secret-") || strings.Count(string(b), exchange.Redacted) != 4 {
		t.Fatalf("not redacted: %s", b)
	}
}

func TestDuration(t *testing.T) {
	var out []*exchange.Exchange
	conn := NewConn(Options{BodyCap: 10}, func(e *exchange.Exchange) { out = append(out, e) })
	conn.FromClient([]byte("GET / HTTP/1.1\r\n\r\n"), t0)
	conn.FromServer([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na"), t0.Add(20*time.Millisecond))
	conn.FromServer([]byte("b"), t0.Add(35*time.Millisecond))
	if len(out) != 1 || out[0].DurationMs != 35 || !out[0].StartedAt.Equal(t0) {
		t.Fatalf("%+v", out)
	}
}

func TestLimits(t *testing.T) {
	long := strings.Repeat("v", exchange.MaxHeaderValueChars+10)
	var hdrs strings.Builder
	for i := 0; i < exchange.MaxHeaders+5; i++ {
		fmt.Fprintf(&hdrs, "X-%d: %s\r\n", i, "x")
	}
	got, errs := run([]step{c("GET /" + strings.Repeat("p", exchange.MaxPathChars) + " HTTP/1.1\r\nX-Long: " + long + "\r\n" + hdrs.String() + "\r\n"),
		s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")}, 0, Options{})
	if errs != 0 || len(got) != 1 {
		t.Fatalf("errs %d got %d", errs, len(got))
	}
	r := got[0].Request
	if len(r.Path) != exchange.MaxPathChars || len(r.Headers) != exchange.MaxHeaders || len(r.Headers[0][1]) != exchange.MaxHeaderValueChars {
		t.Fatalf("limits not applied: path %d headers %d value %d", len(r.Path), len(r.Headers), len(r.Headers[0][1]))
	}
	// A head over 64 KiB is not buffered further.
	_, errs = run([]step{c("GET / HTTP/1.1\r\nX: " + strings.Repeat("a", MaxHeaderBytes+1))}, 0, Options{})
	if errs != 1 {
		t.Fatalf("oversized head: %d errors", errs)
	}
}

func FuzzConn(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"), uint8(3))
	f.Add([]byte("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"), []byte("HTTP/1.0 100 X\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest"), uint8(1))
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\nPRI"), []byte("HTTP/1.1 101 S\r\n\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, client, server []byte, split uint8) {
		n := int(split%16) + 1
		var out []*exchange.Exchange
		conn := NewConn(Options{BodyCap: 64, H2C: func(exchange.Request, time.Time) Stream { return &fakeH2{} }},
			func(e *exchange.Exchange) { out = append(out, e) })
		ts := t0
		for i, j := 0, 0; i < len(client) || j < len(server); i, j = i+n, j+n {
			ts = ts.Add(time.Millisecond)
			if i < len(client) {
				conn.FromClient(client[i:min(i+n, len(client))], ts)
			}
			if j < len(server) {
				conn.FromServer(server[j:min(j+n, len(server))], ts)
			}
			if split&0x80 != 0 && i == n {
				conn.Gap(split&0x40 != 0, int(split&7), ts)
			}
		}
		conn.Close(ts, split&0x20 != 0)
		for _, e := range out {
			if e.Request.Method == "" || e.Request.Headers == nil || e.Response != nil && (e.Response.Headers == nil || e.Response.Trailers == nil) {
				t.Fatalf("bad exchange %+v", e)
			}
			if len(e.Request.Path) > exchange.MaxPathChars {
				t.Fatal("path over the limit")
			}
			if b := e.Request.Body; b != nil && len(b.Text) > 64*2 {
				t.Fatal("body over the cap")
			}
			if _, err := json.Marshal(e); err != nil {
				t.Fatal(err)
			}
		}
		if conn.Pending() != 0 {
			t.Fatal("requests left behind after Close")
		}
	})
}
