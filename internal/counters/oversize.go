package counters

import (
	"context"
	"errors"
	"math/big"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// What an aggregate can carry up (COUNTERS.md "Headers cap what can be
// carried up"). The server stores at most MaxHeaderBytes of headers per
// message. The message an aggregate stores for a sourced update holds the
// delta (Nats-Incr, up to D+1 characters with its sign) and the sources
// record (Nats-Counter-Sources: one value of up to D digits per source that
// feeds the subject, with its key and subject), plus a few fixed headers
// (Nats-Stream-Source, a reset reason...). With k sources:
//
//	(k+1)·(D+2) + k·(len(key)+len(subject)+8) + headerReserve <= MaxHeaderBytes
//
// so with one source D is at most about 32,000 digits (observed: 32,000
// worked, 33,000 stalled the source for every later subject).
const (
	MaxHeaderBytes = 65535
	// headerReserve covers the fixed headers of a sourced message and the
	// few digits an aggregate's total may have over any one of its parts.
	headerReserve = 2048
	// checkAboveDigits: deltas with fewer digits are not checked (no
	// aggregate is near the bound then, and incr stays one round trip).
	checkAboveDigits = 1000
)

// MaxCarriedDigits is the most digits a counter value or delta may have for
// an aggregate with sources sources (summing into one subject; key and
// subject lengths as given) to store its sourced update.
func MaxCarriedDigits(sources, keyBytes, subjectBytes int) int {
	sources = max(sources, 1)
	return (MaxHeaderBytes-headerReserve-sources*(keyBytes+subjectBytes+8))/(sources+1) - 2
}

// CheckCarried refuses an increment whose delta, or the value it leads to,
// has more digits than an aggregate above the subject could carry: the
// source would stop for every later subject of that stream, silently.
// Small deltas are not checked (no request). Each call walks the topology:
// a run of many increments uses a Carrier.
func (c *Client) CheckCarried(ctx context.Context, subject string, delta *big.Int) error {
	if !LargeDelta(delta) {
		return nil
	}
	infos, err := c.StreamsFor(ctx, subject)
	if err != nil || len(infos) != 1 {
		return nil // the publish says what is wrong
	}
	return c.NewCarrier().Check(ctx, infos[0].Config.Name, subject, delta)
}

// LargeDelta reports whether a delta has enough digits (1,000 or more) for
// the carry check: below that no aggregate is near the bound.
func LargeDelta(delta *big.Int) bool {
	// 1000 decimal digits need at least 3,320 bits.
	return delta != nil && delta.BitLen() >= 3320 && len(new(big.Int).Abs(delta).String()) >= checkAboveDigits
}

// Carrier is the carry check (CheckCarried) for many increments: the
// topology is walked once, on the first large delta, and each subject's
// value read once; the value each increment leads to is followed from
// there as the deltas checked add up. Not safe for concurrent use.
type Carrier struct {
	c        *Client
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
func (c *Client) NewCarrier() *Carrier {
	return &Carrier{c: c, subjects: map[string]*carried{}}
}

// Check refuses delta for subject (captured by stream) when the delta, or
// the value it leads to after the deltas checked before it, has more
// digits than an aggregate above could carry (errkind.ErrInvalid). Small
// deltas pass at once. A failure to look (no permission to list streams,
// to read the value) lets the increment through: the publish says what is
// wrong, as for a single incr.
func (k *Carrier) Check(ctx context.Context, stream, subject string, delta *big.Int) error {
	if !LargeDelta(delta) {
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
	if !LargeDelta(sum) {
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
		if limit := MaxCarriedDigits(sources, len(stream)+20, len(subject)); cs.limit == 0 || limit < cs.limit {
			cs.limit, cs.agg, cs.k = limit, h.Stream, sources
		}
	}
	if cs.limit > 0 {
		cur, err := k.c.ReadOne(ctx, stream, subject, ReadLeader)
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
