// Package streams creates counter streams and aggregation tiers, plans
// changes to a live tree (create --update: a pure planner over what the
// server holds, with the effect on every tier's values), and parses source
// and mirror specs.
package streams

import (
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

// StreamSpec is what `counter create` asks for. Everything else about a
// counter stream is fixed: counters on, direct reads on, limits retention,
// discard old, and no age or size limits (they silently zero counters).
type StreamSpec struct {
	Name        string
	Subjects    []string
	Sources     []SourceSpec
	Replicas    int
	Storage     string // "file" (default) or "memory"
	Cluster     string
	Tags        []string
	Description string
	// History is the number of messages kept per subject; 0 = unlimited.
	History int64
	// Mirror makes a read replica of a counter stream (ADR-49's mirror then
	// source) instead of a counter stream: the server refuses counters on a
	// mirror, so it is a plain stream holding verbatim copies.
	Mirror *SourceSpec
}

// Config builds the stream configuration, validating the spec.
func (s StreamSpec) Config() (jetstream.StreamConfig, error) {
	if err := counters.ValidName("stream name", s.Name); err != nil {
		return jetstream.StreamConfig{}, err
	}
	if s.Mirror != nil {
		if len(s.Subjects) > 0 || len(s.Sources) > 0 {
			return jetstream.StreamConfig{}, errkind.Invalidf("stream %s: --mirror cannot be combined with --subjects or --source (a mirror copies one stream as it is)", s.Name)
		}
		if s.Mirror.From != "" {
			return jetstream.StreamConfig{}, errkind.Invalidf("--mirror %s: a mirror copies a whole stream; give STREAM[@DOMAIN] only", s.Mirror)
		}
	} else if len(s.Subjects) == 0 && len(s.Sources) == 0 {
		return jetstream.StreamConfig{}, errkind.Invalidf("stream %s needs --subjects, --source or --mirror", s.Name)
	}
	for _, subj := range s.Subjects {
		// The publish gate's rule: no stream holds counters incr refuses.
		if err := counters.ValidStreamSubject(subj); err != nil {
			return jetstream.StreamConfig{}, err
		}
	}
	if s.Replicas < 0 || s.Replicas > 5 {
		return jetstream.StreamConfig{}, errkind.Invalidf("--replicas %d: want 1 to 5", s.Replicas)
	}
	if s.History < 0 {
		return jetstream.StreamConfig{}, errkind.Invalidf("--history %d: want 1 or more (0 = unlimited)", s.History)
	}
	storage := jetstream.FileStorage
	switch s.Storage {
	case "", "file":
	case "memory":
		storage = jetstream.MemoryStorage
	default:
		return jetstream.StreamConfig{}, errkind.Invalidf("--storage %q: want file or memory", s.Storage)
	}
	cfg := jetstream.StreamConfig{
		Name:              s.Name,
		Description:       s.Description,
		Subjects:          s.Subjects,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		Storage:           storage,
		Replicas:          max(s.Replicas, 1),
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgSize:        -1,
		MaxConsumers:      -1,
		MaxMsgsPerSubject: -1,
		AllowDirect:       true,
		AllowMsgCounter:   s.Mirror == nil,
	}
	if s.Mirror != nil {
		// Not MirrorDirect: a replica elsewhere must not answer reads
		// addressed to the origin with values that may lag behind.
		cfg.Mirror = s.Mirror.MirrorSource()
	}
	if s.History > 0 {
		cfg.MaxMsgsPerSubject = s.History
	}
	if s.Cluster != "" || len(s.Tags) > 0 {
		cfg.Placement = &jetstream.Placement{Cluster: s.Cluster, Tags: s.Tags}
	}
	for i, src := range s.Sources {
		// The same stream may be sourced several times with filters that
		// do not overlap (the sources record keys it by stream, then
		// upstream subject); overlapping ones would count a counter twice.
		for _, prev := range s.Sources[:i] {
			if prev.Stream == src.Stream && prev.Domain == src.Domain && overlapping(prev, src) {
				return jetstream.StreamConfig{}, errkind.Invalidf("sources %s and %s overlap: each counter both carry would be counted twice; give %s once, or filters that do not overlap", prev, src, src.Stream)
			}
		}
		cfg.Sources = append(cfg.Sources, src.StreamSource())
	}
	return cfg, nil
}

// CreateOptions change how Create acts.
type CreateOptions struct {
	DryRun bool
	// Force skips the refusal of sources that are missing or not counters.
	Force bool
	// Domains are extra JetStream domains the topology walk looks into
	// (for diamonds and cycles, and for an update's tiers above).
	Domains []string
}

// CreateResult reports what Create did.
type CreateResult struct {
	Stream string
	// Action is "created", "unchanged" or, with DryRun, "would create".
	Action string
	Config jetstream.StreamConfig
	// Warnings are refusals overridden by Force.
	Warnings []string
}

// Create makes the counter stream, or confirms an identical one exists.
// An existing stream that differs is an errkind.ErrConflict naming the fields;
// nothing is changed.
func Create(ctx context.Context, c *counters.Client, spec StreamSpec, opts CreateOptions) (*CreateResult, error) {
	cfg, err := spec.Config()
	if err != nil {
		return nil, err
	}
	if _, err := c.APILevel(ctx); err != nil {
		return nil, err
	}
	res := &CreateResult{Stream: cfg.Name, Config: cfg}
	d, err := discoverFor(ctx, c, spec, opts.Domains)
	if err != nil {
		return nil, err
	}
	refusals, err := refusals(ctx, c, d, cfg, spec, true)
	if err != nil {
		return nil, err
	}
	for _, r := range refusals {
		if !opts.Force {
			return nil, errkind.Errorf(r.kind, "%s; or pass --force to create anyway", r.msg)
		}
		res.Warnings = append(res.Warnings, r.msg+" (created anyway: --force)")
	}
	existing, err := c.StreamInfo(ctx, cfg.Name)
	switch {
	case errors.Is(err, errkind.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if diffs := ConfigDiff(existing.Config, cfg); len(diffs) > 0 {
			return nil, errkind.Conflictf("stream %s exists with a different configuration (%s): nothing changed; add --update to see what would change and apply it", cfg.Name, strings.Join(diffs, "; "))
		}
		res.Action = "unchanged"
		return res, nil
	}
	if opts.DryRun {
		res.Action = "would create"
		return res, nil
	}
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	if _, err := c.JetStream().CreateStream(rctx, cfg); err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == counters.ErrCodeMaxStreams {
			// An account limit, not bad input: the same command works once
			// the limit is raised or a stream is deleted.
			return nil, errkind.Unavailablef("create stream %s: the account's stream limit is reached (max_streams; error %d): delete a stream or ask the operator to raise the limit", cfg.Name, apiErr.ErrorCode)
		}
		if errors.As(err, &apiErr) && apiErr.Code == 400 {
			// The server validates what only it can (transform mappings,
			// placement): its refusal is about the input, not a failure.
			return nil, errkind.Invalidf("create stream %s: the server refused the configuration: %s (error %d)", cfg.Name, apiErr.Description, apiErr.ErrorCode)
		}
		return nil, c.Wrap(err, "create stream "+cfg.Name)
	}
	res.Action = "created"
	return res, nil
}

// refusal is a reason not to create a stream that --force overrides.
type refusal struct {
	kind error
	msg  string
}

// discoverFor walks the topology a stream with spec's sources or mirror
// joins (nil when it has none: there is nothing to check).
func discoverFor(ctx context.Context, c *counters.Client, spec StreamSpec, domains []string) (*counters.Discovery, error) {
	ups := slices.Clone(spec.Sources)
	if spec.Mirror != nil {
		ups = append(ups, *spec.Mirror)
	}
	if len(ups) == 0 && len(domains) == 0 {
		return nil, nil
	}
	domains = slices.Clone(domains)
	for _, s := range ups {
		if s.Domain != "" && !slices.Contains(domains, s.Domain) {
			domains = append(domains, s.Domain)
		}
	}
	return c.Discover(ctx, domains)
}

// refusals are the create-time hazards of cfg, for a new stream and for
// the result of an update alike: sources (and a mirror's origin) that are
// missing or do not carry counter values, and the diamonds and cycles cfg
// would add to the topology d walked (nil: no sources, nothing to walk).
// With values, each source's counters are read for one too large to carry
// (an update's planner checks the sources it adds from what it reads).
func refusals(ctx context.Context, c *counters.Client, d *counters.Discovery, cfg jetstream.StreamConfig, spec StreamSpec, values bool) ([]refusal, error) {
	var out []refusal
	for _, src := range spec.Sources {
		r, err := checkSource(ctx, c, src, false, len(spec.Sources), values)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, *r)
		}
	}
	if spec.Mirror != nil {
		r, err := checkSource(ctx, c, *spec.Mirror, true, 0, false)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, *r)
		}
	}
	if d != nil && (len(cfg.Sources) > 0 || cfg.Mirror != nil) {
		// A diamond double counts and a cycle counts forever: both silently.
		n := d.Node(&jetstream.StreamInfo{Config: cfg}, "")
		for _, h := range d.Graph().NewHazards(*n) {
			out = append(out, refusal{kind: errkind.ErrInvalid, msg: h.Message + "; " + h.Fix})
		}
	}
	return out, nil
}

// checkSource returns a refusal when src would make an aggregate that
// silently receives nothing: a missing stream, one whose messages are not
// counter values (sourcing it stalls), or a filter that matches none of its
// subjects. For a mirror, src is its origin: a mirror of anything but
// counters is no counter tier.
func checkSource(ctx context.Context, c *counters.Client, src SourceSpec, mirror bool, sources int, values bool) (*refusal, error) {
	what := "source"
	if mirror {
		what = "mirrored"
	}
	dc, err := c.InDomain(src.Domain)
	if err != nil {
		return nil, err
	}
	info, err := dc.StreamInfo(ctx, src.Stream)
	if errors.Is(err, errkind.ErrNotFound) {
		return &refusal{errkind.ErrNotFound, fmt.Sprintf("%s stream %s not found%s: create it first", what, src.Stream, dc.Where())}, nil
	}
	if err != nil {
		return nil, err
	}
	carries, err := dc.CarriesCounterValues(ctx, info)
	switch {
	case err != nil:
		// A mirror whose origin cannot be read now (a leaf offline).
		return &refusal{errkind.ErrUnavailable, fmt.Sprintf("could not check that %s stream %s holds counter values: %v", what, src.Stream, err)}, nil
	case !carries && mirror:
		return &refusal{errkind.ErrInvalid, fmt.Sprintf("mirrored stream %s is not a counter stream (nor a mirror of one): its copies would hold no counter values", src.Stream)}, nil
	case !carries:
		return &refusal{errkind.ErrInvalid, fmt.Sprintf("source stream %s is not a counter stream (nor a mirror of one): a counter aggregate sourcing it would count it wrong, silently (it stalls on plain messages and miscounts a raw copy of counters)", src.Stream)}, nil
	}
	// A stream with sources of its own may store subjects outside its
	// configured ones, so only a plain leaf's subjects bound what it holds.
	// (Its subject_transform decides the subjects it stores them under.)
	held := counters.StoredSubjects(&info.Config)
	if src.From != "" && len(info.Config.Sources) == 0 && info.Config.Mirror == nil && len(held) > 0 &&
		!slices.ContainsFunc(held, func(s string) bool { return topology.Overlaps(s, src.From) }) {
		return &refusal{errkind.ErrInvalid, fmt.Sprintf("source filter %s matches none of stream %s's subjects (%s): the aggregate would receive nothing", src.From, src.Stream, strings.Join(held, ", "))}, nil
	}
	if values && !mirror {
		return uncarriedValues(ctx, dc, src, sources)
	}
	return nil, nil
}

// ConfigDiff lists the fields `counter create` controls that differ between
// an existing stream and the wanted configuration, as "field: have X, want Y".
func ConfigDiff(have, want jetstream.StreamConfig) []string {
	want = sealedAs(have, want)
	var diffs []string
	add := func(field string, h, w any) {
		diffs = append(diffs, fmt.Sprintf("%s: have %v, want %v", field, h, w))
	}
	if !slices.Equal(sortedCopy(have.Subjects), sortedCopy(want.Subjects)) {
		add("subjects", have.Subjects, want.Subjects)
	}
	if hs, ws := sourcesKey(have.Sources), sourcesKey(want.Sources); hs != ws {
		add("sources", hs, ws)
	}
	if hm, wm := mirrorKey(have.Mirror), mirrorKey(want.Mirror); hm != wm {
		add("mirror", hm, wm)
	}
	if max(have.Replicas, 1) != max(want.Replicas, 1) {
		add("replicas", have.Replicas, want.Replicas)
	}
	if have.Storage != want.Storage {
		add("storage", have.Storage, want.Storage)
	}
	if placementKey(have.Placement) != placementKey(want.Placement) {
		add("placement", placementKey(have.Placement), placementKey(want.Placement))
	}
	if have.Description != want.Description {
		add("description", fmt.Sprintf("%q", have.Description), fmt.Sprintf("%q", want.Description))
	}
	if unlimited(have.MaxMsgsPerSubject) != unlimited(want.MaxMsgsPerSubject) {
		add("history", unlimited(have.MaxMsgsPerSubject), unlimited(want.MaxMsgsPerSubject))
	}
	if have.AllowMsgCounter != want.AllowMsgCounter {
		add("allow_msg_counter", have.AllowMsgCounter, want.AllowMsgCounter)
	}
	if have.AllowDirect != want.AllowDirect {
		add("allow_direct", have.AllowDirect, want.AllowDirect)
	}
	if have.Retention != want.Retention {
		add("retention", have.Retention, want.Retention)
	}
	if have.Discard != want.Discard {
		add("discard", have.Discard, want.Discard)
	}
	if have.MaxAge != want.MaxAge {
		add("max_age", have.MaxAge, want.MaxAge)
	}
	if unlimited(have.MaxMsgs) != unlimited(want.MaxMsgs) {
		add("max_msgs", unlimited(have.MaxMsgs), unlimited(want.MaxMsgs))
	}
	if unlimited(have.MaxBytes) != unlimited(want.MaxBytes) {
		add("max_bytes", unlimited(have.MaxBytes), unlimited(want.MaxBytes))
	}
	if unlimited(int64(have.MaxMsgSize)) != unlimited(int64(want.MaxMsgSize)) {
		add("max_msg_size", unlimited(int64(have.MaxMsgSize)), unlimited(int64(want.MaxMsgSize)))
	}
	if have.SubjectDeleteMarkerTTL != want.SubjectDeleteMarkerTTL {
		add("subject_delete_marker_ttl", have.SubjectDeleteMarkerTTL, want.SubjectDeleteMarkerTTL)
	}
	return diffs
}

// sealedAs is want with what sealing forces taken from have when have is
// sealed: the server sets discard:new, no max_age, deny delete and purge,
// no rollups on a seal, and keeps them whatever an update asks, so asking
// for anything else could never converge.
func sealedAs(have, want jetstream.StreamConfig) jetstream.StreamConfig {
	if have.Sealed {
		want.Sealed = true
		want.Discard, want.MaxAge = have.Discard, have.MaxAge
		want.DenyDelete, want.DenyPurge, want.AllowRollup = have.DenyDelete, have.DenyPurge, have.AllowRollup
	}
	return want
}

func unlimited(n int64) any {
	if n <= 0 {
		return "unlimited"
	}
	return n
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func placementKey(p *jetstream.Placement) string {
	if p == nil || (p.Cluster == "" && len(p.Tags) == 0) {
		return "none"
	}
	return fmt.Sprintf("cluster=%q tags=%v", p.Cluster, sortedCopy(p.Tags))
}

func mirrorKey(m *jetstream.StreamSource) string {
	if m == nil {
		return "none"
	}
	return sourcesKey([]*jetstream.StreamSource{m})
}

func sourcesKey(srcs []*jetstream.StreamSource) string {
	keys := make([]string, 0, len(srcs))
	for _, s := range srcs {
		k := s.Name
		if s.External != nil && s.External.APIPrefix != "" {
			k += " api=" + s.External.APIPrefix
		}
		if s.FilterSubject != "" {
			k += " filter=" + s.FilterSubject
		}
		for _, t := range s.SubjectTransforms {
			k += " " + t.Source + "->" + t.Destination
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return "none"
	}
	return "[" + strings.Join(keys, ", ") + "]"
}

// uncarriedValues refuses a source holding a counter the aggregate could
// not carry (COUNTERS.md: an oversized sourced message blocks the source
// forever, lag 0 and no error): the aggregate would get nothing from the
// first such counter on. dc reads src's stream; sources is how many the
// aggregate has.
func uncarriedValues(ctx context.Context, dc *counters.Client, src SourceSpec, sources int) (*refusal, error) {
	e := counters.ConfigEdge(src.StreamSource())
	var over []string
	for _, filters := range counters.ConsumerFilters(carriedFilters(e)) {
		err := dc.ReadLast(ctx, src.Stream, filters, func(ctr counters.Counter) error {
			if too := tooLargeToCarry(ctr, src.Stream, sources); too != "" && len(over) < 5 {
				over = append(over, too)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(over) == 0 {
		return nil, nil
	}
	return &refusal{errkind.ErrInvalid, fmt.Sprintf("source stream %s holds counters too large for an aggregate to carry (%s): its source would stop at the first of them, silently, and carry nothing after; reset them in %s first", src.Stream, strings.Join(over, ", "), src.Stream)}, nil
}

// tooLargeToCarry describes ctr when its value has more digits than an
// aggregate with that many sources can carry, "" when it fits.
func tooLargeToCarry(ctr counters.Counter, stream string, sources int) string {
	// Fewer than 1,000 digits always fit: skip the decimal conversion.
	if ctr.Value.BitLen() < 3320 {
		return ""
	}
	digits := len(new(big.Int).Abs(ctr.Value).String())
	if limit := counters.MaxCarriedDigits(sources, len(stream)+20, len(ctr.Subject)); digits > limit {
		return fmt.Sprintf("%s has %d digits, at most %d fit", ctr.Subject, digits, limit)
	}
	return ""
}

// overlapping reports whether two sources of one stream carry a common
// upstream subject.
func overlapping(a, b SourceSpec) bool {
	for _, fa := range carriedFilters(counters.ConfigEdge(a.StreamSource())) {
		for _, fb := range carriedFilters(counters.ConfigEdge(b.StreamSource())) {
			if topology.Overlaps(fa, fb) {
				return true
			}
		}
	}
	return false
}
