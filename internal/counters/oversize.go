package counters

import (
	"math/big"
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

// LargeDelta reports whether a delta has enough digits (1,000 or more) for
// the carry check: below that no aggregate is near the bound.
func LargeDelta(delta *big.Int) bool {
	// 1000 decimal digits need at least 3,320 bits.
	return delta != nil && delta.BitLen() >= 3320 && len(new(big.Int).Abs(delta).String()) >= checkAboveDigits
}
