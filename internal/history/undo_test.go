package history

import (
	"math/big"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
)

// reset is a reset message of one round taking the whole value, as
// `counter reset` writes it; undo an undo of the reset at seq.
func (h *history) reset(subject, run string) HistoryMsg {
	v := new(big.Int).Neg(h.value(subject))
	h.value(subject).SetInt64(0)
	return h.store(subject, nats.Header{
		counters.HeaderIncr: {counters.Signed(v)}, counters.HeaderResetRun: {run},
		counters.HeaderResetTotal: {counters.Signed(v)}, counters.HeaderResetBy: {"ops@host"},
	}, new(big.Int))
}

func (h *history) undo(subject string, of uint64, delta int64) HistoryMsg {
	d := big.NewInt(delta)
	v := h.value(subject).Add(h.value(subject), d)
	return h.store(subject, nats.Header{
		counters.HeaderIncr: {counters.Signed(d)}, counters.HeaderUndoStream: {"C"},
		counters.HeaderUndoSeq: {strconv.FormatUint(of, 10)}, counters.HeaderUndoRun: {"r1"},
	}, new(big.Int).Set(v))
}

// TestAuditUndo: an undo is an increment as far as the chain and the total
// go, and is listed; one that adds back something else than its reset took,
// or a second undo of the same reset, is a problem.
func TestAuditUndo(t *testing.T) {
	h := newHistory()
	h.direct("hits", 5)
	h.direct("hits", 3)
	r := h.reset("hits", "r1")
	h.purge("hits", r.Seq)
	h.direct("hits", 2)
	u := h.undo("hits", r.Seq, 8)
	a := auditOne(t, h.msgs)
	wantOK(t, a, "10")
	if len(a.Undos) != 1 || a.Undos[0].Seq != u.Seq || a.Undos[0].Of.Seq != r.Seq || !a.Undos[0].Direct || a.Complete {
		t.Fatalf("undos %+v complete %v", a.Undos, a.Complete)
	}
	if r.ResetRun != "r1" || r.ResetTotal.String() != "-8" || !r.IsReset() || u.Undo == nil || u.IsReset() {
		t.Fatalf("parsed reset %+v undo %+v", r, u)
	}

	twice := h.undo("hits", r.Seq, 8)
	wantProblem(t, auditOne(t, h.msgs), twice.Seq, CheckUndo, "", "")

	h2 := newHistory()
	h2.direct("x", 4)
	r2 := h2.reset("x", "r2")
	wrong := h2.undo("x", r2.Seq, 5)
	wantProblem(t, auditOne(t, h2.msgs), wrong.Seq, CheckUndo, "+4", "+5")
}
