package topology

import (
	"reflect"
	"testing"
)

func mirrorOf(id, up string) Node {
	n := plain(id, nil)
	n.Sources = []Edge{{Upstream: up, Mirror: true, Active: -1}}
	return n
}

// mirrorThenSource: DE (leaf domain) is mirrored into the hub as DEM, and
// the hub's EU sums DEM with PL (ADR-49's mirror then source).
func mirrorThenSource() *Graph {
	return New([]Node{
		counter("DE@leaf", []string{"count.de.>"}),
		mirrorOf("DEM", "DE@leaf"),
		mirrorOf("DEM2", "DEM"),
		counter("PL", []string{"count.pl.>"}),
		counter("EU", []string{"count.eu.>"}, src("DEM", "count.de.>", "count.eu.>"), src("PL", "count.pl.>", "count.eu.>")),
		plain("LOGS", []string{"logs.>"}),
		mirrorOf("LOGM", "LOGS"),
	})
}

func TestCarriesCounterValues(t *testing.T) {
	g := mirrorThenSource()
	for id, want := range map[string]bool{
		"DE@leaf": true, "DEM": true, "DEM2": true, "EU": true,
		"LOGS": false, "LOGM": false, "NOPE": false,
	} {
		if got := g.CarriesCounterValues(id); got != want {
			t.Errorf("CarriesCounterValues(%s) = %v, want %v", id, got, want)
		}
	}
	// A mirror whose origin is unknown (another domain, not walked) does
	// not count: nothing says its messages are counter values.
	if New([]Node{mirrorOf("M", "X@far")}).CarriesCounterValues("M") {
		t.Error("a mirror of an unknown stream carries counter values")
	}
	// Mirrors in a loop end.
	if New([]Node{mirrorOf("A", "B"), mirrorOf("B", "A")}).CarriesCounterValues("A") {
		t.Error("a loop of mirrors carries counter values")
	}
}

func TestWalkThroughMirror(t *testing.T) {
	g := mirrorThenSource()
	up := g.Up("DE@leaf", "count.de.hits")
	want := []Hop{
		{Stream: "DEM", Subject: "count.de.hits", Depth: 1},
		{Stream: "DEM2", Subject: "count.de.hits", Depth: 2},
		{Stream: "EU", Subject: "count.eu.hits", Depth: 2},
	}
	if !reflect.DeepEqual(up, want) {
		t.Fatalf("Up through the mirror:\n got %+v\nwant %+v", up, want)
	}
	down := g.Down("EU", "count.eu.hits")
	wantDown := []Hop{
		{Stream: "DEM", Subject: "count.de.hits", Depth: 1},
		{Stream: "PL", Subject: "count.pl.hits", Depth: 1},
		{Stream: "DE@leaf", Subject: "count.de.hits", Depth: 2},
	}
	if !reflect.DeepEqual(down, wantDown) {
		t.Fatalf("Down through the mirror:\n got %+v\nwant %+v", down, wantDown)
	}
	// A mirror of a plain stream is no tier.
	if h := g.Up("LOGS", "logs.x"); len(h) != 0 {
		t.Fatalf("Up from a plain stream: %+v", h)
	}
}

func TestCheckMirrorThenSource(t *testing.T) {
	if p := mirrorThenSource().Check(); len(p) != 0 {
		t.Fatalf("mirror then source is healthy, got %v", codes(p))
	}
	// Sourcing a mirror of a plain stream still stalls.
	g := New([]Node{plain("LOGS", []string{"logs.>"}), mirrorOf("LOGM", "LOGS"), counter("AGG", nil, src("LOGM"))})
	if got := codes(g.Check()); !reflect.DeepEqual(got, []string{"error non-counter-source AGG"}) {
		t.Fatalf("counter sourcing a mirror of a plain stream: %v", got)
	}
	// A mirror whose origin is in a domain not walked (or unreachable) is
	// reported as missing at the mirror, not as a plain source.
	far := New([]Node{mirrorOf("FARM", "DE@far"), counter("AGG", nil, src("FARM"))})
	if got := codes(far.Check()); !reflect.DeepEqual(got, []string{"warning source-missing FARM"}) {
		t.Fatalf("aggregate sourcing a mirror of an unknown stream: %v", got)
	}
	// DE reaching EU through its mirror and directly counts twice.
	d := New([]Node{
		counter("DE", []string{"count.de.>"}),
		mirrorOf("DEM", "DE"),
		counter("EU", nil, src("DEM", "count.de.>", "count.eu.>"), src("DE", "count.de.>", "count.eu.>")),
	})
	if got := codes(d.Check()); !reflect.DeepEqual(got, []string{"error diamond EU"}) {
		t.Fatalf("a counter sourced directly and through its mirror: %v", got)
	}
}
