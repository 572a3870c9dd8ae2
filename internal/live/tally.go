package live

import (
	"math/big"

	"github.com/jetcounter/counter/internal/watch"
)

// Tally is what watch's JSON lines need of each counter and no more: the
// value of its last line, for the next line's delta, and the sequence of
// the last update, to drop what a resumed stream sends again. Lines that
// wait for their interval are kept apart, one per counter. A counter takes
// about a hundred bytes here, a fifth of what the table's Board keeps (its
// start, its rate), which a million counters make the difference of
// hundreds of megabytes.
type Tally struct {
	counters map[Key]tallied
	pending  []Line // waiting for their interval, in order of first change
}

type tallied struct {
	seq     uint64
	printed compact // the value of the last line printed
	has     bool    // a line was printed
	// wait is 1 + the index of the counter's line in pending; 0 when
	// none waits.
	wait int32
}

// NewTally returns an empty tally.
func NewTally() *Tally { return &Tally{counters: map[Key]tallied{}} }

// Len is the number of counters seen.
func (t *Tally) Len() int { return len(t.counters) }

// Update records u. ok is false when u repeats the value already applied
// at the same or an older sequence (streams resumed after a reconnect send
// last values again). Without hold, l is u's line, to print now: its delta
// is the change since the counter's previous line (nil on its first).
// With hold, the line waits for Pending, one per counter: a later update
// replaces it, and its delta then covers both.
func (t *Tally) Update(u watch.Update, hold bool) (l Line, ok bool) {
	key := Key{u.Stream, u.Subject}
	c, seen := t.counters[key]
	if seen {
		current := &c.printed
		if c.wait > 0 {
			if w := t.pending[c.wait-1]; u.Seq <= w.Seq && u.Value.Cmp(w.Value) == 0 {
				return Line{}, false
			}
		} else if u.Seq <= c.seq && c.has && current.cmp(u.Value) == 0 {
			return Line{}, false
		}
	}
	c.seq = u.Seq
	l = Line{Subject: u.Subject, Stream: u.Stream, Value: u.Value, Seq: u.Seq, Time: u.Time}
	if hold {
		if c.wait > 0 {
			t.pending[c.wait-1] = l
		} else {
			t.pending = append(t.pending, l)
			c.wait = int32(len(t.pending))
		}
		t.counters[key] = c
		return l, true
	}
	l = t.print(&c, l)
	t.counters[key] = c
	return l, true
}

// print makes l the counter's last line: its delta from the one before.
func (t *Tally) print(c *tallied, l Line) Line {
	if c.has {
		l.Delta = c.printed.from(l.Value)
	}
	c.printed.set(l.Value)
	c.has = true
	return l
}

// Pending returns the lines waiting for their interval, in the order the
// counters first changed in it, and marks them printed.
func (t *Tally) Pending() []Line {
	out := t.pending
	t.pending = nil
	for i, l := range out {
		key := Key{l.Stream, l.Subject}
		c := t.counters[key]
		c.wait = 0
		out[i] = t.print(&c, l)
		t.counters[key] = c
	}
	return out
}

// compact holds a value in 8 bytes when it fits in an int64 (nearly every
// counter), in a big.Int otherwise.
type compact struct {
	small int64
	big   *big.Int
}

func (c *compact) set(v *big.Int) {
	if v.IsInt64() {
		c.small, c.big = v.Int64(), nil
		return
	}
	if c.big == nil {
		c.big = new(big.Int)
	}
	c.big.Set(v)
}

// cmp compares the held value with v.
func (c *compact) cmp(v *big.Int) int {
	if c.big != nil {
		return c.big.Cmp(v)
	}
	if v.IsInt64() {
		switch w := v.Int64(); {
		case c.small < w:
			return -1
		case c.small > w:
			return 1
		}
		return 0
	}
	return -v.Sign() // v is beyond int64, c is not
}

// from is v minus the held value.
func (c *compact) from(v *big.Int) *big.Int {
	if c.big != nil {
		return new(big.Int).Sub(v, c.big)
	}
	return new(big.Int).Sub(v, big.NewInt(c.small))
}
