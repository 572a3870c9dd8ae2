package counters_test

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/testserver"
)

// euTiers makes leaves DE and PL, an aggregate EU summing both into
// count.eu.> (with those subjects of its own, so it can take a reset), and a
// top tier WORLD summing EU into count.world.>.
func euTiers(t testing.TB, c *counters.Client, replicas int) {
	t.Helper()
	mustCreate(t, c, counters.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}, Replicas: replicas})
	mustCreate(t, c, counters.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}, Replicas: replicas})
	mustCreate(t, c, counters.StreamSpec{Name: "EU", Subjects: []string{"count.eu.>"}, Replicas: replicas,
		Sources: sources(t, "DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>")})
	mustCreate(t, c, counters.StreamSpec{Name: "WORLD", Replicas: replicas,
		Sources: sources(t, "EU:count.eu.>:count.world.>")})
}

func resetIncr(t testing.TB, c *counters.Client, subject string, delta int64) *counters.IncrResult {
	t.Helper()
	r, err := c.Incr(ctx, subject, big.NewInt(delta), "")
	if err != nil {
		t.Fatalf("incr %s %d: %v", subject, delta, err)
	}
	return r
}

// valueOrZero is the counter's value, 0 when it has none (purged away).
func valueOrZero(t testing.TB, c *counters.Client, stream, subject string) *big.Int {
	t.Helper()
	got, err := c.Get(ctx, []string{subject}, counters.GetOptions{Stream: stream})
	switch {
	case errors.Is(err, errkind.ErrNotFound):
		return new(big.Int)
	case err != nil:
		t.Fatalf("get %s in %s: %v", subject, stream, err)
	}
	return got[0].Value
}

// waitValueOrZero polls until the counter (0 when it has no value) is want.
func waitValueOrZero(t testing.TB, c *counters.Client, stream, subject string, want *big.Int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := valueOrZero(t, c, stream, subject)
		if got.Cmp(want) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s is %s, want %s", subject, stream, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func resetAll(t testing.TB, c *counters.Client, opts counters.ResetOptions, patterns ...string) []counters.ResetResult {
	t.Helper()
	plan, err := c.PlanReset(ctx, patterns, opts, nil)
	if err != nil {
		t.Fatalf("plan reset %v: %v", patterns, err)
	}
	res, err := c.Reset(ctx, plan, opts)
	if err != nil {
		t.Fatalf("reset %v: %v", patterns, err)
	}
	for _, r := range res {
		if r.Err != nil || r.PurgeError != nil {
			t.Fatalf("reset %s in %s: err %v, purge error %v", r.Subject, r.Stream, r.Err, r.PurgeError)
		}
	}
	return res
}

// subjectMsgs is how many messages stream holds on subject.
func subjectMsgs(t testing.TB, nc *nats.Conn, stream, subject string) uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func TestResetLeaf(t *testing.T) {
	s := testserver.Single(t)
	c := newClient(t, s)
	euTiers(t, c, 1)
	for range 3 {
		resetIncr(t, c, "count.de.hits", 2)
	}
	resetIncr(t, c, "count.pl.hits", 10)
	waitValue(t, c, "WORLD", "count.world.hits", "16")

	plan, err := c.PlanReset(ctx, []string{"count.de.hits"}, counters.ResetOptions{}, nil)
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

	res, err := c.Reset(ctx, plan, counters.ResetOptions{Reason: "test: double count", By: "me@here"})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Err != nil || r.Before.String() != "6" || r.Delta.String() != "-6" || r.After.Sign() != 0 || r.Rounds != 1 ||
		!r.Purged || r.PurgedBelow != r.Seq || r.Outcome != counters.ResetDone {
		t.Fatalf("result %+v", r)
	}
	// Below R, at every tier: the reset message is kept, and the counter
	// reads 0 (not "no value").
	if n := subjectMsgs(t, c.Conn(), "DE", "count.de.hits"); n != 1 {
		t.Fatalf("DE holds %d messages on count.de.hits, want the reset message only", n)
	}
	if got, err := c.Get(ctx, []string{"count.de.hits"}, counters.GetOptions{}); err != nil || got[0].Value.Sign() != 0 || got[0].Seq != r.Seq {
		t.Fatalf("get after reset: %v %+v, want 0 at seq %d", err, got, r.Seq)
	}
	waitValue(t, c, "EU", "count.eu.hits", "10")
	waitValue(t, c, "WORLD", "count.world.hits", "10")
	// The tier below is untouched, the next increment starts from 0.
	if v := valueOrZero(t, c, "PL", "count.pl.hits"); v.String() != "10" {
		t.Fatalf("PL = %s", v)
	}
	if got := resetIncr(t, c, "count.de.hits", 1); got.Value.String() != "1" {
		t.Fatalf("after reset +1 = %s", got.Value)
	}
	waitValue(t, c, "EU", "count.eu.hits", "11")

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
	c := newClient(t, s)
	euTiers(t, c, 1)
	resetIncr(t, c, "count.de.hits", 2)
	resetIncr(t, c, "count.pl.hits", 4)
	waitValue(t, c, "EU", "count.eu.hits", "6")
	waitValue(t, c, "WORLD", "count.world.hits", "6")

	plan, err := c.PlanReset(ctx, []string{"count.eu.hits"}, counters.ResetOptions{Stream: "EU"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if above := fmt.Sprint(plan.Targets[0].Above); !plan.Targets[0].Aggregate || above != "[{WORLD count.world.hits 1 6 0}]" {
		t.Fatalf("plan %+v above %s", plan.Targets[0], above)
	}
	res, err := c.Reset(ctx, plan, counters.ResetOptions{Stream: "EU"})
	if err != nil || res[0].Err != nil || !res[0].Purged || res[0].PurgedBelow != res[0].Seq || res[0].Delta.String() != "-6" {
		t.Fatalf("reset: %v %+v", err, res)
	}
	if n := subjectMsgs(t, c.Conn(), "EU", "count.eu.hits"); n != 1 {
		t.Fatalf("EU holds %d messages on count.eu.hits, want the reset message only", n)
	}
	waitValue(t, c, "WORLD", "count.world.hits", "0")

	resetIncr(t, c, "count.pl.hits", 1)
	waitValue(t, c, "EU", "count.eu.hits", "1") // a whole-subject purge gives 8
	resetIncr(t, c, "count.eu.hits", 10)        // a direct delta of its own
	resetIncr(t, c, "count.de.hits", 3)
	// EU == Σ sources + its own direct deltas (the reset and the +10).
	de, pl := valueOrZero(t, c, "DE", "count.de.hits"), valueOrZero(t, c, "PL", "count.pl.hits")
	want := new(big.Int).Add(de, pl)
	want.Add(want, big.NewInt(-6+10))
	eu := waitValue(t, c, "EU", "count.eu.hits", want.String())
	if eu.Sources.Total().String() != "10" {
		t.Fatalf("EU sources record %v, want DE 5 + PL 5", eu.Sources)
	}
	waitValue(t, c, "WORLD", "count.world.hits", want.String())
	// The tiers below kept their values.
	if de.String() != "5" || pl.String() != "5" {
		t.Fatalf("DE %s PL %s, want 5 and 5", de, pl)
	}
}

func TestResetWildcardThousands(t *testing.T) {
	s := testserver.Single(t)
	c := newClient(t, s)
	euTiers(t, c, 1)
	const n = 2000
	seed(t, c.Conn(), "count.de", n)
	total := strconv.Itoa(n * (n + 1) / 2)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sum big.Int
		err := c.ReadLast(ctx, "EU", []string{"count.eu.>"}, func(ctr counters.Counter) error {
			sum.Add(&sum, ctr.Value)
			return nil
		})
		if err == nil && sum.String() == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("EU sum %s, want %s (%v)", sum.String(), total, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resetIncr(t, c, "count.pl.1", 7) // another tier's counter: untouched

	var last counters.ResetProgress
	var calls int
	start := time.Now()
	defer func() { t.Logf("reset of %d counters took %s", n, time.Since(start)) }()
	res := resetAll(t, c, counters.ResetOptions{Progress: func(p counters.ResetProgress) { last = p; calls++ }}, "count.de.>")
	if len(res) != n || calls != 2*n || last != (counters.ResetProgress{Reset: n, Purged: n, Total: n}) {
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
	waitValue(t, c, "EU", "count.eu.1", "7")
	waitValue(t, c, "EU", "count.eu."+strconv.Itoa(n), "0")
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
	c := newClient(t, testserver.Single(t))
	euTiers(t, c, 1)
	resetIncr(t, c, "count.de.hits", 2)
	waitValue(t, c, "EU", "count.eu.hits", "2")
	waitValue(t, c, "WORLD", "count.world.hits", "2")
	_, err := c.PlanReset(ctx, []string{"count.>"}, counters.ResetOptions{}, nil)
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "subtracts twice") {
		t.Fatalf("PlanReset count.>: %v", err)
	}
	// WORLD has no subjects: a reset there cannot be published.
	_, err = c.PlanReset(ctx, []string{"count.world.hits"}, counters.ResetOptions{Stream: "WORLD"}, nil)
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "no subjects of its own") {
		t.Fatalf("PlanReset at WORLD: %v", err)
	}
}

// TestResetPurgeDenied: the purge is housekeeping; a stream that denies it
// still gets its counter reset.
func TestResetPurgeDenied(t *testing.T) {
	c := newClient(t, testserver.Single(t))
	_, err := c.JetStream().CreateStream(ctx, jetstream.StreamConfig{
		Name: "NOPURGE", Subjects: []string{"np.>"}, AllowMsgCounter: true, AllowDirect: true, DenyPurge: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	resetIncr(t, c, "np.a", 9)
	plan, err := c.PlanReset(ctx, []string{"np.a"}, counters.ResetOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Reset(ctx, plan, counters.ResetOptions{})
	if err != nil || res[0].Err != nil || res[0].Purged || res[0].PurgeError == nil || res[0].After.Sign() != 0 {
		t.Fatalf("reset: %v %+v", err, res)
	}
	if v := valueOrZero(t, c, "NOPURGE", "np.a"); v.Sign() != 0 {
		t.Fatalf("np.a = %s after reset", v)
	}
}

// concurrentResets runs writers on leaves while resets hit a leaf and the
// aggregate, then checks the books: every acked increment and every reset
// delta is accounted for at every tier. Writers go on until each tier has
// had `resets` resets that took something away, so the overlap does not
// depend on timing.
func concurrentResets(t *testing.T, c *counters.Client, writers, resets int) {
	const (
		de = "count.de.hits"
		pl = "count.pl.hits"
	)
	var (
		mu    sync.Mutex
		acked = map[string]*big.Int{de: new(big.Int), pl: new(big.Int)}
		wg    sync.WaitGroup
		done  = make(chan struct{})
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			subj := de
			if w%2 == 1 {
				subj = pl
			}
			sum := new(big.Int)
			defer func() {
				mu.Lock()
				acked[subj].Add(acked[subj], sum)
				mu.Unlock()
			}()
			for {
				select {
				case <-done:
					return
				default:
				}
				d := big.NewInt(rng.Int64N(9) + 1)
				if _, err := c.Incr(ctx, subj, d, ""); err != nil {
					t.Errorf("incr %s: %v", subj, err)
					return
				}
				sum.Add(sum, d)
			}
		}()
	}

	resetDeltas := map[string]*big.Int{"DE": new(big.Int), "EU": new(big.Int)}
	rounds := 0
	nonzero := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for nonzero["DE"] < resets || nonzero["EU"] < resets {
		if time.Now().After(deadline) || t.Failed() {
			close(done)
			wg.Wait()
			t.Fatalf("resets that overlapped writes: %v, want %d at each tier", nonzero, resets)
		}
		for _, tier := range []struct{ stream, subject string }{{"DE", de}, {"EU", "count.eu.hits"}} {
			opts := counters.ResetOptions{Stream: tier.stream}
			plan, err := c.PlanReset(ctx, []string{tier.subject}, opts, nil)
			if errors.Is(err, errkind.ErrNotFound) {
				continue // nothing there yet (or just reset and purged)
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Reset(ctx, plan, opts)
			if err != nil || res[0].Err != nil {
				t.Fatalf("reset %s: %v %+v", tier.stream, err, res)
			}
			resetDeltas[tier.stream].Add(resetDeltas[tier.stream], res[0].Delta)
			rounds += res[0].Rounds
			if res[0].Delta.Sign() != 0 {
				nonzero[tier.stream]++
			}
		}
	}
	close(done)
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("reset deltas %v, %d publishes, non-zero resets %v", resetDeltas, rounds, nonzero)

	// leaf == acked increments + Σ its reset deltas (exact, no waiting).
	wantDE := new(big.Int).Add(acked[de], resetDeltas["DE"])
	if got := valueOrZero(t, c, "DE", de); got.Cmp(wantDE) != 0 {
		t.Fatalf("DE = %s, want acked %s + resets %s", got, acked[de], resetDeltas["DE"])
	}
	if got := valueOrZero(t, c, "PL", pl); got.Cmp(acked[pl]) != 0 {
		t.Fatalf("PL = %s, want acked %s", got, acked[pl])
	}
	// aggregate == Σ leaf values + Σ its own reset deltas; top == aggregate.
	wantEU := new(big.Int).Add(wantDE, acked[pl])
	wantEU.Add(wantEU, resetDeltas["EU"])
	waitValueOrZero(t, c, "EU", "count.eu.hits", wantEU)
	waitValueOrZero(t, c, "WORLD", "count.world.hits", wantEU)
}

func TestResetConcurrentWriters(t *testing.T) {
	c := newClient(t, testserver.Single(t))
	euTiers(t, c, 1)
	concurrentResets(t, c, 6, 15)
}

func TestResetConcurrentWritersR3(t *testing.T) {
	servers := testserver.Cluster(t, 3)
	c := newClient(t, servers[0])
	euTiers(t, c, 3)
	testserver.WaitInterest(t, servers, "count.de.hits", "count.pl.hits", "count.eu.hits")
	concurrentResets(t, c, 4, 8)
}

// BenchmarkReset10k: the plan and the reset of 10,000 counters at a leaf
// with an aggregate above (the target is seconds, not minutes).
func BenchmarkReset10k(b *testing.B) {
	c := newClient(b, testserver.Single(b))
	euTiers(b, c, 1)
	const n = 10000
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		prefix := "count.de.b" + strconv.Itoa(i)
		seed(b, c.Conn(), prefix, n)
		b.StartTimer()
		plan, err := c.PlanReset(ctx, []string{prefix + ".>"}, counters.ResetOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		res, err := c.Reset(ctx, plan, counters.ResetOptions{})
		if err != nil || len(res) != n {
			b.Fatalf("%d results, %v", len(res), err)
		}
	}
}

// TestResetAcrossDomains: with the hub's domain walked, a leaf reset plans
// and the hub aggregate above it drops to 0.
func TestResetAcrossDomains(t *testing.T) {
	hub, leaf := testserver.HubAndLeaf(t, "hub", "leaf")
	leafClient := newClient(t, leaf)
	hubClient := newClient(t, hub)
	mustCreate(t, leafClient, counters.StreamSpec{Name: "L", Subjects: []string{"edge.>"}})
	mustCreate(t, hubClient, counters.StreamSpec{Name: "AGG", Subjects: []string{"agg.>"},
		Sources: []counters.SourceSpec{{Stream: "L", Domain: "leaf", From: "edge.>", To: "agg.>"}}})
	resetIncr(t, leafClient, "edge.hits", 7)
	waitValue(t, hubClient, "AGG", "agg.hits", "7")

	plan, err := leafClient.PlanReset(ctx, []string{"edge.hits"}, counters.ResetOptions{}, []string{"hub"})
	if err != nil {
		t.Fatal(err)
	}
	above := plan.Targets[0].Above
	if len(above) != 1 || above[0].Stream != "AGG@hub" || above[0].Subject != "agg.hits" || above[0].Now.String() != "7" || above[0].After.Sign() != 0 {
		t.Fatalf("above the leaf: %+v, want AGG@hub agg.hits 7 -> 0", above)
	}
	res, err := leafClient.Reset(ctx, plan, counters.ResetOptions{})
	if err != nil || res[0].Err != nil || res[0].Delta.String() != "-7" {
		t.Fatalf("reset: %v %+v", err, res)
	}
	waitValueOrZero(t, hubClient, "AGG", "agg.hits", new(big.Int))
	resetIncr(t, leafClient, "edge.hits", 2)
	waitValue(t, hubClient, "AGG", "agg.hits", "2")
}
