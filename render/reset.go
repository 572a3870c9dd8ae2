package render

import (
	"errors"
	"math/big"
	"strconv"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/reset"
)

// ResetPlanJSON is `counter reset --dry-run --json`.
type ResetPlanJSON struct {
	Plan     []PlannedResetJSON `json:"plan"`
	Warnings []string           `json:"warnings,omitempty"`
}

// PlannedResetJSON is one counter of a reset plan.
type PlannedResetJSON struct {
	Subject   string            `json:"subject"`
	Stream    string            `json:"stream"`
	Aggregate bool              `json:"aggregate"`
	Value     string            `json:"value"`
	After     string            `json:"after"`
	Above     []PlannedTierJSON `json:"above"`
	Broken    bool              `json:"broken,omitempty"`
	Warnings  []string          `json:"warnings,omitempty"`
}

// PlannedTierJSON is one aggregate above a counter in a reset plan. Value is
// null when that tier holds no value for the subject yet.
type PlannedTierJSON struct {
	Stream  string  `json:"stream"`
	Subject string  `json:"subject"`
	Depth   int     `json:"depth"`
	Value   *string `json:"value"`
	After   string  `json:"after"`
}

// plannedTiersJSON is the aggregates above a planned change, as reset and
// undo plans show them (never null: an empty list).
func plannedTiersJSON(above []counters.PlannedTier) []PlannedTierJSON {
	out := make([]PlannedTierJSON, 0, len(above))
	for _, h := range above {
		out = append(out, PlannedTierJSON{Stream: h.Stream, Subject: h.Subject, Depth: h.Depth, Value: optional(h.Now), After: h.After.String()})
	}
	return out
}

// ResetPlan prints what a reset will do: each counter at its tier (depth 0),
// then every aggregate above it with its value now and after.
func (p Printer) ResetPlan(plan *reset.ResetPlan) error {
	if p.JSON {
		out := ResetPlanJSON{Plan: make([]PlannedResetJSON, len(plan.Targets)), Warnings: plan.Warnings}
		for i, t := range plan.Targets {
			pj := PlannedResetJSON{
				Subject: t.Subject, Stream: t.Stream, Aggregate: t.Aggregate,
				Value: t.Value.String(), After: "0", Above: plannedTiersJSON(t.Above),
				Broken: t.Broken, Warnings: t.Warnings,
			}
			out.Plan[i] = pj
		}
		return p.WriteJSON(out)
	}
	rows := make([][]string, 0, len(plan.Targets))
	for _, t := range plan.Targets {
		rows = append(rows, []string{t.Subject, t.Stream, "0", t.Value.String(), "0"})
		for _, h := range t.Above {
			now := "-"
			if h.Now != nil {
				now = h.Now.String()
			}
			subject := h.Subject
			if p.TTY {
				subject = "  ↑ " + subject
			}
			rows = append(rows, []string{subject, h.Stream, strconv.Itoa(h.Depth), now, h.After.String()})
		}
	}
	return p.Table([]string{"SUBJECT", "STREAM", "DEPTH", "NOW", "AFTER"}, rows, 2, 3, 4)
}

// ResetJSON is `counter reset --json`.
type ResetJSON struct {
	Results []ResetResultJSON `json:"results"`
	// Run is the id on every reset message of this run; Undo the command
	// that undoes it (both left out when nothing was reset).
	Run  string `json:"run,omitempty"`
	Undo string `json:"undo,omitempty"`
}

// ResetResultJSON is one counter's reset. Delta is the total acknowledged;
// After the value acknowledged for the last publish, left out when it is not
// known. Unacked is a negative increment sent but not acknowledged: it may
// or may not have been applied.
type ResetResultJSON struct {
	Subject    string `json:"subject"`
	Stream     string `json:"stream"`
	Outcome    string `json:"outcome"`
	Before     string `json:"before,omitempty"`
	Delta      string `json:"delta,omitempty"`
	After      string `json:"after,omitempty"`
	Unacked    string `json:"unacked,omitempty"`
	Rounds     int    `json:"rounds"`
	Purged     bool   `json:"purged"`
	Recovered  bool   `json:"recovered,omitempty"`
	PurgeError string `json:"purge_error,omitempty"`
	Error      string `json:"error,omitempty"`
}

func str(v *big.Int) string {
	if v == nil {
		return ""
	}
	return v.String()
}

func signed(v *big.Int) string {
	if v == nil {
		return ""
	}
	return counters.Signed(v)
}

// Values of the PURGED column (documented in the README, reset section).
const (
	PurgedYes     = "yes"     // reset, history below the reset message purged
	PurgedNo      = "no"      // reset, but the purge failed or was interrupted
	PurgedKept    = "kept"    // reset; history kept: a source of the aggregate had not delivered yet
	PurgedNothing = "-"       // nothing to undo: it was 0 or had no value
	PurgedFailed  = "FAILED"  // not reset: nothing of its reset was applied
	PurgedUnknown = "UNKNOWN" // a negative increment was sent, not acknowledged
	PurgedSkipped = "SKIPPED" // interrupted before it was started: untouched
)

// ResetResults prints what a reset did.
func (p Printer) ResetResults(results []reset.ResetResult) error {
	return p.ResetRun(results, "", "")
}

// ResetRun prints what a reset did; the JSON also names the run and the
// command that undoes it (the text says that on stderr).
func (p Printer) ResetRun(results []reset.ResetResult, run, undo string) error {
	if p.JSON {
		out := ResetJSON{Results: make([]ResetResultJSON, len(results)), Run: run, Undo: undo}
		for i, r := range results {
			rj := ResetResultJSON{
				Subject: r.Subject, Stream: r.Stream, Outcome: string(r.Outcome),
				Before: str(r.Before), Delta: signed(r.Delta), After: str(r.After), Unacked: signed(r.Unacked),
				Rounds: r.Rounds, Purged: r.Purged, Recovered: r.Recovered,
			}
			if r.PurgeError != nil {
				rj.PurgeError = r.PurgeError.Error()
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
		purged := PurgedYes
		switch {
		case r.Outcome == reset.ResetUnknown:
			purged = PurgedUnknown
		case r.Outcome == reset.ResetSkipped:
			purged = PurgedSkipped
		case r.Err != nil:
			purged = PurgedFailed
		case r.Rounds == 0:
			purged = PurgedNothing
		case !r.Purged && errors.Is(r.PurgeError, reset.ErrPurgeSkipped):
			purged = PurgedKept
		case !r.Purged:
			purged = PurgedNo
		}
		rows[i] = []string{r.Subject, r.Stream, str(r.Before), signed(r.Delta), str(r.After), strconv.Itoa(r.Rounds), purged}
	}
	return p.Table([]string{"SUBJECT", "STREAM", "BEFORE", "DELTA", "AFTER", "ROUNDS", "PURGED"}, rows, 2, 3, 4, 5)
}
