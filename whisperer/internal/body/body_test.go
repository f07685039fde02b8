package body

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zl(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func rawDeflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestCapture(t *testing.T) {
	hello := []byte("hello, world")
	bomb := gz(bytes.Repeat([]byte{'a'}, 10<<20))
	binary := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff}
	euro := []byte("price: 5€")
	zipped := gz(hello)
	cases := []struct {
		name     string
		raw      []byte
		wire     int64
		encoding string
		ctype    string
		cap      int
		missed   bool
		want     *exchange.Body
	}{
		{name: "no body", raw: nil, wire: 0, cap: 64, want: nil},
		{name: "plain text", raw: hello, wire: int64(len(hello)), ctype: "text/plain", cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "hello, world"}},
		{name: "text cut at cap", raw: hello, wire: int64(len(hello)), cap: 5,
			want: &exchange.Body{Encoding: "utf8", Text: "hello", Truncated: true}},
		{name: "zero cap", raw: hello, wire: int64(len(hello)), cap: 0,
			want: &exchange.Body{Encoding: "utf8", Text: "", Truncated: true}},
		{name: "capture kept less than the wire", raw: hello[:4], wire: int64(len(hello)), cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "hell", Truncated: true}},
		{name: "missed bytes", raw: hello, wire: int64(len(hello)), cap: 64, missed: true,
			want: &exchange.Body{Encoding: "utf8", Text: "hello, world", Truncated: true}},
		{name: "gzip", raw: zipped, wire: int64(len(zipped)), encoding: "gzip", cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "hello, world"}},
		{name: "x-gzip upper case", raw: zipped, wire: int64(len(zipped)), encoding: " X-GZIP ", cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "hello, world"}},
		{name: "zlib deflate", raw: zl(hello), wire: 20, encoding: "deflate", cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "hello, world"}},
		{name: "raw deflate", raw: rawDeflate(hello), wire: int64(len(rawDeflate(hello))), encoding: "deflate", cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "hello, world"}},
		{name: "gzip then gzip", raw: gz(zipped), wire: int64(len(gz(zipped))), encoding: "gzip, gzip", cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "hello, world"}},
		{name: "gzip bomb stops at the cap", raw: bomb, wire: int64(len(bomb)), encoding: "gzip", cap: 1000,
			want: &exchange.Body{Encoding: "utf8", Text: strings.Repeat("a", 1000), Truncated: true}},
		{name: "gzip cut short", raw: zipped[:len(zipped)-8], wire: int64(len(zipped)), encoding: "gzip", cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "hello, world", Truncated: true}},
		{name: "gzip header claimed but not gzip", raw: hello, wire: int64(len(hello)), encoding: "gzip", cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "hello, world"}},
		{name: "unknown coding shown raw", raw: binary, wire: int64(len(binary)), encoding: "br", cap: 64,
			want: &exchange.Body{Encoding: "base64", Text: base64.StdEncoding.EncodeToString(binary)}},
		{name: "binary bytes", raw: binary, wire: int64(len(binary)), cap: 64,
			want: &exchange.Body{Encoding: "base64", Text: base64.StdEncoding.EncodeToString(binary)}},
		{name: "binary type though valid utf8", raw: hello, wire: int64(len(hello)), ctype: "application/octet-stream", cap: 64,
			want: &exchange.Body{Encoding: "base64", Text: base64.StdEncoding.EncodeToString(hello)}},
		{name: "grpc is binary", raw: hello, wire: int64(len(hello)), ctype: "application/grpc+proto", cap: 64,
			want: &exchange.Body{Encoding: "base64", Text: base64.StdEncoding.EncodeToString(hello)}},
		{name: "latin1 charset is not utf8", raw: []byte("caf\xe9"), wire: 4, ctype: "text/plain; charset=ISO-8859-1", cap: 64,
			want: &exchange.Body{Encoding: "base64", Text: base64.StdEncoding.EncodeToString([]byte("caf\xe9"))}},
		{name: "utf8 charset", raw: euro, wire: int64(len(euro)), ctype: `text/plain; charset="utf-8"`, cap: 64,
			want: &exchange.Body{Encoding: "utf8", Text: "price: 5€"}},
		{name: "cut inside a rune stays text", raw: euro, wire: int64(len(euro)), cap: len(euro) - 1,
			want: &exchange.Body{Encoding: "utf8", Text: "price: 5", Truncated: true}},
		{name: "NUL bytes are binary", raw: []byte("a\x00b"), wire: 3, cap: 64,
			want: &exchange.Body{Encoding: "base64", Text: base64.StdEncoding.EncodeToString([]byte("a\x00b"))}},
		{name: "negative cap as zero", raw: hello, wire: int64(len(hello)), cap: -1,
			want: &exchange.Body{Encoding: "utf8", Text: "", Truncated: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Capture(c.raw, c.wire, c.encoding, c.ctype, c.cap, c.missed)
			if (got == nil) != (c.want == nil) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			if got != nil && *got != *c.want {
				t.Fatalf("got %+v, want %+v", *got, *c.want)
			}
		})
	}
}

func FuzzCapture(f *testing.F) {
	f.Add(gz([]byte("hello")), "gzip", 16)
	f.Add(zl([]byte("hello")), "deflate", 3)
	f.Add([]byte("\xe2\x82"), "", 1)
	f.Fuzz(func(t *testing.T, raw []byte, coding string, capBytes int) {
		capBytes %= 1 << 16
		b := Capture(raw, int64(len(raw))+1, coding, "", capBytes, false)
		if b == nil || !b.Truncated {
			t.Fatalf("a short capture must be truncated: %+v", b)
		}
		size := len(b.Text)
		if b.Encoding == "base64" {
			size = base64.StdEncoding.DecodedLen(len(b.Text))
		}
		if capBytes >= 0 && size > capBytes+2 {
			t.Fatalf("decoded %d bytes over cap %d", size, capBytes)
		}
	})
}
