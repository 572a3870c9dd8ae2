package render

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/reset"
)

// ResetRecordJSON is the reset an undo reverses. Total is what that reset
// took (signed; left out when it recorded none).
type ResetRecordJSON struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Time   string `json:"time"`
	Run    string `json:"run,omitempty"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
	Total  string `json:"total,omitempty"`
}

func resetRecordJSON(r *reset.ResetRecord) *ResetRecordJSON {
	if r == nil {
		return nil
	}
	return &ResetRecordJSON{
		Stream: r.Stream, Seq: r.Seq, Time: r.Time.UTC().Format(time.RFC3339Nano),
		Run: r.Run, Reason: r.Reason, By: r.By, Total: signed(r.Total),
	}
}

// UndoPlanJSON is `counter reset --undo --dry-run --json`.
type UndoPlanJSON struct {
	Plan []PlannedUndoJSON `json:"plan"`
	// Skipped are the counters matched whose last reset is not undone,
	// with why (status: already-undone, never-reset, other-run, no-total).
	Skipped  []SkippedUndoJSON `json:"skipped,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
}

// PlannedUndoJSON is one counter of an undo plan: its value now, what the
// undo adds, the value after, the reset undone and the aggregates above.
type PlannedUndoJSON struct {
	Subject   string            `json:"subject"`
	Stream    string            `json:"stream"`
	Aggregate bool              `json:"aggregate"`
	Value     string            `json:"value"`
	Delta     string            `json:"delta"`
	After     string            `json:"after"`
	Reset     *ResetRecordJSON  `json:"reset"`
	Above     []PlannedTierJSON `json:"above"`
}

// SkippedUndoJSON is a counter an undo leaves alone. UndoneAt is the
// sequence of the undo that already reversed its last reset.
type SkippedUndoJSON struct {
	Subject  string           `json:"subject"`
	Stream   string           `json:"stream"`
	Status   string           `json:"status"`
	Detail   string           `json:"detail"`
	Reset    *ResetRecordJSON `json:"reset,omitempty"`
	UndoneAt uint64           `json:"undone_at,omitempty"`
}

// UndoPlan prints what an undo will do: each counter at its tier (depth 0)
// with the reset it reverses, then every aggregate above it.
func (p Printer) UndoPlan(plan *reset.UndoPlan) error {
	if p.JSON {
		out := UndoPlanJSON{Plan: make([]PlannedUndoJSON, len(plan.Targets)), Warnings: plan.Warnings}
		for i, t := range plan.Targets {
			pj := PlannedUndoJSON{
				Subject: t.Subject, Stream: t.Stream, Aggregate: t.Aggregate,
				Value: t.Value.String(), Delta: signed(t.Delta), After: t.After.String(),
				Reset: resetRecordJSON(t.Reset), Above: plannedTiersJSON(t.Above),
			}
			out.Plan[i] = pj
		}
		for _, s := range plan.Skipped {
			out.Skipped = append(out.Skipped, SkippedUndoJSON{
				Subject: s.Subject, Stream: s.Stream, Status: string(s.Status), Detail: s.Detail,
				Reset: resetRecordJSON(s.Reset), UndoneAt: s.UndoneAt,
			})
		}
		return p.WriteJSON(out)
	}
	rows := make([][]string, 0, len(plan.Targets))
	for _, t := range plan.Targets {
		rows = append(rows, []string{t.Subject, t.Stream, "0", t.Value.String(), signed(t.Delta), t.After.String(), undoesText(t.Reset)})
		for _, h := range t.Above {
			now, rise := "-", signed(h.After)
			if h.Now != nil {
				now = h.Now.String()
				rise = signed(new(big.Int).Sub(h.After, h.Now))
			}
			subject := h.Subject
			if p.TTY {
				subject = "  ↑ " + subject
			}
			rows = append(rows, []string{subject, h.Stream, strconv.Itoa(h.Depth), now, rise, h.After.String(), ""})
		}
	}
	for _, r := range rows {
		for i := range r {
			if p.TTY {
				r[i] = Visible(r[i])
			} else {
				r[i] = strings.Map(oneLine, r[i])
			}
		}
	}
	return p.Table([]string{"SUBJECT", "STREAM", "DEPTH", "NOW", "DELTA", "AFTER", "UNDOES"}, rows, 2, 3, 4, 5)
}

// undoesText names the reset an undo reverses: seq, run and reason.
func undoesText(r *reset.ResetRecord) string {
	s := "reset seq " + strconv.FormatUint(r.Seq, 10)
	if r.Run != "" {
		s += " run " + r.Run
	}
	if r.Reason != "" {
		s += " (" + r.Reason + ")"
	}
	return s
}

// UndoJSON is `counter reset --undo --json`.
type UndoJSON struct {
	Results []UndoResultJSON `json:"results"`
}

// UndoResultJSON is one counter's undo. Seq is the undo message's sequence;
// UndoneAt, for already-undone, the sequence of the undo that got there
// first. Unacked is an increment sent but not acknowledged.
type UndoResultJSON struct {
	Subject  string           `json:"subject"`
	Stream   string           `json:"stream"`
	Outcome  string           `json:"outcome"`
	Before   string           `json:"before,omitempty"`
	Delta    string           `json:"delta,omitempty"`
	After    string           `json:"after,omitempty"`
	Seq      uint64           `json:"seq,omitempty"`
	Undoes   *ResetRecordJSON `json:"undoes"`
	UndoneAt uint64           `json:"undone_at,omitempty"`
	Unacked  string           `json:"unacked,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// Values of the RESULT column of an undo (documented in the README).
const (
	UndoneYes     = "undone"
	UndoneAlready = "already-undone"
	UndoneFailed  = "FAILED"
	UndoneUnknown = "UNKNOWN"
	UndoneSkipped = "SKIPPED"
)

// UndoResults prints what an undo did.
func (p Printer) UndoResults(results []reset.UndoResult) error {
	if p.JSON {
		out := UndoJSON{Results: make([]UndoResultJSON, len(results))}
		for i, r := range results {
			rj := UndoResultJSON{
				Subject: r.Subject, Stream: r.Stream, Outcome: string(r.Outcome),
				Before: str(r.Before), Delta: signed(r.Delta), After: str(r.After), Seq: r.Seq,
				Undoes: resetRecordJSON(&r.Reset), UndoneAt: r.UndoneAt, Unacked: signed(r.Unacked),
			}
			if r.Err != nil {
				rj.Error = r.Err.Error()
			}
			out.Results[i] = rj
		}
		return p.WriteJSON(out)
	}
	rows := make([][]string, len(results))
	for i, r := range results {
		result, seq := UndoneYes, r.Seq
		switch r.Outcome {
		case reset.UndoRefused:
			result, seq = UndoneAlready, r.UndoneAt
		case reset.UndoFailed:
			result = UndoneFailed
		case reset.UndoUnknown:
			result = UndoneUnknown
		case reset.UndoSkipped:
			result = UndoneSkipped
		}
		s := ""
		if seq > 0 {
			s = strconv.FormatUint(seq, 10)
		}
		rows[i] = []string{r.Subject, r.Stream, str(r.Before), signed(r.Delta), str(r.After), s, result}
	}
	return p.Table([]string{"SUBJECT", "STREAM", "BEFORE", "DELTA", "AFTER", "SEQ", "RESULT"}, rows, 2, 3, 4, 5)
}
