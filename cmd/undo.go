package cmd

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/render"
)

// undoReset is `counter reset --undo`: plan, confirm like a reset, apply.
func (a *app) undoReset(ctx context.Context, patterns []string, opts reset.UndoOptions, force, dryRun, asJSON bool, domains []string) error {
	client, err := a.conn.connect(ctx, false)
	if err != nil {
		return err
	}
	defer client.Conn().Close()
	plan, err := reset.PlanUndo(ctx, client, patterns, opts, domains)
	if err != nil && ctx.Err() != nil {
		return errkind.Refusedf("undo cancelled (interrupted while planning): nothing was written")
	}
	if err != nil {
		return err
	}
	if dryRun {
		if !asJSON {
			a.undoNotes(plan, -1)
		}
		if err := a.printer(asJSON).UndoPlan(plan); err != nil {
			return err
		}
		return plan.NothingToUndo()
	}
	if err := plan.NothingToUndo(); err != nil {
		return err // it names the counters (the whole list: --dry-run)
	}
	if !force {
		if err := a.confirmUndo(ctx, plan); err != nil {
			return err
		}
	} else {
		a.undoNotes(plan, 5)
	}
	opts.By = resetBy()
	results, err := reset.Undo(ctx, client, plan, opts)
	if err != nil {
		return err
	}
	if err := a.printer(asJSON).UndoResults(results); err != nil {
		return err
	}
	return undoFailures(results)
}

// confirmUndo shows the plan and asks y/N at a terminal; anywhere else an
// undo needs --force.
func (a *app) confirmUndo(ctx context.Context, plan *reset.UndoPlan) error {
	if !a.term.CanPrompt() {
		return errkind.Refusedf("undo of %s needs confirmation: pass --force (see the plan with --dry-run); nothing was written", resetsWord(len(plan.Targets)))
	}
	const shown = 20
	head := plan
	if len(plan.Targets) > shown {
		head = &reset.UndoPlan{Targets: plan.Targets[:shown]}
	}
	if err := render.NewErrPrinter(a.term).UndoPlan(head); err != nil {
		return err
	}
	if more := len(plan.Targets) - len(head.Targets); more > 0 {
		a.term.Linef("... and %d more counters (the whole plan: --dry-run)", more)
	}
	a.undoNotes(plan, shown)
	total := new(big.Int)
	for _, t := range plan.Targets {
		total.Add(total, t.Delta)
	}
	question := fmt.Sprintf("Undo %s (%s in all)? Increments since are kept; every aggregate above rises by the same amount.", resetsWord(len(plan.Targets)), counters.Signed(total))
	switch yes, interrupted := a.term.Confirm(ctx, question); {
	case interrupted:
		return errkind.Refusedf("undo cancelled (interrupted): nothing was written")
	case !yes:
		return errkind.Refusedf("undo cancelled: nothing was written")
	}
	return nil
}

func resetsWord(n int) string {
	if n == 1 {
		return "1 reset"
	}
	return fmt.Sprintf("%d resets", n)
}

// undoNotes says, on stderr, which counters matched but are left alone and
// why, then the plan's warnings (at most most lines each; -1: all).
func (a *app) undoNotes(plan *reset.UndoPlan, most int) {
	for i, s := range plan.Skipped {
		if most >= 0 && i == most {
			a.term.Notef("and %d more counters left alone (the whole plan: --dry-run --json)", len(plan.Skipped)-most)
			break
		}
		a.term.Notef("%s", s.Detail)
	}
	for _, w := range plan.Warnings {
		a.term.Warnf("%s", w)
	}
}

// undoFailures is the run's error. A reset found undone by someone else
// meanwhile refuses that counter; when nothing at all was undone for that
// reason the run is refused (exit 2, nothing written).
func undoFailures(results []reset.UndoResult) error {
	var first, firstRefused error
	var done, refused, failed, unknown, skipped int
	for _, r := range results {
		switch r.Outcome {
		case reset.UndoDone:
			done++
			continue
		case reset.UndoRefused:
			refused++
			if firstRefused == nil {
				firstRefused = r.Err
			}
			continue
		case reset.UndoFailed:
			failed++
		case reset.UndoUnknown:
			unknown++
		case reset.UndoSkipped:
			skipped++
		}
		if first == nil && r.Outcome != reset.UndoSkipped {
			first = r.Err
		}
	}
	switch {
	case failed+unknown+skipped == 0 && done == 0 && refused > 0:
		if refused == 1 {
			return firstRefused
		}
		return errkind.Invalidf("all %d resets were already undone (another undo got there first): nothing was written; first: %v", refused, firstRefused)
	case failed+unknown+skipped == 0:
		return nil
	case len(results) == 1 && first != nil:
		return first
	case skipped > 0:
		msg := fmt.Sprintf("interrupted: %d of %d resets were undone, %d not started", done, len(results), skipped)
		if failed > 0 {
			msg += fmt.Sprintf(", %d failed", failed)
		}
		if unknown > 0 {
			msg += fmt.Sprintf(", %d unknown (sent, not acknowledged: the JSON shows which)", unknown)
		}
		return errors.New(msg + "; run the same undo again to finish (it skips what is undone)")
	case failed == 0:
		return fmt.Errorf("%d of %d undos have an unknown outcome (sent but not acknowledged, so it may have been applied): run the same undo again, it finds those applied; first: %w", unknown, len(results), first)
	}
	msg := fmt.Sprintf("%d of %d resets were not undone", failed, len(results))
	if unknown > 0 {
		msg += fmt.Sprintf(", %d have an unknown outcome", unknown)
	}
	return fmt.Errorf("%s (the others were); first: %w", msg, first)
}

// undoCommand is the command line that undoes a reset run.
func undoCommand(patterns []string, stream, run string) string {
	parts := []string{"counter", "reset", "--undo"}
	for _, p := range patterns {
		parts = append(parts, shellQuote(p))
	}
	if stream != "" {
		parts = append(parts, "--stream", shellQuote(stream))
	}
	return strings.Join(append(parts, "--run", shellQuote(run)), " ")
}
