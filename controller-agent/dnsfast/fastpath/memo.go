package fastpath

import (
	"sync"
	"sync/atomic"
)

// Entry is everything the agent answers for one name, pre-encoded (owner = a pointer to
// the question): the agent's AnswerEntry.
type Entry struct {
	PTR       []byte
	A         []byte
	ACount    int
	AAAA      []byte
	AAAACount int
	any       []byte
	anyCount  int
}

// NewEntry builds an entry (and its ANY answer, the three concatenated as the agent does).
func NewEntry(ptr, a []byte, aCount int, aaaa []byte, aaaaCount int) *Entry {
	e := &Entry{PTR: ptr, A: a, ACount: aCount, AAAA: aaaa, AAAACount: aaaaCount}
	if len(a) == 0 {
		e.ACount = 0
	}
	if len(aaaa) == 0 {
		e.AAAACount = 0
	}
	e.any = append(append(append([]byte(nil), ptr...), a...), aaaa...)
	if len(ptr) > 0 {
		e.anyCount = 1
	}
	e.anyCount += e.ACount + e.AAAACount
	return e
}

// Answer is the agent's answerFromEntry: the records for qtype (none: NODATA).
func (e *Entry) Answer(qtype uint16) ([]byte, int) {
	switch qtype {
	case typePTR:
		if len(e.PTR) > 0 {
			return e.PTR, 1
		}
	case typeA:
		return e.A, e.ACount
	case typeAAAA:
		return e.AAAA, e.AAAACount
	case typeANY:
		return e.any, e.anyCount
	}
	return nil, 0
}

// Memo holds the entries the agent taught, as of one directory generation. The agent
// bumps the generation (Invalidate) in the same step it drops its own built answers; a
// memo of an older generation answers nothing until the agent's refresh for the new one
// is applied, so the fast path never answers what the agent no longer would.
type Memo struct {
	mu      sync.RWMutex
	entries map[string]*Entry // nil: the agent does not answer the name (relay, no learn)
	memoGen uint32
	current atomic.Uint32
	max     int
}

// NewMemo returns an empty memo of generation 0 holding at most max names.
func NewMemo(max int) *Memo {
	return &Memo{entries: make(map[string]*Entry), max: max}
}

// Invalidate records that the agent's directory is now at generation gen.
func (m *Memo) Invalidate(gen uint32) { m.current.Store(gen) }

// Lookup returns the entry for key; known is false when the memo is not current or the
// name was never taught; learn says the agent should teach it (memo current, unknown).
func (m *Memo) Lookup(key []byte) (e *Entry, known, learn bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.current.Load() != m.memoGen {
		return nil, false, false
	}
	e, known = m.entries[string(key)]
	return e, known, !known
}

// Teach stores the entry the agent computed at generation gen; dropped when the memo is
// of another generation (the refresh or the next relay brings it).
func (m *Memo) Teach(gen uint32, key string, e *Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.memoGen {
		return
	}
	if len(m.entries) >= m.max {
		clear(m.entries)
	}
	m.entries[key] = e
}

// Change is one taught name whose entry changed (nil: no longer local).
type Change struct {
	Key   string
	Entry *Entry
}

// Refresh brings the memo to generation gen: with reset it starts empty, then the
// changed entries are applied. Refreshes arrive in order, each relative to the last.
func (m *Memo) Refresh(gen uint32, reset bool, changes []Change) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if reset {
		clear(m.entries)
	}
	for _, c := range changes {
		m.entries[c.Key] = c.Entry
	}
	m.memoGen = gen
}

// Len is the number of names held.
func (m *Memo) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}
