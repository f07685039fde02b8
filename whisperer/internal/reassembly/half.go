// Package reassembly puts one direction of a TCP connection back in order: in-order
// payload is handed on straight from the packet (no copy), out-of-order segments wait in
// a bounded buffer, and a hole that cannot be filled becomes an explicit gap.
package reassembly

import (
	"sort"
	"time"
)

// Receiver takes a direction's bytes in order.
type Receiver interface {
	Data(client bool, p []byte, ts time.Time)
	Gap(client bool, n int, ts time.Time)
}

// Limits bound what one direction holds out of order.
type Limits struct {
	MaxBytes    int // buffered payload bytes
	MaxSegments int
}

// DefaultLimits suit HTTP: a window's worth of reordering.
var DefaultLimits = Limits{MaxBytes: 256 * 1024, MaxSegments: 64}

type segment struct {
	seq  uint32
	data []byte
}

// Half is one direction of a connection.
type Half struct {
	Client  bool // the direction from the client
	started bool
	next    uint32 // next expected sequence number
	ooo     []segment
	held    int
}

// Started says a first segment has fixed the sequence space.
func (h *Half) Started() bool { return h.started }

// Buffered is the payload held out of order.
func (h *Half) Buffered() int { return h.held }

// Add takes a segment. seq is the segment's sequence number (of the SYN for a SYN).
func (h *Half) Add(seq uint32, syn bool, payload []byte, ts time.Time, lim Limits, out Receiver) {
	if syn {
		seq++ // the SYN takes one sequence number; data after it (TCP Fast Open) follows
		if !h.started {
			h.started, h.next = true, seq
		}
	}
	if !h.started {
		// Joined mid-connection: the first segment seen fixes the sequence space.
		h.started, h.next = true, seq
	}
	if len(payload) == 0 {
		return
	}
	diff := int32(seq - h.next)
	switch {
	case diff < 0:
		// A retransmission or overlap: only what lies beyond next is new.
		if int(-diff) >= len(payload) {
			return
		}
		payload = payload[-diff:]
		fallthrough
	case diff == 0:
		h.next += uint32(len(payload))
		out.Data(h.Client, payload, ts)
		h.drain(ts, out)
	default:
		h.buffer(seq, payload, lim)
		if h.held > lim.MaxBytes || len(h.ooo) > lim.MaxSegments {
			h.skip(ts, out)
		}
	}
}

// Acked says the peer acknowledged up to ack. When data past a hole is waiting and the
// peer has acknowledged into or past the hole, the hole will never be retransmitted for
// us to see (the capture lost it): give it up.
func (h *Half) Acked(ack uint32, ts time.Time, out Receiver) {
	if len(h.ooo) == 0 || int32(ack-h.next) <= 0 {
		return
	}
	h.skip(ts, out)
}

// Flush gives up every hole and delivers all that is buffered (FIN, RST, end of capture).
func (h *Half) Flush(ts time.Time, out Receiver) {
	for len(h.ooo) > 0 {
		h.skip(ts, out)
	}
}

// skip jumps over the first hole.
func (h *Half) skip(ts time.Time, out Receiver) {
	if len(h.ooo) == 0 {
		return
	}
	if n := int32(h.ooo[0].seq - h.next); n > 0 {
		out.Gap(h.Client, int(n), ts)
		h.next = h.ooo[0].seq
	}
	h.drain(ts, out)
}

func (h *Half) buffer(seq uint32, payload []byte, lim Limits) {
	data := make([]byte, len(payload))
	copy(data, payload)
	i := sort.Search(len(h.ooo), func(i int) bool { return int32(h.ooo[i].seq-seq) >= 0 })
	if i < len(h.ooo) && h.ooo[i].seq == seq {
		if len(h.ooo[i].data) >= len(data) {
			return // a duplicate
		}
		h.held += len(data) - len(h.ooo[i].data)
		h.ooo[i].data = data
		return
	}
	h.ooo = append(h.ooo, segment{})
	copy(h.ooo[i+1:], h.ooo[i:])
	h.ooo[i] = segment{seq: seq, data: data}
	h.held += len(data)
}

// drain delivers buffered segments that have become in order.
func (h *Half) drain(ts time.Time, out Receiver) {
	for len(h.ooo) > 0 {
		s := h.ooo[0]
		diff := int32(s.seq - h.next)
		if diff > 0 {
			return
		}
		h.ooo = h.ooo[1:]
		h.held -= len(s.data)
		if int(-diff) < len(s.data) {
			p := s.data[-diff:]
			h.next += uint32(len(p))
			out.Data(h.Client, p, ts)
		}
	}
	if len(h.ooo) == 0 {
		h.ooo = nil
	}
}
