package tiers

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// Settle looks again after counters.PollFirst, doubling up to counters.PollMax:
// sourcing takes milliseconds once a source runs, and about a second to
// start one.
const ()

// SettleTiers returns the node IDs a read of patterns would be answered by:
// the named stream, or each counter stream whose own subjects overlap a
// pattern (the stream that owns the subject, as Get resolves it).
func SettleTiers(g *topology.Graph, patterns []string, stream string) []string {
	if stream != "" {
		return []string{stream}
	}
	var out []string
	for _, n := range g.Nodes() {
		if !n.Counter || n.Config == nil || slices.Contains(out, n.ID) {
			continue
		}
		for _, p := range patterns {
			if slices.ContainsFunc(n.Subjects, func(s string) bool { return topology.Overlaps(p, s) }) {
				out = append(out, n.ID)
				break
			}
		}
	}
	return out
}

// Settle waits until every aggregation source below stream (a node of g,
// recursively) has delivered, for the counters matching patterns (in that
// stream's namespace), what its upstream held when Settle was called: the
// aggregate's Nats-Counter-Sources entry equals the upstream value then, or
// the upstream value now. A stream without sources is settled at once.
// When timeout passes first the error is errkind.ErrUnavailable and names the
// source that is behind.
//
// The notes say what settled without catching up: a counter purged
// upstream, whose last value the aggregate keeps (purges never flow
// through sources, so waiting for it could never end).
func Settle(ctx context.Context, c *counters.Client, g *topology.Graph, stream string, patterns []string, timeout time.Duration) (notes []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st := &settleState{visiting: map[string]bool{}}
	err = settle(ctx, c, g, stream, patterns, st)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// Settle's own deadline hit in the middle of a read, which then
		// reads as a request timeout: say what was being waited for.
		if st.pending != nil {
			return st.notes, settleTimeout(st.behind, st.pending)
		}
		return st.notes, errkind.Unavailablef("stream %s has not caught up with its sources in time: the aggregate is still catching up; retry, or wait longer with --settle=TIMEOUT", stream)
	}
	return st.notes, err
}

// expectation: the aggregate's counter subject must have seen upstream
// subject src at value want (or at the upstream's current value).
type expectation struct {
	aggSubject string
	key        string // Nats-Counter-Sources key
	upstream   *topology.Node
	edge       *topology.Edge
	srcSubject string
	want       *big.Int
}

// settleState is what settle carries down the tiers: the streams being
// settled (a cycle ends there), and the last source found behind, so a
// deadline in the middle of a read still names it.
type settleState struct {
	visiting map[string]bool
	behind   *topology.Node
	pending  *expectation
	notes    []string
}

func settle(ctx context.Context, c *counters.Client, g *topology.Graph, stream string, patterns []string, st *settleState) error {
	n := g.Node(stream)
	if n == nil || n.Config == nil || st.visiting[stream] {
		return nil
	}
	st.visiting[stream] = true
	defer delete(st.visiting, stream)
	var expect []expectation
	for i := range n.Sources {
		e := &n.Sources[i]
		if !g.IsAggregation(n, e) {
			continue
		}
		up := g.Node(e.Upstream)
		var downs []string
		for _, p := range patterns {
			for _, d := range e.MapDown(p) {
				if !slices.Contains(downs, d) {
					downs = append(downs, d)
				}
			}
		}
		if len(downs) == 0 {
			continue
		}
		if up != nil && up.Config == nil && up.LookupError != "" {
			// A source that cannot be read may hold values n has not
			// seen: the value cannot be called settled.
			fail := errkind.Unavailablef
			if up.Unreachable {
				fail = errkind.Unreachablef
			}
			return fail("stream %s cannot be settled: its source %s could not be reached (%s), so %s may lack its latest values: retry when it is reachable", n.ID, up.ID, up.Unreached(), n.ID)
		}
		if up == nil || up.Config == nil {
			// A source that does not exist holds nothing to wait for;
			// topology --check reports it (source-missing).
			continue
		}
		// The tier below first: what it holds is what this one must see.
		if err := settle(ctx, c, g, up.ID, downs, st); err != nil {
			return err
		}
		key := topology.SourceKey(*e, up.Name)
		for _, d := range downs {
			ctrs, err := c.ReadTier(ctx, up, d)
			if err != nil {
				return err
			}
			if len(ctrs) == 0 && counters.IsLiteral(d) {
				// No value (never written, or reset and purged): the
				// aggregate must see 0 for it.
				ctrs = []counters.Counter{{Subject: d, Value: new(big.Int)}}
			}
			for _, ctr := range ctrs {
				agg, ok := e.MapUp(ctr.Subject)
				if !ok {
					continue
				}
				expect = append(expect, expectation{aggSubject: agg, key: key, upstream: up, edge: e, srcSubject: ctr.Subject, want: ctr.Value})
			}
		}
	}
	if len(expect) == 0 {
		return nil
	}
	for wait := counters.PollFirst; ; wait = min(2*wait, counters.PollMax) {
		pending, err := unsettled(ctx, c, n, patterns, expect, st)
		if err != nil {
			return err
		}
		if pending == nil {
			st.behind, st.pending = nil, nil
			return nil
		}
		st.behind, st.pending = n, pending
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return settleTimeout(n, pending)
			}
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// unsettled returns the first expectation the aggregate n does not meet
// yet, or nil when it meets all.
func unsettled(ctx context.Context, c *counters.Client, n *topology.Node, patterns []string, expect []expectation, st *settleState) (*expectation, error) {
	seen := map[string]counters.Sources{}
	for _, p := range patterns {
		ctrs, err := c.ReadTier(ctx, n, p)
		if err != nil {
			return nil, err
		}
		for _, ctr := range ctrs {
			seen[ctr.Subject] = ctr.Sources
		}
	}
	for i := range expect {
		x := &expect[i]
		got := new(big.Int) // a missing entry counts as 0, as the server does
		if v := seen[x.aggSubject][x.key][x.srcSubject]; v != nil {
			got = v
		}
		if got.Cmp(x.want) == 0 {
			continue
		}
		// The upstream may have moved on since: seeing its value now is
		// as good (it includes everything there was at the start).
		now, err := c.ReadTier(ctx, x.upstream, x.srcSubject)
		if err != nil {
			return nil, err
		}
		cur := new(big.Int)
		if len(now) == 1 {
			cur = now[0].Value
		}
		if got.Cmp(cur) == 0 {
			continue
		}
		if len(now) == 0 && got.Sign() != 0 {
			// The source has no value for it any more, but the aggregate
			// saw one: purged (or deleted) upstream. Purges never flow
			// through sources; nothing more will come.
			note := fmt.Sprintf("%s in %s: source %s has no value for %s any more (purged there): %s keeps the %s it last saw until %s is incremented again (purges never flow through sources)",
				x.aggSubject, n.ID, x.upstream.ID, x.srcSubject, n.ID, got, x.srcSubject)
			if !slices.Contains(st.notes, note) {
				st.notes = append(st.notes, note)
			}
			x.want = got // met from now on
			continue
		}
		return x, nil
	}
	return nil, nil
}

func settleTimeout(n *topology.Node, x *expectation) error {
	why := ""
	if x.edge.Error != "" {
		why = " (source error: " + x.edge.Error + ")"
	}
	return errkind.Unavailablef("stream %s has not caught up with its source %s for %s (want %s from %s)%s: the aggregate is still catching up; retry, or wait longer with --settle=TIMEOUT",
		n.ID, x.upstream.ID, x.aggSubject, x.want, x.srcSubject, why)
}

// CatchingUp names a stream below the aggregate stream (recursively) that
// already holds a value for what the aggregate's subject sums, when the
// aggregate itself has none yet: it is still catching up. "" when none does.
func CatchingUp(ctx context.Context, c *counters.Client, g *topology.Graph, stream, subject string) string {
	for _, h := range g.Down(stream, subject) {
		if ctrs, err := c.ReadTier(ctx, g.Node(h.Stream), h.Subject); err == nil && len(ctrs) > 0 {
			return h.Stream
		}
	}
	return ""
}
