package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/render"
)

func addReset(a *app) {
	var (
		patterns []string
		opts     reset.ResetOptions
		force    bool
		dryRun   bool
		asJSON   bool
		domains  []string
		undo     bool
		run      string
	)
	c := a.fisk.Command("reset", "Reset counters to 0 at one tier, safely: a negative increment that flows up to every aggregate, then a purge of the history")
	c.Arg("subject", "Counter subjects or wildcard patterns, in the tier's namespace").Required().StringsVar(&patterns)
	c.Flag("stream", "Reset at this stream (tier) instead of the stream that owns the subject").PlaceHolder("TIER").StringVar(&opts.Stream)
	c.Flag("force", "Reset without asking (required when not at a terminal)").UnNegatableBoolVar(&force)
	c.Flag("dry-run", "Print the plan (each counter and every aggregate above it, now and after); change nothing").UnNegatableBoolVar(&dryRun)
	c.Flag("reason", "Why: recorded on each reset message (header Counter-Reset-Reason, with Counter-Reset-By user@host); with --undo, on each undo message (Counter-Undo-Reason)").PlaceHolder("TEXT").StringVar(&opts.Reason)
	c.Flag("json", "Print the plan or the results as JSON (values are strings)").UnNegatableBoolVar(&asJSON)
	c.Flag("domains", "Also look for aggregates above in these JetStream domains (comma separated)").PlaceHolder("A,B").StringsVar(&domains)
	c.Flag("undo", "Undo each matching counter's last reset at the tier instead: add back what it took (increments since are kept)").UnNegatableBoolVar(&undo)
	c.Flag("run", "With --undo: only resets of this run (the id a reset prints)").PlaceHolder("ID").StringVar(&run)
	c.Cheat("reset", `# see what a reset would do, tier by tier
counter reset count.de.hits --dry-run
# reset one counter; aggregates above it drop by its value
counter reset count.de.hits --reason 'double-counted deploy' --force
# reset the EU aggregate itself (DE and PL keep their values)
counter reset count.eu.hits --stream EU --force
# every counter under a prefix
counter reset 'count.de.>' --force --json
# the wrong one? undo that run: each counter gets back what it took
counter reset --undo 'count.de.>' --run 20261123T030512Z-4f9a2c --force`)

	a.verbs["reset"] = func(ctx context.Context) error {
		for _, p := range patterns {
			if err := counters.ValidPublishPattern(p); err != nil {
				return err
			}
		}
		if err := validStreamFlag(opts.Stream); err != nil {
			return err
		}
		if err := reset.ValidReason(opts.Reason); err != nil {
			return err
		}
		if run != "" && !undo {
			return errkind.Invalidf("--run names the reset run to undo: use it with --undo")
		}
		if undo {
			uopts := reset.UndoOptions{Stream: opts.Stream, Run: run, Reason: opts.Reason}
			return a.undoReset(ctx, patterns, uopts, force, dryRun, asJSON, splitList(domains))
		}
		client, err := a.conn.connect(ctx, false)
		if err != nil {
			return err
		}
		defer client.Conn().Close()
		plan, err := reset.PlanReset(ctx, client, patterns, opts, splitList(domains))
		if err != nil && ctx.Err() != nil {
			return errkind.Refusedf("reset cancelled (interrupted while planning): nothing was reset")
		}
		if err != nil {
			return err
		}
		if dryRun {
			if !asJSON {
				a.planWarnings(plan, -1)
			}
			return a.printer(asJSON).ResetPlan(plan)
		}
		if !force {
			if err := a.confirmReset(ctx, plan); err != nil {
				return err
			}
		} else {
			a.planWarnings(plan, 5)
		}
		opts.By = resetBy()
		opts.Run = reset.NewRunID(time.Now())
		progress, done := a.resetProgress()
		opts.Progress = progress
		results, err := reset.Reset(ctx, client, plan, opts)
		done()
		if err != nil {
			return err
		}
		a.resetWarnings(results)
		run, undoCmd := "", ""
		if slices.ContainsFunc(results, func(r reset.ResetResult) bool { return r.Rounds > 0 || r.Outcome == reset.ResetUnknown }) {
			run, undoCmd = opts.Run, undoCommand(patterns, opts.Stream, opts.Run)
		}
		if err := a.printer(asJSON).ResetRun(results, run, undoCmd); err != nil {
			return err
		}
		if undoCmd != "" && !asJSON {
			a.term.Notef("reset run %s; to undo it: %s", run, undoCmd)
		}
		return resetFailures(results)
	}
}

// confirmReset shows the plan and asks y/N at a terminal. Anywhere else a
// reset needs --force: nothing is written.
func (a *app) confirmReset(ctx context.Context, plan *reset.ResetPlan) error {
	if !a.term.CanPrompt() {
		broken := ""
		if n := plan.BrokenCount(); n > 0 {
			broken = fmt.Sprintf(" (%s broken: purged whole, then set with +0)", countersWord(n))
		}
		return errkind.Refusedf("reset of %s%s needs confirmation: pass --force (see the plan with --dry-run); nothing was reset", countersWord(len(plan.Targets)), broken)
	}
	// A person reads the first counters of the plan; the rest is a count.
	const shown = 20
	head := plan
	if len(plan.Targets) > shown {
		head = &reset.ResetPlan{Targets: plan.Targets[:shown]}
	}
	if err := render.NewErrPrinter(a.term).ResetPlan(head); err != nil {
		return err
	}
	if more := len(plan.Targets) - len(head.Targets); more > 0 {
		a.term.Linef("... and %d more counters (the whole plan: --dry-run)", more)
	}
	a.planWarnings(plan, shown)
	// What a reset takes away besides the value: the history before it.
	see := "counter history SUBJECT"
	if len(plan.Targets) == 1 {
		see = "counter history " + plan.Targets[0].Subject
		if plan.Targets[0].Aggregate {
			see += " --stream " + plan.Targets[0].Stream
		}
	}
	question := fmt.Sprintf("Reset %s to 0? Every aggregate above drops by the same amount, and the history before the reset is purged (to keep a look at it, run '%s' first).", countersWord(len(plan.Targets)), see)
	if broken := plan.BrokenCount(); broken > 0 {
		question += fmt.Sprintf(" %s broken: each is purged whole, then set with +0.", countersWord(broken))
	}
	switch yes, interrupted := a.term.Confirm(ctx, question); {
	case interrupted:
		return errkind.Refusedf("reset cancelled (interrupted): nothing was reset")
	case !yes:
		return errkind.Refusedf("reset cancelled: nothing was reset")
	}
	return nil
}

func countersWord(n int) string {
	if n == 1 {
		return "1 counter"
	}
	return fmt.Sprintf("%d counters", n)
}

// resetBy is user@host for the reset message, as much of it as is known.
func resetBy() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	switch {
	case name != "" && host != "":
		return name + "@" + host
	case host != "":
		return "@" + host
	}
	return name
}

// resetProgress reports progress on stderr at a terminal, at most ten times
// a second; done ends the line.
func (a *app) resetProgress() (func(reset.ResetProgress), func()) {
	if !a.term.StderrTTY() {
		return nil, func() {}
	}
	var last time.Time
	shown := false
	return func(p reset.ResetProgress) {
			if p.Total < 2 || (time.Since(last) < 100*time.Millisecond && p.Purged < p.Total) {
				return
			}
			last, shown = time.Now(), true
			a.term.Progressf("reset %d/%d, purged %d/%d", p.Reset, p.Total, p.Purged, p.Total)
		}, func() {
			if shown {
				a.term.EndProgress()
			}
		}
}

// resetWarnings tells, on stderr, which counters were reset but not purged:
// housekeeping only, so the exit status stays 0.
func (a *app) resetWarnings(results []reset.ResetResult) {
	const most = 5
	var lines []string
	interrupted := 0
	// A purge skipped at an aggregate has one reason per stream: one line.
	kept := map[string]int{}
	var keptWhy []string
	for _, r := range results {
		switch {
		case r.Err != nil:
		case r.PurgeError != nil && errors.Is(r.PurgeError, reset.ErrInterrupted):
			interrupted++
		case r.PurgeError != nil && errors.Is(r.PurgeError, reset.ErrPurgeSkipped):
			why := r.PurgeError.Error()
			if kept[why] == 0 {
				keptWhy = append(keptWhy, why)
			}
			kept[why]++
		case r.PurgeError != nil:
			lines = append(lines, fmt.Sprintf("%s in %s was reset, but its history was not purged: %v", r.Subject, r.Stream, r.PurgeError))
		}
	}
	for _, why := range keptWhy {
		lines = append(lines, fmt.Sprintf("%s reset, history kept: %s", countersWord(kept[why]), why))
	}
	if interrupted > 0 {
		lines = append(lines, fmt.Sprintf("%s reset but not purged (interrupted before the purge): their older messages stay; values are right", countersWord(interrupted)))
	}
	for i, l := range lines {
		if i == most {
			a.term.Warnf("and %d more like these", len(lines)-most)
			break
		}
		a.term.Warnf("%s", l)
	}
}

// resetFailures is the run's error when some counters were not reset or
// their outcome is unknown; its kind (exit code) is that of the first.
func resetFailures(results []reset.ResetResult) error {
	var first error
	var failed, unknown, skipped int
	for _, r := range results {
		switch r.Outcome {
		case reset.ResetFailed:
			failed++
		case reset.ResetUnknown:
			unknown++
		case reset.ResetSkipped:
			skipped++
		default:
			continue
		}
		if first == nil && r.Outcome != reset.ResetSkipped {
			first = r.Err
		}
	}
	done := len(results) - failed - unknown - skipped
	switch {
	case failed+unknown+skipped == 0:
		return nil
	case len(results) == 1 && first != nil:
		return first
	case skipped > 0:
		// Running the same reset again is safe: it re-reads every value.
		msg := fmt.Sprintf("interrupted: %d of %d counters were reset, %d not started", done, len(results), skipped)
		if failed > 0 {
			msg += fmt.Sprintf(", %d failed", failed)
		}
		if unknown > 0 {
			msg += fmt.Sprintf(", %d unknown (sent, not acknowledged: the JSON shows which)", unknown)
		}
		return errors.New(msg + "; run the same reset again to finish (it re-reads each value)")
	case failed == 0:
		return fmt.Errorf("%d of %d counters have an unknown outcome (a negative increment was sent but not acknowledged, so it may have been applied): run the same reset again, it re-reads each value; first: %w", unknown, len(results), first)
	}
	msg := fmt.Sprintf("%d of %d counters were not reset", failed, len(results))
	if unknown > 0 {
		msg += fmt.Sprintf(", %d have an unknown outcome", unknown)
	}
	return fmt.Errorf("%s (the others were); first: %w", msg, first)
}

// planWarnings shows, on stderr, what the plan warns about: the plan's own
// warnings, then each counter's (at most most of them; -1: all).
func (a *app) planWarnings(plan *reset.ResetPlan, most int) {
	lines := slices.Clone(plan.Warnings)
	for _, t := range plan.Targets {
		lines = append(lines, t.Warnings...)
	}
	for i, l := range lines {
		if most >= 0 && i == most {
			a.term.Warnf("and %d more (the whole plan: --dry-run)", len(lines)-most)
			break
		}
		a.term.Warnf("%s", l)
	}
}
