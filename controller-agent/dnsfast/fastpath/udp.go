package fastpath

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// batch is how many datagrams one recvmmsg/sendmmsg moves at most.
const batch = 64

// Relay hands a datagram the fast path does not answer to the agent. msg is reused after
// the call returns.
type Relay func(msg []byte, addr *net.UDPAddr, learn bool)

// Counters of one server (all sockets), read by the agent's metrics.
type Counters struct {
	Queries, Local, Relayed, Errors atomic.Uint64
}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn both offer (Message is the same
// type in both).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// Server answers from a Memo on one or more UDP sockets.
type Server struct {
	Memo     *Memo
	Relay    Relay
	Counters Counters
	// BeforeAnswer runs after each receive, before any answer from the memo (the agent's
	// generation is polled there, so a change the agent made before a datagram arrived is
	// seen before that datagram is answered).
	BeforeAnswer func()
}

// Serve reads, answers and writes in batches on c until it fails (closed).
func (s *Server) Serve(c batchConn) error {
	in := make([]ipv4.Message, batch)
	out := make([]ipv4.Message, batch)
	outBufs := make([][]byte, batch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, MaxQueryBytes+1)}
		outBufs[i] = make([]byte, 0, maxResponseBytes)
		out[i].Buffers = [][]byte{nil}
	}
	key := make([]byte, 0, maxNameBytes)
	for {
		n, err := c.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Anything else (an ICMP error reported on the socket, ENOBUFS) concerns one
			// datagram or one moment, not the socket: count it and keep serving.
			s.Counters.Errors.Add(1)
			time.Sleep(time.Millisecond)
			continue
		}
		s.Counters.Queries.Add(uint64(n))
		if s.BeforeAnswer != nil {
			s.BeforeAnswer()
		}
		k := 0
		for i := 0; i < n; i++ {
			m := &in[i]
			msg := m.Buffers[0][:m.N]
			addr, _ := m.Addr.(*net.UDPAddr)
			if addr == nil {
				continue
			}
			q, key2, ok := ParseQuery(msg, key)
			if !ok {
				s.Counters.Relayed.Add(1)
				s.Relay(msg, addr, false)
				continue
			}
			e, known, learn := s.Memo.Lookup(key2)
			if e == nil {
				s.Counters.Relayed.Add(1)
				s.Relay(msg, addr, learn && !known)
				continue
			}
			records, count := e.Answer(q.QType)
			resp := AppendResponse(outBufs[k][:0], msg, &q, records, count)
			if len(resp) > maxResponseBytes {
				// Larger than the fast path's buffers: the agent answers it.
				s.Counters.Relayed.Add(1)
				s.Relay(msg, addr, false)
				continue
			}
			outBufs[k] = resp
			out[k].Buffers[0] = resp
			out[k].Addr = addr
			k++
		}
		s.Counters.Local.Add(uint64(k))
		for sent := 0; sent < k; {
			w, err := c.WriteBatch(out[sent:k], 0)
			if err != nil || w == 0 {
				// A datagram the kernel refused (e.g. an unreachable client): skip it.
				s.Counters.Errors.Add(1)
				w = 1
			}
			sent += w
		}
	}
}
