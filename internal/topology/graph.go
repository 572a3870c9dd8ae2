// Package topology models how streams feed each other through sources and
// mirrors, maps counter subjects across those edges in both directions, and
// finds the configurations that silently break counter aggregation. It is
// pure: callers build the nodes (internal/counters does the I/O).
package topology

import (
	"crypto/sha256"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/natsort"
)

// Transform is one subject transform of a source: subjects matching From
// are stored under To ("" From means ">", "" To means unchanged).
type Transform struct{ From, To string }

// Edge is one source (or the mirror) of a stream, seen from the stream that
// consumes it.
type Edge struct {
	Upstream   string // ID of the sourced stream (see NodeID)
	Filter     string
	Transforms []Transform
	APIPrefix  string // external API prefix, "" for local
	Mirror     bool
	Lag        uint64
	// Seq is the last upstream sequence the source has seen (0: none yet,
	// or unknown; the server does not report it for a mirror).
	Seq    uint64
	Active time.Duration // since last activity, -1 unknown
	Error  string
}

// Node is one stream, or a stream only known because something sources it.
type Node struct {
	ID          string // NodeID(name, domain)
	Name        string
	Domain      string // "" = the local/default domain being walked
	Counter     bool
	AllowDirect bool
	Subjects    []string
	Config      *jetstream.StreamConfig // nil when only known as someone's source (not found)
	State       *jetstream.StreamState
	Sources     []Edge // includes the mirror edge with Mirror=true
	// Age is how long the stream had existed when it was listed (0 when
	// unknown): a source silent since creation is only a problem once the
	// stream is older than Graph.InactiveAfter.
	Age time.Duration
	// LookupError says why a stream only known as a source could not be
	// looked up (permission, timeout); "" when it was simply not found.
	LookupError string
	// Unreachable: the lookup failed because the stream's domain did not
	// answer (down, or the link to it cut), so nothing is known about it.
	Unreachable bool
	// LeaderAge is how long the stream's current leader has led (0 when
	// unknown or not clustered): the server's record of a source's
	// activity starts again with each leader.
	LeaderAge time.Duration
}

// Unreached says in a few words why a stream known only as a source could
// not be looked up: its domain did not answer, or the lookup's error.
func (n *Node) Unreached() string {
	if n.Unreachable && n.Domain != "" && !strings.Contains(n.Domain, ".") {
		return "domain " + n.Domain + " did not answer: down, or cut off from here"
	}
	return n.LookupError
}

// NodeID names a stream across domains: "name" locally, "name@domain" else.
func NodeID(name, domain string) string {
	if domain == "" {
		return name
	}
	return name + "@" + domain
}

// Ref points at one edge: Sources[Edge] of stream Stream.
type Ref struct {
	Stream string
	Edge   int
}

// Graph is an immutable set of nodes with their edges indexed both ways.
type Graph struct {
	nodes     map[string]*Node
	sorted    []*Node
	consumers map[string][]Ref // upstream ID -> edges that read it
	// InactiveAfter is how long a source may be silent before Check warns;
	// the server's heartbeats keep a healthy idle source well below it.
	InactiveAfter time.Duration
	// Unreachable names, by domain label, the domains that did not answer
	// when the graph was walked (why, in words): their streams are missing
	// from it, and Check reports each.
	Unreachable map[string]string
}

// DefaultInactiveAfter is Graph.InactiveAfter unless changed.
const DefaultInactiveAfter = 30 * time.Second

// New builds a graph. Nodes are copied; an edge whose upstream is not among
// nodes gets a placeholder node (Config nil) so every edge has two ends.
// A later node with an ID already seen replaces the earlier one.
func New(nodes []Node) *Graph {
	g := &Graph{
		nodes:         make(map[string]*Node, len(nodes)),
		consumers:     map[string][]Ref{},
		InactiveAfter: DefaultInactiveAfter,
		Unreachable:   map[string]string{},
	}
	for _, n := range nodes {
		if n.ID == "" {
			n.ID = NodeID(n.Name, n.Domain)
		}
		n.Sources = slices.Clone(n.Sources)
		g.nodes[n.ID] = &n
	}
	for _, n := range g.sortedNodes() {
		for i, e := range n.Sources {
			if g.nodes[e.Upstream] == nil {
				name, domain, _ := strings.Cut(e.Upstream, "@")
				g.nodes[e.Upstream] = &Node{ID: e.Upstream, Name: name, Domain: domain}
			}
			g.consumers[e.Upstream] = append(g.consumers[e.Upstream], Ref{Stream: n.ID, Edge: i})
		}
	}
	g.sorted = g.sortedNodes()
	return g
}

func (g *Graph) sortedNodes() []*Node {
	out := make([]*Node, 0, len(g.nodes))
	for _, n := range g.nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *Node) int { return natsort.Compare(a.ID, b.ID) })
	return out
}

// Node returns the node with that ID, or nil.
func (g *Graph) Node(id string) *Node { return g.nodes[id] }

// Nodes returns every node sorted by ID.
func (g *Graph) Nodes() []*Node { return g.sorted }

// Consumers returns the edges that read stream id (sources and mirrors),
// sorted by consuming stream.
func (g *Graph) Consumers(id string) []Ref { return g.consumers[id] }

// EdgeOf returns the edge a Ref points at.
func (g *Graph) EdgeOf(r Ref) *Edge { return &g.nodes[r.Stream].Sources[r.Edge] }

// Roots are the streams nothing reads, sorted by ID: the tops of the trees.
func (g *Graph) Roots() []*Node {
	var out []*Node
	for _, n := range g.sorted {
		if len(g.consumers[n.ID]) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// WithStream returns a new graph where n is added, or replaces the node with
// the same ID. g is unchanged.
func (g *Graph) WithStream(n Node) *Graph {
	if n.ID == "" {
		n.ID = NodeID(n.Name, n.Domain)
	}
	nodes := make([]Node, 0, len(g.nodes)+1)
	for _, o := range g.sorted {
		if o.ID == n.ID {
			continue
		}
		if o.Config == nil && len(o.Sources) == 0 && o.LookupError == "" {
			continue // placeholders are rebuilt from the edges
		}
		nodes = append(nodes, *o)
	}
	nodes = append(nodes, n)
	ng := New(nodes)
	ng.InactiveAfter = g.InactiveAfter
	for dom, why := range g.Unreachable {
		ng.Unreachable[dom] = why
	}
	return ng
}

// IsAggregation reports whether data flowing along e into stream to is
// counted (sourced by value into a counter stream) rather than copied raw.
func (g *Graph) IsAggregation(to *Node, e *Edge) bool {
	return !e.Mirror && to != nil && to.Counter
}

// CarriesCounterValues is the one rule for "a stream whose messages carry
// counter values": a counter stream, or a mirror of one (of a mirror of
// one, ...). The server refuses allow_msg_counter on a mirror, so a mirror
// is never a counter stream itself; it holds verbatim copies, and a counter
// aggregate may source it (ADR-49's mirror then source). upstream returns
// the node a mirror edge reads, nil when unknown; an unknown origin does
// not carry counter values.
func CarriesCounterValues(n *Node, upstream func(Edge) *Node) bool {
	carries, _ := counterValues(n, upstream)
	return carries
}

// counterValues is CarriesCounterValues, and whether the answer is known:
// a mirror whose origin was not found or could not be read may well hold
// counter values.
func counterValues(n *Node, upstream func(Edge) *Node) (carries, known bool) {
	seen := map[*Node]bool{}
	for n != nil && n.Config != nil && !seen[n] {
		if n.Counter {
			return true, true
		}
		seen[n] = true
		mirror := slices.IndexFunc(n.Sources, func(e Edge) bool { return e.Mirror })
		if mirror < 0 {
			return false, true
		}
		n = upstream(n.Sources[mirror])
	}
	return false, n != nil && n.Config != nil // a loop of mirrors carries nothing
}

// CarriesCounterValues applies the rule of the same name to stream id.
func (g *Graph) CarriesCounterValues(id string) bool {
	carries, _ := g.counterValues(id)
	return carries
}

func (g *Graph) counterValues(id string) (carries, known bool) {
	return counterValues(g.nodes[id], func(e Edge) *Node { return g.nodes[e.Upstream] })
}

// FlowsUp reports whether counter values travel along e into stream to:
// a counter stream sourcing them (an aggregation), or a mirror copying a
// stream that carries counter values (a tier holding the same values).
// Up and Down follow exactly these edges.
func (g *Graph) FlowsUp(to *Node, e *Edge) bool {
	if to == nil {
		return false
	}
	if e.Mirror {
		return g.CarriesCounterValues(e.Upstream)
	}
	return to.Counter
}

// SourceKey is the key the server uses for this edge in a counter's
// Nats-Counter-Sources header: the stream name, plus ":<hash>" of the API
// prefix for an external source (nats-server StreamSource.composeIName).
func SourceKey(e Edge, upstreamName string) string {
	if e.APIPrefix == "" {
		return upstreamName
	}
	return upstreamName + ":" + serverHash(e.APIPrefix)
}

// serverHash mirrors nats-server's getHash: 8 base-62 digits of a SHA-256.
func serverHash(s string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(s))
	b := make([]byte, 8)
	for i := range b {
		b[i] = digits[int(sum[i]%62)]
	}
	return string(b)
}
