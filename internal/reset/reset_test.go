package reset_test

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

func TestResetLeaf(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	for range 3 {
		countertest.Incr(t, c, "count.de.hits", 2)
	}
	countertest.Incr(t, c, "count.pl.hits", 10)
	countertest.WaitValue(t, c, "WORLD", "count.world.hits", "16")

	plan, err := reset.PlanReset(ctx, c, []string{"count.de.hits"}, reset.ResetOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 1 {
		t.Fatalf("plan has %d targets", len(plan.Targets))
	}
	p := plan.Targets[0]
	above := fmt.Sprint(p.Above)
	if p.Stream != "DE" || p.Aggregate || p.Value.String() != "6" ||
		above != "[{EU count.eu.hits 1 16 10} {WORLD count.world.hits 2 16 10}]" {
		t.Fatalf("plan %+v above %s", p, above)
	}

	res, err := reset.Reset(ctx, c, plan, reset.ResetOptions{Reason: "test: double count", By: "me@here"})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Err != nil || r.Before.String() != "6" || r.Delta.String() != "-6" || r.After.Sign() != 0 || r.Rounds != 1 ||
		!r.Purged || r.PurgedBelow != r.Seq || r.Outcome != reset.ResetDone {
		t.Fatalf("result %+v", r)
	}
	// Below R, at every tier: the reset message is kept, and the counter
	// reads 0 (not "no value").
	if n := countertest.SubjectMsgs(t, c.Conn(), "DE", "count.de.hits"); n != 1 {
		t.Fatalf("DE holds %d messages on count.de.hits, want the reset message only", n)
	}
	if got, err := c.Get(ctx, []string{"count.de.hits"}, counters.GetOptions{}); err != nil || got[0].Value.Sign() != 0 || got[0].Seq != r.Seq {
		t.Fatalf("get after reset: %v %+v, want 0 at seq %d", err, got, r.Seq)
	}
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "10")
	countertest.WaitValue(t, c, "WORLD", "count.world.hits", "10")
	// The tier below is untouched, the next increment starts from 0.
	if v := countertest.ValueOrZero(t, c, "PL", "count.pl.hits"); v.String() != "10" {
		t.Fatalf("PL = %s", v)
	}
	if got := countertest.Incr(t, c, "count.de.hits", 1); got.Value.String() != "1" {
		t.Fatalf("after reset +1 = %s", got.Value)
	}
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "11")

	// The reason rode on the reset message, and on to the aggregate.
	js := c.JetStream()
	eu, err := js.Stream(ctx, "EU")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for seq := uint64(1); ; seq++ {
		m, err := eu.GetMsg(ctx, seq)
		if err != nil {
			break
		}
		if m.Header.Get(counters.HeaderResetReason) == "test: double count" && m.Header.Get(counters.HeaderResetBy) == "me@here" {
			found = true
		}
	}
	if !found {
		t.Fatal("no message in EU carries the reset reason")
	}
}

// TestResetAggregateKeepsSources: resetting an aggregate keeps the reset
// message and its Nats-Counter-Sources record, so the next sourced update
// adds only its own delta. A whole-subject purge fails this (EU would jump
// back to the sum of every upstream total).
func TestResetAggregateKeepsSources(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	countertest.Incr(t, c, "count.de.hits", 2)
	countertest.Incr(t, c, "count.pl.hits", 4)
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "6")
	countertest.WaitValue(t, c, "WORLD", "count.world.hits", "6")

	plan, err := reset.PlanReset(ctx, c, []string{"count.eu.hits"}, reset.ResetOptions{Stream: "EU"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if above := fmt.Sprint(plan.Targets[0].Above); !plan.Targets[0].Aggregate || above != "[{WORLD count.world.hits 1 6 0}]" {
		t.Fatalf("plan %+v above %s", plan.Targets[0], above)
	}
	res, err := reset.Reset(ctx, c, plan, reset.ResetOptions{Stream: "EU"})
	if err != nil || res[0].Err != nil || !res[0].Purged || res[0].PurgedBelow != res[0].Seq || res[0].Delta.String() != "-6" {
		t.Fatalf("reset: %v %+v", err, res)
	}
	if n := countertest.SubjectMsgs(t, c.Conn(), "EU", "count.eu.hits"); n != 1 {
		t.Fatalf("EU holds %d messages on count.eu.hits, want the reset message only", n)
	}
	countertest.WaitValue(t, c, "WORLD", "count.world.hits", "0")

	countertest.Incr(t, c, "count.pl.hits", 1)
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "1") // a whole-subject purge gives 8
	countertest.Incr(t, c, "count.eu.hits", 10)             // a direct delta of its own
	countertest.Incr(t, c, "count.de.hits", 3)
	// EU == Σ sources + its own direct deltas (the reset and the +10).
	de, pl := countertest.ValueOrZero(t, c, "DE", "count.de.hits"), countertest.ValueOrZero(t, c, "PL", "count.pl.hits")
	want := new(big.Int).Add(de, pl)
	want.Add(want, big.NewInt(-6+10))
	eu := countertest.WaitValue(t, c, "EU", "count.eu.hits", want.String())
	if eu.Sources.Total().String() != "10" {
		t.Fatalf("EU sources record %v, want DE 5 + PL 5", eu.Sources)
	}
	countertest.WaitValue(t, c, "WORLD", "count.world.hits", want.String())
	// The tiers below kept their values.
	if de.String() != "5" || pl.String() != "5" {
		t.Fatalf("DE %s PL %s, want 5 and 5", de, pl)
	}
}

func TestResetWildcardThousands(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	const n = 2000
	countertest.Seed(t, c.Conn(), "count.de", n)
	total := strconv.Itoa(n * (n + 1) / 2)
	testserver.Eventually(t, 30*time.Second, "EU to add up to "+total, func() error {
		var sum big.Int
		err := c.ReadLast(ctx, "EU", []string{"count.eu.>"}, func(ctr counters.Counter) error {
			sum.Add(&sum, ctr.Value)
			return nil
		})
		if err != nil || sum.String() != total {
			return fmt.Errorf("EU sum %s, want %s (%v)", sum.String(), total, err)
		}
		return nil
	})
	countertest.Incr(t, c, "count.pl.1", 7) // another tier's counter: untouched

	var last reset.ResetProgress
	var calls int
	start := time.Now()
	defer func() { t.Logf("reset of %d counters took %s", n, time.Since(start)) }()
	res := countertest.ResetAll(t, c, reset.ResetOptions{Progress: func(p reset.ResetProgress) { last = p; calls++ }}, "count.de.>")
	if len(res) != n || calls != 2*n || last != (reset.ResetProgress{Reset: n, Purged: n, Total: n}) {
		t.Fatalf("%d results, %d progress calls, last %+v", len(res), calls, last)
	}
	var delta big.Int
	for _, r := range res {
		if r.After.Sign() != 0 || !r.Purged || r.Delta.Cmp(new(big.Int).Neg(r.Before)) != 0 {
			t.Fatalf("result %+v", r)
		}
		delta.Add(&delta, r.Delta)
	}
	if delta.String() != "-"+total {
		t.Fatalf("total delta %s, want -%s", delta.String(), total)
	}
	// Every DE counter reads 0; EU holds exactly PL's 7 in count.eu.1 and 0 elsewhere.
	got, err := c.Get(ctx, []string{"count.de.>"}, counters.GetOptions{})
	if err != nil || len(got) != n {
		t.Fatalf("DE after reset: %d counters, %v", len(got), err)
	}
	for _, ctr := range got {
		if ctr.Value.Sign() != 0 {
			t.Fatalf("%s = %s after reset", ctr.Subject, ctr.Value)
		}
	}
	countertest.WaitValue(t, c, "EU", "count.eu.1", "7")
	countertest.WaitValue(t, c, "EU", "count.eu."+strconv.Itoa(n), "0")
	var sum big.Int
	if err := c.ReadLast(ctx, "EU", []string{"count.eu.>"}, func(ctr counters.Counter) error {
		sum.Add(&sum, ctr.Value)
		return nil
	}); err != nil || sum.String() != "7" {
		t.Fatalf("EU sum %s, %v; want 7", sum.String(), err)
	}
}

// TestResetRefusesDoubleTier: a pattern spanning a leaf and the aggregate
// above it would subtract twice.
func TestResetRefusesDoubleTier(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.EUTiers(t, c, 1)
	countertest.Incr(t, c, "count.de.hits", 2)
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "2")
	countertest.WaitValue(t, c, "WORLD", "count.world.hits", "2")
	_, err := reset.PlanReset(ctx, c, []string{"count.>"}, reset.ResetOptions{}, nil)
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "subtracts twice") {
		t.Fatalf("PlanReset count.>: %v", err)
	}
	// WORLD has no subjects: a reset there cannot be published.
	_, err = reset.PlanReset(ctx, c, []string{"count.world.hits"}, reset.ResetOptions{Stream: "WORLD"}, nil)
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "no subjects of its own") {
		t.Fatalf("PlanReset at WORLD: %v", err)
	}
}

// TestResetPurgeDenied: the purge is housekeeping; a stream that denies it
// still gets its counter reset.
func TestResetPurgeDenied(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	_, err := c.JetStream().CreateStream(ctx, jetstream.StreamConfig{
		Name: "NOPURGE", Subjects: []string{"np.>"}, AllowMsgCounter: true, AllowDirect: true, DenyPurge: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	countertest.Incr(t, c, "np.a", 9)
	plan, err := reset.PlanReset(ctx, c, []string{"np.a"}, reset.ResetOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reset.Reset(ctx, c, plan, reset.ResetOptions{})
	if err != nil || res[0].Err != nil || res[0].Purged || res[0].PurgeError == nil || res[0].After.Sign() != 0 {
		t.Fatalf("reset: %v %+v", err, res)
	}
	if v := countertest.ValueOrZero(t, c, "NOPURGE", "np.a"); v.Sign() != 0 {
		t.Fatalf("np.a = %s after reset", v)
	}
}

func TestResetConcurrentWriters(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.EUTiers(t, c, 1)
	countertest.ConcurrentResets(t, c, 6, 15)
}

func TestResetConcurrentWritersR3(t *testing.T) {
	servers := testserver.Cluster(t, 3)
	c := countertest.NewClient(t, servers[0])
	countertest.EUTiers(t, c, 3)
	testserver.WaitInterest(t, servers, "count.de.hits", "count.pl.hits", "count.eu.hits")
	countertest.ConcurrentResets(t, c, 4, 8)
}

// BenchmarkReset10k: the plan and the reset of 10,000 counters at a leaf
// with an aggregate above (the target is seconds, not minutes).
func BenchmarkReset10k(b *testing.B) {
	c := countertest.NewClient(b, testserver.Single(b))
	countertest.EUTiers(b, c, 1)
	const n = 10000
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		prefix := "count.de.b" + strconv.Itoa(i)
		countertest.Seed(b, c.Conn(), prefix, n)
		b.StartTimer()
		plan, err := reset.PlanReset(ctx, c, []string{prefix + ".>"}, reset.ResetOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		res, err := reset.Reset(ctx, c, plan, reset.ResetOptions{})
		if err != nil || len(res) != n {
			b.Fatalf("%d results, %v", len(res), err)
		}
	}
}

// TestResetAcrossDomains: with the hub's domain walked, a leaf reset plans
// and the hub aggregate above it drops to 0.
func TestResetAcrossDomains(t *testing.T) {
	hub, leaf := testserver.HubAndLeaf(t, "hub", "leaf")
	leafClient := countertest.NewClient(t, leaf)
	hubClient := countertest.NewClient(t, hub)
	countertest.MustCreate(t, leafClient, streams.StreamSpec{Name: "L", Subjects: []string{"edge.>"}})
	countertest.MustCreate(t, hubClient, streams.StreamSpec{Name: "AGG", Subjects: []string{"agg.>"},
		Sources: []streams.SourceSpec{{Stream: "L", Domain: "leaf", From: "edge.>", To: "agg.>"}}})
	countertest.Incr(t, leafClient, "edge.hits", 7)
	countertest.WaitValue(t, hubClient, "AGG", "agg.hits", "7")

	plan, err := reset.PlanReset(ctx, leafClient, []string{"edge.hits"}, reset.ResetOptions{}, []string{"hub"})
	if err != nil {
		t.Fatal(err)
	}
	above := plan.Targets[0].Above
	if len(above) != 1 || above[0].Stream != "AGG@hub" || above[0].Subject != "agg.hits" || above[0].Now.String() != "7" || above[0].After.Sign() != 0 {
		t.Fatalf("above the leaf: %+v, want AGG@hub agg.hits 7 -> 0", above)
	}
	res, err := reset.Reset(ctx, leafClient, plan, reset.ResetOptions{})
	if err != nil || res[0].Err != nil || res[0].Delta.String() != "-7" {
		t.Fatalf("reset: %v %+v", err, res)
	}
	countertest.WaitValueOrZero(t, hubClient, "AGG", "agg.hits", new(big.Int))
	countertest.Incr(t, leafClient, "edge.hits", 2)
	countertest.WaitValue(t, hubClient, "AGG", "agg.hits", "2")
}
