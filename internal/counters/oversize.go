package counters

import (
	"context"
	"errors"
	"math/big"

	"github.com/jetcounter/counter/internal/errkind"
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

// checkCarried refuses an increment whose delta, or the value it leads to,
// has more digits than an aggregate above the subject could carry: the
// source would stop for every later subject of that stream, silently.
// Small deltas are not checked.
func (c *Client) CheckCarried(ctx context.Context, subject string, delta *big.Int) error {
	// 1000 decimal digits need at least 3,320 bits.
	if delta.BitLen() < 3320 {
		return nil
	}
	digits := len(new(big.Int).Abs(delta).String())
	if digits < checkAboveDigits {
		return nil
	}
	infos, err := c.StreamsFor(ctx, subject)
	if err != nil || len(infos) != 1 {
		return nil // the publish says what is wrong
	}
	stream := infos[0].Config.Name
	g, err := c.Topology(ctx, nil)
	if err != nil {
		return nil
	}
	result := new(big.Int).Set(delta)
	cur, err := c.ReadOne(ctx, stream, subject, ReadLeader)
	switch {
	case err == nil:
		result.Add(result, cur.Value)
	case !errors.Is(err, errkind.ErrNotFound):
		return err
	}
	if d := len(new(big.Int).Abs(result).String()); d > digits {
		digits = d
	}
	for _, h := range g.Up(stream, subject) {
		n := g.Node(h.Stream)
		if n == nil {
			continue
		}
		k := 0
		for _, e := range n.Sources {
			if !e.Mirror {
				k++
			}
		}
		limit := MaxCarriedDigits(k, len(stream)+20, len(subject))
		if digits > limit {
			return errkind.Invalidf("increment %s: a value or delta of %d digits is more than aggregate %s above could carry (at most %d digits with its %d source(s)): its source would stop for every later counter of %s; nothing was written", subject, digits, h.Stream, limit, k, stream)
		}
	}
	return nil
}
