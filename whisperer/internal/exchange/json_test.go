package exchange

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// refString is the byte-at-a-time escaper appendString replaced (its output, byte for
// byte, is what the agent has always received).
func refString(s string) string {
	var dst []byte
	dst = append(dst, '"')
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...) // an invalid byte
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return string(append(dst, '"'))
}

func TestAppendStringExact(t *testing.T) {
	var pieces = []string{"", "a", "abcdefgh", "abcdefghi", "\"", "\\", "\x00", "\x1f", " ", "\x7f", "\x80", "\xff",
		"é", "caf\xe9", "\u2028", "\u2029", "\ufffd", "日本語", "\n\r\t", "<&>", "0123456789abcdef", "\xe2\x80", "~"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.IntN(12); n > 0; n-- {
			if rng.IntN(3) == 0 {
				b.WriteByte(byte(rng.IntN(256)))
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		s := b.String()
		got := string(appendString(nil, s))
		if want := refString(s); got != want {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, got, err)
		}
		var want string
		if err := json.Unmarshal(mustMarshal(t, s), &want); err != nil || back != want {
			t.Fatalf("%q: decodes to %q, encoding/json's to %q (%v)", s, back, want, err)
		}
	}
}

func mustMarshal(t *testing.T, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAppendTimeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(tm time.Time) {
		if got, want := string(appendTime(nil, tm)), tm.UTC().Format(TimeLayout); got != want {
			t.Fatalf("%v: got %s want %s", tm, got, want)
		}
	}
	for _, tm := range []time.Time{{}, time.Unix(0, 0), time.Unix(-1, 999999999), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 2, 29, 12, 0, 0, 5e8, time.FixedZone("x", -3600)),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 2, 28, 23, 59, 59, 0, time.FixedZone("y", 50400))} {
		check(tm)
	}
	for i := 0; i < 100000; i++ {
		check(time.Unix(rng.Int64N(400*365*86400)-200*365*86400, rng.Int64N(1e9)).In(time.FixedZone("z", rng.IntN(100000)-50000)))
	}
}

func TestAppendFloatExact(t *testing.T) {
	ref := func(f float64) string {
		if f != f || f < 0 {
			f = 0
		}
		if f >= 1e21 {
			return strconv.FormatFloat(f, 'e', -1, 64)
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	vals := []float64{0, 0.001, 0.01, 0.1, 1, 999.999, 1e9, 1e12 - 0.001, 1e12, 1e15, 1e21, 1e22, 0.0005, 1.0005, math.NaN(), -1,
		math.Inf(1), math.SmallestNonzeroFloat64, 123.4565, 0.1 + 0.2}
	for i := 0; i < 200000; i++ {
		vals = append(vals, Millis(time.Duration(rng.Int64N(1<<uint(rng.IntN(62)+1)))), rng.Float64()*math.Pow(10, float64(rng.IntN(30)-5)))
	}
	for _, f := range vals {
		if got, want := string(appendFloat(nil, f)), ref(f); got != want {
			t.Fatalf("%v: got %s want %s", f, got, want)
		}
	}
}
