package streams_test

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
	"github.com/jetcounter/counter/internal/topology"
	"github.com/nats-io/nats.go/jetstream"
)

func euSpec(sources ...string) streams.StreamSpec {
	spec := streams.StreamSpec{Name: "EU", Subjects: []string{"count.eu.>"}}
	for _, s := range sources {
		src, err := streams.ParseSourceSpec(s)
		if err != nil {
			panic(err)
		}
		spec.Sources = append(spec.Sources, src)
	}
	return spec
}

// planAndApply plans the update of spec, checks it is not unchanged and
// needs no --force, and applies it.
func planAndApply(t *testing.T, c *counters.Client, spec streams.StreamSpec) *streams.UpdatePlan {
	t.Helper()
	plan, err := streams.PlanUpdate(ctx, c, spec, streams.CreateOptions{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if !plan.Exists || plan.Unchanged() || len(plan.Refusals) > 0 {
		t.Fatalf("plan: exists %v, unchanged %v, refusals %v", plan.Exists, plan.Unchanged(), plan.Refusals)
	}
	if err := streams.ApplyUpdate(ctx, c, plan); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return plan
}

// effects renders a plan's value effects as "subject now+delta=after
// [stream subject now->after ...]" lines.
func effects(p *streams.UpdatePlan) []string {
	var out []string
	for _, ce := range p.Counters {
		s := fmt.Sprintf("%s %v%s=%s", ce.Subject, ce.Now, counters.Signed(ce.Delta), ce.After)
		for _, t := range ce.Above {
			s += fmt.Sprintf(" [%s %s %v->%v]", t.Stream, t.Subject, t.Now, t.After)
		}
		out = append(out, s)
	}
	return out
}

func findChange(p *streams.UpdatePlan, field, op string) *streams.ConfigChange {
	for i := range p.Changes {
		if p.Changes[i].Field == field && p.Changes[i].Op == op {
			return &p.Changes[i]
		}
	}
	return nil
}

// TestUpdateAddRemoveAddBack evolves a live EU aggregate (with GLOBAL above
// it): adding FR raises every tier by exactly FR's total; removing it
// changes nothing and later FR increments are ignored; adding it back
// brings only the change since (ADR-49 "Adding Sources").
func TestUpdateAddRemoveAddBack(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	for _, r := range []string{"de", "pl", "fr"} {
		countertest.MustCreate(t, c, streams.StreamSpec{Name: strings.ToUpper(r), Subjects: []string{"count." + r + ".>"}})
	}
	two := euSpec("DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>")
	three := euSpec("DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>", "FR:count.fr.>:count.eu.>")
	countertest.MustCreate(t, c, two)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "GLOBAL", Sources: []streams.SourceSpec{{Stream: "EU", From: "count.eu.>", To: "count.all.>"}}})
	// A mirror above, made elsewhere without direct reads: still a tier.
	countertest.RawStream(t, c.JetStream(), jetstream.StreamConfig{Name: "GCOPY", Mirror: &jetstream.StreamSource{Name: "GLOBAL"}})
	countertest.Incr(t, c, "count.de.hits", 5)
	countertest.Incr(t, c, "count.pl.hits", 7)
	countertest.Incr(t, c, "count.fr.hits", 11)
	countertest.Incr(t, c, "count.fr.misses", 2)
	countertest.WaitValue(t, c, "GLOBAL", "count.all.hits", "12")
	countertest.WaitValue(t, c, "GCOPY", "count.all.hits", "12")

	// Add FR.
	plan := planAndApply(t, c, three)
	add := findChange(plan, "source", "add")
	if add == nil || add.Delta.String() != "13" || add.Counted != 2 {
		t.Fatalf("add FR: %+v", plan.Changes)
	}
	want := []string{
		"count.eu.hits 12+11=23 [GLOBAL count.all.hits 12->23] [GCOPY count.all.hits 12->23]",
		"count.eu.misses <nil>+2=2 [GLOBAL count.all.misses <nil>->2] [GCOPY count.all.misses <nil>->2]",
	}
	if got := effects(plan); !slices.Equal(got, want) {
		t.Fatalf("effects of adding FR:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "23")
	countertest.WaitValue(t, c, "EU", "count.eu.misses", "2")
	countertest.WaitValue(t, c, "GLOBAL", "count.all.hits", "23")

	// The same command again converges: nothing to do.
	if p, err := streams.PlanUpdate(ctx, c, three, streams.CreateOptions{}); err != nil || !p.Unchanged() {
		t.Fatalf("second plan: unchanged %v, err %v, changes %+v", p != nil && p.Unchanged(), err, p)
	}

	// Remove FR: values stay, and what EU keeps from FR is reported.
	plan = planAndApply(t, c, two)
	rm := findChange(plan, "source", "remove")
	if rm == nil || rm.Kept.String() != "13" || rm.Counted != 2 || plan.ValuesChange() {
		t.Fatalf("remove FR: %+v, counters %v", plan.Changes, effects(plan))
	}
	countertest.Incr(t, c, "count.fr.hits", 100)
	countertest.Incr(t, c, "count.de.hits", 1)
	countertest.WaitValue(t, c, "GLOBAL", "count.all.hits", "24") // DE's +1 only
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "24")
	countertest.WaitValue(t, c, "GCOPY", "count.all.hits", "24")

	// Add FR back: only the 100 since.
	plan = planAndApply(t, c, three)
	want = []string{"count.eu.hits 24+100=124 [GLOBAL count.all.hits 24->124] [GCOPY count.all.hits 24->124]"}
	if got := effects(plan); !slices.Equal(got, want) {
		t.Fatalf("effects of adding FR back:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	countertest.WaitValue(t, c, "GLOBAL", "count.all.hits", "124")
	countertest.WaitValue(t, c, "EU", "count.eu.misses", "2")
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "124")

	// Subjects, replicas-like settings and description move no value.
	quiet := three
	quiet.Subjects = []string{"count.eu.>", "count.eu2.>"}
	quiet.Description = "EU total"
	quiet.History = 5
	plan = planAndApply(t, c, quiet)
	if plan.ValuesChange() || len(plan.Changes) != 3 {
		t.Fatalf("quiet update: %+v %v", plan.Changes, effects(plan))
	}
}

// TestUpdateRefusals: what no update may do (exit 2 even with --force), and
// what needs --force, with nothing written.
func TestUpdateRefusals(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.RawStream(t, c.JetStream(), jetstream.StreamConfig{Name: "LOGS", Subjects: []string{"logs.>"}})
	countertest.MustCreate(t, c, euSpec("DE:count.de.>:count.eu.>"))
	countertest.Incr(t, c, "count.de.hits", 3)
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "3")

	for name, spec := range map[string]streams.StreamSpec{
		"domain move": euSpec("DE@elsewhere:count.de.>:count.eu.>"),
		"storage":     func() streams.StreamSpec { s := euSpec("DE:count.de.>:count.eu.>"); s.Storage = "memory"; return s }(),
		"to a mirror": {Name: "EU", Mirror: &streams.SourceSpec{Stream: "DE"}},
	} {
		_, err := streams.PlanUpdate(ctx, c, spec, streams.CreateOptions{Force: true})
		if !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("%s: %v, want errkind.ErrInvalid", name, err)
		}
	}
	// The domain move says how to do it safely.
	_, err := streams.PlanUpdate(ctx, c, euSpec("DE@elsewhere:count.de.>:count.eu.>"), streams.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "new source key") || !strings.Contains(err.Error(), "create a new aggregate") {
		t.Fatalf("domain move: %v", err)
	}

	// A transform change needs --force and shows the double count.
	plan, err := streams.PlanUpdate(ctx, c, euSpec("DE:count.de.>:count.eu2.>"), streams.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Refusals) != 1 || !strings.Contains(plan.Refusals[0], "transform") {
		t.Fatalf("transform change refusals: %v", plan.Refusals)
	}
	if got := effects(plan); !slices.Equal(got, []string{"count.eu2.hits <nil>+3=3"}) {
		t.Fatalf("transform change effects: %v", got)
	}
	// A source that is not a counter stream is refused on the result.
	plan, err = streams.PlanUpdate(ctx, c, euSpec("DE:count.de.>:count.eu.>", "LOGS"), streams.CreateOptions{})
	if err == nil && (len(plan.Refusals) == 0 || !strings.Contains(strings.Join(plan.Refusals, " "), "not a counter stream")) {
		t.Fatalf("non-counter source: %v", plan.Refusals)
	}
	// Nothing was written.
	info, err := c.StreamInfo(ctx, "EU")
	if err != nil || len(info.Config.Sources) != 1 || info.Config.Sources[0].SubjectTransforms[0].Destination != "count.eu.>" {
		t.Fatalf("EU changed: %+v %v", info.Config.Sources, err)
	}
	// Forced, the server does what the plan showed: the new subject gets
	// DE's whole value and the old one keeps its total.
	plan, err = streams.PlanUpdate(ctx, c, euSpec("DE:count.de.>:count.eu2.>"), streams.CreateOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := streams.ApplyUpdate(ctx, c, plan); err != nil {
		t.Fatal(err)
	}
	countertest.WaitValue(t, c, "EU", "count.eu2.hits", "3")
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "3")
	// Stale: applying the same plan again finds the stream changed.
	if err := streams.ApplyUpdate(ctx, c, plan); !errors.Is(err, errkind.ErrConflict) {
		t.Fatalf("stale plan: %v", err)
	}
	// Create without --update still refuses a differing stream, pointing at --update.
	_, err = streams.Create(ctx, c, euSpec("DE:count.de.>:count.eu.>", "PL"), streams.CreateOptions{Force: true})
	if !errors.Is(err, errkind.ErrConflict) || !strings.Contains(err.Error(), "--update") {
		t.Fatalf("create over a differing stream: %v", err)
	}
}

// TestPlanConfigUpdateSumsAndSettles: the pure planner sums several
// sources landing on one subject and moves each tier above by the sum.
func TestPlanConfigUpdateSumsAndSettles(t *testing.T) {
	have := streams.StreamSpec{Name: "EU", Subjects: []string{"count.eu.>"}}
	cfgHave, _ := have.Config()
	want := euSpec("DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>")
	cfgWant, _ := want.Config()
	v := func(s string) *big.Int { n, _ := new(big.Int).SetString(s, 10); return n }
	g := topology.New([]topology.Node{
		{ID: "EU", Name: "EU", Counter: true, Config: &cfgHave},
		{ID: "GLOBAL", Name: "GLOBAL", Counter: true, Config: &cfgHave, Sources: []topology.Edge{{Upstream: "EU", Transforms: []topology.Transform{{From: "count.eu.>", To: "count.all.>"}}}}},
	})
	plan := streams.PlanConfigUpdate(streams.UpdateInputs{
		Have: cfgHave, Want: cfgWant, Graph: g, StreamID: "EU",
		Aggregate: map[string]counters.Counter{
			// EU saw DE at 4 before (a source removed and now added back).
			"count.eu.hits": {Subject: "count.eu.hits", Value: v("10"), Sources: counters.Sources{"DE": {"count.de.hits": v("4")}}},
		},
		Upstream: map[string][]counters.Counter{
			"DE": {{Subject: "count.de.hits", Value: v("6")}, {Subject: "other.x", Value: v("9")}},
			"PL": {{Subject: "count.pl.hits", Value: v("100000000000000000000000000000000000000")}},
		},
	})
	plan.SettleAbove(map[streams.TierKey]*big.Int{{Stream: "GLOBAL", Subject: "count.all.hits"}: v("50")})
	want2 := []string{"count.eu.hits 10+100000000000000000000000000000000000002=100000000000000000000000000000000000012 [GLOBAL count.all.hits 50->100000000000000000000000000000000000052]"}
	if got := effects(plan); !slices.Equal(got, want2) {
		t.Fatalf("effects:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want2, "\n"))
	}
	if len(plan.Changes) != 2 || plan.Changes[0].Delta.String() != "2" || plan.Changes[0].Counted != 1 {
		t.Fatalf("changes: %+v", plan.Changes)
	}
}

// TestMirrorThenSourceAcrossDomains builds ADR-49's mirror then source with
// the tool: DE in the leaf domain, its mirror in the hub, and a hub
// aggregate summing the mirror. The mirror reads like a counter stream,
// topology --check finds nothing, and a reset of DE at the leaf plans and
// drops the mirror and the aggregate above it.
func TestMirrorThenSourceAcrossDomains(t *testing.T) {
	hub, leaf := testserver.HubAndLeaf(t, "hub", "leaf")
	leafClient := countertest.NewClient(t, leaf)
	hubClient := countertest.NewClient(t, hub)
	countertest.MustCreate(t, leafClient, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.MustCreate(t, hubClient, streams.StreamSpec{Name: "DE_COPY", Mirror: &streams.SourceSpec{Stream: "DE", Domain: "leaf"}})
	countertest.MustCreate(t, hubClient, streams.StreamSpec{Name: "EU", Subjects: []string{"count.eu.>"},
		Sources: []streams.SourceSpec{{Stream: "DE_COPY", From: "count.de.>", To: "count.eu.>"}}})
	countertest.Incr(t, leafClient, "count.de.hits", 5)
	countertest.WaitValue(t, hubClient, "DE_COPY", "count.de.hits", "5") // get --stream on a mirror
	countertest.WaitValue(t, hubClient, "EU", "count.eu.hits", "5")

	g, err := hubClient.Topology(ctx, []string{"leaf"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Check() {
		if p.Severity == topology.SeverityError || p.Code == topology.CodeRawCopy {
			t.Errorf("mirror then source flagged: %s %s", p.Code, p.Message)
		}
	}
	// A mirror of a plain stream is no counter tier.
	countertest.RawStream(t, leafClient.JetStream(), jetstream.StreamConfig{Name: "LOGS", Subjects: []string{"logs.>"}})
	if _, err := streams.Create(ctx, hubClient, streams.StreamSpec{Name: "LOGS_COPY", Mirror: &streams.SourceSpec{Stream: "LOGS", Domain: "leaf"}}, streams.CreateOptions{}); !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("mirror of a plain stream: %v", err)
	}

	plan, err := reset.PlanReset(ctx, leafClient, []string{"count.de.hits"}, reset.ResetOptions{}, []string{"hub"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(plan.Targets[0].Above); got != "[{DE_COPY@hub count.de.hits 1 5 0} {EU@hub count.eu.hits 2 5 0}]" {
		t.Fatalf("reset plan above DE: %s", got)
	}
	res, err := reset.Reset(ctx, leafClient, plan, reset.ResetOptions{})
	if err != nil || res[0].Err != nil {
		t.Fatalf("reset: %v %+v", err, res)
	}
	// The leaf keeps its reset message (purged below it), so the mirror
	// copies it whenever it catches up (a mirror keeps sequence numbers).
	if !res[0].Purged || res[0].PurgedBelow != res[0].Seq {
		t.Fatalf("purge below the mirror: %+v", res[0])
	}
	copied := countertest.WaitValue(t, hubClient, "DE_COPY", "count.de.hits", "0")
	if copied.Seq != res[0].Seq {
		t.Fatalf("the mirror holds the reset message at seq %d, the leaf wrote it at %d", copied.Seq, res[0].Seq)
	}
	countertest.WaitValueOrZero(t, hubClient, "EU", "count.eu.hits", new(big.Int))
	countertest.Incr(t, leafClient, "count.de.hits", 2)
	countertest.WaitValue(t, hubClient, "EU", "count.eu.hits", "2")
	countertest.WaitValue(t, hubClient, "DE_COPY", "count.de.hits", "2")

	// The leaf goes offline: the replica is still read, and the aggregate
	// sourcing it is not taken for one sourcing a plain stream.
	leaf.Shutdown()
	leaf.WaitForShutdown()
	countertest.WaitValue(t, hubClient, "DE_COPY", "count.de.hits", "2")
	g, err = hubClient.Topology(ctx, []string{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Check() {
		if p.Code == topology.CodeNonCounterSource {
			t.Errorf("with the leaf offline: %s", p.Message)
		}
	}
	_, err = streams.Create(ctx, hubClient, streams.StreamSpec{Name: "EU3", Sources: []streams.SourceSpec{{Stream: "DE_COPY"}}}, streams.CreateOptions{})
	if !errors.Is(err, errkind.ErrUnavailable) || !strings.Contains(err.Error(), "could not check that source stream DE_COPY holds counter values") {
		t.Fatalf("create sourcing a mirror whose origin is offline: %v", err)
	}
}

func mustConfig(t *testing.T, spec streams.StreamSpec) jetstream.StreamConfig {
	t.Helper()
	cfg, err := spec.Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestUpdateRefusalRules: the changes no update may make, and those it may.
func TestUpdateRefusalRules(t *testing.T) {
	have := mustConfig(t, euSpec("DE:count.de.>:count.eu.>", "PL@leaf"))
	for _, c := range []struct {
		name string
		want streams.StreamSpec
		bad  string // "" = allowed
	}{
		{"same", euSpec("DE:count.de.>:count.eu.>", "PL@leaf"), ""},
		{"add a second PL from another domain", euSpec("DE:count.de.>:count.eu.>", "PL@leaf", "PL@edge"), ""},
		{"remove PL", euSpec("DE:count.de.>:count.eu.>"), ""},
		{"PL moves to the local domain", euSpec("DE:count.de.>:count.eu.>", "PL"), "would move from API prefix $JS.leaf.API to the local domain"},
		{"DE moves to a domain", euSpec("DE@hub:count.de.>:count.eu.>", "PL@leaf"), "would move from the local domain to API prefix $JS.hub.API"},
		{"transform change is for --force, not here", euSpec("DE:count.de.>:count.x.>", "PL@leaf"), ""},
		{"to a mirror", streams.StreamSpec{Name: "EU", Mirror: &streams.SourceSpec{Stream: "DE"}}, "is not a mirror"},
	} {
		err := streams.UpdateRefusal(have, mustConfig(t, c.want))
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.bad != "" && (!errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("%s: %v, want errkind.ErrInvalid with %q", c.name, err, c.bad)
		}
	}
	mirror := mustConfig(t, streams.StreamSpec{Name: "M", Mirror: &streams.SourceSpec{Stream: "DE", Domain: "leaf"}})
	if err := streams.UpdateRefusal(mirror, mustConfig(t, streams.StreamSpec{Name: "M", Mirror: &streams.SourceSpec{Stream: "DE"}})); err == nil || !strings.Contains(err.Error(), "origin cannot change") {
		t.Errorf("mirror origin change: %v", err)
	}
	if err := streams.UpdateRefusal(mirror, mustConfig(t, streams.StreamSpec{Name: "M", Mirror: &streams.SourceSpec{Stream: "DE", Domain: "leaf"}, Replicas: 3})); err != nil {
		t.Errorf("mirror replicas: %v", err)
	}
}

// TestPlanConfigUpdateFilterVersusTransform: widening a filter only brings
// the newly carried counters and needs no --force; a rename does.
func TestPlanConfigUpdateFilterVersusTransform(t *testing.T) {
	v := big.NewInt
	agg := map[string]counters.Counter{
		"count.de.hits": {Subject: "count.de.hits", Value: v(5), Sources: counters.Sources{"DE": {"count.de.hits": v(5)}}},
	}
	up := map[string][]counters.Counter{"DE": {{Subject: "count.de.hits", Value: v(5)}, {Subject: "count.de.errors", Value: v(2)}}}
	have := mustConfig(t, euSpec("DE:count.de.hits"))
	wide := streams.PlanConfigUpdate(streams.UpdateInputs{Have: have, Want: mustConfig(t, euSpec("DE:count.de.>")), Aggregate: agg, Upstream: up})
	if len(wide.Refusals) != 0 || !slices.Equal(effects(wide), []string{"count.de.errors <nil>+2=2"}) {
		t.Fatalf("wider filter: refusals %v, effects %v", wide.Refusals, effects(wide))
	}
	renamed := streams.PlanConfigUpdate(streams.UpdateInputs{Have: have, Want: mustConfig(t, euSpec("DE:count.de.>:count.eu.>")), Aggregate: agg, Upstream: up})
	if len(renamed.Refusals) != 1 || !slices.Equal(effects(renamed), []string{"count.eu.errors <nil>+2=2", "count.eu.hits <nil>+5=5"}) {
		t.Fatalf("renamed: refusals %v, effects %v", renamed.Refusals, effects(renamed))
	}
	// An unread source: its effect is unknown, which needs a confirmation.
	unknown := streams.PlanConfigUpdate(streams.UpdateInputs{Have: have, Want: mustConfig(t, euSpec("DE:count.de.hits", "GONE")), Aggregate: agg,
		Upstream: up, UpstreamErr: map[string]string{"GONE": "stream not found"}})
	if !unknown.ValuesChange() || len(unknown.Unknown) != 1 || !strings.Contains(unknown.Unknown[0], "stream not found") {
		t.Fatalf("unknown effect: %+v", unknown.Unknown)
	}
}

// TestUpdateRemovedSourceKeptAsApplied: a source is removed while its
// region keeps counting. Increments that reach the aggregate between the
// plan and the update are kept too: once applied, the removal reports what
// was kept (and that it is not the planned figure), not the plan's.
func TestUpdateRemovedSourceKeptAsApplied(t *testing.T) {
	t.Parallel()
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}})
	countertest.MustCreate(t, c, euSpec("DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>"))
	countertest.Incr(t, c, "count.de.hits", 5)
	countertest.Incr(t, c, "count.pl.hits", 10)
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "15")

	plan, err := streams.PlanUpdate(ctx, c, euSpec("PL:count.pl.>:count.eu.>"), streams.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// DE goes on counting after the plan was read, and EU receives it.
	countertest.Incr(t, c, "count.de.hits", 3)
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "18")
	if err := streams.ApplyUpdate(ctx, c, plan); err != nil {
		t.Fatal(err)
	}
	if err := streams.RecountKept(ctx, c, plan); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(plan.Changes, func(ch streams.ConfigChange) bool { return ch.Field == "source" && ch.Op == "remove" })
	if i < 0 {
		t.Fatalf("no removal in %+v", plan.Changes)
	}
	ch := plan.Changes[i]
	if ch.Kept == nil || ch.Kept.String() != "8" || ch.Counted != 1 ||
		!strings.Contains(ch.Effect, "EU keeps the 8 it counted from DE in 1 counter, not the 5 planned") {
		t.Fatalf("removal after the update: kept %v over %d, effect %q: want the 8 EU holds from DE", ch.Kept, ch.Counted, ch.Effect)
	}
}
