package topology

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Problem is one hazard found in a deployment.
type Problem struct {
	Severity string // "error" | "warning"
	Code     string
	Stream   string // node ID
	Message  string
	Fix      string
}

// Severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Problem codes.
const (
	CodeNonCounterSource = "non-counter-source"
	CodeDiamond          = "diamond"
	CodeCycle            = "cycle"
	CodeMaxAge           = "counter-max-age"
	CodeMaxMsgs          = "counter-max-msgs"
	CodeMaxBytes         = "counter-max-bytes"
	CodeMarkerTTL        = "counter-marker-ttl"
	CodeSourceError      = "source-error"
	CodeNoAllowDirect    = "no-allow-direct"
	CodeSourceLagging    = "source-lagging"
	CodeSourceStalled    = "source-stalled"
	CodeSourceInactive   = "source-inactive"
	CodeSourceMissing    = "source-missing"
	CodeRawCopy          = "raw-copy"
	CodeSubjectTransform = "subject-transform"
	CodeSizeLimit        = "counter-size-limit"
	// CodeSourceUnreachable and CodeDomainUnreachable are what could not be
	// checked: a source, or a whole domain, that did not answer.
	CodeSourceUnreachable = "source-unreachable"
	CodeDomainUnreachable = "domain-unreachable"
)

// Unchecked counts the problems that say something could not be checked
// (an unreachable source or domain): a check with any is incomplete.
func Unchecked(ps []Problem) int {
	n := 0
	for _, p := range ps {
		if p.Code == CodeSourceUnreachable || p.Code == CodeDomainUnreachable {
			n++
		}
	}
	return n
}

// leaderSlack: a stream's first leader is elected a moment after it is
// created; a leader younger than the stream by more than this took over
// later.
const leaderSlack = 2 * time.Second

// Check finds every hazard, errors first, then by stream and code.
func (g *Graph) Check() []Problem {
	var out []Problem
	add := func(sev, code, stream, msg, fix string) {
		out = append(out, Problem{Severity: sev, Code: code, Stream: stream, Message: msg, Fix: fix})
	}
	for dom, why := range g.Unreachable {
		add(SeverityWarning, CodeDomainUnreachable, "@"+dom, why,
			fmt.Sprintf("check domain %s's servers and the link to it (leafnode); its streams, and their hazards, are not shown until it answers", dom))
	}
	for _, n := range g.sorted {
		if n.Config != nil && n.Counter {
			c := n.Config
			if c.MaxAge > 0 {
				add(SeverityError, CodeMaxAge, n.ID, fmt.Sprintf("counter stream %s has max_age %s: a counter whose last message ages out silently restarts at 0", n.ID, c.MaxAge),
					"remove max_age (set it to 0); use max_msgs_per_subject to bound history")
			}
			if c.MaxMsgs > 0 {
				add(SeverityError, CodeMaxMsgs, n.ID, fmt.Sprintf("counter stream %s has max_msgs %d: an evicted counter silently restarts at 0", n.ID, c.MaxMsgs),
					"remove max_msgs (set it to -1); use max_msgs_per_subject to bound history")
			}
			if c.MaxBytes > 0 {
				add(SeverityError, CodeMaxBytes, n.ID, fmt.Sprintf("counter stream %s has max_bytes %d: an evicted counter silently restarts at 0", n.ID, c.MaxBytes),
					"remove max_bytes (set it to -1); use max_msgs_per_subject to bound history")
			}
			if c.SubjectDeleteMarkerTTL > 0 {
				add(SeverityError, CodeMarkerTTL, n.ID, fmt.Sprintf("counter stream %s has subject_delete_marker_ttl %s: it enables TTLs and breaks expiry of counters", n.ID, c.SubjectDeleteMarkerTTL),
					"recreate the stream without subject_delete_marker_ttl")
			}
			if t := c.SubjectTransform; t != nil && t.Destination != "" {
				add(SeverityWarning, CodeSubjectTransform, n.ID, fmt.Sprintf("counter stream %s stores what is published to %s under %s (its subject_transform): its counters live under %s, which is what aggregates above filter on and other clients read", n.ID, orAll(t.Source), t.Destination, t.Destination),
					"nothing to fix if meant; counter reads, resets and watches them by either name")
			}
			if !n.AllowDirect {
				add(SeverityWarning, CodeNoAllowDirect, n.ID, fmt.Sprintf("counter stream %s has allow_direct off: counter clients refuse it and reads are slow", n.ID),
					"update the stream with allow_direct: true")
			}
		}
		for _, e := range n.Sources {
			up := g.nodes[e.Upstream]
			kind := "source"
			if e.Mirror {
				kind = "mirror"
			}
			if e.Error != "" {
				add(SeverityError, CodeSourceError, n.ID, fmt.Sprintf("%s %s of %s reports an error: %s", kind, e.Upstream, n.ID, e.Error),
					fmt.Sprintf("fix what the error names (stream %s reachable, API prefix, permissions)", e.Upstream))
			}
			switch {
			case up.Config == nil && up.Unreachable:
				add(SeverityWarning, CodeSourceUnreachable, n.ID, fmt.Sprintf("%s %s of %s could not be reached: %s; what %s holds from it cannot be checked, and may be stale", kind, e.Upstream, n.ID, up.Unreached(), n.ID),
					fmt.Sprintf("retry when %s is reachable (its domain's servers, the leafnode link); counter get --settle waits for it", e.Upstream))
			case up.Config == nil && up.LookupError != "":
				add(SeverityWarning, CodeSourceMissing, n.ID, fmt.Sprintf("%s %s of %s could not be looked up: %s", kind, e.Upstream, n.ID, up.LookupError),
					fmt.Sprintf("check access to stream %s (permissions, domain), or walk its domain with --domains", e.Upstream))
			case up.Config == nil:
				add(SeverityWarning, CodeSourceMissing, n.ID, fmt.Sprintf("%s %s of %s was not found", kind, e.Upstream, n.ID),
					fmt.Sprintf("create stream %s, walk its domain with --domains, or remove the %s", e.Upstream, kind))
			}
			// A mirror whose origin is missing or unreadable is reported
			// as such (source-missing at the mirror), not as a plain stream.
			if carries, known := g.counterValues(up.ID); n.Counter && !e.Mirror && up.Config != nil && !carries && known {
				add(SeverityError, CodeNonCounterSource, n.ID, fmt.Sprintf("counter stream %s sources non-counter stream %s: the aggregate counts it wrong, silently (it stalls on plain messages and miscounts a raw copy of counters)", n.ID, e.Upstream),
					fmt.Sprintf("remove source %s from %s, or source a counter stream instead", e.Upstream, n.ID))
			}
			// A mirror of counters is a read replica (and what an aggregate
			// in another place sources: mirror then source), not a mistake.
			if up.Counter && !e.Mirror && n.Config != nil && !n.Counter {
				add(SeverityWarning, CodeRawCopy, n.ID, fmt.Sprintf("non-counter stream %s sources counter stream %s: it holds raw copies, not an aggregate", n.ID, e.Upstream),
					fmt.Sprintf("to aggregate, source %s from a counter stream (allow_msg_counter) instead", e.Upstream))
			}
			if e.Lag > 0 {
				add(SeverityWarning, CodeSourceLagging, n.ID, fmt.Sprintf("%s %s of %s is %d messages behind", kind, e.Upstream, n.ID, e.Lag),
					fmt.Sprintf("check the link to %s; values at %s are stale until it catches up", e.Upstream, n.ID))
			}
			fix := fmt.Sprintf("check that %s is reachable from %s (leafnode, domain, permissions)", e.Upstream, n.ID)
			switch {
			case g.InactiveAfter <= 0:
			case e.Active > g.InactiveAfter:
				add(SeverityWarning, CodeSourceInactive, n.ID, fmt.Sprintf("%s %s of %s has been inactive for %s", kind, e.Upstream, n.ID, e.Active.Round(time.Second)), fix)
			case e.Active < 0 && e.Error == "":
				// The server's record of a source's activity starts again
				// with each leader: "never" only means since it took over.
				since, what, verb := n.Age, n.ID+" was created", "has never been"
				if n.LeaderAge > 0 && n.Age-n.LeaderAge > leaderSlack {
					since, what, verb = n.LeaderAge, n.ID+"'s current leader took over (the server keeps no record of a source's activity from before)", "has not been"
				}
				if since > g.InactiveAfter {
					add(SeverityWarning, CodeSourceInactive, n.ID, fmt.Sprintf("%s %s of %s %s active in the %s since %s", kind, e.Upstream, n.ID, verb, since.Round(time.Second), what), fix)
				}
			}
		}
	}
	out = append(out, g.structural()...)
	sortProblems(out)
	return out
}

// NewHazards returns the diamonds and cycles that adding n (or replacing
// the stream with its ID) would create and that g does not have yet.
// `create` asks this before making a stream.
func (g *Graph) NewHazards(n Node) []Problem {
	before := map[string]bool{}
	for _, p := range g.structural() {
		before[p.Code+"\x00"+p.Stream+"\x00"+p.Message] = true
	}
	var out []Problem
	for _, p := range g.WithStream(n).structural() {
		if !before[p.Code+"\x00"+p.Stream+"\x00"+p.Message] {
			out = append(out, p)
		}
	}
	sortProblems(out)
	return out
}

// SortProblems orders problems like Check does: errors first, then by stream
// and code.
func SortProblems(ps []Problem) { sortProblems(ps) }

func sortProblems(ps []Problem) {
	rank := func(s string) int {
		if s == SeverityError {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if d := rank(a.Severity) - rank(b.Severity); d != 0 {
			return d
		}
		if c := strings.Compare(a.Stream, b.Stream); c != 0 {
			return c
		}
		if c := strings.Compare(a.Code, b.Code); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
}

// structural finds cycles and diamonds: the hazards of the shape alone.
func (g *Graph) structural() []Problem {
	var out []Problem
	comp := g.components()
	inCycle := map[string]int{} // ID -> 1 + index of its cycle
	for ci, scc := range comp {
		self := false
		if len(scc) == 1 {
			for _, e := range g.nodes[scc[0]].Sources {
				if e.Upstream == scc[0] {
					self = true
				}
			}
			if !self {
				continue
			}
		}
		for _, id := range scc {
			inCycle[id] = ci + 1
		}
		if !g.circulates(scc) {
			continue // e.g. two streams exchanging disjoint subjects
		}
		slices.Sort(scc)
		out = append(out, Problem{
			Severity: SeverityError, Code: CodeCycle, Stream: scc[0],
			Message: fmt.Sprintf("streams %s source each other in a cycle: every update circulates and is counted again", strings.Join(scc, ", ")),
			Fix:     fmt.Sprintf("remove one source so data flows one way between %s", strings.Join(scc, ", ")),
		})
	}
	out = append(out, g.diamonds(inCycle)...)
	return out
}

// upstreams lists the distinct streams n reads, sorted.
func upstreams(n *Node) []string {
	var ups []string
	for _, e := range n.Sources {
		if !slices.Contains(ups, e.Upstream) {
			ups = append(ups, e.Upstream)
		}
	}
	slices.Sort(ups)
	return ups
}

// diamonds finds, for each counter stream A, every upstream U that reaches
// A along two or more routes. It reports only where the routes split (U has
// two outgoing routes to A) and join (A has two incoming ones), so streams
// above U or below A are not reported again. Parallel sources of the same
// stream count as one route; edges inside cycles are left to the cycle check.
func (g *Graph) diamonds(inCycle map[string]int) []Problem {
	// paths[A][U] = number of routes from U to A, capped at 2.
	paths := make(map[string]map[string]int, len(g.nodes))
	var visit func(id string) map[string]int
	visiting := map[string]bool{}
	visit = func(id string) map[string]int {
		if p, ok := paths[id]; ok {
			return p
		}
		p := map[string]int{}
		visiting[id] = true
		for _, u := range upstreams(g.nodes[id]) {
			if inCycle[u] != 0 && inCycle[u] == inCycle[id] || visiting[u] {
				continue
			}
			p[u] = min(p[u]+1, 2)
			for w, c := range visit(u) {
				p[w] = min(p[w]+c, 2)
			}
		}
		visiting[id] = false
		paths[id] = p
		return p
	}
	var out []Problem
	for _, a := range g.sorted {
		if !a.Counter {
			continue
		}
		pa := visit(a.ID)
		ids := make([]string, 0, len(pa))
		for u, c := range pa {
			if c >= 2 {
				ids = append(ids, u)
			}
		}
		slices.Sort(ids)
		for _, u := range ids {
			var via []string
			for _, p := range upstreams(a) {
				if p == u || visit(p)[u] > 0 {
					via = append(via, p)
				}
			}
			var splits []string
			for _, r := range g.consumers[u] {
				q := r.Stream
				if (q == a.ID || pa[q] > 0) && !slices.Contains(splits, q) {
					splits = append(splits, q)
				}
			}
			if len(via) < 2 || len(splits) < 2 || !g.sharedSubjects(u, a.ID, via) {
				continue
			}
			out = append(out, Problem{
				Severity: SeverityError, Code: CodeDiamond, Stream: a.ID,
				Message: fmt.Sprintf("%s reaches counter stream %s by %d paths (via %s): its counts are added more than once", u, a.ID, len(via), strings.Join(via, ", ")),
				Fix:     fmt.Sprintf("keep one path: remove all but one of the sources %s from %s", strings.Join(via, ", "), a.ID),
			})
		}
	}
	return out
}

// sharedSubjects reports whether some subject of u reaches a through two
// of the streams in via, under whatever name it arrives: then a counts it
// twice. Routes that carry disjoint subjects of u (one filters u.a.>, the
// other u.b.>) count nothing twice.
func (g *Graph) sharedSubjects(u, a string, via []string) bool {
	start := g.nodes[u].Subjects
	if len(start) == 0 {
		start = []string{">"} // an aggregate: whatever its sources store
	}
	// origins[i]: the subjects of u (in u's names) that reach a via via[i].
	origins := make([][]string, len(via))
	for i, p := range via {
		for _, r := range g.consumers[p] {
			if r.Stream != a {
				continue
			}
			e := g.EdgeOf(r)
			if p == u {
				for _, s := range start {
					origins[i] = append(origins[i], e.carried(s)...)
				}
				continue
			}
			for _, c := range g.carriedTo(u, start, p) {
				if len(e.mapPattern(c.pattern)) > 0 {
					origins[i] = append(origins[i], c.origin)
				}
			}
		}
	}
	for i := range origins {
		for j := i + 1; j < len(origins); j++ {
			for _, x := range origins[i] {
				if slices.ContainsFunc(origins[j], func(y string) bool { return Overlaps(x, y) }) {
					return true
				}
			}
		}
	}
	return false
}

// carriedPattern is a pattern on its way up: origin in the upstream's
// names, pattern in the names of the stream it has reached.
type carriedPattern struct{ origin, pattern string }

// carriedTo follows the subject patterns start of stream u up the
// aggregation edges and returns those that arrive at stream to. The origin
// is narrowed by the first edge only: later filters apply to renamed
// subjects, and leaving them out only errs towards reporting.
func (g *Graph) carriedTo(u string, start []string, to string) []carriedPattern {
	type state struct {
		stream string
		carriedPattern
	}
	var queue []state
	for _, r := range g.consumers[u] {
		e := g.EdgeOf(r)
		if !g.FlowsUp(g.nodes[r.Stream], e) {
			continue
		}
		for _, s := range start {
			for _, o := range e.carried(s) {
				for _, q := range e.mapPattern(o) {
					queue = append(queue, state{r.Stream, carriedPattern{o, q}})
				}
			}
		}
	}
	seen := map[state]bool{}
	var out []carriedPattern
	// Bounded like circulates: a growing transform in a cycle still ends.
	for steps := 0; len(queue) > 0 && steps < 10000; steps++ {
		cur := queue[0]
		queue = queue[1:]
		if seen[cur] {
			continue
		}
		seen[cur] = true
		if cur.stream == to {
			out = append(out, cur.carriedPattern)
		}
		for _, r := range g.consumers[cur.stream] {
			e := g.EdgeOf(r)
			if !g.FlowsUp(g.nodes[r.Stream], e) {
				continue
			}
			for _, q := range e.mapPattern(cur.pattern) {
				queue = append(queue, state{r.Stream, carriedPattern{cur.origin, q}})
			}
		}
	}
	return out
}

// components returns the strongly connected components (Tarjan), each with
// its IDs; an edge points from a stream to the stream it reads.
func (g *Graph) components() [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range upstreams(g.nodes[v]) {
			if _, ok := index[w]; !ok {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			out = append(out, scc)
		}
	}
	for _, n := range g.sorted {
		if _, ok := index[n.ID]; !ok {
			strong(n.ID)
		}
	}
	return out
}

// circulates reports whether some subject can travel around a loop of the
// strongly connected streams scc and arrive where it already was: a real
// cycle, as opposed to streams that exchange disjoint subject sets.
func (g *Graph) circulates(scc []string) bool {
	in := map[string]bool{}
	for _, id := range scc {
		in[id] = true
	}
	type state struct{ stream, pattern string }
	// Bounded: a transform that grows the subject each round still
	// returns within len(scc) steps.
	const maxStates = 10000
	for _, id := range scc {
		for _, e := range g.nodes[id].Sources {
			if !in[e.Upstream] {
				continue
			}
			for _, start := range e.mapPattern(">") {
				seen := map[state]bool{}
				queue := []state{{id, start}}
				for steps := 0; len(queue) > 0 && steps < maxStates; steps++ {
					cur := queue[0]
					queue = queue[1:]
					for _, r := range g.consumers[cur.stream] {
						if !in[r.Stream] {
							continue
						}
						for _, q := range g.EdgeOf(r).mapPattern(cur.pattern) {
							if r.Stream == id && Overlaps(q, start) {
								return true
							}
							if st := (state{r.Stream, q}); !seen[st] {
								seen[st] = true
								queue = append(queue, st)
							}
						}
					}
				}
			}
		}
	}
	return false
}
