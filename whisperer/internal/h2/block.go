package h2

import (
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http2/hpack"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// block collects the fields of one header block (HEADERS or PUSH_PROMISE and its
// CONTINUATIONs) as the HPACK decoder emits them, within the exchange's limits.
type block struct {
	open      bool
	sid       uint32
	endStream bool // END_STREAM was on the HEADERS frame
	push      bool
	promised  uint32
	ts        time.Time
	size      int // encoded bytes so far

	fields []exchange.Header // regular fields, in order
	bytes  int               // of names and values kept

	method, path, authority, status string
	unknown                         int // fields a mid-stream decoder could not resolve
}

func (b *block) begin(sid uint32, endStream bool, ts time.Time, push bool) {
	*b = block{open: true, sid: sid, endStream: endStream, ts: ts, push: push}
}

func (b *block) reset() { *b = block{} }

// take hands the regular fields over to their stream.
func (b *block) take() ([]exchange.Header, int) {
	f, n := b.fields, b.bytes
	b.fields, b.bytes = nil, 0
	if f == nil {
		f = []exchange.Header{}
	}
	return f, n
}

// add is the HPACK decoder's emit function. Fields past the exchange's limits are dropped
// (the decoder still decodes them, so its table stays in step with the encoder's).
func (b *block) add(f hpack.HeaderField) {
	if f.IsPseudo() {
		switch f.Name {
		case ":method":
			b.method = clip(f.Value, 64)
		case ":path":
			b.path = clip(f.Value, exchange.MaxPathChars)
		case ":authority":
			b.authority = clip(f.Value, exchange.MaxAuthorityChars)
		case ":status":
			b.status = f.Value
		}
		return
	}
	if len(b.fields) >= exchange.MaxHeaders || b.bytes >= maxHeaderListBytes {
		return
	}
	name := clip(f.Name, exchange.MaxHeaderNameChars)
	value := clip(f.Value, exchange.MaxHeaderValueChars)
	if b.fields == nil {
		b.fields = make([]exchange.Header, 0, 8)
	}
	b.fields = append(b.fields, exchange.Header{name, value})
	b.bytes += len(name) + len(value)
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence. The contract counts
// characters (UTF-16 units), never more than the bytes, so a clipped string always fits.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// headerValue is the first value of a header name (any case: an upgraded request's headers
// came from HTTP/1.1).
func headerValue(h []exchange.Header, name string) string {
	for _, f := range h {
		if strings.EqualFold(f[0], name) {
			return f[1]
		}
	}
	return ""
}
