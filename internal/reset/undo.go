package reset

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/natsort"
	"github.com/jetcounter/counter/internal/parallel"
	"github.com/jetcounter/counter/internal/topology"
)

// UndoOptions shape an undo of resets (`counter reset --undo`).
type UndoOptions struct {
	// Stream is the tier the resets were made at; "" is where each subject
	// lives, as for a reset.
	Stream string
	// Run, when set, undoes only resets of that run (HeaderResetRun).
	Run string
	// By and Reason go on every undo message (HeaderUndoBy and
	// HeaderUndoReason; left out when empty).
	By, Reason string
}

// UndoStatus is what the plan found for one counter.
type UndoStatus string

const (
	// UndoPlanned: its last reset at the tier is undone by adding back what
	// that reset took.
	UndoPlanned UndoStatus = "undo"
	// UndoAlreadyUndone: its last reset at the tier was undone already.
	UndoAlreadyUndone UndoStatus = "already-undone"
	// UndoNeverReset: no reset at the tier in its retained history.
	UndoNeverReset UndoStatus = "never-reset"
	// UndoOtherRun: its last reset at the tier belongs to another run than
	// the one asked for.
	UndoOtherRun UndoStatus = "other-run"
	// UndoNoTotal: its last reset recorded no total (made by a counter
	// before undo existed, or the recovery of a broken counter, which
	// purged it whole): what it took is not known, so it is not undone.
	UndoNoTotal UndoStatus = "no-total"
)

// ResetRecord is a reset as its kept reset message (its last round) tells.
type ResetRecord struct {
	Stream string
	Seq    uint64
	Time   time.Time
	// Run, Reason and By are its headers (each may be empty).
	Run, Reason, By string
	// Total is what the whole reset applied (the sum of its rounds, 0 or
	// negative); nil when the message does not record it.
	Total *big.Int
}

// PlannedUndo is one counter of an undo plan.
type PlannedUndo struct {
	ResetTarget
	// Aggregate: the stream has sources.
	Aggregate bool
	Status    UndoStatus
	// Reset is the counter's last reset at the tier (nil: never reset).
	Reset *ResetRecord
	// UndoneAt is the undo's sequence when Status is UndoAlreadyUndone.
	UndoneAt uint64
	// Value is the counter now; Delta what the undo adds (minus the reset's
	// total); After their sum. Delta and After are nil unless planned.
	Value, Delta, After *big.Int
	// Above are the aggregates above, each rising by the undos below it.
	Above []counters.PlannedTier
	// Detail says, for a counter not undone, why (for people).
	Detail string
}

// UndoPlan is what an undo will do, shown before anything is written.
type UndoPlan struct {
	// Targets are the counters whose last reset will be undone.
	Targets []PlannedUndo
	// Skipped are the counters matched that will not be (see Status).
	Skipped  []PlannedUndo
	Warnings []string
	// patterns are those planned: Undo reads the history again with them.
	patterns []string
}

// Runs lists the runs the targets' resets belong to, in plan order.
func (p *UndoPlan) Runs() []string {
	var runs []string
	for _, t := range p.Targets {
		if !slices.Contains(runs, t.Reset.Run) {
			runs = append(runs, t.Reset.Run)
		}
	}
	return runs
}

// NothingToUndo is the error for a plan without targets: refused (exit 2)
// when a counter's reset was already undone or cannot be undone, not found
// (exit 3) when none of them was reset at the tier (by that run).
func (p *UndoPlan) NothingToUndo() error {
	if len(p.Targets) > 0 {
		return nil
	}
	var refused, missing []string
	for _, s := range p.Skipped {
		switch s.Status {
		case UndoAlreadyUndone, UndoNoTotal:
			refused = append(refused, s.Detail)
		default:
			missing = append(missing, s.Detail)
		}
	}
	list := func(l []string) string {
		if len(l) > 3 {
			return strings.Join(l[:3], "; ") + fmt.Sprintf("; and %d more", len(l)-3)
		}
		return strings.Join(l, "; ")
	}
	if len(refused) > 0 {
		return errkind.Invalidf("nothing to undo: %s", list(append(refused, missing...)))
	}
	return errkind.NotFoundf("nothing to undo: %s", list(missing))
}

// PlanUndo finds, for every counter matching patterns at the tier, its most
// recent reset there (from the retained history: the reset message is kept
// by the reset's purge) and whether it was undone already, and lists every
// aggregate above with its value now and after. It writes nothing.
func PlanUndo(ctx context.Context, c *counters.Client, patterns []string, opts UndoOptions, domains []string) (*UndoPlan, error) {
	for _, p := range patterns {
		if err := counters.ValidSubject(p, true); err != nil {
			return nil, err
		}
	}
	if opts.Run != "" && headerValue(opts.Run) != opts.Run {
		return nil, errkind.Invalidf("--run %q: a run id has no spaces", opts.Run)
	}
	list, err := c.Get(ctx, patterns, counters.GetOptions{Stream: opts.Stream})
	if err != nil {
		return nil, err
	}
	g, err := c.Topology(ctx, domains)
	if err != nil {
		return nil, err
	}
	byStream := map[string][]counters.Counter{}
	var order []string
	for _, ctr := range list {
		n := g.Node(ctr.Stream)
		if n == nil || n.Config == nil {
			return nil, errkind.NotFoundf("stream %s not found%s: was it deleted meanwhile?", ctr.Stream, c.Where())
		}
		if err := checkResettable(n.Config, ctr.Subject); err != nil {
			return nil, err
		}
		if byStream[ctr.Stream] == nil {
			order = append(order, ctr.Stream)
		}
		byStream[ctr.Stream] = append(byStream[ctr.Stream], ctr)
	}
	plan := &UndoPlan{patterns: patterns}
	aggregates := map[string]bool{}
	for _, stream := range order {
		ctrs := byStream[stream]
		subjects := make([]string, len(ctrs))
		for i, ctr := range ctrs {
			subjects[i] = ctr.Subject
		}
		scans, err := scanResets(ctx, c, stream, subjects, patterns)
		if err != nil {
			return nil, err
		}
		aggregate := len(g.Node(stream).Config.Sources) > 0
		for _, ctr := range ctrs {
			t := PlannedUndo{ResetTarget: ResetTarget{Subject: ctr.Subject, Stream: stream}, Aggregate: aggregate, Value: ctr.Value}
			judgeUndo(&t, scans[ctr.Subject], opts.Run)
			if t.Status != UndoPlanned {
				plan.Skipped = append(plan.Skipped, t)
				continue
			}
			t.Delta = new(big.Int).Neg(t.Reset.Total)
			t.After = new(big.Int).Add(t.Value, t.Delta)
			if aggregate && !aggregates[stream] {
				aggregates[stream] = true
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s is an aggregate: the tiers below it keep their values (the reset there took nothing from them)", stream))
			}
			plan.Targets = append(plan.Targets, t)
		}
	}
	byName := func(x, y PlannedUndo) int {
		return cmp.Or(natsort.Compare(x.Subject, y.Subject), strings.Compare(x.Stream, y.Stream))
	}
	slices.SortStableFunc(plan.Targets, byName)
	slices.SortStableFunc(plan.Skipped, byName)
	if err := undoAbove(ctx, c, g, plan, opts.Run); err != nil {
		return nil, err
	}
	if runs := plan.Runs(); len(runs) > 1 && opts.Run == "" {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("the counters' last resets come from %d runs (%s): each counter's last reset is undone; --run ID undoes one run only", len(runs), strings.Join(runs, ", ")))
	}
	return plan, nil
}

// judgeUndo decides, from the scan of a counter's retained history, what
// its undo is.
func judgeUndo(t *PlannedUndo, sc *subjectScan, run string) {
	where := t.Subject + " in " + t.Stream
	switch {
	case sc == nil || sc.last == nil:
		t.Status, t.Detail = UndoNeverReset, where+" was never reset there (in its retained history)"
		return
	}
	t.Reset = sc.last
	r := sc.last
	switch {
	case run != "" && r.Run != run:
		other := "a reset without a run id"
		if r.Run != "" {
			other = "run " + r.Run
		}
		t.Status, t.Detail = UndoOtherRun, fmt.Sprintf("%s: its last reset there (seq %d) is %s, not run %s", where, r.Seq, other, run)
	case sc.undoneAt != 0:
		t.Status, t.UndoneAt = UndoAlreadyUndone, sc.undoneAt
		t.Detail = fmt.Sprintf("%s: its last reset (seq %d) was already undone at seq %d", where, r.Seq, sc.undoneAt)
	case r.Total == nil:
		t.Status, t.Detail = UndoNoTotal, fmt.Sprintf("%s: its last reset (seq %d) does not record what it took (made by an older counter, or the recovery of a broken counter): it cannot be undone", where, r.Seq)
	case r.Total.Sign() == 0:
		t.Status, t.Detail = UndoNoTotal, fmt.Sprintf("%s: its last reset (seq %d) took nothing", where, r.Seq)
	default:
		t.Status = UndoPlanned
	}
}

// undoAbove fills each target's aggregates above with their values now and
// after (several counters may feed one aggregate subject: it rises by the
// sum of their undos). Without a run, a plan that spans a counter and an
// aggregate above it is refused, as for a reset: pick the tier.
func undoAbove(ctx context.Context, c *counters.Client, g *topology.Graph, plan *UndoPlan, run string) error {
	targeted := map[ResetTarget]bool{}
	for _, t := range plan.Targets {
		targeted[t.ResetTarget] = true
	}
	type ref struct{ target, tier int }
	byStream := map[string][]ref{}
	for i := range plan.Targets {
		t := &plan.Targets[i]
		for _, h := range g.Up(t.Stream, t.Subject) {
			if targeted[ResetTarget{Subject: h.Subject, Stream: h.Stream}] && run == "" {
				return errkind.Invalidf("the counters matched span two tiers: %s in %s sums %s in %s, and their last resets are different resets; pick one tier with --stream, or one run with --run", h.Subject, h.Stream, t.Subject, t.Stream)
			}
			byStream[h.Stream] = append(byStream[h.Stream], ref{i, len(t.Above)})
			t.Above = append(t.Above, counters.PlannedTier{Stream: h.Stream, Subject: h.Subject, Depth: h.Depth})
		}
	}
	for id, refs := range byStream {
		name, domain, _ := strings.Cut(id, "@")
		dc, err := c.InDomain(domain)
		if err != nil {
			return err
		}
		var subjects []string
		rises := map[string]*big.Int{}
		for _, r := range refs {
			t := plan.Targets[r.target]
			s := t.Above[r.tier].Subject
			if rises[s] == nil {
				rises[s] = new(big.Int)
				subjects = append(subjects, s)
			}
			rises[s].Add(rises[s], t.Delta)
		}
		found, err := dc.ReadLiterals(ctx, name, subjects, counters.ReadLeader)
		if err != nil {
			return err
		}
		values := make(map[string]*big.Int, len(found))
		for _, ctr := range found {
			values[ctr.Subject] = ctr.Value
		}
		for _, r := range refs {
			tier := &plan.Targets[r.target].Above[r.tier]
			tier.Now = values[tier.Subject]
			base := tier.Now
			if base == nil {
				base = new(big.Int)
			}
			tier.After = new(big.Int).Add(base, rises[tier.Subject])
		}
	}
	return nil
}

// subjectScan is what a counter's retained history says about its resets
// at one stream.
type subjectScan struct {
	// last is its most recent reset made on this stream (the last round of
	// it), undoneAt the undo of that reset (0: none).
	last     *ResetRecord
	undoneAt uint64
	// lastSeq is the sequence of its newest message read.
	lastSeq uint64
}

// maxLiteralFilters is how many counters a scan names one by one in its
// consumer's filters; beyond it the scan reads the patterns.
const maxLiteralFilters = 256

// scanResets reads the retained history of subjects at stream once and
// finds each one's last reset made there and its undo. Only messages made
// on this stream count: a sourced copy of a reset (or an undo) below is no
// reset at this tier.
func scanResets(ctx context.Context, c *counters.Client, stream string, subjects, patterns []string) (map[string]*subjectScan, error) {
	sets := [][]string{subjects}
	if len(subjects) > maxLiteralFilters {
		var covering []string
		for _, p := range patterns {
			if slices.ContainsFunc(subjects, func(s string) bool { return topology.Covers(p, s) }) {
				covering = append(covering, p)
			}
		}
		sets = counters.ConsumerFilters(covering)
	}
	want := make(map[string]bool, len(subjects))
	for _, s := range subjects {
		want[s] = true
	}
	out := make(map[string]*subjectScan, len(subjects))
	for _, filters := range sets {
		// A counter two overlapping filter sets share is read twice: keep
		// the first reading (each is a whole, ordered history).
		pass := map[string]*subjectScan{}
		_, err := history.ReadStream(ctx, c, stream, filters, func(m history.HistoryMsg) error {
			if !want[m.Subject] {
				return nil
			}
			sc := pass[m.Subject]
			if sc == nil {
				sc = &subjectScan{}
				pass[m.Subject] = sc
			}
			sc.lastSeq = m.Seq
			if m.Err != nil || !m.Origin.Direct() {
				return nil
			}
			if m.IsReset() {
				sc.last = &ResetRecord{Stream: stream, Seq: m.Seq, Time: m.Time, Run: m.ResetRun, Reason: m.ResetReason, By: m.ResetBy, Total: m.ResetTotal}
				sc.undoneAt = 0
				return nil
			}
			if u := m.Undo; u != nil && sc.last != nil && u.Stream == stream && u.Seq == sc.last.Seq && sc.undoneAt == 0 {
				sc.undoneAt = m.Seq
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for s, sc := range pass {
			if out[s] == nil {
				out[s] = sc
			}
		}
	}
	return out, nil
}

// UndoOutcome is what happened to one counter of an undo.
type UndoOutcome string

const (
	// UndoDone: the undo increment was acknowledged.
	UndoDone UndoOutcome = "undone"
	// UndoRefused: the reset was undone already (by another undo since
	// the plan, or the server saw this undo's message id before): nothing
	// written.
	UndoRefused UndoOutcome = "already-undone"
	// UndoFailed: not undone; nothing written.
	UndoFailed UndoOutcome = "failed"
	// UndoUnknown: the increment was sent but not acknowledged: it may have
	// been applied. Running the same undo again is safe (it finds it).
	UndoUnknown UndoOutcome = "unknown"
	// UndoSkipped: interrupted before this counter was started.
	UndoSkipped UndoOutcome = "skipped"
)

// UndoResult is what happened to one counter.
type UndoResult struct {
	Subject, Stream string
	// Reset is the reset undone (or meant to be).
	Reset   ResetRecord
	Outcome UndoOutcome
	// Before is the value right before the undo, After right after it
	// (from its acknowledgement); Delta what it added. Seq is the undo
	// message's sequence; UndoneAt, for UndoRefused, the earlier undo's.
	Before, Delta, After *big.Int
	Seq, UndoneAt        uint64
	// Unacked is the increment sent but not acknowledged (UndoUnknown).
	Unacked *big.Int
	Err     error
}

// UndoMsgID is the message id of the undo of the reset message at seq in
// stream: the same for every attempt, so that the server drops a second
// undo of that reset within the stream's duplicate window.
func UndoMsgID(stream string, seq uint64) string {
	return "counter-undo-" + stream + "-" + strconv.FormatUint(seq, 10)
}

// Undo applies a plan: per stream, it takes the stream's undo lock (one undo
// at a time per stream: aggregates have no duplicate window), reads the
// targets' history again, and for each counter whose last reset is still
// the one planned and still not undone publishes +total with headers
// naming that reset and a message id derived from it. Results come in plan
// order; the error is about the plan as a whole.
func Undo(ctx context.Context, c *counters.Client, plan *UndoPlan, opts UndoOptions) ([]UndoResult, error) {
	results := make([]UndoResult, len(plan.Targets))
	byStream := map[string][]int{}
	var order []string
	for i, t := range plan.Targets {
		results[i] = UndoResult{Subject: t.Subject, Stream: t.Stream, Reset: *t.Reset}
		if byStream[t.Stream] == nil {
			order = append(order, t.Stream)
		}
		byStream[t.Stream] = append(byStream[t.Stream], i)
	}
	// As in a reset: after Ctrl-C no new counter is started, and the ones
	// in flight finish within one more client timeout.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopGrace := context.AfterFunc(ctx, func() {
		time.AfterFunc(c.Timeout(), cancelWork)
	})
	defer stopGrace()
	checked := map[string]bool{}
	for _, t := range plan.Targets {
		if checked[t.Stream] {
			continue
		}
		checked[t.Stream] = true
		s, err := c.Stream(work, t.Stream)
		if err != nil {
			return nil, err
		}
		if err := checkResettable(&s.CachedInfo().Config, t.Subject); err != nil {
			return nil, err
		}
	}

	for _, stream := range order {
		idx := byStream[stream]
		skip := func(why string) {
			for _, i := range idx {
				if results[i].Outcome == "" {
					results[i].Outcome, results[i].Err = UndoSkipped, errors.New(why)
				}
			}
		}
		if ctx.Err() != nil {
			skip("interrupted before this counter was started: nothing was written")
			continue
		}
		fail := func(err error) {
			for _, i := range idx {
				results[i].Outcome, results[i].Err = UndoFailed, err
			}
		}
		lock, err := lockStream(ctx, c, stream, opts.By)
		if err != nil {
			if ctx.Err() != nil {
				skip("interrupted before this counter was started: nothing was written")
			} else {
				fail(err)
			}
			continue
		}
		undoStream(ctx, work, c, plan, opts, stream, idx, results)
		lock.release()
	}
	return results, nil
}

// undoStream undoes the targets idx of one stream, under its lock.
func undoStream(ctx, work context.Context, c *counters.Client, plan *UndoPlan, opts UndoOptions, stream string, idx []int, results []UndoResult) {
	subjects := make([]string, len(idx))
	for k, i := range idx {
		subjects[k] = plan.Targets[i].Subject
	}
	scans, err := freshScan(work, c, stream, subjects, plan.patterns)
	if err != nil {
		for _, i := range idx {
			results[i].Outcome, results[i].Err = UndoFailed, fmt.Errorf("undo %s: reading its history again before writing: %w", results[i].Subject, err)
			if ctx.Err() != nil {
				results[i].Outcome, results[i].Err = UndoSkipped, errors.New("interrupted before this counter was started: nothing was written")
			}
		}
		return
	}
	parallel.Do(ctx, len(idx), func(k int) {
		i := idx[k]
		results[i] = undoOne(work, c, plan.Targets[i], scans[plan.Targets[i].Subject], opts)
	}, func(k int) {
		r := &results[idx[k]]
		r.Outcome, r.Err = UndoSkipped, errors.New("interrupted before this counter was started: nothing was written")
	})
}

// freshScan is scanResets that, on a replicated stream, makes sure the
// history read includes every message the stream leader had acknowledged
// for the subjects when it started: an ordered consumer may sit on a
// replica that lags, and an undo acknowledged a moment ago by another
// operator must not be missed.
func freshScan(ctx context.Context, c *counters.Client, stream string, subjects, patterns []string) (map[string]*subjectScan, error) {
	info, err := c.StreamInfo(ctx, stream)
	if err != nil {
		return nil, err
	}
	if info.Config.Replicas <= 1 {
		return scanResets(ctx, c, stream, subjects, patterns)
	}
	leader, err := c.ReadLiterals(ctx, stream, subjects, counters.ReadLeader)
	if err != nil {
		return nil, err
	}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		scans, err := scanResets(ctx, c, stream, subjects, patterns)
		if err != nil && ctx.Err() == nil && attempt < attempts {
			// A read that stalled (a replica's consumer on a loaded
			// cluster): a new consumer is placed afresh.
			continue
		}
		if err != nil {
			return nil, err
		}
		behind := ""
		for _, l := range leader {
			if sc := scans[l.Subject]; sc == nil || sc.lastSeq < l.Seq {
				behind = l.Subject
				break
			}
		}
		if behind == "" {
			return scans, nil
		}
		if attempt == attempts {
			return nil, errkind.Unavailablef("the history of %s in stream %s was read from a replica that is behind the stream leader, %d times: retry", behind, stream, attempts)
		}
	}
}

// undoOne publishes the undo of one counter's last reset, unless the fresh
// scan shows that reset undone already or replaced by a later one.
func undoOne(ctx context.Context, c *counters.Client, t PlannedUndo, sc *subjectScan, opts UndoOptions) UndoResult {
	r := UndoResult{Subject: t.Subject, Stream: t.Stream, Reset: *t.Reset}
	switch {
	case sc == nil || sc.last == nil:
		r.Outcome, r.Err = UndoFailed, errkind.NotFoundf("undo %s in %s: its reset at seq %d is no longer in its history (purged since the plan?): nothing was written", t.Subject, t.Stream, t.Reset.Seq)
		return r
	case sc.last.Seq != t.Reset.Seq:
		r.Outcome, r.Err = UndoFailed, errkind.Invalidf("undo %s in %s: it was reset again since the plan (seq %d): nothing was written; plan the undo again", t.Subject, t.Stream, sc.last.Seq)
		return r
	case sc.undoneAt != 0:
		r.Outcome, r.UndoneAt = UndoRefused, sc.undoneAt
		r.Err = errkind.Invalidf("undo %s in %s: already undone at seq %d: nothing was written", t.Subject, t.Stream, sc.undoneAt)
		return r
	}
	delta := new(big.Int).Neg(t.Reset.Total)
	hdr := nats.Header{}
	hdr.Set(counters.HeaderMsgID, UndoMsgID(t.Stream, t.Reset.Seq))
	hdr.Set(counters.HeaderUndoStream, t.Stream)
	hdr.Set(counters.HeaderUndoSeq, strconv.FormatUint(t.Reset.Seq, 10))
	for k, v := range map[string]string{
		counters.HeaderUndoRun: t.Reset.Run, counters.HeaderUndoResetReason: t.Reset.Reason,
		counters.HeaderUndoBy: opts.By, counters.HeaderUndoReason: opts.Reason,
	} {
		if v = headerValue(v); v != "" {
			hdr.Set(k, v)
		}
	}
	ack, err := c.PublishIncr(ctx, t.Subject, delta, hdr)
	switch {
	case err != nil && errkind.OutcomeUnknown(err):
		why := fmt.Sprintf("no answer within %s", c.Timeout())
		if ctx.Err() != nil {
			why = "interrupted while waiting for the acknowledgement"
		}
		r.Outcome, r.Unacked = UndoUnknown, delta
		r.Err = errkind.Unknownf("undo %s: the increment %s was sent but not acknowledged (%s), so it may or may not have been applied: run the same undo again (it finds an undo that was applied)", t.Subject, counters.Signed(delta), why)
		return r
	case err != nil && ctx.Err() != nil:
		r.Outcome, r.Err = UndoSkipped, errors.New("interrupted before its increment was sent: nothing was written")
		return r
	case err != nil:
		r.Outcome, r.Err = UndoFailed, err
		return r
	case ack.Stream != t.Stream:
		r.Outcome, r.Err = UndoFailed, fmt.Errorf("undo %s: the increment %s landed in stream %s, not %s: check both streams", t.Subject, counters.Signed(delta), ack.Stream, t.Stream)
		return r
	case ack.Duplicate:
		// The server has this undo's message id: another undo of the same
		// reset got there first, inside the duplicate window.
		r.Outcome, r.UndoneAt = UndoRefused, ack.Seq
		r.Err = errkind.Invalidf("undo %s in %s: already undone at seq %d: nothing was written", t.Subject, t.Stream, ack.Seq)
		return r
	case ack.Val == nil:
		r.Outcome, r.Err = UndoFailed, errkind.Unavailablef("undo %s: stream %s stored the increment without counting", t.Subject, ack.Stream)
		return r
	}
	r.Outcome, r.Delta, r.Seq = UndoDone, delta, ack.Seq
	if val, err := counters.ParseValue(*ack.Val); err == nil {
		r.After = val
		r.Before = new(big.Int).Sub(val, delta)
	}
	return r
}

// undoLockName is the consumer that serves as a stream's undo lock.
const undoLockName = "counter_undo_lock"

// streamLock is one stream's undo lock: a consumer that only the holder's
// create made (its description carries a random token; the server refuses
// to create a consumer of that name with another configuration). It is
// kept alive by pulls, and expires by itself (inactive threshold) if its
// holder dies.
type streamLock struct {
	c      *counters.Client
	stream string
	desc   string
	stop   func()
	wg     sync.WaitGroup
}

// lockTTL is how long a lock outlives a holder that stopped (died, or
// stalled): its consumer's inactive threshold.
func lockTTL(c *counters.Client) time.Duration { return max(15*time.Second, 3*c.Timeout()) }

// lockStream takes the undo lock of stream, waiting for another holder to
// release it (or for a dead holder's lock to expire).
func lockStream(ctx context.Context, c *counters.Client, stream, by string) (*streamLock, error) {
	var token [8]byte
	_, _ = randRead(token[:])
	l := &streamLock{c: c, stream: stream, desc: fmt.Sprintf("counter reset --undo lock, by %s, token %x", headerValue(by), token)}
	ttl := lockTTL(c)
	cfg := jetstreamLockConfig(l.desc, ttl)
	wctx, cancel := context.WithTimeout(ctx, ttl+c.Timeout())
	defer cancel()
	for wait := counters.PollFirst; ; wait = min(2*wait, counters.PollMax) {
		rctx, rcancel := c.RequestContext(wctx)
		_, err := c.JetStream().CreateConsumer(rctx, stream, cfg)
		rcancel()
		if err == nil {
			break
		}
		if !isConsumerExists(err) {
			if wctx.Err() != nil && ctx.Err() == nil {
				return nil, lockBusy(ctx, c, stream, ttl)
			}
			return nil, c.Wrap(err, "take the undo lock of stream "+stream)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil, c.Wrap(ctx.Err(), "take the undo lock of stream "+stream)
			}
			return nil, lockBusy(ctx, c, stream, ttl)
		case <-time.After(wait):
		}
	}
	kctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop = stop
	l.wg.Go(func() { l.keepAlive(kctx, ttl/4) })
	return l, nil
}

func lockBusy(ctx context.Context, c *counters.Client, stream string, ttl time.Duration) error {
	holder := ""
	rctx, cancel := c.RequestContext(context.WithoutCancel(ctx))
	defer cancel()
	if cons, err := c.JetStream().Consumer(rctx, stream, undoLockName); err == nil {
		holder = " (" + cons.CachedInfo().Config.Description + ")"
	}
	return errkind.Unavailablef("another undo is running on stream %s%s: retry once it has finished (the lock of one that died expires within %s)", stream, holder, ttl)
}

// keepAlive pulls from the lock's consumer now and then: a pull consumer
// with no pull requests for its inactive threshold is deleted.
func (l *streamLock) keepAlive(ctx context.Context, every time.Duration) {
	subject := l.c.Prefix() + ".CONSUMER.MSG.NEXT." + l.stream + "." + undoLockName
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := l.c.RequestContext(ctx)
			_, _ = l.c.Conn().RequestWithContext(rctx, subject, []byte(`{"batch":1,"no_wait":true}`))
			cancel()
		}
	}
}

// release deletes the lock, if it is still this holder's.
func (l *streamLock) release() {
	l.stop()
	l.wg.Wait()
	ctx, cancel := l.c.RequestContext(context.Background())
	defer cancel()
	cons, err := l.c.JetStream().Consumer(ctx, l.stream, undoLockName)
	if err != nil || cons.CachedInfo().Config.Description != l.desc {
		return
	}
	_ = l.c.JetStream().DeleteConsumer(ctx, l.stream, undoLockName)
}

// jetstreamLockConfig is the lock consumer: delivers nothing old, needs no
// acks, lives in memory on one server, and is deleted after ttl without
// pulls.
func jetstreamLockConfig(desc string, ttl time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Name:              undoLockName,
		Description:       desc,
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: ttl,
	}
}

func isConsumerExists(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrConsumerExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeConsumerExists)
}

var randRead = rand.Read
