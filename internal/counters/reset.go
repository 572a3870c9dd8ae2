package counters

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/topology"
)

// Headers of our own on a reset message: an audit trail that stays in the
// stream (and is copied into the aggregates above, which source it).
const (
	HeaderResetReason = "Counter-Reset-Reason"
	HeaderResetBy     = "Counter-Reset-By"
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
	// Before is the value read right before the first negative publish.
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
	// KeptReason says why a leaf's reset message was kept (purged below it,
	// not below it plus one): an aggregate above had not copied it yet.
	KeptReason string
	// Err is why the counter was not (fully) reset.
	Err error
}

// ResetPlan is what a reset will do, shown before anything is written.
type ResetPlan struct {
	Targets []PlannedReset
	graph   *topology.Graph
}

// PlannedReset is one counter of a plan, with the tiers above it.
type PlannedReset struct {
	ResetTarget
	// Aggregate: the stream has sources, so the reset message is kept.
	Aggregate bool
	Value     *big.Int
	Above     []PlannedTier
}

// PlannedTier is one aggregate above a reset counter: its value drops by the
// reset amount, since the negative delta is sourced like any other.
type PlannedTier struct {
	Stream  string // topology node ID: NAME, or NAME@DOMAIN in another domain
	Subject string
	Depth   int
	// Now is nil when that tier holds no value for the subject yet.
	Now, After *big.Int
}

// PlanReset lists the counters matching patterns at the tier (or where they
// live), their values, and every aggregate above each with its value now and
// after. It writes nothing. domains are the extra JetStream domains the
// topology walk may look into.
func (c *Client) PlanReset(ctx context.Context, patterns []string, opts ResetOptions, domains []string) (*ResetPlan, error) {
	for _, p := range patterns {
		if err := ValidSubject(p, true); err != nil {
			return nil, err
		}
	}
	// A pattern that matches nothing stops the whole reset (exit 3) even if
	// others matched: resetting part of what was asked surprises at 3 a.m.
	list, err := c.Get(ctx, patterns, GetOptions{Stream: opts.Stream})
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
	for _, ctr := range list {
		n := g.Node(ctr.Stream)
		if n == nil || n.Config == nil {
			return nil, NotFoundf("stream %s not found%s: was it deleted during the reset?", ctr.Stream, c.where())
		}
		if err := checkResettable(n.Config, ctr.Subject); err != nil {
			return nil, err
		}
		plan.Targets = append(plan.Targets, PlannedReset{
			ResetTarget: ResetTarget{Subject: ctr.Subject, Stream: ctr.Stream},
			Aggregate:   len(n.Config.Sources) > 0,
			Value:       ctr.Value,
		})
	}
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
				return nil, Invalidf("the counters matched span two tiers: %s in %s sums %s in %s, and resetting both subtracts twice; pick one tier with --stream", h.Subject, h.Stream, t.Subject, t.Stream)
			}
			byStream[h.Stream] = append(byStream[h.Stream], ref{i, len(t.Above)})
			t.Above = append(t.Above, PlannedTier{Stream: h.Stream, Subject: h.Subject, Depth: h.Depth})
		}
	}
	for id, refs := range byStream {
		name, domain, _ := strings.Cut(id, "@")
		dc, err := c.inDomain(domain)
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
		found, err := dc.readLiterals(ctx, name, subjects)
		if err != nil {
			return nil, err
		}
		values := make(map[string]*big.Int, len(found))
		for _, ctr := range found {
			values[ctr.Subject] = ctr.Value
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
	plan.graph = g
	return plan, nil
}

// checkResettable checks that a reset of subject at the stream lands there:
// the negative delta is a publish, which goes to the stream that captures
// the subject. A pure aggregate (no subjects of its own) cannot take one.
//
// It also needs direct reads (allow_direct), as every counter client does.
func checkResettable(cfg *jetstream.StreamConfig, subject string) error {
	name := cfg.Name
	if cfg.Mirror != nil {
		return Invalidf("stream %s is a mirror of %s and takes no increments: reset at %s (the mirror and every aggregate above it follow)", name, cfg.Mirror.Name, cfg.Mirror.Name)
	}
	if !cfg.AllowDirect {
		return Invalidf("stream %s has allow_direct off: counters need direct reads; turn it on before resetting", name)
	}
	for _, s := range cfg.Subjects {
		if SubjectMatches(subject, s) {
			return nil
		}
	}
	if len(cfg.Subjects) == 0 {
		return Invalidf("stream %s has no subjects of its own, so it cannot take the negative increment a reset publishes: add subject %s to it (subjects of an aggregate may be its sourced ones: counter create %s … --subjects %s --update), or reset upstream", name, subject, name, subject)
	}
	return Invalidf("stream %s does not capture subject %s (its subjects: %s): a reset there would land in another stream; reset the subject at the stream that captures it", name, subject, strings.Join(cfg.Subjects, ", "))
}

// Reset applies the safe reset to every counter of the plan (COUNTERS.md
// "Reset: the only safe recipe"): read V, publish -V, publish the negative of
// the acked value until it is 0 (bounded), then purge the subject below the
// reset message plus one on a stream without sources, or below it on an
// aggregate (keeping it, and with it the Nats-Counter-Sources record).
// Increments after the reset message always survive; nothing is ever purged
// whole, and Nats-Rollup is never used.
//
// Counters are reset many at once. Results come in plan order. The error is
// about the plan as a whole (a stream missing or unable to take the reset),
// and then nothing was written; per-counter failures are in each result.
func (c *Client) Reset(ctx context.Context, plan *ResetPlan, opts ResetOptions) ([]ResetResult, error) {
	rounds := opts.MaxRounds
	if rounds <= 0 {
		rounds = DefaultResetRounds
	}
	streams := map[string]jetstream.Stream{}
	for _, t := range plan.Targets {
		if streams[t.Stream] != nil {
			continue
		}
		s, err := c.stream(ctx, t.Stream)
		if err != nil {
			return nil, err
		}
		if !s.CachedInfo().Config.AllowMsgCounter {
			return nil, notCounter(t.Stream)
		}
		streams[t.Stream] = s
	}
	for _, t := range plan.Targets {
		if err := checkResettable(&streams[t.Stream].CachedInfo().Config, t.Subject); err != nil {
			return nil, err
		}
	}
	hdr := nats.Header{}
	if r := headerValue(opts.Reason); r != "" {
		hdr.Set(HeaderResetReason, r)
	}
	if by := headerValue(opts.By); by != "" {
		hdr.Set(HeaderResetBy, by)
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

	// The negative publishes first, all of them, so that the aggregates
	// above are copying them while the purges start.
	parallel(ctx, n, func(i int) {
		results[i] = c.resetOne(ctx, plan.Targets[i].ResetTarget, hdr, rounds)
		report(1, 0)
	}, func(i int) {
		t := plan.Targets[i]
		results[i] = ResetResult{Subject: t.Subject, Stream: t.Stream, Err: ctx.Err()}
	})

	stalled := &stalledTiers{m: map[string]error{}}
	parallel(ctx, n, func(i int) {
		r := &results[i]
		if r.Err == nil && r.Rounds > 0 {
			c.purgeReset(ctx, plan.graph, streams[r.Stream], r, stalled)
		}
		report(0, 1)
	}, func(i int) {
		if results[i].Err == nil && results[i].Rounds > 0 {
			results[i].PurgeError = ctx.Err()
		}
	})
	return results, nil
}

// purgeReset purges the history of one reset counter up to its reset
// message: housekeeping, so a failure is only recorded.
func (c *Client) purgeReset(ctx context.Context, g *topology.Graph, s jetstream.Stream, r *ResetResult, stalled *stalledTiers) {
	// An aggregate keeps its reset message: it holds the sources record.
	// So does a leaf whose last reset message holds increments that raced
	// with it (After != 0): they are kept.
	below := r.Seq
	if len(s.CachedInfo().Config.Sources) == 0 && r.After.Sign() == 0 {
		// A purge is not copied through sources, but it removes messages an
		// aggregate above may not have copied yet: purging a leaf's reset
		// message before the aggregates sourced it leaves them at the old
		// value. Remove it only once they have; else keep it (always safe).
		if err := c.aggregatesCaughtUp(ctx, g, r, stalled); err != nil {
			r.KeptReason = err.Error()
		} else {
			below = r.Seq + 1
		}
	}
	pctx, cancel := c.requestContext(ctx)
	err := s.Purge(pctx, jetstream.WithPurgeSubject(r.Subject), jetstream.WithPurgeSequence(below))
	cancel()
	if err != nil {
		r.PurgeError = c.wrap(err, "purge "+r.Subject+" in stream "+r.Stream)
		return
	}
	r.Purged, r.PurgedBelow = true, below
}

// stalledTiers remembers the aggregates that did not catch up in time, so
// that thousands of counters do not each wait for the same stalled source.
type stalledTiers struct {
	mu sync.Mutex
	m  map[string]error
}

func (s *stalledTiers) get(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

func (s *stalledTiers) set(id string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = err
}

// aggregatesCaughtUp waits (up to the client timeout) until every aggregate
// directly above the reset leaf counter agrees with its value 0, or the leaf
// has a newer message (which carries the whole total up anyway). Sourcing is
// by value: an aggregate whose last seen value for the counter is 0 (or
// absent) is right however many of the purged messages it skips.
func (c *Client) aggregatesCaughtUp(ctx context.Context, g *topology.Graph, r *ResetResult, stalled *stalledTiers) error {
	if g == nil {
		return errors.New("the aggregates above are unknown")
	}
	leaf := g.Node(r.Stream)
	if leaf == nil {
		return errors.New("stream " + r.Stream + " is not in the topology")
	}
	for _, ref := range g.Consumers(leaf.ID) {
		to, e := g.Node(ref.Stream), g.EdgeOf(ref)
		// A mirror copies by sequence: one that has not copied the reset
		// message before it is purged keeps the old value, and so does
		// every aggregate sourcing the mirror.
		if !g.FlowsUp(to, e) {
			continue
		}
		up, ok := e.MapUp(r.Subject)
		if !ok {
			continue
		}
		if err := stalled.get(to.ID); err != nil {
			return err
		}
		dc, err := c.inDomain(to.Domain)
		if err != nil {
			return err
		}
		key := topology.SourceKey(*e, leaf.Name)
		deadline := time.Now().Add(c.timeout)
		// Back off: many counters poll at once, and the aggregate needs
		// the server's time to copy the resets.
		pause := 5 * time.Millisecond
		for {
			agg, err := dc.readOne(ctx, to.Name, up)
			if errors.Is(err, ErrNotFound) {
				break
			}
			if err != nil {
				return err
			}
			if e.Mirror && agg.Seq >= r.Seq {
				break
			}
			if seen := agg.Sources[key][r.Subject]; !e.Mirror && (seen == nil || seen.Sign() == 0) {
				break
			}
			if last, err := c.readOne(ctx, r.Stream, r.Subject); err == nil && last.Seq > r.Seq {
				return nil
			}
			if time.Now().After(deadline) {
				err := fmt.Errorf("aggregate %s had not copied resets from %s within %s (is its source stalled?)", to.ID, r.Stream, c.timeout)
				stalled.set(to.ID, err)
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
			pause = min(2*pause, 100*time.Millisecond)
		}
	}
	return nil
}

// resetOne runs the publishing half of the recipe for one counter.
func (c *Client) resetOne(ctx context.Context, t ResetTarget, hdr nats.Header, maxRounds int) ResetResult {
	r := ResetResult{Subject: t.Subject, Stream: t.Stream, Delta: new(big.Int)}
	cur, err := c.readOne(ctx, t.Stream, t.Subject)
	switch {
	case errors.Is(err, ErrNotFound):
		// Reset (and purged) since the plan: nothing to undo.
		r.Before, r.After = new(big.Int), new(big.Int)
		return r
	case err != nil:
		r.Err = err
		return r
	}
	r.Before = cur.Value
	next := new(big.Int).Neg(cur.Value)
	for r.Rounds < maxRounds {
		ack, err := c.publishIncr(ctx, t.Subject, next, hdr)
		if err != nil {
			r.Err = err
			return r
		}
		if ack.Stream != t.Stream {
			// Only possible if subjects moved between streams since the
			// check; the delta is applied there and must be reported.
			r.Err = fmt.Errorf("reset %s: the negative increment %s landed in stream %s, not %s: check both streams", t.Subject, Signed(next), ack.Stream, t.Stream)
			return r
		}
		if ack.Val == nil {
			r.Err = errorf(ErrUnavailable, "reset %s: stream %s stored the increment without counting", t.Subject, ack.Stream)
			return r
		}
		val, err := ParseValue(*ack.Val)
		if err != nil {
			// Not ErrInvalid: the negative increment was applied.
			r.Rounds++
			r.Delta.Add(r.Delta, next)
			r.Err = fmt.Errorf("reset %s: the increment %s was applied but its acknowledged value %q is not a number: read the counter before resetting again", t.Subject, Signed(next), *ack.Val)
			return r
		}
		r.Rounds++
		r.Delta.Add(r.Delta, next)
		r.Seq, r.After = ack.Seq, val
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

// stream looks a stream up (its info and a handle for purges).
func (c *Client) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	rctx, cancel := c.requestContext(ctx)
	defer cancel()
	s, err := c.js.Stream(rctx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, NotFoundf("stream %s not found%s", name, c.where())
		}
		return nil, c.wrap(err, "stream "+name)
	}
	return s, nil
}

// parallel runs do(0..n-1) resetInFlight at a time; once ctx is done the
// indexes not started go to skipped instead.
func parallel(ctx context.Context, n int, do, skipped func(int)) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(n, resetInFlight) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if ctx.Err() != nil {
					skipped(i)
					continue
				}
				do(i)
			}
		}()
	}
	wg.Wait()
}

// headerValue makes free text safe as one header value.
func headerValue(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
