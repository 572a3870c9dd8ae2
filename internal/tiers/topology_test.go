package tiers_test

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
	"github.com/jetcounter/counter/internal/tiers"
	"github.com/jetcounter/counter/internal/topology"
)

// regionsDeployment: PL, DE -> EU -> GLOBAL <- US, every tier renaming
// through a transform; GLOBAL also takes direct increments.
func regionsDeployment(t *testing.T, c *counters.Client) {
	t.Helper()
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "US", Subjects: []string{"count.us.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "EU", Sources: countertest.Sources(t, "PL:count.pl.>:count.eu.>", "DE:count.de.>:count.eu.>")})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "GLOBAL", Subjects: []string{"count.all.>"}, Sources: countertest.Sources(t, "EU:count.eu.>:count.all.>", "US:count.us.>:count.all.>")})
	for subj, v := range map[string]int64{"count.pl.hits": 10, "count.de.hits": 5, "count.us.hits": 1, "count.all.hits": 100} {
		if _, err := c.Incr(ctx, subj, big.NewInt(v), ""); err != nil {
			t.Fatal(err)
		}
	}
	countertest.WaitValue(t, c, "GLOBAL", "count.all.hits", "116")
}

func TestTopologyRegions(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	regionsDeployment(t, c)

	g, err := c.Topology(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range g.Nodes() {
		ids = append(ids, n.ID)
	}
	if want := []string{"DE", "EU", "GLOBAL", "PL", "US"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("nodes %v, want %v", ids, want)
	}
	eu := g.Node("EU")
	if !eu.Counter || !eu.AllowDirect || eu.Config == nil || eu.State == nil || eu.State.NumSubjects != 1 {
		t.Fatalf("EU node: %+v", eu)
	}
	wantEdges := []topology.Transform{{From: "count.pl.>", To: "count.eu.>"}}
	if len(eu.Sources) != 2 || eu.Sources[0].Upstream != "PL" || !reflect.DeepEqual(eu.Sources[0].Transforms, wantEdges) || eu.Sources[0].Error != "" {
		t.Fatalf("EU sources: %+v", eu.Sources)
	}
	if r := g.Roots(); len(r) != 1 || r[0].ID != "GLOBAL" {
		t.Fatalf("roots %v, want GLOBAL", r)
	}
	if p := g.Check(); len(p) != 0 {
		t.Fatalf("healthy deployment has problems: %+v", p)
	}
	if up := g.Up("PL", "count.pl.hits"); len(up) != 2 || up[1] != (topology.Hop{Stream: "GLOBAL", Subject: "count.all.hits", Depth: 2}) {
		t.Fatalf("Up = %+v", up)
	}

	got, err := tiers.Tiers(ctx, c, g, "count.pl.hits")
	if err != nil {
		t.Fatal(err)
	}
	if got := tierLines(got); !reflect.DeepEqual(got, []string{
		"0 PL count.pl.hits=10",
		"1 EU count.eu.hits=15 direct 0 [DE count.de.hits=5, PL count.pl.hits=10]",
		"2 GLOBAL count.all.hits=116 direct 100 [EU count.eu.hits=15, US count.us.hits=1]",
	}) {
		t.Fatalf("tiers of count.pl.hits:\n%s", strings.Join(got, "\n"))
	}
	// Named at the aggregate, the path also goes down to every source.
	got, err = tiers.Tiers(ctx, c, g, "count.eu.hits")
	if err != nil {
		t.Fatal(err)
	}
	if got := tierLines(got); !reflect.DeepEqual(got, []string{
		"-1 PL count.pl.hits=10",
		"-1 DE count.de.hits=5",
		"0 EU count.eu.hits=15 direct 0 [DE count.de.hits=5, PL count.pl.hits=10]",
		"1 GLOBAL count.all.hits=116 direct 100 [EU count.eu.hits=15, US count.us.hits=1]",
	}) {
		t.Fatalf("tiers of count.eu.hits:\n%s", strings.Join(got, "\n"))
	}
	if _, err := tiers.Tiers(ctx, c, g, "nothing.here"); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("unknown subject: %v, want errkind.ErrNotFound", err)
	}
	// A counter nobody incremented yet still has its got, without values.
	got, err = tiers.Tiers(ctx, c, g, "count.pl.misses")
	if err != nil || len(got) != 3 || got[0].Value != nil || got[2].Subject != "count.all.misses" {
		t.Fatalf("unset counter: %+v, %v", got, err)
	}
}

func tierLines(got []tiers.Tier) []string {
	var out []string
	for _, t := range got {
		line := fmt.Sprintf("%d %s %s=%v", t.Depth, t.Stream, t.Subject, t.Value)
		if t.Direct != nil {
			var parts []string
			for _, s := range t.Sources {
				p := fmt.Sprintf("%s %s=%s", s.Stream, s.Subject, s.LastSeen)
				if s.Behind {
					p += " behind"
				}
				parts = append(parts, p)
			}
			line += fmt.Sprintf(" direct %s [%s]", t.Direct, strings.Join(parts, ", "))
		}
		if t.Error != "" {
			line += " error " + t.Error
		}
		out = append(out, line)
	}
	return out
}

func TestTopologyCheckFindsHazardsMadeForReal(t *testing.T) {
	// A domain lets streams source each other through the external API,
	// which the server's own cycle check does not follow.
	c := countertest.NewClient(t, testserver.SingleWithDomain(t, "hub"))
	js := c.JetStream()
	src := func(name string) *jetstream.StreamSource { return &jetstream.StreamSource{Name: name} }
	viaAPI := func(name string) *jetstream.StreamSource {
		return &jetstream.StreamSource{Name: name, External: &jetstream.ExternalStream{APIPrefix: "$JS.hub.API"}}
	}

	countertest.RawStream(t, js, countertest.CounterConfig("PL", []string{"pl.>"}))
	countertest.RawStream(t, js, countertest.CounterConfig("DE", []string{"de.>"}))
	countertest.RawStream(t, js, jetstream.StreamConfig{Name: "LOGS", Subjects: []string{"logs.>"}})
	countertest.RawStream(t, js, countertest.CounterConfig("STALL", nil, src("LOGS")))
	countertest.RawStream(t, js, countertest.CounterConfig("EU", nil, src("PL"), src("DE")))
	countertest.RawStream(t, js, countertest.CounterConfig("DIAMOND", nil, src("EU"), src("PL")))
	countertest.RawStream(t, js, countertest.CounterConfig("CA", []string{"ca.>"}))
	countertest.RawStream(t, js, countertest.CounterConfig("CB", []string{"cb.>"}, viaAPI("CA")))
	if _, err := js.UpdateStream(ctx, countertest.CounterConfig("CA", []string{"ca.>"}, viaAPI("CB"))); err != nil {
		t.Fatalf("close the cycle: %v", err)
	}
	lim := countertest.CounterConfig("LIM", []string{"lim.>"})
	lim.MaxAge, lim.MaxMsgs, lim.MaxBytes = time.Hour, 1000, 1<<20
	countertest.RawStream(t, js, lim)
	ttl := countertest.CounterConfig("TTL", []string{"ttl.>"})
	ttl.SubjectDeleteMarkerTTL = time.Minute
	countertest.RawStream(t, js, ttl)
	slow := countertest.CounterConfig("SLOW", []string{"slow.>"})
	slow.AllowDirect = false
	countertest.RawStream(t, js, slow)
	countertest.RawStream(t, js, jetstream.StreamConfig{Name: "RAW", Sources: []*jetstream.StreamSource{src("DE")}})
	countertest.RawStream(t, js, jetstream.StreamConfig{Name: "MIR", Mirror: src("PL")})
	// A source in a domain nobody serves is never heard from.
	countertest.RawStream(t, js, countertest.CounterConfig("FAR", nil, &jetstream.StreamSource{Name: "X", External: &jetstream.ExternalStream{APIPrefix: "$JS.nowhere.API"}}))
	// A missing local source: the server reports its consumer failing.
	countertest.RawStream(t, js, countertest.CounterConfig("ORPHAN", nil, src("GONE")))

	want := []string{
		"error cycle CA",
		"error diamond DIAMOND",
		"error counter-max-age LIM",
		"error counter-max-bytes LIM",
		"error counter-max-msgs LIM",
		"error source-error ORPHAN",
		"error non-counter-source STALL",
		"error counter-marker-ttl TTL",
		// Sourcing one's own domain through its external prefix is never
		// answered either (observed on 2.15.2).
		"warning source-inactive CA",
		"warning source-inactive CB",
		"warning source-inactive FAR",
		// Nobody answers for domain nowhere: unreachable, not missing.
		"warning source-unreachable FAR",
		"warning source-missing ORPHAN",
		"warning raw-copy RAW",
		"warning no-allow-direct SLOW",
	}
	// Healthy sources hear a heartbeat every second or so; FAR's never
	// answers, which shows once FAR is older than the threshold.
	g := checkUntil(t, c, nil, func(g *topology.Graph) bool {
		g.InactiveAfter = 3 * time.Second
		p := g.Check()
		return slices.Contains(problemLines(p), "warning source-inactive FAR") && hasCode(p, topology.CodeSourceError)
	})
	got := problemLines(g.Check())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Check:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func problemLines(ps []topology.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Severity+" "+p.Code+" "+p.Stream)
	}
	return out
}

func hasCode(ps []topology.Problem, code string) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}

// checkUntil rediscovers the topology until cond holds: source state
// (activity, errors) settles a moment after the streams exist.
func checkUntil(t *testing.T, c *counters.Client, domains []string, cond func(*topology.Graph) bool) *topology.Graph {
	t.Helper()
	var g *topology.Graph
	testserver.Eventually(t, 20*time.Second, "the topology's condition", func() error {
		var err error
		if g, err = c.Topology(ctx, domains); err != nil {
			t.Fatal(err)
		}
		if !cond(g) {
			return fmt.Errorf("last problems: %v", problemLines(g.Check()))
		}
		return nil
	})
	return g
}

func TestCreateRefusesDiamondAndCycle(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "EU", Sources: countertest.Sources(t, "PL:count.pl.>:count.eu.>")})

	diamond := streams.StreamSpec{Name: "GLOBAL", Sources: countertest.Sources(t, "EU", "PL")}
	_, err := streams.Create(ctx, c, diamond, streams.CreateOptions{})
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "PL reaches counter stream GLOBAL by 2 paths") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("diamond: %v, want errkind.ErrInvalid naming the paths and --force", err)
	}
	if _, err := c.StreamInfo(ctx, "GLOBAL"); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("refused stream was created anyway: %v", err)
	}
	res, err := streams.Create(ctx, c, diamond, streams.CreateOptions{Force: true})
	if err != nil || res.Action != "created" || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "--force") {
		t.Fatalf("forced diamond: %+v, %v", res, err)
	}
	// Creating the same stream again adds nothing new: unchanged, not refused.
	if res, err := streams.Create(ctx, c, diamond, streams.CreateOptions{Force: true}); err != nil || res.Action != "unchanged" || len(res.Warnings) != 0 {
		t.Fatalf("again: %+v, %v", res, err)
	}

	// PL is made (through the raw API) to source LOOP, which does not exist
	// yet; creating LOOP as a source of EU's data closes EU -> LOOP -> PL -> EU.
	if _, err := c.JetStream().UpdateStream(ctx, countertest.CounterConfig("PL", []string{"count.pl.>"}, &jetstream.StreamSource{Name: "LOOP"})); err != nil {
		t.Fatalf("point PL at LOOP: %v", err)
	}
	_, err = streams.Create(ctx, c, streams.StreamSpec{Name: "LOOP", Subjects: []string{"loop.>"}, Sources: countertest.Sources(t, "EU")}, streams.CreateOptions{})
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v, want errkind.ErrInvalid about a cycle", err)
	}
}

func TestTopologyAcrossDomains(t *testing.T) {
	hub, leaf := testserver.HubAndLeaf(t, "hub", "leaf")
	leafClient := countertest.NewClient(t, leaf)
	hubClient := countertest.NewClient(t, hub)
	countertest.MustCreate(t, leafClient, streams.StreamSpec{Name: "L", Subjects: []string{"edge.>"}})
	countertest.MustCreate(t, hubClient, streams.StreamSpec{Name: "AGG", Sources: countertest.Sources(t, "L@leaf:edge.>:all.>")})
	if _, err := leafClient.Incr(ctx, "edge.hits", big.NewInt(7), ""); err != nil {
		t.Fatal(err)
	}
	countertest.WaitValue(t, hubClient, "AGG", "all.hits", "7")

	// Walked explicitly, and found on its own through the source: the same graph.
	for _, domains := range [][]string{{"leaf"}, nil} {
		g, err := hubClient.Topology(ctx, domains)
		if err != nil {
			t.Fatal(err)
		}
		l := g.Node("L@leaf")
		if l == nil || l.Config == nil || !l.Counter || l.Domain != "leaf" {
			t.Fatalf("domains %v: leaf node %+v", domains, l)
		}
		agg := g.Node("AGG")
		if len(agg.Sources) != 1 || agg.Sources[0].Upstream != "L@leaf" || agg.Sources[0].APIPrefix != "$JS.leaf.API" {
			t.Fatalf("AGG sources %+v", agg.Sources)
		}
		if p := g.Check(); len(p) != 0 {
			t.Fatalf("problems: %v", problemLines(p))
		}
		got, err := tiers.Tiers(ctx, hubClient, g, "edge.hits")
		if err != nil {
			t.Fatal(err)
		}
		if got := tierLines(got); !reflect.DeepEqual(got, []string{
			"0 L@leaf edge.hits=7",
			"1 AGG all.hits=7 direct 0 [L@leaf edge.hits=7]",
		}) {
			t.Fatalf("got:\n%s", strings.Join(got, "\n"))
		}
	}
	// From the leaf, the hub is the other domain; its label is "hub".
	g, err := leafClient.Topology(ctx, []string{"hub"})
	if err != nil {
		t.Fatal(err)
	}
	if agg := g.Node("AGG@hub"); agg == nil || len(agg.Sources) != 1 || agg.Sources[0].Upstream != "L" {
		t.Fatalf("seen from the leaf, AGG@hub should source the local L: %+v", agg)
	}
}

// BenchmarkTopology200 discovers and checks 200 streams: 40 aggregates of
// 4 leaves each.
func BenchmarkTopology200(b *testing.B) {
	c := countertest.NewClient(b, testserver.Single(b))
	js := c.JetStream()
	for i := range 40 {
		var srcs []*jetstream.StreamSource
		for j := range 4 {
			name := fmt.Sprintf("L%d_%d", i, j)
			if _, err := js.CreateStream(ctx, countertest.CounterConfig(name, []string{fmt.Sprintf("c.%d.%d.>", i, j)})); err != nil {
				b.Fatal(err)
			}
			srcs = append(srcs, &jetstream.StreamSource{Name: name, SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: fmt.Sprintf("c.%d.%d.>", i, j), Destination: fmt.Sprintf("agg.%d.>", i)}}})
		}
		if _, err := js.CreateStream(ctx, countertest.CounterConfig(fmt.Sprintf("AGG%d", i), nil, srcs...)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		g, err := c.Topology(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(g.Nodes()) != 200 {
			b.Fatalf("%d nodes", len(g.Nodes()))
		}
		g.Check()
	}
}

// A source's error is the server's description with its code, as every
// other error is shown: never nats.go's raw "nats: API error: code=…" line,
// which topology, its table and --check would otherwise print.
func TestTopologySourceErrorIsTheServersDescription(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.RawStream(t, c.JetStream(), countertest.CounterConfig("ORPHAN", []string{"orphan.>"}, &jetstream.StreamSource{Name: "GONE"}))
	g := checkUntil(t, c, nil, func(g *topology.Graph) bool {
		return len(g.Node("ORPHAN").Sources) == 1 && g.Node("ORPHAN").Sources[0].Error != ""
	})
	got := g.Node("ORPHAN").Sources[0].Error
	if strings.Contains(got, "nats:") || strings.Contains(got, "err_code=") || !strings.Contains(got, "(error 10059)") {
		t.Fatalf("source error %q: want the server's description and (error 10059)", got)
	}
}
