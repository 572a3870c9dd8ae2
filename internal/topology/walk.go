package topology

// Hop is one tier a counter reaches.
type Hop struct {
	Stream  string // node ID
	Subject string
	Depth   int
}

// Up returns every stream above stream that receives subject (through
// filters and transforms, recursively), with the subject as named there,
// nearest first (BFS), each (stream, subject) once. A mirror of a stream
// that carries counter values is a tier (it holds the same values, and an
// aggregate may source it); a non-counter stream sourcing one holds raw
// copies and is not followed (see FlowsUp). A cycle ends where a (stream, subject) repeats, or where
// the path is longer than the graph.
func (g *Graph) Up(stream, subject string) []Hop {
	return g.walk(stream, subject, func(h Hop, visit func(string, string)) {
		for _, r := range g.consumers[h.Stream] {
			to := g.nodes[r.Stream]
			e := &to.Sources[r.Edge]
			if !g.FlowsUp(to, e) {
				continue
			}
			if s, ok := e.MapUp(h.Subject); ok {
				visit(r.Stream, s)
			}
		}
	})
}

// Down returns every (source stream, subject there) that feeds subject at
// stream, recursively, nearest first: the inverse of Up, over the same
// aggregation edges. A subject may come back as a pattern when a transform
// sums many upstream subjects into one.
func (g *Graph) Down(stream, subject string) []Hop {
	return g.walk(stream, subject, func(h Hop, visit func(string, string)) {
		n := g.nodes[h.Stream]
		if n == nil {
			return
		}
		for i := range n.Sources {
			e := &n.Sources[i]
			if !g.FlowsUp(n, e) {
				continue
			}
			for _, s := range e.MapDown(h.Subject) {
				visit(e.Upstream, s)
			}
		}
	})
}

func (g *Graph) walk(stream, subject string, next func(Hop, func(string, string))) []Hop {
	type key struct{ stream, subject string }
	seen := map[key]bool{{stream, subject}: true}
	var out []Hop
	queue := []Hop{{Stream: stream, Subject: subject}}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		// A path longer than the graph goes round a cycle; with a transform
		// that grows the subject, (stream, subject) would never repeat.
		if h.Depth >= len(g.nodes) {
			continue
		}
		next(h, func(s, subj string) {
			k := key{s, subj}
			if seen[k] {
				return
			}
			seen[k] = true
			nh := Hop{Stream: s, Subject: subj, Depth: h.Depth + 1}
			out = append(out, nh)
			queue = append(queue, nh)
		})
	}
	return out
}
