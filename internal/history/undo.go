package history

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
)

// UndoRef is what an undo message (`counter reset --undo`) says about the
// reset it reverses.
type UndoRef struct {
	// Stream and Seq name the reset message undone (its last round, the
	// one a reset keeps).
	Stream string
	Seq    uint64
	// Run is the undone reset's run id; ResetReason its reason.
	Run, ResetReason string
	// By and Reason: who undid it, and why (both may be empty).
	By, Reason string
}

// parseUndo reads the undo headers; nil when the message is no undo.
func parseUndo(h nats.Header) *UndoRef {
	stream, seqText := h.Get(counters.HeaderUndoStream), h.Get(counters.HeaderUndoSeq)
	if stream == "" && seqText == "" {
		return nil
	}
	seq, _ := strconv.ParseUint(seqText, 10, 64)
	return &UndoRef{
		Stream: stream, Seq: seq,
		Run:         h.Get(counters.HeaderUndoRun),
		ResetReason: h.Get(counters.HeaderUndoResetReason),
		By:          h.Get(counters.HeaderUndoBy),
		Reason:      h.Get(counters.HeaderUndoReason),
	}
}

// IsReset reports whether m is a reset message written by `counter reset`
// (it carries a reset header).
func (m HistoryMsg) IsReset() bool {
	return m.ResetRun != "" || m.ResetReason != "" || m.ResetBy != "" || m.ResetTotal != nil
}

// AuditUndo is one retained undo message of an audited counter.
type AuditUndo struct {
	Seq   uint64
	Delta *big.Int // nil when the message has no valid delta
	// Direct: made on this stream (else sourced from below).
	Direct bool
	Of     UndoRef
}

// checkUndo records resets and undos made on this stream, and checks that
// an undo adds back what its reset took (when that reset message is
// retained here) and that no reset is undone twice. An undo is otherwise an
// ordinary direct increment: the chain and total checks cover it.
func (st *counterState) checkUndo(stream string, m HistoryMsg) {
	if m.Err != nil {
		return
	}
	if m.Undo != nil {
		st.audit.Undos = append(st.audit.Undos, AuditUndo{Seq: m.Seq, Delta: m.Delta, Direct: m.Origin.Direct(), Of: *m.Undo})
	}
	if !m.Origin.Direct() {
		return
	}
	if m.IsReset() && m.ResetTotal != nil {
		if st.resets == nil {
			st.resets = map[uint64]*big.Int{}
		}
		st.resets[m.Seq] = m.ResetTotal
	}
	u := m.Undo
	if u == nil || u.Stream != stream {
		return
	}
	if first, ok := st.undone[u.Seq]; ok {
		off := "its delta"
		if m.Delta != nil {
			off = counters.Signed(m.Delta)
		}
		st.problem(AuditProblem{
			Seq: m.Seq, Check: CheckUndo,
			Message: fmt.Sprintf("the reset at seq %d was undone twice (seq %d and seq %d): the counter is off by %s", u.Seq, first, m.Seq, off),
		})
		return
	}
	if st.undone == nil {
		st.undone = map[uint64]uint64{}
	}
	st.undone[u.Seq] = m.Seq
	total, ok := st.resets[u.Seq]
	if !ok || m.Delta == nil {
		return // that reset message is not retained here
	}
	if want := new(big.Int).Neg(total); want.Cmp(m.Delta) != 0 {
		st.problem(AuditProblem{
			Seq: m.Seq, Check: CheckUndo,
			Message:  fmt.Sprintf("the undo of the reset at seq %d adds %s, but that reset took %s", u.Seq, counters.Signed(m.Delta), counters.Signed(total)),
			Expected: counters.Signed(want), Found: counters.Signed(m.Delta),
		})
	}
}

// ReadStream hands every retained message of stream whose subject matches
// filters (which the server must accept together: no two overlap) to fn, in
// stream order, through one ordered consumer; it returns how many it read.
// Like every history read it ends once it has caught up with what was
// stored when it started, and a stall is an error, never a shorter read.
func ReadStream(ctx context.Context, c *counters.Client, stream string, filters []string, fn func(HistoryMsg) error) (uint64, error) {
	return readHistory(ctx, c, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy, InactiveThreshold: time.Minute,
	}, fn)
}
