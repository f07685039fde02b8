// Package ship holds what the whisperer has captured until the agent takes it: a queue of
// encoded exchanges and flows bounded by bytes (the oldest dropped and counted when full),
// cut into batches within the contract's limits, and the exchanges-per-second limit.
package ship

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// batchReserve is room kept in a batch for its envelope and stats.
const batchReserve = 4096

// MaxExchangeBytes is the largest encoded exchange a batch can carry.
const MaxExchangeBytes = exchange.MaxBatchBytes - batchReserve

type item struct {
	seq  uint64
	data []byte // in c
	c    *chunk
}

// chunkBytes is the arena's unit. Exchanges are copied into chunks that are reused once
// every exchange in them is gone: a copy per exchange into its own allocation cost ~10 %
// of the live process (allocation, and page faults on memory the runtime had returned
// under the soft limit).
const chunkBytes = 256 << 10

// maxFreeChunks bounds the chunks kept for reuse (the steady state needs a few: one flush
// interval of exchanges); the rest go back to the collector.
const maxFreeChunks = 8

// chunk holds encoded exchanges back to back; live counts those still queued.
type chunk struct {
	buf  []byte
	live int
}

type flowItem struct {
	seq  uint64
	data []byte
}

// Queue is safe for concurrent use.
type Queue struct {
	mu       sync.Mutex
	items    []item
	flows    []flowItem
	bytes    int
	maxBytes int
	seq      uint64
	dropped  int64
	maxBatch int
	// The batch out with the agent: its exchanges are not evicted (they may be delivered)
	// and do not count against maxBytes (a batch is bounded by itself).
	inflight      uint64
	inflightBytes int
	buf           []byte // the batch body, reused: one sender, one batch at a time
	cur           *chunk // where Push copies to
	free          []*chunk
}

// NewQueue holds at most maxBytes of encoded exchanges and flows.
func NewQueue(maxBytes int) *Queue {
	return &Queue{maxBytes: maxBytes, maxBatch: exchange.MaxBatchBytes}
}

// Dropped is how many exchanges were dropped because the queue was full.
func (q *Queue) Dropped() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// Len is the number of exchanges and flows waiting.
func (q *Queue) Len() (int, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), len(q.flows)
}

// Push adds a copy of an encoded exchange (at most MaxExchangeBytes, else it is dropped);
// the caller may reuse enc.
func (q *Queue) Push(enc []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(enc) > MaxExchangeBytes {
		q.dropped++
		return
	}
	c := q.room(len(enc))
	at := len(c.buf)
	c.buf = append(c.buf, enc...)
	c.live++
	q.seq++
	q.items = append(q.items, item{seq: q.seq, data: c.buf[at:len(c.buf):len(c.buf)], c: c})
	q.bytes += len(enc)
	q.evict()
}

// room is a chunk with n bytes free: the current one, a reused one, or a new one (an
// exchange larger than a chunk gets one of its own, never reused).
func (q *Queue) room(n int) *chunk {
	if q.cur != nil && cap(q.cur.buf)-len(q.cur.buf) >= n {
		return q.cur
	}
	if q.cur != nil && q.cur.live == 0 {
		q.recycle(q.cur) // nothing in it is queued any more
	}
	if n > chunkBytes {
		q.cur = &chunk{buf: make([]byte, 0, n)}
		return q.cur
	}
	if k := len(q.free); k > 0 {
		q.cur = q.free[k-1]
		q.free[k-1] = nil
		q.free = q.free[:k-1]
	} else {
		q.cur = &chunk{buf: make([]byte, 0, chunkBytes)}
	}
	return q.cur
}

// release forgets one exchange in c; an emptied chunk other than the current is reused.
func (q *Queue) release(it *item) {
	c := it.c
	it.c, it.data = nil, nil
	if c == nil {
		return
	}
	c.live--
	switch {
	case c.live > 0:
	case c == q.cur:
		c.buf = c.buf[:0] // empty: fill it again from the start
	default:
		q.recycle(c)
	}
}

func (q *Queue) recycle(c *chunk) {
	c.buf, c.live = c.buf[:0], 0
	if c == q.cur {
		q.cur = nil
	}
	if cap(c.buf) == chunkBytes && len(q.free) < maxFreeChunks {
		q.free = append(q.free, c)
	}
}

// PushFlow adds a flow.
func (q *Queue) PushFlow(f exchange.Flow) {
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	q.flows = append(q.flows, flowItem{seq: q.seq, data: b})
	q.bytes += len(b)
	q.evict()
}

// evict drops the oldest until the queue fits (flows first: they are summaries, and
// the stats say how complete the exchanges are). When it must drop, it drops down to 7/8
// of the bound at once, so a full queue costs one copy per many pushes, not one each.
func (q *Queue) evict() {
	if q.bytes-q.inflightBytes <= q.maxBytes {
		return
	}
	target := q.maxBytes - q.maxBytes/8
	k := 0
	for q.bytes-q.inflightBytes > target && k < len(q.flows) {
		q.bytes -= len(q.flows[k].data)
		k++
	}
	q.flows = dropFront(q.flows, k)
	first := 0
	for first < len(q.items) && q.items[first].seq <= q.inflight {
		first++
	}
	end := first
	for q.bytes-q.inflightBytes > target && end < len(q.items) {
		q.bytes -= len(q.items[end].data)
		q.release(&q.items[end])
		end++
	}
	if end > first {
		n := copy(q.items[first:], q.items[end:])
		clear(q.items[first+n:])
		q.items = q.items[:first+n]
		q.dropped += int64(end - first)
	}
}

// dropFront removes the first k elements, keeping the slice's capacity.
func dropFront[T any](s []T, k int) []T {
	if k == 0 {
		return s
	}
	n := copy(s, s[k:])
	clear(s[n:])
	return s[:n]
}

// Batch is one request body and what it holds.
type Batch struct {
	Body      []byte
	Exchanges int
	Flows     int
	lastItem  uint64
	lastFlow  uint64
}

// Next builds the next batch from the oldest exchanges and flows, with stats; ok is false
// when nothing waits (and stats is nil). The body is valid until the next call.
func (q *Queue) Next(stats *exchange.Stats) (b Batch, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 && len(q.flows) == 0 && stats == nil {
		return b, false
	}
	if q.buf == nil {
		q.buf = make([]byte, 0, q.maxBatch)
	}
	body := q.buf[:0]
	body = append(body, `{"exchanges":[`...)
	room := q.maxBatch - batchReserve
	for _, it := range q.items {
		if b.Exchanges == exchange.MaxExchangesPerBatch || len(body)+len(it.data)+1 > room {
			break
		}
		if b.Exchanges > 0 {
			body = append(body, ',')
		}
		body = append(body, it.data...)
		b.Exchanges++
		b.lastItem = it.seq
	}
	body = append(body, `],"flows":[`...)
	for _, f := range q.flows {
		if b.Flows == exchange.MaxFlowsPerBatch || len(body)+len(f.data)+1 > room {
			break
		}
		if b.Flows > 0 {
			body = append(body, ',')
		}
		body = append(body, f.data...)
		b.Flows++
		b.lastFlow = f.seq
	}
	body = append(body, `],"stats":`...)
	if stats == nil {
		body = append(body, "null"...)
	} else {
		st := *stats
		st.StartedAt = st.StartedAt.UTC().Truncate(time.Millisecond)
		sb, _ := json.Marshal(st)
		body = append(body, sb...)
	}
	b.Body = append(body, '}')
	q.buf = b.Body[:0]
	q.inflight, q.inflightBytes = b.lastItem, 0
	for _, it := range q.items[:b.Exchanges] {
		q.inflightBytes += len(it.data)
	}
	return b, true
}

// Done removes what a batch held (sent, or refused for good). What was dropped meanwhile
// is simply not there any more.
func (q *Queue) Done(b Batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for n < len(q.items) && q.items[n].seq <= b.lastItem && b.Exchanges > 0 {
		q.bytes -= len(q.items[n].data)
		q.release(&q.items[n])
		n++
	}
	q.items = dropFront(q.items, n)
	q.inflight, q.inflightBytes = 0, 0
	m := 0
	for m < len(q.flows) && q.flows[m].seq <= b.lastFlow && b.Flows > 0 {
		q.bytes -= len(q.flows[m].data)
		m++
	}
	q.flows = dropFront(q.flows, m)
}

// Abandon counts what is still queued as dropped and empties the queue (the final
// flush ran out of time): it returns the exchanges and flows left undelivered.
func (q *Queue) Abandon() (int, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	x, f := len(q.items), len(q.flows)
	for i := range q.items {
		q.release(&q.items[i])
	}
	q.items, q.flows = q.items[:0], q.flows[:0]
	q.bytes, q.inflight, q.inflightBytes = 0, 0, 0
	q.dropped += int64(x)
	return x, f
}

// Refused counts a batch the agent refused for good as dropped, and removes it.
func (q *Queue) Refused(b Batch) {
	q.Done(b)
	q.mu.Lock()
	q.dropped += int64(b.Exchanges)
	q.mu.Unlock()
}
