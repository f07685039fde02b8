package exchange

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// reflectJSON is what encoding/json would write for the same value, with the schema's
// time layout and never-null headers: the reference the hand-written encoder must match.
func reflectJSON(t *testing.T, e Exchange) any {
	type plain Exchange
	p := plain(e)
	fix := func(h []Header) []Header {
		if h == nil {
			return []Header{}
		}
		return h
	}
	p.Request.Headers = fix(p.Request.Headers)
	if p.Response != nil {
		r := *p.Response
		r.Headers, r.Trailers = fix(r.Headers), fix(r.Trailers)
		p.Response = &r
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	v["startedAt"] = e.StartedAt.UTC().Format(TimeLayout)
	return v
}

func TestAppendJSON(t *testing.T) {
	name := "web.shop.svc.cluster.local"
	status, msg := 5, "not \"found\"\n"
	reset := ErrReset
	cases := []struct {
		name string
		e    Exchange
	}{
		{name: "minimal, nil headers and no response", e: Exchange{ID: "r.1", Protocol: ProtoHTTP11, Direction: Inbound,
			StartedAt: time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.FixedZone("x", 3600)),
			Request:   Request{Method: "GET", Path: "/"}, Error: &reset}},
		{name: "full", e: Exchange{ID: "r.2", AttachmentID: "a", Container: "spider-a", Pod: "p", Namespace: "n",
			Protocol: ProtoGRPC, Direction: Outbound, StartedAt: time.Unix(1700000000, 0), DurationMs: 12.345,
			Client: Endpoint{IP: "10.0.0.1", Port: 40000}, Server: Endpoint{IP: "fd00::1", Port: 443, Name: &name},
			Request: Request{Method: "POST", Path: "/pkg.Svc/Do?q=<a&b>", Authority: "svc:443",
				Headers: []Header{{"content-type", "application/grpc"}, {"x-ctl", "a\x01b\tc\\d\u2028"}}, BodySize: 5,
				Body: &Body{Encoding: "base64", Text: "AAAA", Truncated: true}},
			Response: &Response{Status: 200, Headers: []Header{{"a", "b"}}, Trailers: []Header{{"grpc-status", "5"}},
				BodySize: 0, Body: nil},
			GRPC: &GRPC{Service: "pkg.Svc", Method: "Do", Status: &status, Message: &msg}}},
		{name: "invalid utf8 and nil trailers", e: Exchange{ID: "r.3", StartedAt: time.Unix(0, 0),
			Request:  Request{Method: "GET", Path: "/caf\xe9", Headers: []Header{}},
			Response: &Response{Status: 204}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.e)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("invalid JSON %s: %v", b, err)
			}
			if want := reflectJSON(t, c.e); !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %s\nwant %#v", b, want)
			}
			if strings.Contains(string(b), `null,"trailers"`) || strings.Contains(string(b), `"headers":null`) {
				t.Fatalf("null headers in %s", b)
			}
		})
	}
}

func TestTimeLayout(t *testing.T) {
	b := AppendJSON(nil, &Exchange{StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("x", -7200))})
	if !strings.Contains(string(b), `"startedAt":"2026-01-02T05:04:05.006Z"`) {
		t.Fatalf("%s", b)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := Exchange{ID: "run.1", Protocol: ProtoHTTP11, Direction: Inbound, StartedAt: time.Now(),
		Client: Endpoint{IP: "10.0.0.1", Port: 1}, Server: Endpoint{IP: "10.0.0.2", Port: 80},
		Request:  Request{Method: "GET", Path: "/index.html", Authority: "x", Headers: []Header{{"Host", "x"}, {"User-Agent", "wrk"}}},
		Response: &Response{Status: 200, Headers: []Header{{"Server", "nginx"}, {"Content-Length", "612"}}}}
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf = AppendJSON(buf[:0], &e)
	}
}
