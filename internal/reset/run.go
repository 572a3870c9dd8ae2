package reset

import (
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
)

// NewRunID names one `counter reset` invocation: its UTC start time, to
// the second, and 6 random hex digits (20261123T030512Z-4f9a2c). It goes
// on every reset message of the run (HeaderResetRun).
func NewRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// withTotal is hdr plus HeaderResetTotal: what this counter's reset has
// applied so far, this round included. The purge keeps only the last round,
// so the last round must carry the whole reset's total for an undo to read.
func withTotal(hdr nats.Header, total *big.Int) nats.Header {
	h := make(nats.Header, len(hdr)+1)
	for k, v := range hdr {
		h[k] = v
	}
	h.Set(counters.HeaderResetTotal, counters.Signed(total))
	return h
}
