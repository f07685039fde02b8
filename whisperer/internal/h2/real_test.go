package h2

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"

	"github.com/spider-backstage/spider/whisperer/internal/body"
	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
)

const secret = "secret-xyz"

// testHandler answers the paths the real-traffic tests call.
func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Set-Cookie", "session=secret-cookie")
		_, _ = io.WriteString(w, "hello "+r.URL.Query().Get("n"))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, r.Body)
	})
	mux.HandleFunc("GET /gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "gzip")
		z := gzip.NewWriter(w)
		_, _ = io.WriteString(z, strings.Repeat("compressed ", 100))
		_ = z.Close()
	})
	mux.HandleFunc("GET /large", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(bytes.Repeat([]byte("0123456789"), 20_000))
	})
	mux.HandleFunc("GET /trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		_, _ = io.WriteString(w, "with trailers")
		w.Header().Set("X-Checksum", "c0ffee")
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	return mux
}

func serveH2C(t *testing.T) (string, *recorder) {
	t.Helper()
	l, rec := listenRecorded(t)
	srv := &http.Server{Handler: h2c.NewHandler(testHandler(), &http2.Server{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), rec
}

// seen is what a client saw of one exchange, to compare with what the dissector emitted.
type seen struct {
	method, path string
	status       int
	reqBody      string
	respBody     string // as on the wire (not decompressed), cut at the cap
}

func (s seen) String() string {
	return fmt.Sprintf("%s %s %d req=%q resp=%q", s.method, s.path, s.status, s.reqBody, s.respBody)
}

func TestRealH2C(t *testing.T) {
	addr, rec := serveH2C(t)
	tr := &http2.Transport{
		AllowHTTP: true,
		// Go decompresses for the caller; the test compares the wire bytes.
		DisableCompression: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	client := &http.Client{Transport: tr}
	const bodyCap = 64 << 10

	var mu sync.Mutex
	var want []seen
	do := func(method, path, reqBody string) {
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(reqBody))
		if err != nil {
			t.Error(err)
			return
		}
		if reqBody == "" {
			req.Body = nil
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("X-Api-Key", secret)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if len(b) > bodyCap {
			b = b[:bodyCap]
		}
		mu.Lock()
		want = append(want, seen{method, path, resp.StatusCode, reqBody, string(b)})
		mu.Unlock()
	}
	do("GET", "/hello?n=first", "")
	// Concurrent streams interleave on the one connection.
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			switch i % 5 {
			case 0:
				do("GET", fmt.Sprintf("/hello?n=%d", i), "")
			case 1:
				do("POST", "/echo", strings.Repeat(fmt.Sprintf("payload %d ", i), 50))
			case 2:
				do("GET", "/gzip", "")
			case 3:
				do("GET", "/large", "")
			case 4:
				do("GET", "/missing", "")
			}
		})
	}
	wg.Wait()
	do("GET", "/trailers", "")
	tr.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)

	got := replay(t, rec, bodyCap)
	if len(rec.recorded()) != 1 {
		t.Errorf("%d connections recorded, want 1", len(rec.recorded()))
	}
	var gotSeen []seen
	for _, e := range got {
		s := seen{method: e.Request.Method, path: e.Request.Path}
		s.reqBody = plain(t, e.Request.Body)
		if e.Response != nil {
			s.status = e.Response.Status
			s.respBody = plain(t, e.Response.Body)
		}
		if e.Request.Path == "/gzip" && e.Response != nil {
			if e.Response.Body == nil || e.Response.Body.Text != strings.Repeat("compressed ", 100) {
				t.Errorf("gzip body %v", e.Response.Body)
			}
			s.respBody = "<gzip>"
		}
		gotSeen = append(gotSeen, s)
		if e.Protocol != exchange.ProtoH2 || e.Error != nil || e.Request.Authority != addr {
			t.Errorf("%s %s: protocol %s error %v authority %q", e.Request.Method, e.Request.Path, e.Protocol, e.Error, e.Request.Authority)
		}
		if e.DurationMs <= 0 || e.DurationMs > 10_000 {
			t.Errorf("%s: duration %v", e.Request.Path, e.DurationMs)
		}
		if e.Request.Path == "/large" && (e.Response.BodySize != 200_000 || !e.Response.Body.Truncated || len(e.Response.Body.Text) != bodyCap) {
			t.Errorf("/large: bodySize %d truncated %v text %d", e.Response.BodySize, e.Response.Body.Truncated, len(e.Response.Body.Text))
		}
		if e.Request.Path == "/trailers" && fmt.Sprint(e.Response.Trailers) != "[[x-checksum c0ffee]]" {
			t.Errorf("/trailers: trailers %v", e.Response.Trailers)
		}
		if v := headerValue(e.Request.Headers, "authorization"); v != exchange.Redacted {
			t.Errorf("%s: authorization %q", e.Request.Path, v)
		}
	}
	for i := range want {
		if want[i].path == "/gzip" {
			want[i].respBody = "<gzip>"
		}
	}
	sortSeen(want)
	sortSeen(gotSeen)
	if len(gotSeen) != len(want) {
		t.Errorf("%d exchanges, the client made %d", len(gotSeen), len(want))
	}
	for i := range min(len(gotSeen), len(want)) {
		if g, w := gotSeen[i].String(), want[i].String(); g != w {
			t.Errorf("exchange differs from what the client saw:\n got %.300s\nwant %.300s", g, w)
		}
	}
	out, _ := json.Marshal(got)
	for _, s := range []string{secret, "secret-cookie"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("%q leaked into the exchanges", s)
		}
	}
}

// plain is a captured body's bytes, whatever its encoding.
func plain(t *testing.T, b *exchange.Body) string {
	if b == nil {
		return ""
	}
	if b.Encoding == "base64" {
		raw, err := base64.StdEncoding.DecodeString(b.Text)
		if err != nil {
			t.Errorf("body: %v", err)
		}
		return string(raw)
	}
	return b.Text
}

func sortSeen(s []seen) {
	sort.Slice(s, func(i, j int) bool { return s[i].String() < s[j].String() })
}

// TestRealUpgrade records an HTTP/1.1 "Upgrade: h2c" request answered by Go's h2c
// handler, then a second request on stream 3, and follows it as the core would: the
// HTTP/1.1 part parsed, the rest through NewUpgradedConn.
func TestRealUpgrade(t *testing.T) {
	addr, rec := serveH2C(t)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nc.Close() }()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, "POST /echo HTTP/1.1\r\nHost: "+addr+"\r\nConnection: Upgrade, HTTP2-Settings\r\n"+
		"Upgrade: h2c\r\nHTTP2-Settings: \r\nAuthorization: Bearer "+secret+"\r\nContent-Length: 13\r\n\r\nupgrade body!"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fr := http2.NewFramer(nc, br)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if _, err := io.WriteString(nc, preface); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	// readStream reads frames until the stream ends, returning its status and body.
	readStream := func(sid uint32) (string, string) {
		var status, data string
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("stream %d: %v", sid, err)
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					_ = fr.WriteSettingsAck()
				}
			case *http2.MetaHeadersFrame:
				if f.StreamID == sid && status == "" {
					status = f.PseudoValue("status")
				}
				if f.StreamID == sid && f.StreamEnded() {
					return status, data
				}
			case *http2.DataFrame:
				if f.StreamID == sid {
					data += string(f.Data())
					if f.StreamEnded() {
						return status, data
					}
				}
			}
		}
	}
	if status, data := readStream(1); status != "200" || data != "upgrade body!" {
		t.Fatalf("stream 1: %s %q", status, data)
	}
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", addr}, {":path", "/hello?n=after-upgrade"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: blk.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if status, data := readStream(3); status != "200" || data != "hello after-upgrade" {
		t.Fatalf("stream 3: %s %q", status, data)
	}
	_ = nc.Close()
	time.Sleep(50 * time.Millisecond)

	conns := rec.recorded()
	if len(conns) != 1 {
		t.Fatalf("%d connections recorded", len(conns))
	}
	chunks := conns[0]
	// The HTTP/1.1 request and the 101, parsed as the core's HTTP/1 reader would.
	var cli, srv bytes.Buffer
	for _, ch := range chunks {
		if ch.client {
			cli.Write(ch.b)
		} else {
			srv.Write(ch.b)
		}
	}
	cr := bufio.NewReader(bytes.NewReader(cli.Bytes()))
	hreq, err := http.ReadRequest(cr)
	if err != nil {
		t.Fatal(err)
	}
	reqBody, _ := io.ReadAll(hreq.Body)
	cliH1 := cli.Len() - cr.Buffered()
	sr := bufio.NewReader(bytes.NewReader(srv.Bytes()))
	if _, err := http.ReadResponse(sr, hreq); err != nil {
		t.Fatal(err)
	}
	srvH1 := srv.Len() - sr.Buffered()
	var hdrs []exchange.Header
	for k, vs := range hreq.Header {
		for _, v := range vs {
			hdrs = append(hdrs, exchange.Header{k, v})
		}
	}
	req := exchange.Request{Method: hreq.Method, Path: hreq.RequestURI, Authority: hreq.Host,
		Headers: redact.New(nil).Headers(hdrs), BodySize: int64(len(reqBody)),
		Body: body.Capture(reqBody, int64(len(reqBody)), "", "", 1024, false)}

	var got []*exchange.Exchange
	var errs []error
	c := NewUpgradedConn(Options{BodyCap: 1024, OnParseError: func(err error) { errs = append(errs, err) }},
		func(e *exchange.Exchange) { got = append(got, e) }, req, chunks[0].ts)
	skip := map[bool]int{true: cliH1, false: srvH1}
	for _, ch := range chunks {
		b := ch.b
		n := min(skip[ch.client], len(b))
		skip[ch.client] -= n
		if b = b[n:]; len(b) == 0 {
			continue
		}
		if ch.client {
			c.FromClient(b, ch.ts)
		} else {
			c.FromServer(b, ch.ts)
		}
	}
	c.Close(chunks[len(chunks)-1].ts, false)
	if len(errs) > 0 {
		t.Errorf("parse errors: %v", errs)
	}
	var sums []string
	for _, e := range got {
		sums = append(sums, summary(e))
	}
	want := []string{
		"h2 POST " + addr + " /echo req=13/utf8:upgrade body!:false -> 200 resp=13/base64:dXBncmFkZSBib2R5IQ==:false",
		"h2 GET " + addr + " /hello?n=after-upgrade req=0/<nil> -> 200 resp=19/utf8:hello after-upgrade:false",
	}
	if strings.Join(sums, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q\nwant %q", sums, want)
	}
	if len(got) > 0 {
		if !got[0].StartedAt.Equal(chunks[0].ts) || got[0].DurationMs <= 0 {
			t.Errorf("upgraded stream: startedAt %v duration %v", got[0].StartedAt, got[0].DurationMs)
		}
		out, _ := json.Marshal(got)
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("%q leaked: %s", secret, out)
		}
	}
}
