// Package tiers follows one counter through every stream it reaches (its
// value at each tier), waits for the aggregates above to settle, and finds
// sources that stopped delivering. The graph comes from the kernel's
// discovery; the judgements stay in internal/topology.
package tiers

import (
	"context"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// Tier is one stream a counter reaches, with its value there.
type Tier struct {
	Stream  string // node ID
	Subject string // the subject as named in that stream (a pattern when a transform sums many)
	// Depth is 0 where the subject was asked for, positive for aggregates
	// above it, negative for the sources below.
	Depth int
	// Value is nil when the counter has no value there yet; for a pattern
	// it is the sum over the matching counters.
	Value   *big.Int
	Updated time.Time
	// Direct is the part of Value not accounted for by any source: direct
	// increments on the aggregate. Nil for a stream without sources.
	Direct  *big.Int
	Sources []TierSource
	// Error is why the value could not be read; Err the same as an error,
	// keeping its kind (permission denied is errkind.ErrUnavailable).
	Error string
	Err   error `json:"-"`
	// Warning: the value was read, but its sources record could not be
	// parsed (Direct and Sources are then unknown).
	Warning string
}

// TierSource is what one source last contributed to an aggregate, from its
// Nats-Counter-Sources entry.
type TierSource struct {
	Key      string // key in Nats-Counter-Sources
	Stream   string // node ID of the source, "" when no configured source has that key
	Subject  string // subject in the source stream
	LastSeen *big.Int
	// Current is the source's value now; nil when unknown.
	Current *big.Int
	// Behind: the aggregate has not caught up with the source yet.
	Behind bool
}

// Tiers follows subject through every tier of g: the streams that hold it
// as their own or produce it from a source, the aggregates above (Up) and
// the sources below (Down), with values read at each. errkind.ErrNotFound when no
// counter stream holds or produces the subject.
func Tiers(ctx context.Context, c *counters.Client, g *topology.Graph, subject string) ([]Tier, error) {
	if err := counters.ValidSubject(subject, false); err != nil {
		return nil, err
	}
	type key struct{ stream, subject string }
	seen := map[key]bool{}
	var tiers []Tier
	add := func(stream, subj string, depth int) {
		if k := (key{stream, subj}); !seen[k] {
			seen[k] = true
			tiers = append(tiers, Tier{Stream: stream, Subject: subj, Depth: depth})
		}
	}
	// Tier 0 is the stream that owns the subject; only when none does (an
	// aggregate without subjects of its own) the streams that hold it.
	var roots []*topology.Node
	for _, n := range g.Nodes() {
		if n.Counter && n.Config != nil && slices.ContainsFunc(n.Subjects, func(s string) bool { return topology.Covers(s, subject) }) {
			roots = append(roots, n)
		}
	}
	if len(roots) == 0 {
		for _, n := range g.Nodes() {
			if holds(g, n, subject) {
				roots = append(roots, n)
			}
		}
	}
	for _, n := range roots {
		add(n.ID, subject, 0)
		for _, h := range g.Down(n.ID, subject) {
			add(h.Stream, h.Subject, -h.Depth)
		}
		for _, h := range g.Up(n.ID, subject) {
			add(h.Stream, h.Subject, h.Depth)
		}
	}
	if len(tiers) == 0 {
		// A stream that did not answer may be the one: unreachable (exit
		// 4), not "not found".
		for _, n := range g.Nodes() {
			if n.Unreachable {
				return nil, errkind.Unreachablef("no reachable counter stream holds %s, and %s could not be reached (%s): it may; retry when it is reachable", subject, n.ID, n.LookupError)
			}
		}
		for dom, why := range g.Unreachable {
			return nil, errkind.Unreachablef("no reachable counter stream holds %s, and domain %s could not be walked (%s): a stream there may; retry when it is reachable", subject, dom, why)
		}
		return nil, errkind.NotFoundf("no counter stream holds %s: check the subject (counter topology shows the streams)", subject)
	}
	// Sources first, then the named tier, then aggregates: the order data flows.
	sort.SliceStable(tiers, func(i, j int) bool { return tiers[i].Depth < tiers[j].Depth })

	values := map[key]*Tier{}
	for i := range tiers {
		t := &tiers[i]
		values[key{t.Stream, t.Subject}] = t
		ctrs, err := c.ReadTier(ctx, g.Node(t.Stream), t.Subject)
		if err != nil {
			t.Error, t.Err = err.Error(), err
			continue
		}
		if len(ctrs) == 0 {
			continue
		}
		t.Value = new(big.Int)
		for _, ctr := range ctrs {
			t.Value.Add(t.Value, ctr.Value)
			if ctr.Updated.After(t.Updated) {
				t.Updated = ctr.Updated
			}
		}
		if n := g.Node(t.Stream); len(ctrs) == 1 && ctrs[0].SourcesError != nil {
			t.Warning = ctrs[0].SourcesError.Error()
		} else if len(ctrs) == 1 && n.Counter && len(n.Sources) > 0 {
			t.Direct = new(big.Int).Sub(ctrs[0].Value, ctrs[0].Sources.Total())
			t.Sources = tierSources(g.Node(t.Stream), ctrs[0].Sources)
		}
	}
	// Compare each source's last seen value with its current one.
	for i := range tiers {
		for j := range tiers[i].Sources {
			s := &tiers[i].Sources[j]
			if s.Stream == "" {
				continue
			}
			if t, ok := values[key{s.Stream, s.Subject}]; ok {
				s.Current = t.Value
			} else if ctrs, err := c.ReadTier(ctx, g.Node(s.Stream), s.Subject); err == nil && len(ctrs) == 1 {
				s.Current = ctrs[0].Value
			}
			if s.Current != nil {
				s.Behind = s.Current.Cmp(s.LastSeen) != 0
			}
		}
	}
	return tiers, nil
}

// holds: n stores subject (a subject or, below a transform that sums many
// into one, a pattern) as one of its own subjects, or a counter stream it
// aggregates holds what the source maps it down to. An unfiltered source
// maps every subject down, so only the stream at the bottom decides.
func holds(g *topology.Graph, n *topology.Node, subject string) bool {
	return holdsVia(g, n, subject, map[string]bool{})
}

func holdsVia(g *topology.Graph, n *topology.Node, subject string, visiting map[string]bool) bool {
	if n == nil || n.Config == nil || !g.CarriesCounterValues(n.ID) || visiting[n.ID] {
		return false
	}
	visiting[n.ID] = true
	defer delete(visiting, n.ID)
	for _, s := range n.Subjects {
		if topology.Overlaps(subject, s) {
			return true
		}
	}
	for i := range n.Sources {
		e := &n.Sources[i]
		if !g.FlowsUp(n, e) {
			continue
		}
		for _, down := range e.MapDown(subject) {
			if holdsVia(g, g.Node(e.Upstream), down, visiting) {
				return true
			}
		}
	}
	return false
}

// tierSources pairs each Nats-Counter-Sources entry with the configured
// source it came from, sorted by key then subject.
func tierSources(n *topology.Node, srcs counters.Sources) []TierSource {
	byKey := map[string]string{}
	for _, e := range n.Sources {
		name, _, _ := strings.Cut(e.Upstream, "@")
		byKey[topology.SourceKey(e, name)] = e.Upstream
	}
	var out []TierSource
	for k, subjects := range srcs {
		for subj, v := range subjects {
			out = append(out, TierSource{Key: k, Stream: byKey[k], Subject: subj, LastSeen: v})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Subject < out[j].Subject
	})
	return out
}
