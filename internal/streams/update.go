package streams

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// UpdatePlan is what `counter create NAME … --update` changes in an existing
// stream, and what that does to counter values at this tier and every tier
// above. It is computed before anything is written.
type UpdatePlan struct {
	Stream string
	// Exists is false when there is no such stream yet: create it instead.
	Exists bool
	// Have is the stream's configuration now; Want what it becomes (the
	// fields `counter create` controls from the command line, the others
	// kept as they are).
	Have, Want jetstream.StreamConfig
	Changes    []ConfigChange
	// Counters are the counters of this stream whose values change, by
	// subject, each with the tiers above it.
	Counters []CounterEffect
	// Unknown names effects that could not be computed (a source that
	// could not be read): values may change by amounts not shown.
	Unknown []string
	// Refusals are reasons the update needs --force: the create-time
	// hazards of the resulting configuration, and changed transforms.
	Refusals []string
}

// Unchanged: the stream already has the wanted configuration.
func (p *UpdatePlan) Unchanged() bool { return p.Exists && len(p.Changes) == 0 }

// ValuesChange: applying the plan changes (or may change) a counter value
// somewhere, so it needs a confirmation.
func (p *UpdatePlan) ValuesChange() bool { return len(p.Counters) > 0 || len(p.Unknown) > 0 }

// ConfigChange is one difference between the stream's configuration now and
// the wanted one.
type ConfigChange struct {
	Field string // "source", "subject", "replicas", "placement", ...
	Op    string // "add", "remove" or "change"
	// Item names what is added or removed (a source spec, a subject).
	Item string
	// Have and Want are the old and new settings of a "change".
	Have, Want string
	// Effect says in words what happens to counter values.
	Effect string
	// Delta is the sum a source adds at this tier, over Counted counters;
	// nil when the change moves no value.
	Delta   *big.Int
	Counted int
	// Kept is what this stream keeps from a removed source, over Counted
	// counters (nil when unknown).
	Kept *big.Int
	// Refusal is why this change needs --force ("" when it does not).
	Refusal string
	// SourceKey is, for a source, its key in the sources record.
	SourceKey string
}

// CounterEffect is one counter of the updated stream whose value changes.
type CounterEffect struct {
	Subject string
	// Now is nil when the counter has no value yet.
	Now, Delta, After *big.Int
	// Above are the tiers above, each moving by the same amount.
	Above []counters.PlannedTier
}

// UpdateInputs is everything PlanConfigUpdate needs, read beforehand.
type UpdateInputs struct {
	Have, Want jetstream.StreamConfig
	// Graph is the topology around the stream, for the tiers above (nil:
	// none are shown); StreamID is the stream's node ID in it.
	Graph    *topology.Graph
	StreamID string
	// Aggregate is the stream's counters by subject, with the sources
	// records (Nats-Counter-Sources) that say what it last saw from each.
	Aggregate map[string]counters.Counter
	// Upstream is, by source key, the counters of each source that is
	// added or re-mapped, as named upstream (two sources of one stream
	// share a key: each takes the subjects it carries). A key not present
	// was not read: UpstreamErr says why.
	Upstream    map[string][]counters.Counter
	UpstreamErr map[string]string
}

// sourceEdge is one configured source: key is how the server's
// Nats-Counter-Sources record names its stream, id which subjects it takes
// from there. The same stream may be sourced several times with other
// filters (the record keys it by stream, then upstream subject), so a
// source is its id: one whose filters stay is the same source, one whose
// filters change is another.
type sourceEdge struct {
	src     *jetstream.StreamSource
	edge    topology.Edge
	key, id string
}

func sourceEdges(srcs []*jetstream.StreamSource) []sourceEdge {
	out := make([]sourceEdge, 0, len(srcs))
	for _, s := range srcs {
		e := counters.ConfigEdge(s)
		key := topology.SourceKey(e, s.Name)
		filters := sortedCopy(carriedFilters(e))
		out = append(out, sourceEdge{src: s, edge: e, key: key, id: key + " " + strings.Join(filters, ",")})
	}
	return out
}

// pairSources finds, for each new source, the old one it continues (nil:
// it is added): the one with the same stream and filters, or else the only
// source of its stream on both sides (a filter or transform that changes).
// Old sources that continue none are removed.
func pairSources(old, next []sourceEdge) (prev []*sourceEdge, removed []sourceEdge) {
	prev = make([]*sourceEdge, len(next))
	used := make([]bool, len(old))
	for i, n := range next {
		for j, o := range old {
			if !used[j] && o.id == n.id {
				prev[i], used[j] = &old[j], true
				break
			}
		}
	}
	count := func(edges []sourceEdge, key string) int {
		k := 0
		for _, e := range edges {
			if e.key == key {
				k++
			}
		}
		return k
	}
	for i, n := range next {
		if prev[i] != nil || count(next, n.key) != 1 || count(old, n.key) != 1 {
			continue
		}
		for j, o := range old {
			if !used[j] && o.key == n.key {
				prev[i], used[j] = &old[j], true
			}
		}
	}
	for j, o := range old {
		if !used[j] {
			removed = append(removed, o)
		}
	}
	return prev, removed
}

// hasKey reports whether a source of edges has that record key.
func hasKey(edges []sourceEdge, key string) bool {
	return slices.ContainsFunc(edges, func(e sourceEdge) bool { return e.key == key })
}

// carries reports whether the source takes upstream subject subj.
func (e sourceEdge) carries(subj string) bool {
	return slices.ContainsFunc(carriedFilters(e.edge), func(f string) bool { return topology.Covers(f, subj) })
}

// renames is the part of a source's mapping that moves subjects: filters
// decide which subjects flow, renames where they land.
func renames(e topology.Edge) string {
	var parts []string
	for _, t := range e.Transforms {
		from := cmp.Or(t.From, ">")
		if t.To != "" && t.To != from {
			parts = append(parts, from+"→"+t.To)
		}
	}
	return strings.Join(parts, ", ")
}

// specOf renders a configured source in --source form.
func specOf(s *jetstream.StreamSource) string {
	spec := SourceSpec{Stream: s.Name, From: s.FilterSubject}
	if s.External != nil && s.External.APIPrefix != "" {
		p := s.External.APIPrefix
		if d, ok := strings.CutPrefix(p, "$JS."); ok {
			if d, ok = strings.CutSuffix(d, ".API"); ok && !strings.Contains(d, ".") {
				spec.Domain = d
			}
		}
		if spec.Domain == "" {
			spec.Domain = "(api " + p + ")"
		}
	}
	if len(s.SubjectTransforms) == 1 {
		spec.From, spec.To = s.SubjectTransforms[0].Source, s.SubjectTransforms[0].Destination
	} else if len(s.SubjectTransforms) > 1 {
		var ts []string
		for _, t := range s.SubjectTransforms {
			ts = append(ts, t.Source+"→"+t.Destination)
		}
		return spec.String() + " [" + strings.Join(ts, ", ") + "]"
	}
	return spec.String()
}

// sameMapping: two sources of one key carry the same subjects to the same
// places (filter and transforms alike).
func sameMapping(a, b *jetstream.StreamSource) bool {
	return sourcesKey([]*jetstream.StreamSource{a}) == sourcesKey([]*jetstream.StreamSource{b})
}

// UpdateRefusal is the reason no update can turn have into want, even with
// --force: what the server cannot change, and a source moved to another
// domain or API prefix (its new source key adds its whole value again).
func UpdateRefusal(have, want jetstream.StreamConfig) error {
	name := have.Name
	switch {
	case have.Mirror != nil && want.Mirror == nil:
		return errkind.Invalidf("stream %s is a mirror: it cannot become a counter stream; create a new stream instead", name)
	case have.Mirror == nil && want.Mirror != nil:
		return errkind.Invalidf("stream %s is not a mirror: a stream cannot become one; create a new stream with --mirror", name)
	case have.Mirror != nil && mirrorKey(have.Mirror) != mirrorKey(want.Mirror):
		return errkind.Invalidf("stream %s mirrors %s: a mirror's origin cannot change; create a new mirror of %s", name, specOf(have.Mirror), specOf(want.Mirror))
	case have.Mirror == nil && !have.AllowMsgCounter:
		return errkind.Invalidf("stream %s is not a counter stream: counters cannot be turned on for an existing stream; create a new one", name)
	case have.Storage != want.Storage:
		return errkind.Invalidf("stream %s: storage cannot change (have %s, want %s); create a new stream and move the sources and subjects to it", name, have.Storage, want.Storage)
	case have.Retention != want.Retention:
		return errkind.Invalidf("stream %s: retention cannot change (have %s, want %s); create a new stream", name, have.Retention, want.Retention)
	}
	old, next := sourceEdges(have.Sources), sourceEdges(want.Sources)
	for _, n := range next {
		if hasKey(old, n.key) {
			continue
		}
		for _, o := range old {
			if o.src.Name != n.src.Name || hasKey(next, o.key) {
				continue
			}
			return errkind.Invalidf("source %s of %s would move from %s to %s: that is a new source key, and %s would count %s's whole value again (even with --force, nothing changed). To move it safely, create a new aggregate that sources %s, or remove the source in one update, add it back with another (its plan shows the value counted again) and reset %s afterwards",
				o.src.Name, name, where(counters.APIPrefix(o.src.External)), where(counters.APIPrefix(n.src.External)), name, o.src.Name, specOf(n.src), name)
		}
	}
	return nil
}

func where(prefix string) string {
	if prefix == "" {
		return "the local domain"
	}
	return "API prefix " + prefix
}

// mergeControlled is have with the fields `counter create` controls taken
// from want. Everything else (metadata, duplicate window, compression, ...)
// stays as it is.
func mergeControlled(have, want jetstream.StreamConfig) jetstream.StreamConfig {
	out := have
	out.Subjects = want.Subjects
	// A source that stays as it is keeps its configuration verbatim (start
	// sequence or time, deliver prefix: set by others, not ours to reset).
	out.Sources = nil
	next := sourceEdges(want.Sources)
	prev, _ := pairSources(sourceEdges(have.Sources), next)
	for i, n := range next {
		if o := prev[i]; o != nil && sameMapping(o.src, n.src) {
			out.Sources = append(out.Sources, o.src)
			continue
		}
		out.Sources = append(out.Sources, n.src)
	}
	out.Replicas = want.Replicas
	out.Placement = want.Placement
	out.Description = want.Description
	out.MaxMsgsPerSubject = want.MaxMsgsPerSubject
	out.AllowDirect = want.AllowDirect
	out.Discard = want.Discard
	out.MaxAge = want.MaxAge
	out.MaxMsgs = want.MaxMsgs
	out.MaxBytes = want.MaxBytes
	out.MaxMsgSize = want.MaxMsgSize
	out.SubjectDeleteMarkerTTL = want.SubjectDeleteMarkerTTL
	return out
}

// PlanConfigUpdate computes the changes from in.Have to in.Want and their
// effects on values, without I/O. Tiers above carry Now and After nil until
// SettleAbove fills them.
//
// Sourcing is by value (ADR-49 "Adding Sources"): for each counter a source
// carries, the aggregate applies the source's value minus what its sources
// record last saw from that source key for that subject, at the subject the
// counter lands on. So an added source adds its whole value the first time,
// only the change since when it was removed and is added back, and a
// re-mapped source adds its whole value again at subjects it did not land on
// before. A removed source changes nothing: the aggregate keeps what it had.
func PlanConfigUpdate(in UpdateInputs) *UpdatePlan {
	name := in.Have.Name
	plan := &UpdatePlan{Stream: name, Exists: true, Have: in.Have, Want: in.Want}
	add := func(c ConfigChange) { plan.Changes = append(plan.Changes, c) }
	noValues := "no value changes"

	old, next := sourceEdges(in.Have.Sources), sourceEdges(in.Want.Sources)
	sources := len(next)
	deltas := map[string]*big.Int{}
	counted := func(e sourceEdge) (*big.Int, int, bool) {
		ctrs, ok := in.Upstream[e.key]
		if !ok {
			why := in.UpstreamErr[e.key]
			plan.Unknown = append(plan.Unknown, fmt.Sprintf("what source %s adds is unknown: %s", e.src.Name, cmp.Or(why, "it was not read")))
			return nil, 0, false
		}
		total, n := new(big.Int), 0
		var over []string
		for _, u := range ctrs {
			dest, ok := e.edge.MapUp(u.Subject)
			if !ok {
				continue
			}
			if too := tooLargeToCarry(u, e.src.Name, sources); too != "" && len(over) < 5 {
				over = append(over, too)
			}
			d := new(big.Int).Set(u.Value)
			if last := in.Aggregate[dest].Sources[e.key][u.Subject]; last != nil {
				d.Sub(d, last)
			}
			if d.Sign() == 0 {
				continue
			}
			if deltas[dest] == nil {
				deltas[dest] = new(big.Int)
			}
			deltas[dest].Add(deltas[dest], d)
			total.Add(total, d)
			n++
		}
		if len(over) > 0 {
			plan.Refusals = append(plan.Refusals, fmt.Sprintf("source %s holds counters too large for %s to carry (%s): the source would stop at the first of them, silently, and what this plan adds would never come; reset them in %s first", specOf(e.src), name, strings.Join(over, ", "), e.src.Name))
		}
		return total, n, true
	}
	prev, removed := pairSources(old, next)
	for i, n := range next {
		o := prev[i]
		switch {
		case o == nil:
			c := ConfigChange{Field: "source", Op: "add", Item: specOf(n.src)}
			if total, cnt, ok := counted(n); ok {
				c.Delta, c.Counted = total, cnt
				c.Effect = fmt.Sprintf("adds %s over %s (each counter's value at %s minus what %s last saw from it)", counters.Signed(total), countersWord(cnt), n.src.Name, name)
				if cnt == 0 {
					c.Delta, c.Effect = nil, fmt.Sprintf("no value changes: %s already counted all of %s", name, n.src.Name)
				}
			} else {
				c.Effect = "adds its counters' values (unknown: not read)"
			}
			add(c)
		case !sameMapping(o.src, n.src):
			c := ConfigChange{Field: "source", Op: "change", Item: n.src.Name, Have: specOf(o.src), Want: specOf(n.src)}
			moved := renames(o.edge) != renames(n.edge)
			if total, cnt, ok := counted(n); ok && cnt > 0 {
				c.Delta, c.Counted = total, cnt
				c.Effect = fmt.Sprintf("adds %s over %s", counters.Signed(total), countersWord(cnt))
			} else if ok {
				c.Effect = noValues
			} else {
				c.Effect = "values may change (unknown: not read)"
			}
			if moved {
				c.Effect += fmt.Sprintf("; future deltas land on other subjects: the old ones keep their totals and the new ones receive %s's whole value (a double count across subjects)", n.src.Name)
				c.Refusal = fmt.Sprintf("the transform of source %s changes (%s becomes %s): its whole value is counted again under the new subjects", n.src.Name, cmp.Or(renames(o.edge), "none"), cmp.Or(renames(n.edge), "none"))
			}
			add(c)
		}
	}
	for _, o := range removed {
		kept, cnt := keptFrom(in.Aggregate, o)
		add(ConfigChange{
			Field: "source", Op: "remove", Item: specOf(o.src), Kept: kept, Counted: cnt, SourceKey: o.key,
			Effect: removeEffect(name, o.src.Name, kept, cnt, nil),
		})
	}

	for _, s := range in.Want.Subjects {
		if !slices.Contains(in.Have.Subjects, s) {
			add(ConfigChange{Field: "subject", Op: "add", Item: s, Effect: noValues + fmt.Sprintf("; increments (and resets) published to %s land in %s", s, name)})
		}
	}
	for _, s := range in.Have.Subjects {
		if !slices.Contains(in.Want.Subjects, s) {
			add(ConfigChange{Field: "subject", Op: "remove", Item: s, Effect: noValues + fmt.Sprintf("; %s keeps its counters under %s but takes no more increments (or resets) there", name, s)})
		}
	}
	change := func(field string, have, want any, effect string) {
		if h, w := fmt.Sprint(have), fmt.Sprint(want); h != w {
			add(ConfigChange{Field: field, Op: "change", Have: h, Want: w, Effect: effect})
		}
	}
	change("replicas", max(in.Have.Replicas, 1), max(in.Want.Replicas, 1), noValues)
	change("placement", placementKey(in.Have.Placement), placementKey(in.Want.Placement), noValues)
	change("description", fmt.Sprintf("%q", in.Have.Description), fmt.Sprintf("%q", in.Want.Description), noValues)
	history := noValues
	if w := in.Want.MaxMsgsPerSubject; w > 0 && (in.Have.MaxMsgsPerSubject <= 0 || w < in.Have.MaxMsgsPerSubject) {
		history += fmt.Sprintf("; messages beyond the last %d of each counter are removed (the last one holds the value)", w)
	}
	change("history", unlimited(in.Have.MaxMsgsPerSubject), unlimited(in.Want.MaxMsgsPerSubject), history)
	change("allow_direct", in.Have.AllowDirect, in.Want.AllowDirect, noValues+"; counters are read directly")
	change("discard", in.Have.Discard, in.Want.Discard, noValues)
	safer := noValues + "; counters no longer silently restart at 0"
	change("max_age", in.Have.MaxAge, in.Want.MaxAge, safer)
	change("max_msgs", unlimited(in.Have.MaxMsgs), unlimited(in.Want.MaxMsgs), safer)
	change("max_bytes", unlimited(in.Have.MaxBytes), unlimited(in.Want.MaxBytes), safer)
	change("subject_delete_marker_ttl", in.Have.SubjectDeleteMarkerTTL, in.Want.SubjectDeleteMarkerTTL, safer)
	change("max_msg_size", unlimited(int64(in.Have.MaxMsgSize)), unlimited(int64(in.Want.MaxMsgSize)), noValues+"; counters can grow past the old size limit (a value at it refuses every increment)")

	subjects := make([]string, 0, len(deltas))
	for s, d := range deltas {
		if d.Sign() != 0 {
			subjects = append(subjects, s)
		}
	}
	slices.Sort(subjects)
	for _, s := range subjects {
		ce := CounterEffect{Subject: s, Delta: deltas[s]}
		base := new(big.Int)
		if ctr, ok := in.Aggregate[s]; ok {
			ce.Now = ctr.Value
			base.Set(ctr.Value)
		}
		ce.After = base.Add(base, ce.Delta)
		if in.Graph != nil {
			for _, h := range in.Graph.Up(in.StreamID, s) {
				ce.Above = append(ce.Above, counters.PlannedTier{Stream: h.Stream, Subject: h.Subject, Depth: h.Depth})
			}
		}
		plan.Counters = append(plan.Counters, ce)
	}
	for _, c := range plan.Changes {
		if c.Refusal != "" {
			plan.Refusals = append(plan.Refusals, c.Refusal)
		}
	}
	return plan
}

// TierKey names one counter at one tier.
type TierKey struct{ Stream, Subject string }

// SettleAbove fills Now and After of every tier above from the values read
// there (absent: no value yet). A tier fed by several changed counters (a
// transform sums them) moves by the sum of their deltas.
func (p *UpdatePlan) SettleAbove(values map[TierKey]*big.Int) {
	moves := map[TierKey]*big.Int{}
	for _, ce := range p.Counters {
		for _, t := range ce.Above {
			k := TierKey{t.Stream, t.Subject}
			if moves[k] == nil {
				moves[k] = new(big.Int)
			}
			moves[k].Add(moves[k], ce.Delta)
		}
	}
	for i := range p.Counters {
		for j := range p.Counters[i].Above {
			t := &p.Counters[i].Above[j]
			k := TierKey{t.Stream, t.Subject}
			t.Now = values[k]
			base := new(big.Int)
			if t.Now != nil {
				base.Set(t.Now)
			}
			t.After = base.Add(base, moves[k])
		}
	}
}

func countersWord(n int) string {
	if n == 1 {
		return "1 counter"
	}
	return fmt.Sprintf("%d counters", n)
}

// PlanUpdate compares the stream spec describes with the existing one and
// plans the update: the changes, their effects on values at this tier and
// every tier above (read now), and what needs --force. It writes nothing.
// A stream that does not exist gives a plan with Exists false. Changes no
// update can make are an errkind.ErrInvalid error, whatever opts.Force says.
func PlanUpdate(ctx context.Context, c *counters.Client, spec StreamSpec, opts CreateOptions) (*UpdatePlan, error) {
	want, err := spec.Config()
	if err != nil {
		return nil, err
	}
	if _, err := c.APILevel(ctx); err != nil {
		return nil, err
	}
	existing, err := c.StreamInfo(ctx, want.Name)
	if errors.Is(err, errkind.ErrNotFound) {
		return &UpdatePlan{Stream: want.Name, Want: want}, nil
	}
	if err != nil {
		return nil, err
	}
	have := existing.Config
	if err := UpdateRefusal(have, want); err != nil {
		return nil, err
	}
	merged := sealedAs(have, mergeControlled(have, want))
	if diffs := ConfigDiff(have, merged); have.Sealed && len(diffs) > 0 {
		return nil, errkind.Invalidf("stream %s is sealed: it takes no more changes, increments or resets (%s); create a new stream for what you want", have.Name, strings.Join(diffs, "; "))
	}
	if len(ConfigDiff(have, merged)) == 0 {
		return &UpdatePlan{Stream: want.Name, Exists: true, Have: have, Want: merged}, nil
	}
	d, err := discoverFor(ctx, c, spec, opts.Domains)
	if err != nil {
		return nil, err
	}
	refusals, err := refusals(ctx, c, d, merged, spec, false)
	if err != nil {
		return nil, err
	}
	in := UpdateInputs{Have: have, Want: merged, StreamID: want.Name, Upstream: map[string][]counters.Counter{}, UpstreamErr: map[string]string{}}
	if d != nil {
		in.Graph = d.Graph()
	}
	if err := readUpdateInputs(ctx, c, &in); err != nil {
		return nil, err
	}
	plan := PlanConfigUpdate(in)
	for _, r := range refusals {
		plan.Refusals = append(plan.Refusals, r.msg)
	}
	if err := readAbove(ctx, c, in.Graph, plan); err != nil {
		return nil, err
	}
	return plan, nil
}

// readUpdateInputs reads the stream's counters with their sources records
// (when a source changes) and the counters of each added or re-mapped
// source.
func readUpdateInputs(ctx context.Context, c *counters.Client, in *UpdateInputs) error {
	old, next := sourceEdges(in.Have.Sources), sourceEdges(in.Want.Sources)
	var read []sourceEdge
	prev, removed := pairSources(old, next)
	for i, n := range next {
		if o := prev[i]; o == nil || !sameMapping(o.src, n.src) {
			read = append(read, n)
		}
	}
	if len(read) == 0 && len(removed) == 0 {
		return nil
	}
	in.Aggregate = map[string]counters.Counter{}
	err := c.ReadLast(ctx, in.Have.Name, []string{">"}, func(ctr counters.Counter) error {
		in.Aggregate[ctr.Subject] = ctr
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range read {
		dc, err := c.InDomain(e.edge.APIPrefix)
		if err != nil {
			return err
		}
		var ctrs []counters.Counter
		for _, filters := range counters.ConsumerFilters(carriedFilters(e.edge)) {
			err = dc.ReadLast(ctx, e.src.Name, filters, func(ctr counters.Counter) error {
				ctrs = append(ctrs, ctr)
				return nil
			})
			if err != nil {
				break
			}
		}
		if err != nil {
			// A missing or unreadable source is already a refusal; with
			// --force its effect is shown as unknown.
			in.UpstreamErr[e.key] = err.Error()
			continue
		}
		seen := map[string]bool{}
		for _, ctr := range in.Upstream[e.key] {
			seen[ctr.Subject] = true // read for another source of the stream
		}
		in.Upstream[e.key] = append(in.Upstream[e.key], slices.DeleteFunc(ctrs, func(ctr counters.Counter) bool {
			dup := seen[ctr.Subject]
			seen[ctr.Subject] = true
			return dup
		})...)
	}
	return nil
}

// carriedFilters are the upstream subjects an edge may carry.
func carriedFilters(e topology.Edge) []string {
	if len(e.Transforms) == 0 {
		return []string{cmp.Or(e.Filter, ">")}
	}
	var out []string
	for _, t := range e.Transforms {
		out = append(out, cmp.Or(t.From, ">"))
	}
	return out
}

// readAbove reads the current value of every tier above the changed
// counters, one batch per stream, and settles the plan.
func readAbove(ctx context.Context, c *counters.Client, g *topology.Graph, plan *UpdatePlan) error {
	byStream := map[string][]string{}
	for _, ce := range plan.Counters {
		for _, t := range ce.Above {
			if !slices.Contains(byStream[t.Stream], t.Subject) {
				byStream[t.Stream] = append(byStream[t.Stream], t.Subject)
			}
		}
	}
	values := map[TierKey]*big.Int{}
	for id, subjects := range byStream {
		name, domain, _ := strings.Cut(id, "@")
		dc, err := c.InDomain(domain)
		if err != nil {
			return err
		}
		var found []counters.Counter
		if n := g.Node(id); n != nil && n.AllowDirect {
			found, err = dc.ReadLiterals(ctx, name, subjects, counters.ReadSources)
		} else {
			// Without direct reads (a mirror made elsewhere may lack
			// them): one consumer over the subjects.
			for _, filters := range counters.ConsumerFilters(subjects) {
				if err = dc.ReadLast(ctx, name, filters, func(ctr counters.Counter) error {
					found = append(found, ctr)
					return nil
				}); err != nil {
					break
				}
			}
		}
		if err != nil {
			return err
		}
		for _, ctr := range found {
			values[TierKey{id, ctr.Subject}] = ctr.Value
		}
	}
	plan.SettleAbove(values)
	return nil
}

// keptFrom sums what the sources record of each counter of an aggregate
// holds from source key, and counts those counters.
func keptFrom(aggregate map[string]counters.Counter, o sourceEdge) (*big.Int, int) {
	// Only the record entries for the upstream subjects this source (not
	// another of the same stream) carried.
	kept, cnt := new(big.Int), 0
	for _, ctr := range aggregate {
		counted := false
		for subj, v := range ctr.Sources[o.key] {
			if o.carries(subj) {
				kept.Add(kept, v)
				counted = true
			}
		}
		if counted {
			cnt++
		}
	}
	return kept, cnt
}

// removeEffect says what removing source from stream name does; planned,
// when set and different, is what the plan said it would keep.
func removeEffect(name, source string, kept *big.Int, cnt int, planned *big.Int) string {
	was := ""
	if planned != nil && planned.Cmp(kept) != 0 {
		was = fmt.Sprintf(", not the %s planned: increments reached it until the update", planned)
	}
	return fmt.Sprintf("no value changes: %s keeps the %s it counted from %s in %s%s (a reset at %s removes it); later increments at %s no longer reach %s",
		name, kept, source, countersWord(cnt), was, name, source, name)
}

// RecountKept reads again, once the update is applied, what the stream
// keeps from each removed source: increments that reached it between the
// plan and the update are part of it. Each removal then reports what was
// kept, and says so when that is not what the plan said.
func RecountKept(ctx context.Context, c *counters.Client, plan *UpdatePlan) error {
	if !slices.ContainsFunc(plan.Changes, func(ch ConfigChange) bool { return ch.Field == "source" && ch.Op == "remove" }) {
		return nil
	}
	aggregate := map[string]counters.Counter{}
	if err := c.ReadLast(ctx, plan.Stream, []string{">"}, func(ctr counters.Counter) error {
		aggregate[ctr.Subject] = ctr
		return nil
	}); err != nil {
		return err
	}
	for i := range plan.Changes {
		ch := &plan.Changes[i]
		if ch.Field != "source" || ch.Op != "remove" {
			continue
		}
		i := slices.IndexFunc(sourceEdges(plan.Have.Sources), func(e sourceEdge) bool { return specOf(e.src) == ch.Item })
		if i < 0 {
			continue
		}
		o := sourceEdges(plan.Have.Sources)[i]
		source := o.src.Name
		kept, cnt := keptFrom(aggregate, o)
		ch.Effect = removeEffect(plan.Stream, source, kept, cnt, ch.Kept)
		ch.Kept, ch.Counted = kept, cnt
	}
	return nil
}

// ApplyUpdate writes the plan's configuration, unless the stream changed
// since the plan was made (then nothing is written: plan again).
func ApplyUpdate(ctx context.Context, c *counters.Client, plan *UpdatePlan) error {
	info, err := c.StreamInfo(ctx, plan.Stream)
	if err != nil {
		return err
	}
	if diffs := ConfigDiff(info.Config, plan.Have); len(diffs) > 0 {
		return errkind.Conflictf("stream %s changed since the plan was made (%s): nothing changed; run the command again to see the new plan", plan.Stream, strings.Join(diffs, "; "))
	}
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	if _, err := c.JetStream().UpdateStream(rctx, plan.Want); err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.Code == 400 {
			return errkind.Invalidf("update stream %s: the server refused the configuration: %s (error %d); nothing changed", plan.Stream, apiErr.Description, apiErr.ErrorCode)
		}
		return c.Wrap(err, "update stream "+plan.Stream)
	}
	return nil
}
