package tiers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// NewSourceGrace is how old an aggregate must be before a source of it that
// has delivered nothing yet (no recorded position) is judged: a new source
// takes about a second to start.
const NewSourceGrace = 10 * time.Second

// StalledSources looks again, wait after the graph was listed, at every
// source of every stream and reports one that has stopped. A source is
// judged by its own recorded position (stream info sources[].seq, the last
// upstream sequence it has seen): when a message it should deliver is
// there upstream after that position and the position does not move, it
// is stalled, however busy the upstream is. A stalled source may show lag
// 0 and no error: the server retries it forever. The usual cause is a
// message the source cannot store (an increment with a value too large
// for the aggregate's headers). A mirror, which has no reported position,
// is stalled when its lag does not move. It returns problems with the lag
// warnings of stalled sources replaced by errors.
func StalledSources(ctx context.Context, c *counters.Client, g *topology.Graph, problems []topology.Problem, wait time.Duration) []topology.Problem {
	type watched struct {
		n, up *topology.Node
		i     int    // the edge's index in n.Sources
		pos   uint64 // a source: its recorded position; a mirror: upstream last sequence minus lag
		// A source: the first message waiting upstream after pos.
		next        uint64
		nextSubject string
	}
	var watch []watched
	for _, n := range g.Nodes() {
		if n.Config == nil {
			continue
		}
		for i, e := range n.Sources {
			up := g.Node(e.Upstream)
			if up == nil || up.State == nil || up.Config == nil || up.State.LastSeq == 0 {
				continue
			}
			if e.Mirror {
				if e.Lag > 0 && up.State.LastSeq >= e.Lag {
					watch = append(watch, watched{n: n, up: up, i: i, pos: up.State.LastSeq - e.Lag})
				}
				continue
			}
			if e.Seq == 0 && n.Age < NewSourceGrace {
				continue // still starting, most likely
			}
			if e.Seq >= up.State.LastSeq {
				continue // has seen everything there is
			}
			subject, next, err := nextWaiting(ctx, c, up, e)
			if err != nil {
				continue // nothing it should deliver, or it cannot be told
			}
			watch = append(watch, watched{n: n, up: up, i: i, pos: e.Seq, next: next, nextSubject: subject})
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
	now := map[string][]topology.Edge{}
	for _, w := range watch {
		edges, ok := now[w.n.ID]
		if !ok {
			edges, _ = edgesNow(ctx, c, w.n)
			now[w.n.ID] = edges
		}
		if w.i >= len(edges) || edges[w.i].Mirror != w.n.Sources[w.i].Mirror {
			continue // the stream changed meanwhile
		}
		e, was := edges[w.i], w.n.Sources[w.i]
		stalled, fixCounter := "", ""
		if was.Mirror {
			upLast, err := lastSeq(ctx, c, w.up)
			if err != nil || e.Lag == 0 || upLast < e.Lag || upLast-e.Lag != w.pos {
				continue
			}
			stalled = fmt.Sprintf("%d messages behind and not moving for %s", e.Lag, wait)
		} else {
			if e.Seq > w.pos {
				continue // it moved
			}
			stalled = fmt.Sprintf("its position in %s has not moved past sequence %d for %s while sequence %d (%s) waits to be delivered", w.up.ID, w.pos, wait, w.next, w.nextSubject)
			fixCounter = w.nextSubject
		}
		kind := "source"
		if was.Mirror {
			kind = "mirror"
		}
		problems = slices.DeleteFunc(problems, func(p topology.Problem) bool {
			return p.Code == topology.CodeSourceLagging && p.Stream == w.n.ID && strings.Contains(p.Message, " "+was.Upstream+" of ")
		})
		counter := "that counter"
		if fixCounter != "" {
			counter = fixCounter
		}
		problems = append(problems, topology.Problem{
			Severity: topology.SeverityError, Code: topology.CodeSourceStalled, Stream: w.n.ID,
			Message: fmt.Sprintf("%s %s of %s is stalled: %s; values in %s are stale for every later counter of %s", kind, was.Upstream, w.n.ID, stalled, w.n.ID, was.Upstream),
			Fix: fmt.Sprintf("the server log of %s's leader says why; usually the next message of %s is too large for %s's headers (a value over about %d digits): reset %s in %s ('counter get \">\" --stream %s --json' shows the values), and the %s moves on",
				w.n.ID, was.Upstream, w.n.ID, counters.MaxCarriedDigits(1, len(w.up.Name)+20, 16), counter, was.Upstream, w.up.Name, kind),
		})
	}
	topology.SortProblems(problems)
	return problems
}

// nextWaiting finds the first message of up after the source's position
// that the source carries (its filter, or any of its transforms' sources):
// its subject and sequence.
func nextWaiting(ctx context.Context, c *counters.Client, up *topology.Node, e topology.Edge) (string, uint64, error) {
	uc, err := c.InDomain(up.Domain)
	if err != nil {
		return "", 0, err
	}
	filters := []string{cmp.Or(e.Filter, ">")}
	if e.Filter == "" && len(e.Transforms) > 0 {
		filters = filters[:0]
		for _, t := range e.Transforms {
			filters = append(filters, cmp.Or(t.From, ">"))
		}
	}
	var (
		subject string
		seq     uint64
	)
	for _, f := range filters {
		s, q, err := nextMessage(ctx, uc, up.Name, e.Seq+1, f)
		if errors.Is(err, errkind.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", 0, err
		}
		if seq == 0 || q < seq {
			subject, seq = s, q
		}
	}
	if seq == 0 {
		return "", 0, errkind.NotFoundf("nothing waiting")
	}
	return subject, seq, nil
}

// lastSeq reads the upstream's last sequence now.
func lastSeq(ctx context.Context, c *counters.Client, up *topology.Node) (uint64, error) {
	uc, err := c.InDomain(up.Domain)
	if err != nil {
		return 0, err
	}
	info, err := uc.StreamInfo(ctx, up.Name)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}
