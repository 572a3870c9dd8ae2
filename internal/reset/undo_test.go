package reset_test

import (
	"context"
	"errors"
	"math/big"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// writers increments each subject from its own goroutine until stop, and
// returns what was acknowledged per subject.
func writers(t *testing.T, c *counters.Client, subjects []string) (stop func() map[string]*big.Int) {
	t.Helper()
	var (
		mu    sync.Mutex
		acked = map[string]*big.Int{}
		wg    sync.WaitGroup
		done  = make(chan struct{})
	)
	for w, subj := range subjects {
		acked[subj] = new(big.Int)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				select {
				case <-done:
					return
				default:
				}
				d := big.NewInt(rng.Int64N(9) + 1)
				// An id makes a retry exact when an ack is lost on a
				// loaded machine (leaves have a duplicate window).
				id := subj + "-" + strconv.Itoa(w) + "-" + strconv.FormatUint(rng.Uint64(), 36)
				var err error
				for try := 0; try < 5; try++ {
					if _, err = c.Incr(context.Background(), subj, d, id); err == nil || !errors.Is(err, errkind.ErrUnavailable) {
						break
					}
				}
				if err != nil {
					t.Errorf("incr %s: %v", subj, err)
					return
				}
				mu.Lock()
				acked[subj].Add(acked[subj], d)
				mu.Unlock()
			}
		})
	}
	return func() map[string]*big.Int {
		close(done)
		wg.Wait()
		return acked
	}
}

// waitWrites polls until subject at stream has moved past v: the writers
// are running.
func waitWrites(t *testing.T, c *counters.Client, stream, subject string, past int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for countertest.ValueOrZero(t, c, stream, subject).Cmp(big.NewInt(past)) <= 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s did not pass %d", subject, stream, past)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func planUndo(t *testing.T, c *counters.Client, opts reset.UndoOptions, patterns ...string) *reset.UndoPlan {
	t.Helper()
	plan, err := reset.PlanUndo(ctx, c, patterns, opts, nil)
	if err != nil {
		t.Fatalf("plan undo %v: %v", patterns, err)
	}
	return plan
}

func mustUndo(t *testing.T, c *counters.Client, opts reset.UndoOptions, patterns ...string) []reset.UndoResult {
	t.Helper()
	plan := planUndo(t, c, opts, patterns...)
	res, err := reset.Undo(ctx, c, plan, opts)
	if err != nil {
		t.Fatalf("undo %v: %v", patterns, err)
	}
	for _, r := range res {
		if r.Outcome != reset.UndoDone {
			t.Fatalf("undo %s in %s: %s: %v", r.Subject, r.Stream, r.Outcome, r.Err)
		}
	}
	return res
}

// TestUndoLeafResetWithWriters: writers keep incrementing a leaf while it is
// reset and while the reset is undone; at the end every tier holds exactly
// what the writers added (the value before the reset plus every increment
// since), and audit proves each total across the reset and the undo.
func TestUndoLeafResetWithWriters(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	const de, pl = "count.de.hits", "count.pl.hits"
	stop := writers(t, c, []string{de, de, pl})
	waitWrites(t, c, "DE", de, 50)

	run := reset.NewRunID(time.Now())
	res := countertest.ResetAll(t, c, reset.ResetOptions{Run: run, Reason: "wrong counter", By: "ops@test"}, de)
	took := res[0].Delta
	waitWrites(t, c, "DE", de, 20) // increments after the reset

	plan := planUndo(t, c, reset.UndoOptions{Run: run}, de)
	if len(plan.Targets) != 1 || plan.Targets[0].Reset.Seq != res[0].Seq || plan.Targets[0].Delta.Cmp(new(big.Int).Neg(took)) != 0 ||
		plan.Targets[0].Reset.Run != run || plan.Targets[0].Reset.Reason != "wrong counter" || len(plan.Targets[0].Above) != 2 {
		t.Fatalf("plan %+v, reset %+v", plan, res[0])
	}
	undone, err := reset.Undo(ctx, c, plan, reset.UndoOptions{By: "ops@test"})
	if err != nil || undone[0].Outcome != reset.UndoDone || undone[0].Delta.Cmp(new(big.Int).Neg(took)) != 0 {
		t.Fatalf("undo: %v %+v", err, undone)
	}
	waitWrites(t, c, "DE", de, undone[0].After.Int64()+10) // and after the undo
	acked := stop()
	if t.Failed() {
		return
	}
	total := new(big.Int).Add(acked[de], acked[pl])
	t.Logf("reset took %s; writers added %s to DE, %s to PL", took, acked[de], acked[pl])
	if got := countertest.ValueOrZero(t, c, "DE", de); got.Cmp(acked[de]) != 0 {
		t.Fatalf("DE = %s, want every acked increment %s", got, acked[de])
	}
	countertest.WaitValueOrZero(t, c, "EU", "count.eu.hits", total)
	countertest.WaitValueOrZero(t, c, "WORLD", "count.world.hits", total)
	auditClean(t, c, "DE", de, 1)
	auditClean(t, c, "EU", "count.eu.hits", 1)

	// A second undo of the same reset is refused: the plan says so.
	again := planUndo(t, c, reset.UndoOptions{}, de)
	if len(again.Targets) != 0 || len(again.Skipped) != 1 || again.Skipped[0].Status != reset.UndoAlreadyUndone ||
		again.Skipped[0].UndoneAt != undone[0].Seq || !errors.Is(again.NothingToUndo(), errkind.ErrInvalid) {
		t.Fatalf("second plan %+v", again)
	}
}

// auditClean audits one counter at a stream and wants it to hold, with
// undos undo messages retained.
func auditClean(t *testing.T, c *counters.Client, stream, subject string, undos int) {
	t.Helper()
	rep, err := history.Audit(ctx, c, []string{subject}, history.AuditOptions{Stream: stream})
	if err != nil {
		t.Fatalf("audit %s in %s: %v", subject, stream, err)
	}
	a := rep.Counters[0]
	if !a.OK() || len(a.Undos) != undos {
		t.Fatalf("audit %s in %s: ok %v, problems %+v, undos %+v", subject, stream, a.OK(), a.Problems, a.Undos)
	}
}

// TestUndoAggregateResetWithWriters: the same at an aggregate, where the
// undo is an increment on the aggregate itself (no duplicate window there).
func TestUndoAggregateResetWithWriters(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	const de, pl, eu = "count.de.hits", "count.pl.hits", "count.eu.hits"
	stop := writers(t, c, []string{de, pl, pl})
	waitWrites(t, c, "EU", eu, 50)

	res := countertest.ResetAll(t, c, reset.ResetOptions{Stream: "EU", Run: reset.NewRunID(time.Now())}, eu)
	waitWrites(t, c, "PL", pl, 0)
	undone := mustUndo(t, c, reset.UndoOptions{Stream: "EU"}, eu)
	if undone[0].Reset.Seq != res[0].Seq || undone[0].Delta.Cmp(new(big.Int).Neg(res[0].Delta)) != 0 {
		t.Fatalf("undo %+v of reset %+v", undone[0], res[0])
	}
	acked := stop()
	if t.Failed() {
		return
	}
	total := new(big.Int).Add(acked[de], acked[pl])
	// The tiers below never moved; the aggregate and the one above it hold
	// the value before the reset plus every increment since.
	if got := countertest.ValueOrZero(t, c, "DE", de); got.Cmp(acked[de]) != 0 {
		t.Fatalf("DE = %s, want %s", got, acked[de])
	}
	countertest.WaitValueOrZero(t, c, "EU", eu, total)
	countertest.WaitValueOrZero(t, c, "WORLD", "count.world.hits", total)
	auditClean(t, c, "EU", eu, 1)
	auditClean(t, c, "WORLD", "count.world.hits", 1)
}

// TestUndoTwiceRefused: a second undo of one reset writes nothing, whether
// it comes later (past the leaf's short duplicate window: the history shows
// the first), with a plan made before the first undo, or at the same time
// as another (one wins, the other is refused), at a leaf and at an
// aggregate (which has no duplicate window at all).
func TestUndoTwiceRefused(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	js := c.JetStream()
	countertest.RawStream(t, js, jetstream.StreamConfig{Name: "SHORT", Subjects: []string{"short.>"}, AllowMsgCounter: true, AllowDirect: true, Duplicates: 100 * time.Millisecond})
	countertest.RawStream(t, js, countertest.CounterConfig("AGG", []string{"agg.>"}, &jetstream.StreamSource{Name: "SHORT",
		SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "short.>", Destination: "agg.>"}}}))

	for _, tc := range []struct{ stream, subject, source string }{{"SHORT", "short.a", "short.a"}, {"AGG", "agg.a", "short.a"}} {
		t.Run(tc.stream, func(t *testing.T) {
			countertest.Incr(t, c, tc.source, 7)
			countertest.WaitValue(t, c, tc.stream, tc.subject, countertest.ValueOrZero(t, c, "SHORT", "short.a").String())
			opts := reset.UndoOptions{Stream: tc.stream}
			countertest.ResetAll(t, c, reset.ResetOptions{Stream: tc.stream, Run: reset.NewRunID(time.Now())}, tc.subject)
			stale := planUndo(t, c, opts, tc.subject)

			// Two undos started together: exactly one is applied.
			var wg sync.WaitGroup
			results := make([][]reset.UndoResult, 2)
			plans := []*reset.UndoPlan{planUndo(t, c, opts, tc.subject), planUndo(t, c, opts, tc.subject)}
			for i, plan := range plans {
				wg.Go(func() {
					var err error
					if results[i], err = reset.Undo(ctx, c, plan, opts); err != nil {
						t.Errorf("undo %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			done, refused := 0, 0
			var undoSeq uint64
			for _, r := range results {
				switch r[0].Outcome {
				case reset.UndoDone:
					done++
					undoSeq = r[0].Seq
				case reset.UndoRefused:
					refused++
				}
			}
			if done != 1 || refused != 1 {
				t.Fatalf("two undos at once: %+v", results)
			}
			for _, r := range results {
				if r[0].Outcome == reset.UndoRefused && r[0].UndoneAt != undoSeq {
					t.Fatalf("refused undo names seq %d, want %d", r[0].UndoneAt, undoSeq)
				}
			}

			// Later, past the duplicate window, with the plan made before
			// either: the history shows the undo.
			time.Sleep(150 * time.Millisecond) // the leaf's duplicate window passes
			res, err := reset.Undo(ctx, c, stale, opts)
			if err != nil || res[0].Outcome != reset.UndoRefused || res[0].UndoneAt != undoSeq || !errors.Is(res[0].Err, errkind.ErrInvalid) {
				t.Fatalf("late undo: %v %+v", err, res)
			}
			auditClean(t, c, tc.stream, tc.subject, 1)
		})
	}
	// The value went back exactly once at every tier.
	countertest.WaitValue(t, c, "AGG", "agg.a", "14")
	if v := countertest.ValueOrZero(t, c, "SHORT", "short.a"); v.String() != "14" {
		t.Fatalf("SHORT short.a = %s, want 14", v)
	}
}

// TestUndoDuplicateID: inside the duplicate window the server itself drops
// a second undo of a reset (its message id comes from the reset): an undo
// that finds its id taken reports the reset as already undone.
func TestUndoDuplicateID(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.Incr(t, c, "count.de.x", 5)
	res := countertest.ResetAll(t, c, reset.ResetOptions{Run: "r1"}, "count.de.x")
	plan := planUndo(t, c, reset.UndoOptions{}, "count.de.x")
	// Another client's increment that took the undo's id (no undo headers,
	// so the history does not show it as an undo).
	m := nats.NewMsg("count.de.x")
	m.Header.Set(counters.HeaderIncr, "+1")
	m.Header.Set(counters.HeaderMsgID, reset.UndoMsgID("DE", res[0].Seq))
	ack, err := c.JetStream().PublishMsg(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := reset.Undo(ctx, c, plan, reset.UndoOptions{})
	if err != nil || got[0].Outcome != reset.UndoRefused || got[0].UndoneAt != ack.Sequence {
		t.Fatalf("undo: %v %+v (id taken at seq %d)", err, got, ack.Sequence)
	}
	if v := countertest.ValueOrZero(t, c, "DE", "count.de.x"); v.String() != "1" {
		t.Fatalf("value %s, want 1", v)
	}
}

// TestUndoWildcardRun: a reset of many counters is one run; undoing it with
// --run restores each, and leaves alone a counter whose last reset is
// another run, or that was never reset.
func TestUndoWildcardRun(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	const n = 300 // past maxLiteralFilters: the scan reads the pattern
	countertest.Seed(t, c.Conn(), "count.de.c", n)
	countertest.Incr(t, c, "count.pl.hits", 1)
	want := n * (n + 1) / 2
	countertest.WaitValue(t, c, "EU", "count.eu.c.7", "7")

	run := reset.NewRunID(time.Now())
	countertest.ResetAll(t, c, reset.ResetOptions{Run: run}, "count.de.>")
	countertest.WaitValueOrZero(t, c, "EU", "count.eu.c."+strconv.Itoa(n), new(big.Int))
	// c.1 is reset again by another run; c.2 gets an increment.
	other := reset.NewRunID(time.Now().Add(time.Second))
	countertest.Incr(t, c, "count.de.c.1", 10)
	countertest.ResetAll(t, c, reset.ResetOptions{Run: other}, "count.de.c.1")
	countertest.Incr(t, c, "count.de.c.2", 3)
	countertest.Incr(t, c, "count.de.new", 1)

	plan := planUndo(t, c, reset.UndoOptions{Run: run}, "count.de.>")
	if len(plan.Targets) != n-1 || len(plan.Skipped) != 2 {
		t.Fatalf("plan: %d targets, skipped %+v", len(plan.Targets), plan.Skipped)
	}
	for _, s := range plan.Skipped {
		if (s.Subject == "count.de.c.1" && s.Status != reset.UndoOtherRun) || (s.Subject == "count.de.new" && s.Status != reset.UndoNeverReset) {
			t.Fatalf("skipped %+v", s)
		}
	}
	res, err := reset.Undo(ctx, c, plan, reset.UndoOptions{Run: run})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != reset.UndoDone {
			t.Fatalf("%s: %s %v", r.Subject, r.Outcome, r.Err)
		}
	}
	if v := countertest.ValueOrZero(t, c, "DE", "count.de.c.2"); v.String() != "5" {
		t.Fatalf("c.2 = %s, want 2 + 3", v)
	}
	if v := countertest.ValueOrZero(t, c, "DE", "count.de.c.1"); v.Sign() != 0 {
		t.Fatalf("c.1 = %s, want 0 (reset by the other run)", v)
	}
	// EU sums each DE counter under its own subject; the sum over all is
	// the seeded total, minus c.1 (1), plus c.2's +3.
	countertest.WaitValue(t, c, "EU", "count.eu.c."+strconv.Itoa(n), strconv.Itoa(n))
	sum := new(big.Int)
	list, err := c.Get(ctx, []string{"count.eu.c.*"}, counters.GetOptions{Stream: "EU"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ctr := range list {
		sum.Add(sum, ctr.Value)
	}
	if sum.Int64() != int64(want-1+3) {
		t.Fatalf("EU sum %s, want %d", sum, want-1+3)
	}
	// Run again: everything already undone, nothing written (exit 2).
	again := planUndo(t, c, reset.UndoOptions{Run: run}, "count.de.>")
	if len(again.Targets) != 0 || !errors.Is(again.NothingToUndo(), errkind.ErrInvalid) {
		t.Fatalf("again: %d targets, %v", len(again.Targets), again.NothingToUndo())
	}
}

// TestUndoInterrupted: interrupted before it starts, an undo writes nothing
// and says so per counter.
func TestUndoInterrupted(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.Incr(t, c, "count.de.x", 5)
	countertest.ResetAll(t, c, reset.ResetOptions{Run: "r1"}, "count.de.x")
	plan := planUndo(t, c, reset.UndoOptions{}, "count.de.x")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	res, err := reset.Undo(cctx, c, plan, reset.UndoOptions{})
	if err != nil || res[0].Outcome != reset.UndoSkipped {
		t.Fatalf("undo: %v %+v", err, res)
	}
	if v := countertest.ValueOrZero(t, c, "DE", "count.de.x"); v.Sign() != 0 {
		t.Fatalf("value %s, want 0", v)
	}
	// Never reset at all: not found.
	countertest.Incr(t, c, "count.de.y", 1)
	if p := planUndo(t, c, reset.UndoOptions{}, "count.de.y"); !errors.Is(p.NothingToUndo(), errkind.ErrNotFound) {
		t.Fatalf("never reset: %+v", p)
	}
}

// TestUndoR3: on replicated streams the undo's history read may land on a
// replica; two undos at once of a leaf and of an aggregate reset still
// apply once each, with writers running.
func TestUndoR3(t *testing.T) {
	t.Parallel()
	servers := testserver.Cluster(t, 3)
	c := countertest.NewClient(t, servers[0])
	countertest.EUTiers(t, c, 3)
	const de, pl, eu = "count.de.hits", "count.pl.hits", "count.eu.hits"
	testserver.WaitInterest(t, servers, de, pl, eu)
	stop := writers(t, c, []string{de, pl})
	waitWrites(t, c, "EU", eu, 30)
	countertest.ResetAll(t, c, reset.ResetOptions{Run: "leaf"}, de)
	countertest.ResetAll(t, c, reset.ResetOptions{Stream: "EU", Run: "agg"}, eu)
	for _, opts := range []reset.UndoOptions{{Run: "leaf"}, {Stream: "EU", Run: "agg"}} {
		subject := de
		if opts.Stream == "EU" {
			subject = eu
		}
		plans := []*reset.UndoPlan{planUndo(t, c, opts, subject), planUndo(t, c, opts, subject)}
		outcomes := make([]reset.UndoOutcome, 2)
		var wg sync.WaitGroup
		for i, plan := range plans {
			wg.Go(func() {
				res, err := reset.Undo(ctx, c, plan, opts)
				if err != nil {
					t.Errorf("undo: %v", err)
					return
				}
				outcomes[i] = res[0].Outcome
				t.Logf("undo %d: %s %v", i, res[0].Outcome, res[0].Err)
			})
		}
		wg.Wait()
		if (outcomes[0] == reset.UndoDone) == (outcomes[1] == reset.UndoDone) || (outcomes[0] != reset.UndoRefused && outcomes[1] != reset.UndoRefused) {
			t.Fatalf("undo %s: outcomes %v, want one undone and one refused", opts.Run, outcomes)
		}
	}
	acked := stop()
	if t.Failed() {
		return
	}
	total := new(big.Int).Add(acked[de], acked[pl])
	countertest.WaitValueOrZero(t, c, "DE", de, acked[de])
	countertest.WaitValueOrZero(t, c, "EU", eu, total)
	countertest.WaitValueOrZero(t, c, "WORLD", "count.world.hits", total)
	auditClean(t, c, "EU", eu, 2) // its own undo, and DE's flowing in
}
