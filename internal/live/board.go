// Package live keeps what `counter watch` knows about each counter: its
// value, where it started, how fast it moves and what is still to be
// printed. It is pure (no NATS, no clock of its own: callers pass now), and
// its memory grows with the number of counters only.
package live

import (
	"container/heap"
	"math/big"
	"time"

	"github.com/jetcounter/counter/internal/natsort"
	"github.com/jetcounter/counter/internal/watch"
)

// Key names one counter: the same subject in two streams (tiers) is two
// counters.
type Key struct {
	Stream  string
	Subject string
}

// RateWindow is how far back RATE looks: between one and two windows.
const RateWindow = 5 * time.Second

// minRateSpan keeps the rate of a counter seen a moment ago from exploding.
const minRateSpan = time.Second

// Counter is one watched counter.
type Counter struct {
	Key
	Value   *big.Int
	Seq     uint64
	Updated time.Time // server time of the last update
	// Base is the value when the watch started: the first value seen for
	// counters that existed then, 0 for counters created since.
	Base *big.Int

	// The rate is the change since a mark set between one and two
	// RateWindows ago: prev is that mark, cur the next one.
	// Held by value: one allocation less each, per counter.
	prevValue, curValue big.Int
	prevAt, curAt       time.Time

	// printed is the value of the last JSON line, if hasPrinted; pending
	// says a newer value waits for the next flush.
	printed    big.Int
	hasPrinted bool
	pending    bool
}

// Change is the change since the watch started.
func (c *Counter) Change() *big.Int { return new(big.Int).Sub(c.Value, c.Base) }

// Rate is the change per second over the last RateWindow or so.
func (c *Counter) Rate(now time.Time) float64 {
	c.rotate(now)
	span := max(now.Sub(c.prevAt), minRateSpan)
	d := new(big.Int).Sub(c.Value, &c.prevValue)
	if d.Sign() == 0 {
		return 0
	}
	f, _ := new(big.Float).SetInt(d).Float64()
	return f / span.Seconds()
}

func (c *Counter) rotate(now time.Time) {
	if now.Sub(c.curAt) < RateWindow {
		return
	}
	c.prevValue.Set(&c.curValue)
	c.prevAt = c.curAt
	c.curValue.Set(c.Value)
	c.curAt = now
}

// Line is one JSON line: a counter's value and its change since the
// previous line for it (nil for the first).
type Line struct {
	Subject string
	Stream  string
	Value   *big.Int
	Delta   *big.Int
	Seq     uint64
	Time    time.Time
}

// Board holds every watched counter.
type Board struct {
	counters map[Key]*Counter
	order    []*Counter // every counter, in the order first seen
	synced   map[string]bool
	dirty    []*Counter // counters with a pending line, in order of change

	updates     uint64 // live updates applied (not the initial values)
	prevUpdates uint64
	prevAt      time.Time
	curUpdates  uint64
	curAt       time.Time
}

// NewBoard returns an empty board; now starts the update-rate clock.
func NewBoard(now time.Time) *Board {
	return &Board{
		counters: map[Key]*Counter{},
		synced:   map[string]bool{},
		prevAt:   now,
		curAt:    now,
	}
}

// Len is the number of counters seen.
func (b *Board) Len() int { return len(b.counters) }

// Get returns one counter, or nil.
func (b *Board) Get(stream, subject string) *Counter { return b.counters[Key{stream, subject}] }

// Synced records that stream delivered every counter it had when the watch
// started: counters first seen after this are new, so their change counts
// from 0.
func (b *Board) Synced(stream string) { b.synced[stream] = true }

// IsSynced reports whether every watched stream delivered its counters.
func (b *Board) IsSynced(streams []string) bool {
	for _, s := range streams {
		if !b.synced[s] {
			return false
		}
	}
	return true
}

// Apply records an update at local time now. It reports false for a
// message already applied (the same value at the same or an older
// sequence: streams resumed after a reconnect deliver last values again).
func (b *Board) Apply(u watch.Update, now time.Time) (*Counter, bool) {
	key := Key{u.Stream, u.Subject}
	c := b.counters[key]
	if c == nil {
		base := new(big.Int)
		if !b.synced[u.Stream] {
			base.Set(u.Value)
		}
		c = &Counter{
			Key:   key,
			Value: new(big.Int).Set(u.Value),
			Seq:   u.Seq, Updated: u.Time, Base: base,
			prevAt: now, curAt: now,
		}
		c.prevValue.Set(base)
		c.curValue.Set(base)
		b.counters[key] = c
		b.order = append(b.order, c)
	} else {
		if u.Seq <= c.Seq && u.Value.Cmp(c.Value) == 0 {
			return c, false
		}
		c.rotate(now)
		c.Value.Set(u.Value)
		c.Seq, c.Updated = u.Seq, u.Time
	}
	if b.synced[u.Stream] {
		b.updates++
	}
	if !c.pending {
		c.pending = true
		b.dirty = append(b.dirty, c)
	}
	return c, true
}

// Lines returns a JSON line for every counter changed since the last call,
// with its latest value, and marks them printed. Calling it after every
// Apply gives one line per update; calling it once per interval gives at
// most one line per counter per interval.
func (b *Board) Lines() []Line {
	out := make([]Line, 0, len(b.dirty))
	for _, c := range b.dirty {
		out = append(out, c.line())
	}
	clear(b.dirty)
	b.dirty = b.dirty[:0]
	return out
}

// Line returns the pending line of one counter and marks it printed, for
// callers that print as updates arrive. ok is false when nothing is pending.
func (b *Board) Line(c *Counter) (Line, bool) {
	if !c.pending {
		return Line{}, false
	}
	l := c.line()
	// The dirty list only grows while lines go out one by one; drop it
	// once every entry was printed so it stays bounded.
	if n := len(b.dirty); n > 0 && b.dirty[n-1] == c {
		b.dirty[n-1] = nil
		b.dirty = b.dirty[:n-1]
	}
	return l, true
}

func (c *Counter) line() Line {
	l := Line{Subject: c.Subject, Stream: c.Stream, Value: new(big.Int).Set(c.Value), Seq: c.Seq, Time: c.Updated}
	if c.hasPrinted {
		l.Delta = new(big.Int).Sub(c.Value, &c.printed)
	}
	c.printed.Set(c.Value)
	c.hasPrinted = true
	c.pending = false
	return l
}

// UpdateRate is live updates per second over the last RateWindow or so.
func (b *Board) UpdateRate(now time.Time) float64 {
	if now.Sub(b.curAt) >= RateWindow {
		b.prevUpdates, b.prevAt = b.curUpdates, b.curAt
		b.curUpdates, b.curAt = b.updates, now
	}
	span := max(now.Sub(b.prevAt), minRateSpan)
	return float64(b.updates-b.prevUpdates) / span.Seconds()
}

// SortBy orders the rows of the live table.
type SortBy string

// Sort orders: by subject (A-Z), or the highest value or rate first.
const (
	BySubject SortBy = "subject"
	ByValue   SortBy = "value"
	ByRate    SortBy = "rate"
)

// Row is one line of the live table.
type Row struct {
	Subject string
	Stream  string
	Value   *big.Int
	Change  *big.Int
	Rate    float64
	Updated time.Time
}

// Top returns the first n counters in the given order (ties by subject then
// stream). It selects with a heap, so a frame costs O(counters · log n).
func (b *Board) Top(n int, by SortBy, now time.Time) []Row {
	if n <= 0 || len(b.order) == 0 {
		return nil
	}
	h := &rowHeap{by: by}
	for _, c := range b.order {
		r := rowItem{c: c}
		if by == ByRate {
			r.rate = c.Rate(now)
		}
		if h.Len() < n {
			heap.Push(h, r)
			continue
		}
		if h.before(r, h.items[0]) {
			h.items[0] = r
			heap.Fix(h, 0)
		}
	}
	out := make([]Row, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		r := heap.Pop(h).(rowItem)
		c := r.c
		rate := r.rate
		if by != ByRate {
			rate = c.Rate(now)
		}
		out[i] = Row{Subject: c.Subject, Stream: c.Stream, Value: new(big.Int).Set(c.Value), Change: c.Change(), Rate: rate, Updated: c.Updated}
	}
	return out
}

type rowItem struct {
	c    *Counter
	rate float64
}

// rowHeap keeps the n best rows with the worst on top.
type rowHeap struct {
	by    SortBy
	items []rowItem
}

// before reports whether a sorts before b in the table.
func (h *rowHeap) before(a, b rowItem) bool {
	switch h.by {
	case ByValue:
		if c := a.c.Value.Cmp(b.c.Value); c != 0 {
			return c > 0
		}
	case ByRate:
		if a.rate != b.rate {
			return a.rate > b.rate
		}
	}
	if c := natsort.Compare(a.c.Subject, b.c.Subject); c != 0 {
		return c < 0 // as people read them: c2 before c10
	}
	return a.c.Stream < b.c.Stream
}

func (h *rowHeap) Len() int           { return len(h.items) }
func (h *rowHeap) Less(i, j int) bool { return h.before(h.items[j], h.items[i]) }
func (h *rowHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *rowHeap) Push(x any)         { h.items = append(h.items, x.(rowItem)) }
func (h *rowHeap) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	h.items = h.items[:n-1]
	return x
}
