package fastpath

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"
)

// Generations reads the agent's directory generations (u32 big-endian each, the latest
// wins) from a non-blocking descriptor of their own. The agent writes one in the same
// step it drops its own built answers, before any later query can reach the fast path;
// Poll runs after every receive and before any answer from the memo, so a datagram that
// arrived after a change is never answered from the memo as it was before it.
type Generations struct {
	mu     sync.Mutex
	fd     int
	part   []byte
	memo   *Memo
	closed bool
}

// NewGenerations sets fd non-blocking and feeds memo.Invalidate from it.
func NewGenerations(fd int, memo *Memo) (*Generations, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	return &Generations{fd: fd, memo: memo}, nil
}

// Poll reads every generation written so far. Under a lock: a second socket's goroutine
// must not answer between another's read of a generation and its store.
func (g *Generations) Poll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	var buf [512]byte
	for {
		n, err := unix.Read(g.fd, buf[:])
		if n <= 0 {
			if n == 0 && err == nil {
				g.closed = true // the agent is gone; the control socket's end stops us
			}
			return
		}
		g.part = append(g.part, buf[:n]...)
		whole := len(g.part) / 4 * 4
		if whole > 0 {
			g.memo.Invalidate(binary.BigEndian.Uint32(g.part[whole-4 : whole]))
			g.part = append(g.part[:0], g.part[whole:]...)
		}
		if n < len(buf) {
			return
		}
	}
}
