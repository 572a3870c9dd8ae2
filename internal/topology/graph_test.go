package topology

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// counter returns a healthy counter stream node.
func counter(id string, subjects []string, sources ...Edge) Node {
	name, domain, _ := strings.Cut(id, "@")
	return Node{
		ID: id, Name: name, Domain: domain, Counter: true, AllowDirect: true, Subjects: subjects,
		Config:  &jetstream.StreamConfig{Name: name, Subjects: subjects, AllowMsgCounter: true, AllowDirect: true, MaxMsgs: -1, MaxBytes: -1},
		State:   &jetstream.StreamState{},
		Sources: sources,
	}
}

func plain(id string, subjects []string, sources ...Edge) Node {
	n := counter(id, subjects, sources...)
	n.Counter = false
	n.Config.AllowMsgCounter = false
	return n
}

func src(up string, transforms ...string) Edge {
	e := Edge{Upstream: up, Active: time.Second}
	for i := 0; i+1 < len(transforms); i += 2 {
		e.Transforms = append(e.Transforms, Transform{From: transforms[i], To: transforms[i+1]})
	}
	return e
}

// regions: PL, DE -> EU (summed per hit) -> GLOBAL (summed again).
func regions() *Graph {
	return New([]Node{
		counter("PL", []string{"count.pl.>"}),
		counter("DE", []string{"count.de.>"}),
		counter("US", []string{"count.us.>"}),
		counter("EU", nil, src("PL", "count.pl.>", "count.eu.>"), src("DE", "count.de.>", "count.eu.>")),
		counter("GLOBAL", nil, src("EU", "count.eu.>", "count.all.>"), src("US", "count.us.*", "count.all.{{wildcard(1)}}")),
		plain("AUDIT", nil, src("EU")),
		func() Node { n := plain("EUCOPY", nil); n.Sources = []Edge{{Upstream: "EU", Mirror: true}}; return n }(),
	})
}

func TestUpFollowsTransformsAndMirrorsAndSkipsRawCopies(t *testing.T) {
	g := regions()
	got := g.Up("PL", "count.pl.hits")
	// AUDIT (a plain stream sourcing EU) holds raw copies: no tier. EUCOPY,
	// a mirror of EU, holds EU's values: a tier.
	want := []Hop{
		{Stream: "EU", Subject: "count.eu.hits", Depth: 1},
		{Stream: "EUCOPY", Subject: "count.eu.hits", Depth: 2},
		{Stream: "GLOBAL", Subject: "count.all.hits", Depth: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Up = %+v, want %+v", got, want)
	}
	if got := g.Up("US", "count.us.a.b"); len(got) != 0 {
		t.Fatalf("count.us.* must not carry count.us.a.b: %+v", got)
	}
	if got := g.Up("US", "count.us.hits"); !reflect.DeepEqual(got, []Hop{{Stream: "GLOBAL", Subject: "count.all.hits", Depth: 1}}) {
		t.Fatalf("Up(US) = %+v", got)
	}
}

func TestDownIsTheInverseOfUp(t *testing.T) {
	g := regions()
	got := g.Down("GLOBAL", "count.all.hits")
	want := []Hop{
		{Stream: "EU", Subject: "count.eu.hits", Depth: 1},
		{Stream: "US", Subject: "count.us.hits", Depth: 1},
		{Stream: "PL", Subject: "count.pl.hits", Depth: 2}, // sources in config order
		{Stream: "DE", Subject: "count.de.hits", Depth: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Down = %+v, want %+v", got, want)
	}
	// Every hop down leads back up to where we started.
	for _, h := range got {
		if !slices.ContainsFunc(g.Up(h.Stream, h.Subject), func(u Hop) bool { return u.Stream == "GLOBAL" && u.Subject == "count.all.hits" }) {
			t.Errorf("Up(%s, %s) does not reach GLOBAL count.all.hits", h.Stream, h.Subject)
		}
	}
	if got := g.Down("EUCOPY", "count.eu.hits"); len(got) != 3 || got[0] != (Hop{Stream: "EU", Subject: "count.eu.hits", Depth: 1}) {
		t.Fatalf("below a mirror: its origin, then what the origin sums: %+v", got)
	}
	if got := g.Down("AUDIT", "count.eu.hits"); len(got) != 0 {
		t.Fatalf("a plain stream sourcing counters is no tier: %+v", got)
	}
}

func TestMapping(t *testing.T) {
	cases := []struct {
		edge      Edge
		up, down  string
		downPats  []string // MapDown(down), when it differs from [up]
		noCarries bool
	}{
		{edge: Edge{}, up: "a.b", down: "a.b"},
		{edge: Edge{Filter: "a.*"}, up: "a.b", down: "a.b"},
		{edge: Edge{Filter: "a.*"}, up: "a.b.c", noCarries: true},
		{edge: src("", "a.*.*", "x.$2.$1"), up: "a.b.c", down: "x.c.b"},
		{edge: src("", "a.*.*", "x.{{ wildcard(2) }}.{{Wildcard(1)}}"), up: "a.b.c", down: "x.c.b"},
		{edge: src("", "a.>", "x.>"), up: "a.b.c", down: "x.b.c"},
		{edge: src("", "a.*.>", "x.{{wildcard(1)}}.>"), up: "a.b.c.d", down: "x.b.c.d"},
		// Dropping a wildcard sums many upstream subjects into one.
		{edge: src("", "a.*.hits", "all.hits"), up: "a.b.hits", down: "all.hits", downPats: []string{"a.*.hits"}},
		// A transform with an empty destination keeps the subject.
		{edge: src("", "a.>", ""), up: "a.b", down: "a.b"},
		// First match wins: the second transform never sees a.b.
		{edge: src("", "a.*", "first.$1", "a.>", "second.>"), up: "a.b", down: "first.b"},
		{edge: src("", "a.*", "first.$1", "a.>", "second.>"), up: "a.b.c", down: "second.b.c"},
		{edge: src("", "a.*", "first.$1"), up: "b.c", noCarries: true},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, ok := c.edge.MapUp(c.up)
			if c.noCarries {
				if ok {
					t.Fatalf("MapUp(%s) = %s, want not carried", c.up, got)
				}
				return
			}
			if !ok || got != c.down {
				t.Fatalf("MapUp(%s) = %q %v, want %q", c.up, got, ok, c.down)
			}
			want := c.downPats
			if want == nil {
				want = []string{c.up}
			}
			if got := c.edge.MapDown(c.down); !reflect.DeepEqual(got, want) {
				t.Fatalf("MapDown(%s) = %q, want %q", c.down, got, want)
			}
		})
	}
	// "first.b" is produced by the first transform only; "second.b" cannot
	// come from a.b (the first one takes it).
	e := src("", "a.*", "first.$1", "a.>", "second.>")
	if got := e.MapDown("second.b"); len(got) != 0 {
		t.Fatalf("MapDown(second.b) = %q, want nothing (a.b goes to first.b)", got)
	}
}

func codes(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Severity+" "+p.Code+" "+p.Stream)
	}
	return out
}

func TestCheckFindsEachHazard(t *testing.T) {
	limited := counter("LIM", []string{"lim.>"})
	limited.Config.MaxAge = time.Hour
	limited.Config.MaxMsgs = 10
	limited.Config.MaxBytes = 1000
	limited.Config.SubjectDeleteMarkerTTL = time.Minute
	slow := counter("SLOW", []string{"slow.>"})
	slow.AllowDirect = false
	broken := src("PL")
	broken.Error = "consumer create failed"
	lagging := src("DE")
	lagging.Lag = 7
	idle := src("US")
	idle.Active = time.Hour
	g := New([]Node{
		counter("PL", []string{"pl.>"}),
		counter("DE", []string{"de.>"}),
		counter("US", []string{"us.>"}),
		plain("LOGS", []string{"logs.>"}),
		counter("STALL", nil, src("LOGS")),
		counter("EU", nil, src("PL"), src("DE")),
		counter("DIAMOND", nil, src("EU"), src("PL")),
		counter("A", []string{"a.>"}, src("B")),
		counter("B", []string{"b.>"}, src("A")),
		limited, slow,
		counter("ERR", nil, broken, lagging, idle),
		plain("RAW", nil, src("US")),
		func() Node {
			n := plain("MIR", nil)
			n.Sources = []Edge{{Upstream: "DE", Mirror: true, Active: -1}}
			return n
		}(),
		counter("ORPHAN", nil, src("GONE")),
	})
	got := codes(g.Check())
	want := []string{
		"error cycle A",
		"error diamond DIAMOND",
		"error source-error ERR",
		"error counter-marker-ttl LIM",
		"error counter-max-age LIM",
		"error counter-max-bytes LIM",
		"error counter-max-msgs LIM",
		"error non-counter-source STALL",
		"warning source-inactive ERR",
		"warning source-lagging ERR",
		"warning source-missing ORPHAN",
		"warning raw-copy RAW",
		"warning no-allow-direct SLOW",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Check:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range g.Check() {
		if p.Message == "" || p.Fix == "" || strings.Contains(p.Message, "\n") {
			t.Errorf("problem %+v needs a one-line message and fix", p)
		}
	}
}

func TestHealthyTreeHasNoProblems(t *testing.T) {
	g := New([]Node{
		counter("PL", []string{"count.pl.>"}),
		counter("DE", []string{"count.de.>"}),
		counter("EU", nil, src("PL", "count.pl.>", "count.eu.>"), src("DE", "count.de.>", "count.eu.>")),
		counter("GLOBAL", nil, src("EU")),
		counter("WORLD", nil, src("GLOBAL")),
	})
	if p := g.Check(); len(p) != 0 {
		t.Fatalf("healthy tree: %v", codes(p))
	}
}

func TestDiamondReportedOnceWhereItJoins(t *testing.T) {
	// PL reaches GLOBAL through EU and directly; TOP above GLOBAL and ROOT
	// below PL see the same double count but are not where it is made.
	g := New([]Node{
		counter("ROOT", []string{"r.>"}),
		counter("PL", []string{"pl.>"}, src("ROOT")),
		counter("EU", nil, src("PL")),
		counter("GLOBAL", nil, src("EU"), src("PL")),
		counter("TOP", nil, src("GLOBAL")),
	})
	got := g.Check()
	if len(got) != 1 || got[0].Code != CodeDiamond || got[0].Stream != "GLOBAL" || !strings.HasPrefix(got[0].Message, "PL reaches") {
		t.Fatalf("Check = %+v", got)
	}
}

func TestNewHazards(t *testing.T) {
	g := New([]Node{
		counter("PL", []string{"pl.>"}),
		counter("EU", nil, src("PL")),
	})
	if p := g.NewHazards(counter("GLOBAL", nil, src("EU"))); len(p) != 0 {
		t.Fatalf("a plain new tier: %v", codes(p))
	}
	if p := codes(g.NewHazards(counter("GLOBAL", nil, src("EU"), src("PL")))); !reflect.DeepEqual(p, []string{"error diamond GLOBAL"}) {
		t.Fatalf("diamond: %v", p)
	}
	// Replacing PL with a stream that sources EU closes a loop.
	if p := codes(g.NewHazards(counter("PL", []string{"pl.>"}, src("EU")))); !reflect.DeepEqual(p, []string{"error cycle EU"}) {
		t.Fatalf("cycle: %v", p)
	}
	// g itself is unchanged.
	if len(g.Nodes()) != 2 || len(g.Node("PL").Sources) != 0 {
		t.Fatalf("NewHazards changed the graph")
	}
}

func TestNodeIDAndPlaceholders(t *testing.T) {
	g := New([]Node{counter("HUB", nil, Edge{Upstream: NodeID("LEAF", "leaf"), APIPrefix: "$JS.leaf.API"})})
	n := g.Node("LEAF@leaf")
	if n == nil || n.Name != "LEAF" || n.Domain != "leaf" || n.Config != nil {
		t.Fatalf("placeholder = %+v", n)
	}
	if r := g.Roots(); len(r) != 1 || r[0].ID != "HUB" {
		t.Fatalf("roots = %v", r)
	}
	if got := SourceKey(g.Node("HUB").Sources[0], "LEAF"); !strings.HasPrefix(got, "LEAF:") || len(got) != len("LEAF:")+8 {
		t.Fatalf("SourceKey = %q", got)
	}
}

func TestCycleNeedsCirculatingSubjects(t *testing.T) {
	// Two regions exchanging each other's own subjects: no subject comes back.
	exchange := New([]Node{
		counter("A", []string{"a.>"}, Edge{Upstream: "B", Filter: "b.>"}),
		counter("B", []string{"b.>"}, Edge{Upstream: "A", Filter: "a.>"}),
	})
	if p := exchange.Check(); hasCode(p, CodeCycle) {
		t.Fatalf("disjoint exchange reported as a cycle: %v", codes(p))
	}
	// Renamed on the way out and back again: a.x -> b.x -> a.x circulates.
	loop := New([]Node{
		counter("A", []string{"a.>"}, src("B", "b.>", "a.>")),
		counter("B", []string{"b.>"}, src("A", "a.>", "b.>")),
	})
	if p := codes(loop.Check()); !reflect.DeepEqual(p, []string{"error cycle A"}) {
		t.Fatalf("renaming loop: %v", p)
	}
	self := New([]Node{counter("S", []string{"s.>"}, src("S"))})
	if p := codes(self.Check()); !reflect.DeepEqual(p, []string{"error cycle S"}) {
		t.Fatalf("self source: %v", p)
	}
}

func hasCode(ps []Problem, code string) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Code == code })
}

func TestIntersect(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"a.>", "a.b", "a.b"}, {"a.*", "*.b", "a.b"}, {">", "x.*", "x.*"}, {"a.*.c", "a.>", "a.*.c"},
		{"a.b", "a.c", ""}, {"a.*", "a.b.c", ""}, {"a.>", "a", ""},
	} {
		got, ok := intersect(c.a, c.b)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("intersect(%s, %s) = %q %v, want %q", c.a, c.b, got, ok, c.want)
		}
	}
}

func BenchmarkCheck200(b *testing.B) {
	var nodes []Node
	for i := range 40 {
		var srcs []Edge
		for j := range 4 {
			id := fmt.Sprintf("L%d_%d", i, j)
			nodes = append(nodes, counter(id, []string{fmt.Sprintf("c.%d.%d.>", i, j)}))
			srcs = append(srcs, src(id, fmt.Sprintf("c.%d.%d.>", i, j), fmt.Sprintf("agg.%d.>", i)))
		}
		nodes = append(nodes, counter(fmt.Sprintf("AGG%d", i), nil, srcs...))
	}
	var top []Edge
	for i := range 40 {
		top = append(top, src(fmt.Sprintf("AGG%d", i)))
	}
	nodes = append(nodes, counter("TOP", nil, top...))
	for b.Loop() {
		g := New(nodes)
		if p := g.Check(); len(p) != 0 {
			b.Fatal(codes(p))
		}
		g.Up("L0_0", "c.0.0.hits")
	}
}

// TestWalkEndsOnAGrowingCycle: a transform that adds a token on every lap
// never repeats a (stream, subject); the walk must still end.
func TestWalkEndsOnAGrowingCycle(t *testing.T) {
	g := New([]Node{
		counter("A", []string{"a.>"}, src("B", ">", "x.>")),
		counter("B", []string{"b.>"}, src("A")),
	})
	done := make(chan [2][]Hop, 1)
	go func() { done <- [2][]Hop{g.Up("A", "a.1"), g.Down("A", "x.x.x.a.1")} }()
	select {
	case hops := <-done:
		for _, h := range append(hops[0], hops[1]...) {
			if h.Depth > len(g.Nodes()) {
				t.Fatalf("hop %+v deeper than the graph", h)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Up/Down did not end on a cycle whose transform grows the subject")
	}
	if !hasCode(g.Check(), CodeCycle) {
		t.Fatalf("the growing cycle is not reported: %v", codes(g.Check()))
	}
}

// TestNoDiamondForDisjointRoutes: two routes from one upstream that carry
// different subjects count nothing twice.
func TestNoDiamondForDisjointRoutes(t *testing.T) {
	g := New([]Node{
		counter("U", []string{"u.>"}),
		counter("B", nil, Edge{Upstream: "U", Filter: "u.a.>"}),
		counter("C", nil, Edge{Upstream: "U", Filter: "u.b.>"}),
		counter("A", nil, src("B"), src("C")),
	})
	if p := g.Check(); hasCode(p, CodeDiamond) {
		t.Fatalf("disjoint routes reported as a diamond: %v", codes(p))
	}
	// The same shape with overlapping filters is one.
	g = New([]Node{
		counter("U", []string{"u.>"}),
		counter("B", nil, Edge{Upstream: "U", Filter: "u.a.>"}),
		counter("C", nil, Edge{Upstream: "U", Filter: "u.*.x"}),
		counter("A", nil, src("B"), src("C")),
	})
	if p := codes(g.Check()); !reflect.DeepEqual(p, []string{"error diamond A"}) {
		t.Fatalf("overlapping routes: %v", p)
	}
}

// TestSourceThatCouldNotBeLookedUp: a source denied or unreachable is not
// reported as missing; the warning says why it could not be read.
func TestSourceThatCouldNotBeLookedUp(t *testing.T) {
	g := New([]Node{
		counter("EU", nil, src("PL")),
		{ID: "PL", Name: "PL", LookupError: "permission denied"},
	})
	p := g.Check()
	if len(p) != 1 || p[0].Code != CodeSourceMissing || !strings.Contains(p[0].Message, "could not be looked up: permission denied") {
		t.Fatalf("Check = %+v", p)
	}
}
