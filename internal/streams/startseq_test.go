package streams_test

import (
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestUpdateAddSourceAfterAggregateReset: adding a region to an aggregate
// that was ever reset raises it by exactly the region's total. nats-server
// 2.15.2 starts a source with no recorded position at the aggregate's last
// message time whenever the aggregate's first sequence is above 1 (a reset
// purges below its message), silently skipping the upstream's older
// messages, unless the source sets opt_start_seq.
//
// EU is first made by hand without opt_start_seq (as an older version or an
// operator would have): create with the same sources converges to unchanged,
// and adding PL keeps DE's source as it is.
func TestUpdateAddSourceAfterAggregateReset(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	js := c.JetStream()
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}})
	countertest.Incr(t, c, "count.de.a", 2)
	countertest.Incr(t, c, "count.pl.a", 5)
	countertest.Incr(t, c, "count.pl.b", 3)

	oneSpec := euSpec("DE:count.de.>:count.eu.>")
	old, err := oneSpec.Config()
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range old.Sources {
		src.OptStartSeq = 0
	}
	countertest.RawStream(t, js, old)
	countertest.WaitValue(t, c, "EU", "count.eu.a", "2")
	if res, err := streams.Create(ctx, c, oneSpec, streams.CreateOptions{}); err != nil || res.Action != "unchanged" {
		t.Fatalf("create over a source without opt_start_seq: %+v, %v", res, err)
	}
	if p, err := streams.PlanUpdate(ctx, c, oneSpec, streams.CreateOptions{}); err != nil || !p.Unchanged() {
		t.Fatalf("update over a source without opt_start_seq: %+v, %v", p, err)
	}

	plan, err := reset.PlanReset(ctx, c, []string{"count.eu.a"}, reset.ResetOptions{Stream: "EU"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reset.Reset(ctx, c, plan, reset.ResetOptions{Stream: "EU"})
	if err != nil || len(res) != 1 || res[0].Err != nil || !res[0].Purged {
		t.Fatalf("reset: %v %+v", err, res)
	}
	st, err := js.Stream(ctx, "EU")
	if err != nil {
		t.Fatal(err)
	}
	if st.CachedInfo().State.FirstSeq <= 1 {
		t.Fatalf("EU's first sequence %d after the reset: the case needs it above 1", st.CachedInfo().State.FirstSeq)
	}

	two := euSpec("DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>")
	up := planAndApply(t, c, two)
	if add := findChange(up, "source", "add"); add == nil || add.Delta == nil || add.Delta.String() != "8" || add.Counted != 2 {
		t.Fatalf("add PL: %+v", up.Changes)
	}
	countertest.WaitValue(t, c, "EU", "count.eu.b", "3")
	countertest.WaitValue(t, c, "EU", "count.eu.a", "5") // 0 after the reset, + PL's 5

	st, err = js.Stream(ctx, "EU")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range st.CachedInfo().Config.Sources {
		want := uint64(1)
		if src.Name == "DE" {
			want = 0 // unchanged: kept verbatim
		}
		if src.OptStartSeq != want {
			t.Fatalf("source %s: opt_start_seq %d, want %d", src.Name, src.OptStartSeq, want)
		}
	}
	if res, err := streams.Create(ctx, c, two, streams.CreateOptions{}); err != nil || res.Action != "unchanged" {
		t.Fatalf("create again: %+v, %v", res, err)
	}
	if p, err := streams.PlanUpdate(ctx, c, two, streams.CreateOptions{}); err != nil || !p.Unchanged() {
		t.Fatalf("update again: %+v, %v", p, err)
	}
	// Later increments still flow once each.
	countertest.Incr(t, c, "count.de.a", 1)
	countertest.Incr(t, c, "count.pl.a", 1)
	countertest.WaitValue(t, c, "EU", "count.eu.a", "7")
}

// TestCreateAggregateOverValuesIsExact: a new aggregate over upstreams that
// already hold values (several messages per subject, and history 1 at the
// aggregate, so its first sequence moves above 1 while sources start) sums
// every upstream exactly, with every source starting at sequence 1.
func TestCreateAggregateOverValuesIsExact(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	for _, r := range []string{"DE", "PL", "FR"} {
		countertest.MustCreate(t, c, streams.StreamSpec{Name: r, Subjects: []string{"count." + strings.ToLower(r) + ".>"}})
	}
	for i := 0; i < 20; i++ {
		countertest.Incr(t, c, "count.de.a", 1)
		countertest.Incr(t, c, "count.pl.a", 2)
		countertest.Incr(t, c, "count.fr.a", 3)
	}
	spec := euSpec("DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>", "FR:count.fr.>:count.eu.>")
	spec.History = 1
	countertest.MustCreate(t, c, spec)
	countertest.WaitValue(t, c, "EU", "count.eu.a", "120")
	st, err := c.JetStream().Stream(ctx, "EU")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range st.CachedInfo().Config.Sources {
		if src.OptStartSeq != 1 {
			t.Fatalf("source %s: opt_start_seq %d, want 1", src.Name, src.OptStartSeq)
		}
	}
	if res, err := streams.Create(ctx, c, spec, streams.CreateOptions{}); err != nil || res.Action != "unchanged" {
		t.Fatalf("create again: %+v, %v", res, err)
	}
}

// TestExternalSourceAddedAfterResetStartsAtOne: opt_start_seq holds for a
// source in another JetStream domain too (the source consumer is created
// there with deliver_policy by_start_sequence).
func TestExternalSourceAddedAfterResetStartsAtOne(t *testing.T) {
	hub, leaf := testserver.HubAndLeaf(t, "hub", "leaf")
	leafClient := countertest.NewClient(t, leaf)
	hubClient := countertest.NewClient(t, hub)
	countertest.MustCreate(t, leafClient, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.MustCreate(t, leafClient, streams.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}})
	countertest.Incr(t, leafClient, "count.de.a", 2)
	countertest.Incr(t, leafClient, "count.pl.a", 5)
	de := streams.SourceSpec{Stream: "DE", Domain: "leaf", From: "count.de.>", To: "count.eu.>"}
	pl := streams.SourceSpec{Stream: "PL", Domain: "leaf", From: "count.pl.>", To: "count.eu.>"}
	countertest.MustCreate(t, hubClient, streams.StreamSpec{Name: "EU", Subjects: []string{"count.eu.>"}, Sources: []streams.SourceSpec{de}})
	countertest.WaitValue(t, hubClient, "EU", "count.eu.a", "2")

	plan, err := reset.PlanReset(ctx, hubClient, []string{"count.eu.a"}, reset.ResetOptions{Stream: "EU"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reset.Reset(ctx, hubClient, plan, reset.ResetOptions{Stream: "EU"})
	if err != nil || len(res) != 1 || res[0].Err != nil || !res[0].Purged {
		t.Fatalf("reset: %v %+v", err, res)
	}

	opts := streams.CreateOptions{Domains: []string{"leaf"}}
	two := streams.StreamSpec{Name: "EU", Subjects: []string{"count.eu.>"}, Sources: []streams.SourceSpec{de, pl}}
	up, err := streams.PlanUpdate(ctx, hubClient, two, opts)
	if err != nil || up.Unchanged() || len(up.Refusals) > 0 {
		t.Fatalf("plan: %+v, %v", up, err)
	}
	if add := findChange(up, "source", "add"); add == nil || add.Delta == nil || add.Delta.String() != "5" {
		t.Fatalf("add PL@leaf: %+v", up.Changes)
	}
	if err := streams.ApplyUpdate(ctx, hubClient, up); err != nil {
		t.Fatal(err)
	}
	countertest.WaitValue(t, hubClient, "EU", "count.eu.a", "5")
	if p, err := streams.PlanUpdate(ctx, hubClient, two, opts); err != nil || !p.Unchanged() {
		t.Fatalf("update again: %+v, %v", p, err)
	}
}
