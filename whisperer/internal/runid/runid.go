// Package runid names exchanges "<run>.<seq>": run is random per whisperer process, seq
// counts from 1, so a batch sent twice is stored once and two processes never collide.
package runid

import (
	"crypto/rand"
	"strconv"
)

// Sequence hands out ids. Not safe for concurrent use.
type Sequence struct {
	prefix []byte
	seq    uint64
	buf    []byte
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// New starts a sequence with a random 10-character run id.
func New() *Sequence {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return &Sequence{prefix: append(b, '.')}
}

// Run is the run id.
func (s *Sequence) Run() string { return string(s.prefix[:len(s.prefix)-1]) }

// Next returns the next id.
func (s *Sequence) Next() string {
	s.seq++
	s.buf = strconv.AppendUint(append(s.buf[:0], s.prefix...), s.seq, 10)
	return string(s.buf)
}
