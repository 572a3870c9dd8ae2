package tiers

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// StalledSources looks again, wait after the graph was listed, at every
// source of an aggregate, and reports one that has stopped: its lag did not
// move while the upstream has newer messages, or the aggregate's record of
// the upstream's newest counter is behind and did not move either (a
// stalled source may show lag 0 and no error: the server retries it
// forever). The usual cause is a message the source cannot store (an
// increment with a value too large for the aggregate's headers). It returns
// problems with the lag warnings of stalled sources replaced by errors.
func StalledSources(ctx context.Context, c *counters.Client, g *topology.Graph, problems []topology.Problem, wait time.Duration) []topology.Problem {
	type watched struct {
		n, up *topology.Node
		e     topology.Edge
		pos   uint64 // upstream last sequence minus lag: where the source is (lag > 0)
		// The upstream's newest counter, and what the aggregate last saw of
		// it (nil: nothing), when that differs from its value.
		subject, aggSubject string
		seen                *big.Int
	}
	var watch []watched
	for _, n := range g.Nodes() {
		for _, e := range n.Sources {
			up := g.Node(e.Upstream)
			if up == nil || up.State == nil || n.Config == nil || up.Config == nil || up.State.LastSeq == 0 {
				continue
			}
			w := watched{n: n, up: up, e: e}
			if e.Lag > 0 && up.State.LastSeq >= e.Lag {
				w.pos = up.State.LastSeq - e.Lag
			}
			if g.IsAggregation(n, &e) {
				w.subject, w.aggSubject, w.seen = behind(ctx, c, n, up, e)
			}
			if w.pos > 0 || w.subject != "" {
				watch = append(watch, w)
			}
		}
	}
	if len(watch) == 0 {
		return problems
	}
	select {
	case <-ctx.Done():
		return problems
	case <-time.After(wait):
	}
	for _, w := range watch {
		lag, upLast, err := sourceLag(ctx, c, w.n, w.up, w.e)
		if err != nil {
			continue
		}
		stalled := ""
		moved := w.pos > 0 && (lag == 0 || upLast < lag || upLast-lag != w.pos)
		switch {
		case moved:
		case w.pos > 0 && lag > 0 && upLast >= lag && upLast-lag == w.pos:
			stalled = fmt.Sprintf("%d messages behind and not moving for %s", lag, wait)
		case w.subject != "":
			// Still behind on the same counter, and the aggregate's record
			// of it has not moved.
			subj, _, seen := behind(ctx, c, w.n, w.up, w.e)
			if subj == w.subject && (seen == nil) == (w.seen == nil) && (seen == nil || seen.Cmp(w.seen) == 0) {
				stalled = fmt.Sprintf("%s in %s has not caught up with %s in %s for %s (source lag %d)", w.aggSubject, w.n.ID, w.subject, w.up.ID, wait, lag)
			}
		}
		if stalled == "" {
			continue
		}
		kind := "source"
		if w.e.Mirror {
			kind = "mirror"
		}
		problems = slices.DeleteFunc(problems, func(p topology.Problem) bool {
			return p.Code == topology.CodeSourceLagging && p.Stream == w.n.ID && strings.Contains(p.Message, " "+w.e.Upstream+" of ")
		})
		problems = append(problems, topology.Problem{
			Severity: topology.SeverityError, Code: topology.CodeSourceStalled, Stream: w.n.ID,
			Message: fmt.Sprintf("%s %s of %s is stalled: %s; values in %s are stale for every later counter of %s", kind, w.e.Upstream, w.n.ID, stalled, w.n.ID, w.e.Upstream),
			Fix: fmt.Sprintf("the server log of %s's leader says why; usually the next message of %s is too large for %s's headers (a value over about %d digits): reset that counter in %s ('counter get \">\" --stream %s --json' shows the values), and the %s moves on",
				w.n.ID, w.e.Upstream, w.n.ID, counters.MaxCarriedDigits(1, len(w.up.Name)+20, 16), w.e.Upstream, w.up.Name, kind),
		})
	}
	topology.SortProblems(problems)
	return problems
}

// behind reads the upstream's newest message and, when the aggregate's
// sources record for it differs from its value, returns its subject, the
// aggregate's subject and what the aggregate last saw (nil: nothing).
func behind(ctx context.Context, c *counters.Client, n, up *topology.Node, e topology.Edge) (subject, aggSubject string, seen *big.Int) {
	uc, err := c.InDomain(up.Domain)
	if err != nil {
		return "", "", nil
	}
	last, err := uc.ReadLastMessage(ctx, up.Name)
	if err != nil {
		return "", "", nil
	}
	aggSubject, ok := e.MapUp(last.Subject)
	if !ok {
		return "", "", nil
	}
	dc, err := c.InDomain(n.Domain)
	if err != nil {
		return "", "", nil
	}
	agg, err := dc.ReadOne(ctx, n.Name, aggSubject, counters.ReadSources)
	switch {
	case errors.Is(err, errkind.ErrNotFound):
	case err != nil || agg.SourcesError != nil:
		return "", "", nil
	default:
		seen = agg.Sources[topology.SourceKey(e, up.Name)][last.Subject]
	}
	if seen != nil && seen.Cmp(last.Value) == 0 {
		return "", "", nil
	}
	return last.Subject, aggSubject, seen
}

// sourceLag reads the lag of edge e of n, and the upstream's last sequence.
func sourceLag(ctx context.Context, c *counters.Client, n, up *topology.Node, e topology.Edge) (lag, upLast uint64, err error) {
	dc, err := c.InDomain(n.Domain)
	if err != nil {
		return 0, 0, err
	}
	info, err := dc.StreamInfo(ctx, n.Name)
	if err != nil {
		return 0, 0, err
	}
	uc, err := c.InDomain(up.Domain)
	if err != nil {
		return 0, 0, err
	}
	upInfo, err := uc.StreamInfo(ctx, up.Name)
	if err != nil {
		return 0, 0, err
	}
	live := info.Sources
	if e.Mirror && info.Mirror != nil {
		return info.Mirror.Lag, upInfo.State.LastSeq, nil
	}
	for _, s := range live {
		if s.Name == up.Name && s.FilterSubject == e.Filter {
			return s.Lag, upInfo.State.LastSeq, nil
		}
	}
	return 0, 0, fmt.Errorf("source %s of %s not found", up.ID, n.ID)
}
