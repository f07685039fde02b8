package ship

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

func enc(id string, pad int) []byte {
	return []byte(`{"id":"` + id + `","pad":"` + strings.Repeat("x", pad) + `"}`)
}

func decode(t *testing.T, b Batch) (ids []string, flows int, stats bool) {
	t.Helper()
	var v struct {
		Exchanges []struct{ ID string } `json:"exchanges"`
		Flows     []json.RawMessage     `json:"flows"`
		Stats     *exchange.Stats       `json:"stats"`
	}
	if err := json.Unmarshal(b.Body, &v); err != nil {
		t.Fatalf("invalid batch %s: %v", b.Body, err)
	}
	if v.Exchanges == nil || v.Flows == nil {
		t.Fatalf("null arrays in %s", b.Body)
	}
	for _, e := range v.Exchanges {
		ids = append(ids, e.ID)
	}
	return ids, len(v.Flows), v.Stats != nil
}

func TestQueueBatches(t *testing.T) {
	cases := []struct {
		name      string
		push      int
		pad       int
		maxBytes  int
		wantSizes []int
		dropped   int64
	}{
		{name: "one small batch", push: 3, pad: 10, maxBytes: 1 << 20, wantSizes: []int{3}},
		{name: "split at 2000 exchanges", push: 4500, pad: 1, maxBytes: 64 << 20, wantSizes: []int{2000, 2000, 500}},
		{name: "split at 1 MiB", push: 30, pad: 100_000, maxBytes: 64 << 20, wantSizes: []int{10, 10, 10}},
		{name: "full queue drops the oldest (down to 7/8 at once)", push: 10, pad: 1000, maxBytes: 5 * 1030, wantSizes: []int{4}, dropped: 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := NewQueue(c.maxBytes)
			for i := 0; i < c.push; i++ {
				q.Push(enc("r."+string(rune('a'+i%26)), c.pad))
			}
			var sizes []int
			for {
				b, ok := q.Next(nil)
				if !ok || b.Exchanges == 0 {
					break
				}
				if len(b.Body) > exchange.MaxBatchBytes {
					t.Fatalf("batch of %d bytes", len(b.Body))
				}
				ids, _, _ := decode(t, b)
				if len(ids) != b.Exchanges {
					t.Fatalf("batch says %d, holds %d", b.Exchanges, len(ids))
				}
				sizes = append(sizes, b.Exchanges)
				q.Done(b)
			}
			if len(sizes) != len(c.wantSizes) {
				t.Fatalf("batches %v, want %v", sizes, c.wantSizes)
			}
			for i := range sizes {
				if sizes[i] != c.wantSizes[i] {
					t.Fatalf("batches %v, want %v", sizes, c.wantSizes)
				}
			}
			if q.Dropped() != c.dropped {
				t.Fatalf("dropped %d, want %d", q.Dropped(), c.dropped)
			}
		})
	}
}

func TestQueueDropWhileSending(t *testing.T) {
	q := NewQueue(2 * 26)
	q.Push(enc("r.1", 5))
	q.Push(enc("r.2", 5))
	b, _ := q.Next(nil)
	// While the batch is out, new exchanges push the oldest out.
	q.Push(enc("r.3", 5))
	q.Push(enc("r.4", 5))
	q.Push(enc("r.5", 5)) // over the bound without the batch: down to 7/8, r.1 and r.2 stay
	q.Done(b)
	b2, _ := q.Next(nil)
	ids, _, _ := decode(t, b2)
	if len(ids) != 1 || ids[0] != "r.5" {
		t.Fatalf("left %v", ids)
	}
	if q.Dropped() != 2 {
		t.Fatalf("dropped %d", q.Dropped())
	}
}

func TestQueueStatsAndFlows(t *testing.T) {
	q := NewQueue(1 << 20)
	if _, ok := q.Next(nil); ok {
		t.Fatal("empty queue gave a batch")
	}
	q.PushFlow(exchange.Flow{Minute: time.Unix(60, 0).UTC(), Direction: exchange.Outbound})
	b, ok := q.Next(&exchange.Stats{StartedAt: time.Unix(1, 5e6), Packets: 3})
	ids, flows, stats := decode(t, b)
	if !ok || len(ids) != 0 || flows != 1 || !stats || !bytes.Contains(b.Body, []byte(`"startedAt":"1970-01-01T00:00:01.005Z"`)) {
		t.Fatalf("batch %s", b.Body)
	}
	q.Refused(b)
	if x, f := q.Len(); x != 0 || f != 0 {
		t.Fatal("refused batch still queued")
	}
	if q.Push(make([]byte, MaxExchangeBytes+1)); q.Dropped() != 1 {
		t.Fatal("an oversized exchange must be dropped and counted")
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(10)
	now := time.Unix(100, 0)
	allowed := 0
	for i := 0; i < 100; i++ { // 100 at once: the burst is one second's worth
		if l.Allow(now) {
			allowed++
		}
	}
	if allowed != 10 {
		t.Fatalf("burst allowed %d", allowed)
	}
	allowed = 0
	for i := 0; i < 100; i++ { // then 100 per second for 1 s: 10 pass
		now = now.Add(10 * time.Millisecond)
		if l.Allow(now) {
			allowed++
		}
	}
	if allowed < 9 || allowed > 11 {
		t.Fatalf("steady allowed %d", allowed)
	}
}

// The queue copies what it is given into chunks it reuses: what was pushed survives the
// caller reusing its buffer, and a steady push/send cycle stops allocating chunks.
func TestQueueArena(t *testing.T) {
	cases := []struct {
		name   string
		pad    int
		rounds int
	}{
		{name: "small exchanges", pad: 500, rounds: 50},
		{name: "exchanges larger than a chunk", pad: chunkBytes + 10, rounds: 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := NewQueue(64 << 20)
			buf := make([]byte, 0, c.pad+64)
			chunks := map[*chunk]bool{}
			for round := 0; round < c.rounds; round++ {
				for i := 0; i < 300 && (i+1)*(c.pad+30) < exchange.MaxBatchBytes; i++ {
					buf = append(buf[:0], enc(fmt.Sprintf("r.%d.%d", round, i), c.pad)...)
					q.Push(buf)
					buf[7] = '!' // the caller reuses its buffer
				}
				for _, it := range q.items {
					chunks[it.c] = true
				}
				for {
					b, ok := q.Next(nil)
					if !ok || b.Exchanges == 0 {
						break
					}
					ids, _, _ := decode(t, b)
					for i, id := range ids {
						if want := fmt.Sprintf("r.%d.", round); !strings.HasPrefix(id, want) {
							t.Fatalf("exchange %d is %q, want %s…", i, id, want)
						}
					}
					q.Done(b)
				}
			}
			if x, _ := q.Len(); x != 0 || q.bytes != 0 {
				t.Fatalf("left %d exchanges, %d bytes", x, q.bytes)
			}
			if c.pad < chunkBytes && len(chunks) > 3 {
				t.Fatalf("%d chunks over %d rounds: emptied chunks are not reused", len(chunks), c.rounds)
			}
			for _, f := range q.free {
				if cap(f.buf) != chunkBytes || f.live != 0 {
					t.Fatalf("free chunk of %d bytes, %d live", cap(f.buf), f.live)
				}
			}
		})
	}
}

func TestQueueAbandon(t *testing.T) {
	cases := []struct {
		name     string
		push     int
		inflight bool
		want     int
	}{
		{name: "empty", push: 0},
		{name: "waiting exchanges", push: 5, want: 5},
		{name: "with a batch out", push: 5, inflight: true, want: 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := NewQueue(1 << 20)
			for i := 0; i < c.push; i++ {
				q.Push(enc(fmt.Sprint("r.", i), 10))
			}
			q.PushFlow(exchange.Flow{Minute: time.Unix(60, 0).UTC()})
			if c.inflight {
				q.Next(nil)
			}
			x, f := q.Abandon()
			if x != c.want || f != 1 || q.Dropped() != int64(c.want) {
				t.Fatalf("abandoned %d exchanges, %d flows, dropped %d; want %d, 1, %d", x, f, q.Dropped(), c.want, c.want)
			}
			if n, m := q.Len(); n+m != 0 || q.bytes != 0 {
				t.Fatalf("left %d, %d, %d bytes", n, m, q.bytes)
			}
			q.Push(enc("r.new", 10))
			if b, ok := q.Next(nil); !ok || b.Exchanges != 1 {
				t.Fatalf("queue unusable after Abandon: %s", b.Body)
			}
		})
	}
}
