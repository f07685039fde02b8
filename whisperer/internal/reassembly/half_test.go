package reassembly

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type rec struct{ got strings.Builder }

func (r *rec) Data(client bool, p []byte, ts time.Time) { r.got.Write(p) }
func (r *rec) Gap(client bool, n int, ts time.Time)     { fmt.Fprintf(&r.got, "<gap %d>", n) }

type seg struct {
	seq  uint32
	syn  bool
	data string
	ack  uint32 // >0: an ack from the peer instead of a segment
}

func TestHalf(t *testing.T) {
	const isn = 4294967290 // wraps around zero
	cases := []struct {
		name  string
		segs  []seg
		lim   Limits
		want  string
		flush bool
	}{
		{name: "in order from the SYN", segs: []seg{{seq: isn, syn: true}, {seq: isn + 1, data: "abc"}, {seq: isn + 4, data: "def"}}, want: "abcdef"},
		{name: "joined mid-stream", segs: []seg{{seq: 100, data: "abc"}, {seq: 103, data: "d"}}, want: "abcd"},
		{name: "out of order", segs: []seg{{seq: isn, syn: true}, {seq: isn + 4, data: "def"}, {seq: isn + 1, data: "abc"}}, want: "abcdef"},
		{name: "retransmission and overlap", segs: []seg{{seq: 1, data: "abc"}, {seq: 1, data: "abc"}, {seq: 2, data: "bcde"}}, want: "abcde"},
		{name: "duplicate out of order", segs: []seg{{seq: 1, data: "a"}, {seq: 5, data: "ef"}, {seq: 5, data: "ef"}, {seq: 2, data: "bcd"}}, want: "abcdef"},
		{name: "overlapping buffered segments", segs: []seg{{seq: 1, data: "a"}, {seq: 3, data: "cd"}, {seq: 4, data: "def"}, {seq: 2, data: "b"}}, want: "abcdef"},
		{name: "hole given up when the peer acks past it", segs: []seg{{seq: 1, data: "ab"}, {seq: 6, data: "fg"}, {ack: 8}}, want: "ab<gap 3>fg"},
		{name: "ack short of the hole waits", segs: []seg{{seq: 1, data: "ab"}, {seq: 6, data: "fg"}, {ack: 3}, {seq: 3, data: "cde"}}, want: "abcdefg"},
		{name: "buffer limit forces the gap", lim: Limits{MaxBytes: 3, MaxSegments: 10}, segs: []seg{{seq: 1, data: "a"}, {seq: 3, data: "cd"}, {seq: 5, data: "ef"}}, want: "a<gap 1>cdef"},
		{name: "segment limit forces the gap", flush: true, lim: Limits{MaxBytes: 100, MaxSegments: 1}, segs: []seg{{seq: 1, data: "a"}, {seq: 3, data: "c"}, {seq: 5, data: "e"}}, want: "a<gap 1>c<gap 1>e"},
		{name: "flush at the end", flush: true, segs: []seg{{seq: 1, data: "a"}, {seq: 4, data: "d"}, {seq: 9, data: "i"}}, want: "a<gap 2>d<gap 4>i"},
		{name: "old retransmission ignored", segs: []seg{{seq: 10, data: "abc"}, {seq: 5, data: "xyz"}}, want: "abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lim := c.lim
			if lim.MaxBytes == 0 {
				lim = DefaultLimits
			}
			var h Half
			r := &rec{}
			for _, s := range c.segs {
				if s.ack > 0 {
					h.Acked(s.ack, time.Time{}, r)
					continue
				}
				h.Add(s.seq, s.syn, []byte(s.data), time.Time{}, lim, r)
			}
			if c.flush {
				h.Flush(time.Time{}, r)
			}
			if got := r.got.String(); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if !c.flush && h.Buffered() != 0 {
				t.Fatalf("%d bytes left buffered", h.Buffered())
			}
		})
	}
}

func FuzzHalf(f *testing.F) {
	f.Add([]byte("abcdefghij"), []byte{3, 0, 7, 2})
	f.Fuzz(func(t *testing.T, stream []byte, order []byte) {
		if len(stream) == 0 || len(order) == 0 {
			return
		}
		// Cut the stream into segments and send them in a fuzzed order, each at least once.
		var segs []seg
		for i, k := 0, 0; i < len(stream); k++ {
			n := int(order[k%len(order)]%7) + 1
			n = min(n, len(stream)-i)
			segs = append(segs, seg{seq: uint32(1000 + i), data: string(stream[i : i+n])})
			i += n
		}
		for k := range segs {
			j := int(order[k%len(order)]) % len(segs)
			segs[k], segs[j] = segs[j], segs[k]
		}
		run := func(lim Limits) (*rec, *Half) {
			var h Half
			r := &rec{}
			h.Add(999, true, nil, time.Time{}, lim, r)
			for _, s := range segs {
				h.Add(s.seq, false, []byte(s.data), time.Time{}, lim, r)
			}
			h.Flush(time.Time{}, r)
			return r, &h
		}
		// With room for every segment, any order gives back the stream exactly.
		if r, _ := run(Limits{MaxBytes: len(stream) + 1, MaxSegments: len(segs) + 1}); r.got.String() != string(stream) {
			t.Fatalf("got %q, want %q", r.got.String(), stream)
		}
		// Within the default bounds (more reordering than they hold gives gaps, by design):
		// nothing stays buffered after a flush.
		if _, h := run(DefaultLimits); h.Buffered() != 0 {
			t.Fatalf("%d bytes left buffered after flush", h.Buffered())
		}
	})
}
