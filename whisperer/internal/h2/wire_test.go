package h2

import (
	"bytes"
	"math/rand"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
)

// chunk is bytes one side sent, with the time they were captured.
type chunk struct {
	client bool
	b      []byte
	ts     time.Time
}

// t0 is the capture clock's origin in the tests; chunk i is captured at t0 + i ms.
var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// wire builds a conversation with http2's Framer and hpack's Encoder, one chunk per call.
type wire struct {
	t      testing.TB
	chunks []chunk
	buf    bytes.Buffer
	fr     *http2.Framer
	enc    [2]*hpack.Encoder // client, server
	encBuf [2]bytes.Buffer
}

func newWire(t testing.TB) *wire {
	w := &wire{t: t}
	w.fr = http2.NewFramer(&w.buf, nil)
	w.fr.AllowIllegalWrites = true
	for i := range w.enc {
		w.enc[i] = hpack.NewEncoder(&w.encBuf[i])
	}
	return w
}

// prior starts a prior-knowledge connection: the preface and both sides' SETTINGS.
func (w *wire) prior() *wire {
	w.raw(true, []byte(preface))
	w.client(func(f *http2.Framer) error { return f.WriteSettings() })
	w.server(func(f *http2.Framer) error {
		return f.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	})
	w.client(func(f *http2.Framer) error { return f.WriteSettingsAck() })
	w.server(func(f *http2.Framer) error { return f.WriteSettingsAck() })
	return w
}

func (w *wire) raw(client bool, b []byte) *wire {
	w.chunks = append(w.chunks, chunk{client: client, b: append([]byte(nil), b...), ts: t0.Add(time.Duration(len(w.chunks)) * time.Millisecond)})
	return w
}

func (w *wire) write(client bool, fn func(*http2.Framer) error) *wire {
	w.buf.Reset()
	if err := fn(w.fr); err != nil {
		w.t.Fatal(err)
	}
	return w.raw(client, w.buf.Bytes())
}

func (w *wire) client(fn func(*http2.Framer) error) *wire { return w.write(true, fn) }
func (w *wire) server(fn func(*http2.Framer) error) *wire { return w.write(false, fn) }

// block HPACK-encodes name, value pairs with one side's encoder.
func (w *wire) block(client bool, kv ...string) []byte {
	i := 1
	if client {
		i = 0
	}
	w.encBuf[i].Reset()
	for j := 0; j+1 < len(kv); j += 2 {
		if err := w.enc[i].WriteField(hpack.HeaderField{Name: kv[j], Value: kv[j+1]}); err != nil {
			w.t.Fatal(err)
		}
	}
	return append([]byte(nil), w.encBuf[i].Bytes()...)
}

// headers sends one HEADERS frame holding the whole block.
func (w *wire) headers(client bool, sid uint32, endStream bool, kv ...string) *wire {
	blk := w.block(client, kv...)
	return w.write(client, func(f *http2.Framer) error {
		return f.WriteHeaders(http2.HeadersFrameParam{StreamID: sid, BlockFragment: blk, EndStream: endStream, EndHeaders: true})
	})
}

func (w *wire) get(sid uint32, path string, kv ...string) *wire {
	return w.headers(true, sid, true, append([]string{":method", "GET", ":scheme", "http", ":authority", "svc:8080", ":path", path}, kv...)...)
}

func (w *wire) data(client bool, sid uint32, endStream bool, p string) *wire {
	return w.write(client, func(f *http2.Framer) error { return f.WriteData(sid, endStream, []byte(p)) })
}

// result is what a Conn emitted and reported.
type result struct {
	ex   []*exchange.Exchange
	errs []error
	conn *Conn
}

type feedMode int

const (
	whole feedMode = iota
	byteByByte
	randomSplits
)

func (m feedMode) String() string {
	return [...]string{"whole", "byte-by-byte", "random-splits"}[m]
}

// run feeds the chunks into a Conn (made by mk, or NewConn) in a mode, then closes it at
// the last chunk's time + 1 s unless keepOpen.
func run(chunks []chunk, mode feedMode, opts Options, mk func(Options, func(*exchange.Exchange)) *Conn, keepOpen bool) *result {
	r := &result{}
	opts.OnParseError = func(err error) { r.errs = append(r.errs, err) }
	if opts.Redactor == nil {
		opts.Redactor = redact.New(nil)
	}
	if opts.BodyCap == 0 {
		opts.BodyCap = exchange.DefaultBodyCapBytes
	}
	emit := func(e *exchange.Exchange) { r.ex = append(r.ex, e) }
	if mk == nil {
		mk = NewConn
	}
	c := mk(opts, emit)
	r.conn = c
	rng := rand.New(rand.NewSource(int64(len(chunks))))
	last := t0
	for _, ch := range chunks {
		feed := c.FromServer
		if ch.client {
			feed = c.FromClient
		}
		last = ch.ts
		switch mode {
		case whole:
			feed(ch.b, ch.ts)
		case byteByByte:
			for i := range ch.b {
				feed(ch.b[i:i+1], ch.ts)
			}
		case randomSplits:
			for b := ch.b; len(b) > 0; {
				n := min(len(b), 1+rng.Intn(20))
				feed(b[:n], ch.ts)
				b = b[n:]
			}
		}
	}
	if !keepOpen {
		c.Close(last.Add(time.Second), false)
	}
	return r
}
