package render

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/topology"
)

// hazardGraph has one of each odd shape a renderer must draw: a plain
// stream, a mirror, a missing source with an error, a cross-domain source,
// a source never heard from, quotes in a name, and a cycle.
func hazardGraph() *topology.Graph {
	node := func(id string, counter bool, subjects []string, srcs ...topology.Edge) topology.Node {
		name, domain, _ := strings.Cut(id, "@")
		return topology.Node{
			ID: id, Name: name, Domain: domain, Counter: counter, AllowDirect: counter, Subjects: subjects,
			Config:  &jetstream.StreamConfig{Name: name, Subjects: subjects, Replicas: 3, Storage: jetstream.MemoryStorage, AllowMsgCounter: counter},
			State:   &jetstream.StreamState{NumSubjects: 2},
			Sources: srcs,
		}
	}
	return topology.New([]topology.Node{
		node("LEAF@edge", true, []string{"e.>"}),
		node("LOGS", false, []string{"logs.\"x\".>"}),
		node("HUB", true, nil,
			topology.Edge{Upstream: "LEAF@edge", APIPrefix: "$JS.edge.API", Transforms: []topology.Transform{{From: "e.>", To: "all.>"}}, Lag: 3, Active: 1500 * time.Millisecond},
			topology.Edge{Upstream: "GONE", Filter: "g.*", Active: -1, Error: "stream not found"},
			topology.Edge{Upstream: "LOGS", Active: -1},
		),
		{ID: "COPY", Name: "COPY", Config: &jetstream.StreamConfig{Name: "COPY"}, Sources: []topology.Edge{{Upstream: "HUB", Mirror: true, Active: 2 * time.Second}}},
		node("A", true, []string{"a.>"}, topology.Edge{Upstream: "B", Active: time.Second}),
		node("B", true, []string{"b.>"}, topology.Edge{Upstream: "A", Active: time.Second}),
	})
}

func topologyGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "testdata", "topology", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./render -update)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs (go test ./render -update rewrites it):\n%s", name, got)
	}
}

func TestTopologyFormatsGolden(t *testing.T) {
	g := hazardGraph()
	for format, file := range map[string]string{FormatTree: "hazards.tree", FormatDot: "hazards.dot", FormatMermaid: "hazards.mermaid"} {
		var buf bytes.Buffer
		if err := (Printer{W: &buf}).Topology(g, g.Check(), format); err != nil {
			t.Fatal(err)
		}
		topologyGolden(t, file, buf.String())
	}
}

func TestTopologyTreeShowsEveryStreamOnce(t *testing.T) {
	// A and B only source each other: no root, yet both must appear.
	tree := Tree(hazardGraph())
	for _, want := range []string{"\nA  counter", "└─ B  counter", "↺ cycle: A is already above", "GONE  not found", "error: stream not found", "via $JS.edge.API", "active never"} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree lacks %q:\n%s", want, tree)
		}
	}
}
