package tiers

import (
	"context"
	"errors"
	"math/big"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// The carry check: an aggregate above a counter can only carry a value (or
// delta) of so many digits in its sourced update's headers (see
// counters.MaxCarriedDigits); past that its source stops for every later
// counter, silently. incr and every bulk line are checked the same way.

// CheckCarried refuses an increment whose delta, or the value it leads to,
// has more digits than an aggregate above the subject could carry: the
// source would stop for every later subject of that stream, silently.
// Small deltas are not checked (no request). Each call walks the topology:
// a run of many increments uses a Carrier.
func CheckCarried(ctx context.Context, c *counters.Client, subject string, delta *big.Int) error {
	if !counters.LargeDelta(delta) {
		return nil
	}
	infos, err := c.StreamsFor(ctx, subject)
	if err != nil || len(infos) != 1 {
		return nil // the publish says what is wrong
	}
	return NewCarrier(c).Check(ctx, infos[0].Config.Name, subject, delta)
}

// Carrier is the carry check (CheckCarried) for many increments: the
// topology is walked once, on the first large delta, and each subject's
// value read once; the value each increment leads to is followed from
// there as the deltas checked add up. Not safe for concurrent use.
type Carrier struct {
	c        *counters.Client
	walked   bool
	g        *topology.Graph // nil when the walk failed: nothing is refused
	subjects map[string]*carried
}

type carried struct {
	limit int      // digits the tightest aggregate above carries; 0: none above
	agg   string   // that aggregate
	k     int      // its sources
	value *big.Int // the value after the deltas checked so far
}

// NewCarrier starts a carry check over many increments.
func NewCarrier(c *counters.Client) *Carrier {
	return &Carrier{c: c, subjects: map[string]*carried{}}
}

// Check refuses delta for subject (captured by stream) when the delta, or
// the value it leads to after the deltas checked before it, has more
// digits than an aggregate above could carry (errkind.ErrInvalid). Small
// deltas pass at once. A failure to look (no permission to list streams,
// to read the value) lets the increment through: the publish says what is
// wrong, as for a single incr.
func (k *Carrier) Check(ctx context.Context, stream, subject string, delta *big.Int) error {
	if !counters.LargeDelta(delta) {
		return nil
	}
	cs, err := k.subject(ctx, stream, subject)
	if err != nil || cs == nil {
		return err
	}
	result := new(big.Int).Add(cs.value, delta)
	digits := max(len(new(big.Int).Abs(delta).String()), len(new(big.Int).Abs(result).String()))
	if cs.limit > 0 && digits > cs.limit {
		return errkind.Invalidf("increment %s: a value or delta of %d digits is more than aggregate %s above could carry (at most %d digits with its %d source(s)): its source would stop for every later counter of %s; nothing was written", subject, digits, cs.agg, cs.limit, cs.k, stream)
	}
	cs.value = result
	return nil
}

// CheckSum refuses a sum of deltas already checked one by one (a coalesced
// increment) whose own digits are more than an aggregate above carries.
func (k *Carrier) CheckSum(ctx context.Context, stream, subject string, sum *big.Int) error {
	if !counters.LargeDelta(sum) {
		return nil
	}
	cs, err := k.subject(ctx, stream, subject)
	if err != nil || cs == nil {
		return err
	}
	if digits := len(new(big.Int).Abs(sum).String()); cs.limit > 0 && digits > cs.limit {
		return errkind.Invalidf("increment %s: the sum of its deltas has %d digits, more than aggregate %s above could carry (at most %d digits with its %d source(s)): its source would stop for every later counter of %s; nothing was written", subject, digits, cs.agg, cs.limit, cs.k, stream)
	}
	return nil
}

// subject is what the check knows of subject: nil (no error) when the
// topology could not be walked.
func (k *Carrier) subject(ctx context.Context, stream, subject string) (*carried, error) {
	if cs := k.subjects[subject]; cs != nil {
		return cs, nil
	}
	if !k.walked {
		k.walked = true
		k.g, _ = k.c.Topology(ctx, nil)
	}
	if k.g == nil {
		return nil, nil
	}
	cs := &carried{value: new(big.Int)}
	for _, h := range k.g.Up(stream, subject) {
		n := k.g.Node(h.Stream)
		if n == nil {
			continue
		}
		sources := 0
		for _, e := range n.Sources {
			if !e.Mirror {
				sources++
			}
		}
		if limit := counters.MaxCarriedDigits(sources, len(stream)+20, len(subject)); cs.limit == 0 || limit < cs.limit {
			cs.limit, cs.agg, cs.k = limit, h.Stream, sources
		}
	}
	if cs.limit > 0 {
		cur, err := k.c.ReadOne(ctx, stream, subject, counters.ReadLeader)
		switch {
		case err == nil:
			cs.value.Set(cur.Value)
		case !errors.Is(err, errkind.ErrNotFound):
			return nil, err
		}
	}
	k.subjects[subject] = cs
	return cs, nil
}
