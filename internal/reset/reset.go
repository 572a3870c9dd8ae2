// Package reset plans and applies resets of counters at any tier with the
// safe recipe (read, publish the negative, purge below the kept reset
// message), and recovers broken counters. A plan is made and shown before
// anything is written, and re-checked before it is applied.
package reset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/natsort"
	"github.com/jetcounter/counter/internal/parallel"
	"github.com/jetcounter/counter/internal/terminal"
	"github.com/jetcounter/counter/internal/topology"
)

// DefaultResetRounds bounds how often a reset re-publishes the negative of
// increments that raced with it; under constant writes the value after the
// last round is what they added meanwhile, and it is kept.
const DefaultResetRounds = 10

// resetInFlight is how many counters are being reset at once: enough to
// hide round trips for 10k counters, few enough not to queue up the
// server's JetStream API (purges are API requests).
const resetInFlight = 64

// ResetTarget is one counter to reset at one tier.
type ResetTarget struct {
	Subject string
	Stream  string
}

// ResetOptions shape a reset.
type ResetOptions struct {
	// Stream is the tier to reset at; "" resets where each subject lives.
	Stream string
	// Reason and By go on every reset message as HeaderResetReason and
	// HeaderResetBy (left out when empty).
	Reason string
	By     string
	// Run goes on every reset message as HeaderResetRun (left out when
	// empty): the id that lets `counter reset --undo --run` undo the run.
	Run string
	// MaxRounds bounds the negative publishes per counter (0 = default).
	MaxRounds int
	// Progress, when set, is called (from several goroutines, serialized)
	// after each counter is reset and after each is purged.
	Progress func(ResetProgress)
}

// ResetProgress counts finished steps of a reset.
type ResetProgress struct {
	Reset, Purged, Total int
}

// ResetResult is what happened to one counter.
type ResetResult struct {
	Subject string
	Stream  string
	// Before is the value right before the first negative publish, from its
	// acknowledgement (the value read, when nothing was published).
	Before *big.Int
	// Delta is the sum of everything published (0 - Before - racing increments).
	Delta *big.Int
	// After is the value acknowledged for the last publish: 0, unless
	// writers kept incrementing through every round (then After is what
	// they added after the previous reset message, and it is kept).
	After *big.Int
	// Rounds is the number of negative publishes (0: the counter had no
	// value); at most MaxRounds.
	Rounds int
	// Seq is the stream sequence of the last reset message.
	Seq uint64
	// Purged: the history up to the reset was purged. PurgedBelow is the
	// purge's exclusive upper sequence.
	Purged      bool
	PurgedBelow uint64
	// PurgeError is why the purge failed (denied, timed out). The counter
	// is reset all the same: the purge is housekeeping.
	PurgeError error
	// Recovered: the counter was broken and was purged whole, then set with
	// +0 (see PlannedReset.Broken).
	Recovered bool
	// Outcome sums up what happened to the counter.
	Outcome ResetOutcome
	// Unacked is the negative increment whose outcome is unknown (sent, not
	// acknowledged): it may or may not have been applied. Nil otherwise.
	Unacked *big.Int
	// Err is why the counter was not (fully) reset, or why its outcome is
	// unknown.
	Err error
}

// ResetOutcome is what happened to one counter of a reset.
type ResetOutcome string

const (
	// ResetDone: every negative increment was acknowledged.
	ResetDone ResetOutcome = "reset"
	// ResetUnchanged: the counter was already 0 or had no value.
	ResetUnchanged ResetOutcome = "unchanged"
	// ResetFailed: not reset; nothing of this counter's reset was applied.
	ResetFailed ResetOutcome = "failed"
	// ResetUnknown: a negative increment was sent but not acknowledged
	// (a timeout, an interrupt, a lost connection): it may have been applied.
	ResetUnknown ResetOutcome = "unknown"
	// ResetSkipped: interrupted before this counter was started.
	ResetSkipped ResetOutcome = "skipped"
)

// ResetPlan is what a reset will do, shown before anything is written.
type ResetPlan struct {
	Targets []PlannedReset
	// Warnings are about the plan as a whole; each target has its own.
	Warnings []string
}

// BrokenCount is how many counters of the plan are broken (recovered by a
// purge of the subject and +0 instead of a negative increment).
func (p *ResetPlan) BrokenCount() int {
	n := 0
	for _, t := range p.Targets {
		if t.Broken {
			n++
		}
	}
	return n
}

// PlannedReset is one counter of a plan, with the tiers above it.
type PlannedReset struct {
	ResetTarget
	// Aggregate: the stream has sources, so the reset message is kept.
	Aggregate bool
	Value     *big.Int
	Above     []counters.PlannedTier
	// Broken: the counter's stored sources record is not valid, so the
	// server refuses every increment and a negative delta cannot reset it.
	// The reset recovers it instead: it purges the subject whole at this
	// stream, then publishes +0 (the aggregates above then drop by what they
	// last saw from it).
	Broken bool
	// Warnings are what the person confirming should know about this
	// counter's reset.
	Warnings []string
}

// PlanReset lists the counters matching patterns at the tier (or where they
// live), their values, and every aggregate above each with its value now and
// after. It writes nothing. domains are the extra JetStream domains the
// topology walk may look into.
func PlanReset(ctx context.Context, c *counters.Client, patterns []string, opts ResetOptions, domains []string) (*ResetPlan, error) {
	if err := ValidReason(opts.Reason); err != nil {
		return nil, err
	}
	for _, p := range patterns {
		if err := counters.ValidSubject(p, true); err != nil {
			return nil, err
		}
	}
	// A pattern that matches nothing stops the whole reset (exit 3) even if
	// others matched: resetting part of what was asked surprises at 3 a.m.
	list, err := c.Get(ctx, patterns, counters.GetOptions{Stream: opts.Stream, Sources: true})
	if err != nil {
		return nil, err
	}
	// The walk lists every stream with its configuration: the checks below
	// use it rather than asking for each stream again.
	g, err := c.Topology(ctx, domains)
	if err != nil {
		return nil, err
	}
	plan := &ResetPlan{Targets: make([]PlannedReset, 0, len(list))}
	var aggregates []string
	for _, ctr := range list {
		n := g.Node(ctr.Stream)
		if n == nil || n.Config == nil {
			return nil, errkind.NotFoundf("stream %s not found%s: was it deleted during the reset?", ctr.Stream, c.Where())
		}
		if err := checkResettable(n.Config, ctr.Subject); err != nil {
			return nil, err
		}
		t := PlannedReset{
			ResetTarget: ResetTarget{Subject: ctr.Subject, Stream: ctr.Stream},
			Aggregate:   len(n.Config.Sources) > 0,
			Value:       ctr.Value,
			Broken:      ctr.Broken,
		}
		switch {
		case t.Broken && t.Aggregate:
			return nil, errkind.Invalidf("counter %s in stream %s is broken (%v) and is an aggregate: purging it whole would drop what its sources contributed, and each source's next update would add its whole value again; fix its sources record first, or reset the tiers below", ctr.Subject, ctr.Stream, ctr.SourcesError)
		case t.Broken:
			t.Warnings = append(t.Warnings, fmt.Sprintf("%s in %s is broken (%v): the server refuses every increment of it, so it will be recovered instead: every message of %s in %s is purged, then +0 is published (aggregates above drop by what they last saw from it)", ctr.Subject, ctr.Stream, ctr.SourcesError, ctr.Subject, ctr.Stream))
		case ctr.SourcesError != nil:
			t.Warnings = append(t.Warnings, fmt.Sprintf("%s in %s: %v (written by another client?); its value is reset all the same", ctr.Subject, ctr.Stream, ctr.SourcesError))
		}
		if t.Aggregate && !slices.Contains(aggregates, ctr.Stream) {
			aggregates = append(aggregates, ctr.Stream)
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s is an aggregate: the tiers below it keep their values (reset there to drop the whole chain)", ctr.Stream))
		}
		plan.Targets = append(plan.Targets, t)
	}
	// A partitioned source still holds increments the aggregate has not
	// received: they arrive after the heal, after the reset message.
	for _, id := range aggregates {
		for _, up := range unreachableBelow(g, id) {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("source %s of %s could not be reached (%s): increments it took that %s has not received yet arrive once it is reachable again and count after the reset, so %s will not stay at 0; to reset them too, wait until it is reachable and settled (counter get SUBJECT --stream %s --settle), then reset", up.ID, id, up.Unreached(), id, id, id))
		}
	}
	for _, dom := range slices.Sorted(maps.Keys(g.Unreachable)) {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("domain %s did not answer: aggregates there are not in this plan, but drop all the same once it is reachable", dom))
	}
	// In the order get shows them (c2 before c10): the plan, the question's
	// first 20 and the results.
	slices.SortStableFunc(plan.Targets, func(x, y PlannedReset) int {
		return cmp.Or(natsort.Compare(x.Subject, y.Subject), strings.Compare(x.Stream, y.Stream))
	})
	targeted := map[ResetTarget]bool{}
	for _, t := range plan.Targets {
		targeted[t.ResetTarget] = true
	}
	// Group the tiers above by stream so each is read with one batch.
	type ref struct{ target, tier int }
	byStream := map[string][]ref{}
	for i := range plan.Targets {
		t := &plan.Targets[i]
		for _, h := range g.Up(t.Stream, t.Subject) {
			if targeted[ResetTarget{Subject: h.Subject, Stream: h.Stream}] {
				return nil, errkind.Invalidf("the counters matched span two tiers: %s in %s sums %s in %s, and resetting both subtracts twice; pick one tier with --stream", h.Subject, h.Stream, t.Subject, t.Stream)
			}
			byStream[h.Stream] = append(byStream[h.Stream], ref{i, len(t.Above)})
			t.Above = append(t.Above, counters.PlannedTier{Stream: h.Stream, Subject: h.Subject, Depth: h.Depth})
		}
	}
	records := map[ResetTarget]counters.Sources{}
	for id, refs := range byStream {
		name, domain, _ := strings.Cut(id, "@")
		dc, err := c.InDomain(domain)
		if err != nil {
			return nil, err
		}
		subjects := make([]string, 0, len(refs))
		seen := map[string]bool{}
		for _, r := range refs {
			s := plan.Targets[r.target].Above[r.tier].Subject
			if !seen[s] {
				seen[s] = true
				subjects = append(subjects, s)
			}
		}
		// With the sources record: it says why a tier would go negative.
		found, err := dc.ReadLiterals(ctx, name, subjects, counters.ReadLeader|counters.ReadSources)
		if err != nil {
			return nil, err
		}
		values := make(map[string]*big.Int, len(found))
		for _, ctr := range found {
			values[ctr.Subject] = ctr.Value
			records[ResetTarget{Subject: ctr.Subject, Stream: id}] = ctr.Sources
		}
		for _, r := range refs {
			tier := &plan.Targets[r.target].Above[r.tier]
			tier.Now = values[tier.Subject]
		}
		// Several counters may feed one aggregate subject (a transform sums
		// them): it drops by the sum of their resets.
		drops := map[string]*big.Int{}
		for _, r := range refs {
			t := plan.Targets[r.target]
			s := t.Above[r.tier].Subject
			if drops[s] == nil {
				drops[s] = new(big.Int)
			}
			drops[s].Add(drops[s], t.Value)
		}
		for _, r := range refs {
			tier := &plan.Targets[r.target].Above[r.tier]
			base := tier.Now
			if base == nil {
				base = new(big.Int)
			}
			tier.After = new(big.Int).Sub(base, drops[tier.Subject])
		}
	}
	for i := range plan.Targets {
		t := &plan.Targets[i]
		for _, h := range t.Above {
			if h.After.Sign() < 0 {
				if why := negativeCause(g, t, h, records); why != "" {
					t.Warnings = append(t.Warnings, fmt.Sprintf("%s in %s goes negative (%s): %s", h.Subject, h.Stream, h.After, why))
				}
			}
		}
	}
	return plan, nil
}

// negativeCause says why tier h above t would go negative, from what h
// last saw from the tier below it on the way up (its sources record, or
// for a mirror its own value). "" when nothing is wrong: a tier whose other
// sources hold negative values goes negative as their sum does.
func negativeCause(g *topology.Graph, t *PlannedReset, h counters.PlannedTier, records map[ResetTarget]counters.Sources) string {
	// The tier below h on the way up: the counter itself, or a tier above
	// it that h reads from.
	below := counters.PlannedTier{Stream: t.Stream, Subject: t.Subject, Now: t.Value}
	var edge *topology.Edge
	n := g.Node(h.Stream)
	if n == nil {
		return ""
	}
	for _, p := range append([]counters.PlannedTier{below}, t.Above...) {
		if p.Depth != h.Depth-1 {
			continue
		}
		for k := range n.Sources {
			if e := &n.Sources[k]; e.Upstream == p.Stream {
				if up, ok := e.MapUp(p.Subject); ok && up == h.Subject {
					below, edge = p, e
				}
			}
		}
	}
	if edge == nil {
		return ""
	}
	now := below.Now
	if now == nil {
		now = new(big.Int)
	}
	if edge.Mirror {
		if h.Now == nil || h.Now.Cmp(now) != 0 {
			return fmt.Sprintf("mirror %s has not copied %s from %s yet (it holds %s, %s holds %s): it copies the reset too and ends where %s does, not at %s", h.Stream, below.Subject, below.Stream, orNone(h.Now), below.Stream, now, below.Stream, h.After)
		}
		return ""
	}
	name, _, _ := strings.Cut(edge.Upstream, "@")
	record := records[ResetTarget{Subject: h.Subject, Stream: h.Stream}]
	seen := record.Entry(topology.SourceKey(*edge, name), below.Subject)
	if seen == nil || seen.Cmp(now) != 0 {
		// Sourcing is by value: h drops by what it last saw, not by what
		// the tier below holds now.
		return fmt.Sprintf("%s's record of %s in %s is %s, but %s holds %s now (%s is still catching up, or %s changed under it): a reset takes away what %s last saw from %s, so %s does not end at %s", h.Stream, below.Subject, below.Stream, orNone(seen), below.Stream, now, h.Stream, below.Subject, h.Stream, below.Stream, h.Stream, h.After)
	}
	base := h.Now
	if base == nil {
		base = new(big.Int)
	}
	if direct := new(big.Int).Sub(base, record.Total()); direct.Sign() < 0 {
		return fmt.Sprintf("the increments made on %s itself sum to %s, as after a reset at %s, which already took away what %s had counted; this reset takes %s's %s away from %s a second time (reset at one tier: the leaf if the whole chain should drop, the aggregate if only it should)", h.Stream, direct, h.Stream, below.Stream, t.Subject, t.Value, h.Stream)
	}
	return ""
}

func orNone(v *big.Int) string {
	if v == nil {
		return "none"
	}
	return v.String()
}

// publishSubject is where the reset of subject in the stream publishes:
// the subject itself, or the one the stream's subject_transform stores
// under it (checkResettable has made sure there is one).
func publishSubject(cfg *jetstream.StreamConfig, subject string) string {
	if p, ok := counters.PublishSubject(cfg, subject); ok {
		return p
	}
	return subject
}

// unreachableBelow lists the streams below id (through the edges values
// flow up, recursively) that could not be reached, sorted by ID.
func unreachableBelow(g *topology.Graph, id string) []*topology.Node {
	var out []*topology.Node
	seen := map[string]bool{id: true}
	var walk func(n *topology.Node)
	walk = func(n *topology.Node) {
		for i := range n.Sources {
			e := &n.Sources[i]
			up := g.Node(e.Upstream)
			if up == nil || seen[up.ID] || !(n.Counter || e.Mirror) {
				continue
			}
			seen[up.ID] = true
			if up.Config == nil && up.LookupError != "" {
				out = append(out, up)
				continue
			}
			walk(up)
		}
	}
	if n := g.Node(id); n != nil {
		walk(n)
	}
	slices.SortFunc(out, func(a, b *topology.Node) int { return natsort.Compare(a.ID, b.ID) })
	return out
}

// checkResettable checks that a reset of subject at the stream lands there:
// the negative delta is a publish, which goes to the stream that captures
// the subject. A pure aggregate (no subjects of its own) cannot take one.
//
// It also needs direct reads (allow_direct), as every counter client does.
func checkResettable(cfg *jetstream.StreamConfig, subject string) error {
	if err := counters.PublishTarget(subject, cfg); err != nil {
		return err
	}
	if !cfg.AllowDirect {
		return errkind.Invalidf("stream %s has allow_direct off: counters need direct reads; turn it on before resetting", cfg.Name)
	}
	return nil
}

// Reset applies the safe reset to every counter of the plan (COUNTERS.md
// "Reset: the only safe recipe"): read V from the stream leader, publish -V,
// publish the negative of the acked value until it is 0 (bounded), then
// purge the subject below the last reset message, which is kept at every
// tier. Increments after the reset message always survive; nothing is ever
// purged whole, and Nats-Rollup is never used.
//
// Counters are reset many at once. Results come in plan order. The error is
// about the plan as a whole (a stream missing or unable to take the reset),
// and then nothing was written; per-counter failures are in each result.
func Reset(ctx context.Context, c *counters.Client, plan *ResetPlan, opts ResetOptions) ([]ResetResult, error) {
	rounds := opts.MaxRounds
	if rounds <= 0 {
		rounds = DefaultResetRounds
	}
	streams := map[string]jetstream.Stream{}
	for _, t := range plan.Targets {
		if streams[t.Stream] != nil {
			continue
		}
		s, err := c.Stream(ctx, t.Stream)
		if err != nil {
			return nil, err
		}
		streams[t.Stream] = s
	}
	for _, t := range plan.Targets {
		if err := checkResettable(&streams[t.Stream].CachedInfo().Config, t.Subject); err != nil {
			return nil, err
		}
	}
	if err := ValidReason(opts.Reason); err != nil {
		return nil, err
	}
	hdr := nats.Header{}
	if r := headerValue(opts.Reason); r != "" {
		hdr.Set(counters.HeaderResetReason, r)
	}
	if by := headerValue(opts.By); by != "" {
		hdr.Set(counters.HeaderResetBy, by)
	}
	if run := headerValue(opts.Run); run != "" {
		hdr.Set(counters.HeaderResetRun, run)
	}

	n := len(plan.Targets)
	results := make([]ResetResult, n)
	var (
		mu       sync.Mutex
		progress = ResetProgress{Total: n}
	)
	report := func(reset, purged int) {
		if opts.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		progress.Reset += reset
		progress.Purged += purged
		opts.Progress(progress)
	}

	// Once ctx is done (Ctrl-C) no new counter is started, but the ones in
	// flight finish, within one more client timeout: a negative increment
	// cut off after it was sent is an unknown outcome, never "not reset".
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopGrace := context.AfterFunc(ctx, func() {
		time.AfterFunc(c.Timeout(), cancelWork)
	})
	defer stopGrace()

	// The negative publishes first, all of them, so that the aggregates
	// above are copying them while the purges start.
	parallel.Do(ctx, n, func(i int) {
		if plan.Targets[i].Broken {
			results[i] = recoverBroken(work, c, streams[plan.Targets[i].Stream], plan.Targets[i], hdr)
		} else {
			cfg := &streams[plan.Targets[i].Stream].CachedInfo().Config
			results[i] = resetOne(work, c, plan.Targets[i].ResetTarget, publishSubject(cfg, plan.Targets[i].Subject), hdr, rounds)
		}
		report(1, 0)
	}, func(i int) {
		t := plan.Targets[i]
		results[i] = ResetResult{Subject: t.Subject, Stream: t.Stream, Outcome: ResetSkipped,
			Err: errors.New("interrupted before this counter was started: nothing was written")}
	})

	// An aggregate is purged only once every source of it has delivered
	// something (see purgeSafe): one wait per stream, all at once.
	unsafe := map[string]error{}
	var (
		wg     sync.WaitGroup
		waitMu sync.Mutex
	)
	for name, s := range streams {
		if len(s.CachedInfo().Config.Sources) == 0 || !slices.ContainsFunc(results, func(r ResetResult) bool {
			return r.Stream == name && r.Err == nil && r.Rounds > 0 && !r.Recovered
		}) {
			continue
		}
		wg.Go(func() {
			if err := purgeSafe(ctx, c, name); err != nil {
				waitMu.Lock()
				unsafe[name] = err
				waitMu.Unlock()
			}
		})
	}
	wg.Wait()

	parallel.Do(ctx, n, func(i int) {
		r := &results[i]
		if r.Err == nil && r.Rounds > 0 && !r.Recovered {
			if err := unsafe[r.Stream]; err != nil {
				r.PurgeError = err
			} else {
				purgeReset(work, c, streams[r.Stream], r)
			}
		}
		report(0, 1)
	}, func(i int) {
		if results[i].Err == nil && results[i].Rounds > 0 && !results[i].Recovered {
			results[i].PurgeError = ErrInterrupted
		}
	})
	return results, nil
}

// purgeReset purges the history of one reset counter below its reset
// message, at every tier: housekeeping, so a failure is only recorded.
//
// The reset message itself is always kept. On an aggregate it holds the
// sources record (purging it makes the next sourced update add every
// upstream total again). On a leaf it is what an aggregate above that has
// not copied it yet will still read: a purge is not copied through sources,
// and purging the reset message too races with a source that has already
// fetched an older message, leaving the aggregate at the old value until
// the next leaf update. And a reset counter then reads 0, not "no value".
func purgeReset(ctx context.Context, c *counters.Client, s jetstream.Stream, r *ResetResult) {
	pctx, cancel := c.RequestContext(ctx)
	err := s.Purge(pctx, jetstream.WithPurgeSubject(r.Subject), jetstream.WithPurgeSequence(r.Seq))
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		r.PurgeError = ErrInterrupted
		return
	case err != nil:
		r.PurgeError = c.Wrap(err, "purge "+r.Subject+" in stream "+r.Stream)
		return
	}
	r.Purged, r.PurgedBelow = true, r.Seq
}

// purgeSafe waits, at most the client timeout, until every source of the
// aggregate stream name has delivered at least one message to it (its
// source info has a sequence), and returns an ErrPurgeSkipped error naming
// the source that has not, when one still has not.
//
// Why: nats-server (2.15.2, trySetupSourceConsumer) starts a source
// consumer that has no recorded position at the aggregate's LAST MESSAGE
// TIME, not at the source's beginning, whenever the aggregate's first
// sequence is above 1 (it takes that for state lost to a purge). A purge
// below the reset message moves the first sequence; a source that has not
// delivered yet (its consumer still being set up, or retried) then skips
// everything it held before the aggregate's last message, with lag 0 and
// no error, and a counter that does not change again stays wrong. A source
// with a position restarts exactly after it, and one configured with
// opt_start_seq starts there: neither is at risk.
func purgeSafe(ctx context.Context, c *counters.Client, name string) error {
	wctx, cancel := context.WithTimeout(ctx, c.Timeout())
	defer cancel()
	for wait := counters.PollFirst; ; wait = min(2*wait, counters.PollMax) {
		s, err := c.Stream(wctx, name)
		pending := ""
		if err == nil {
			if pending = unpositionedSource(s.CachedInfo()); pending == "" {
				return nil
			}
		}
		select {
		case <-wctx.Done():
			switch {
			case ctx.Err() != nil:
				return ErrInterrupted
			case err != nil:
				return fmt.Errorf("%w: the sources of aggregate %s could not be checked (%v), and a purge there is only safe once each has delivered something; the older messages stay, values are right", ErrPurgeSkipped, name, err)
			}
			return fmt.Errorf("%w: source %s has not delivered anything to aggregate %s yet (waited %s); purging now could make the server start it at %s's last message and skip what %s holds, so the older messages stay (values are right)", ErrPurgeSkipped, pending, name, c.Timeout(), name, pending)
		case <-time.After(wait):
		}
	}
}

// unpositionedSource names a source of the stream that has no recorded
// position and no opt_start_seq (see purgeSafe), "" when there is none.
func unpositionedSource(info *jetstream.StreamInfo) string {
	if len(info.Sources) < len(info.Config.Sources) {
		// Not all set up yet: none of those has a position.
		for _, cs := range info.Config.Sources {
			if !slices.ContainsFunc(info.Sources, func(si *jetstream.StreamSourceInfo) bool { return si.Name == cs.Name }) && cs.OptStartSeq == 0 {
				return cs.Name
			}
		}
	}
	for _, si := range info.Sources {
		if si.Seq > 0 {
			continue
		}
		startsAtSeq := true
		for _, cs := range info.Config.Sources {
			if cs.Name == si.Name && cs.OptStartSeq == 0 {
				startsAtSeq = false
			}
		}
		if !startsAtSeq {
			return si.Name
		}
	}
	return ""
}

// resetOne runs the publishing half of the recipe for one counter. "Nothing
// to undo" is decided from the stream leader: a replica that has not
// applied the latest increments would skip a counter that has a value.
func resetOne(ctx context.Context, c *counters.Client, t ResetTarget, publish string, hdr nats.Header, maxRounds int) ResetResult {
	r := ResetResult{Subject: t.Subject, Stream: t.Stream, Delta: new(big.Int)}
	// A direct get skips the JetStream API queue that a leader read (and
	// every purge) goes through. An older value from a lagging replica
	// is corrected by the rounds below (the ack shows what is left); only
	// "nothing to undo" must come from the leader.
	cur, err := c.ReadOne(ctx, t.Stream, t.Subject, counters.ReadDirect)
	if errors.Is(err, errkind.ErrNotFound) || (err == nil && cur.Value.Sign() == 0) {
		cur, err = c.ReadOne(ctx, t.Stream, t.Subject, counters.ReadLeader)
	}
	switch {
	case errors.Is(err, errkind.ErrNotFound):
		// Purged since the plan: nothing to undo.
		r.Before, r.After, r.Outcome = new(big.Int), new(big.Int), ResetUnchanged
		return r
	case err != nil && ctx.Err() != nil:
		r.Err, r.Outcome, r.Delta = errors.New("interrupted before this counter was read: nothing was written"), ResetSkipped, nil
		return r
	case err != nil:
		r.Err, r.Outcome, r.Delta = err, ResetFailed, nil
		return r
	}
	r.Before = cur.Value
	if cur.Value.Sign() == 0 {
		// Already 0 (reset before, its reset message kept): nothing to undo.
		r.After, r.Outcome = new(big.Int), ResetUnchanged
		return r
	}
	next := new(big.Int).Neg(cur.Value)
	for r.Rounds < maxRounds {
		ack, err := c.PublishIncr(ctx, publish, next, withTotal(hdr, new(big.Int).Add(r.Delta, next)))
		if err != nil {
			r.Err, r.Outcome = err, ResetFailed
			if errkind.OutcomeUnknown(err) {
				// Sent, not acknowledged: it may have been applied.
				r.Outcome, r.Unacked, r.After = ResetUnknown, next, nil
				why := fmt.Sprintf("no answer within %s", c.Timeout())
				if ctx.Err() != nil {
					why = "interrupted while waiting for the acknowledgement"
				}
				r.Err = errkind.Unknownf("reset %s: the negative increment %s was sent but not acknowledged (%s), so it may or may not have been applied: read the counter, or run the reset again (it re-reads the value)", t.Subject, counters.Signed(next), why)
			} else if r.Rounds > 0 {
				// Earlier rounds were applied: the counter is reset up to
				// the increments that raced with it.
				r.Outcome = ResetDone
				r.Err = nil
			} else if ctx.Err() != nil {
				r.Outcome = ResetSkipped
				r.Err = errors.New("interrupted before its negative increment was sent: nothing was written")
			}
			if r.Rounds == 0 {
				r.Delta = nil
			}
			return r
		}
		if ack.Stream != t.Stream {
			// Only possible if subjects moved between streams since the
			// check; the delta is applied there and must be reported.
			r.Err, r.Outcome = fmt.Errorf("reset %s: the negative increment %s landed in stream %s, not %s: check both streams", t.Subject, counters.Signed(next), ack.Stream, t.Stream), ResetFailed
			return r
		}
		if ack.Val == nil {
			r.Err, r.Outcome = errkind.Unavailablef("reset %s: stream %s stored the increment without counting", t.Subject, ack.Stream), ResetFailed
			return r
		}
		val, err := counters.ParseValue(*ack.Val)
		if err != nil {
			// Not errkind.ErrInvalid: the negative increment was applied.
			r.Rounds++
			r.Delta.Add(r.Delta, next)
			r.Err, r.Outcome, r.After = fmt.Errorf("reset %s: the increment %s was applied but its acknowledged value %q is not a number: read the counter before resetting again", t.Subject, counters.Signed(next), *ack.Val), ResetUnknown, nil
			return r
		}
		if r.Rounds == 0 {
			// The value right before this publish, as the leader applied
			// it: exact even if the read above came from a lagging replica.
			r.Before = new(big.Int).Sub(val, next)
		}
		r.Rounds++
		r.Delta.Add(r.Delta, next)
		r.Seq, r.After, r.Outcome = ack.Seq, val, ResetDone
		if val.Sign() == 0 {
			return r
		}
		// Increments landed between the read and this publish.
		next = new(big.Int).Neg(val)
	}
	// Writers kept incrementing between rounds. What the last ack shows
	// landed after the previous reset message: those increments are kept,
	// like every increment after a reset.
	return r
}

// recoverBroken resets a broken counter (its sources record is not valid,
// so the server refuses every increment): it purges the subject whole at
// this stream (a leaf: the plan refuses broken aggregates), then publishes
// +0. The counter restarts at 0 with a valid record, and each aggregate above
// computes 0 minus what it last saw from it, dropping by the old value.
func recoverBroken(ctx context.Context, c *counters.Client, s jetstream.Stream, t PlannedReset, hdr nats.Header) ResetResult {
	r := ResetResult{Subject: t.Subject, Stream: t.Stream, Before: t.Value, Recovered: true}
	pctx, cancel := c.RequestContext(ctx)
	err := s.Purge(pctx, jetstream.WithPurgeSubject(t.Subject))
	cancel()
	if err != nil {
		r.Err, r.Outcome = c.Wrap(err, "recover broken counter "+t.Subject+": purge it in stream "+t.Stream), ResetFailed
		if ctx.Err() != nil {
			r.Err, r.Outcome = errors.New("interrupted before this counter was recovered: nothing was written"), ResetSkipped
		}
		return r
	}
	r.Purged = true
	ack, err := c.PublishIncr(ctx, publishSubject(&s.CachedInfo().Config, t.Subject), new(big.Int), hdr)
	if err != nil {
		// Purged, so it reads "no value": the next increment starts it at
		// 0 and carries the drop to the aggregates above.
		r.Err, r.Outcome = fmt.Errorf("recover broken counter %s: it was purged, but the +0 that tells the aggregates above failed (%v): run 'counter incr %s +0'", t.Subject, err, t.Subject), ResetFailed
		if errkind.OutcomeUnknown(err) {
			r.Outcome = ResetUnknown
		}
		return r
	}
	r.Rounds, r.Seq, r.Outcome = 1, ack.Seq, ResetDone
	r.Delta = new(big.Int).Neg(t.Value)
	if ack.Val != nil {
		r.After, _ = counters.ParseValue(*ack.Val)
	}
	return r
}

// headerValue makes free text safe as one header value.
// MaxReasonLen bounds --reason. The reason travels as a header on each
// reset message and is copied into every aggregate above, whose sourced
// message must also hold the delta and the sources record within the
// server's header cap (counters.MaxHeaderBytes): the share the kernel keeps
// for fixed headers (see counters.MaxCarriedDigits) is 2 KiB.
const MaxReasonLen = 1024

// ValidReason checks --reason before anything is read or written: at most
// MaxReasonLen bytes (once its whitespace is folded, as it is sent), valid
// UTF-8 and no control characters other than whitespace.
func ValidReason(reason string) error {
	r := headerValue(reason)
	if len(r) > MaxReasonLen {
		return errkind.Invalidf("--reason is %d bytes long: at most %d (it is recorded on each reset message and copied into every aggregate above): nothing was reset", len(r), MaxReasonLen)
	}
	if !utf8.ValidString(r) || strings.ContainsFunc(r, terminal.IsControl) {
		return errkind.Invalidf("--reason %q contains a control character or invalid UTF-8: nothing was reset", r)
	}
	return nil
}

func headerValue(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

var (
	// ErrInterrupted: a step was not done because the run was interrupted.
	ErrInterrupted = errors.New("interrupted before the purge")
	// ErrPurgeSkipped: a reset at an aggregate left its history in place
	// because a source had not delivered anything yet (see purgeSafe).
	ErrPurgeSkipped = errors.New("purge skipped")
)
