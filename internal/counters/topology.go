package counters

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// Topology lists every stream of the client's JetStream domain, and of each
// extra domain in domains, and returns the graph of their sources and
// mirrors. Streams of the client's own domain have Domain ""; the others
// are labelled with their domain. A source in a domain that was not listed
// is looked up on its own (its sources are followed too); a source that
// cannot be found is a node with Config nil.
func (c *Client) Topology(ctx context.Context, domains []string) (*topology.Graph, error) {
	d, err := c.discover(ctx, domains)
	if err != nil {
		return nil, err
	}
	return d.graph(), nil
}

func (c *Client) discover(ctx context.Context, domains []string) (*discovery, error) {
	local, err := c.localDomain(ctx)
	if err != nil {
		return nil, err
	}
	d := &discovery{c: c, local: local, nodes: map[string]*topology.Node{}, lookupErrors: map[string]string{}, walked: map[string]bool{"": true}}
	if err := d.list(ctx, c, ""); err != nil {
		return nil, err
	}
	for _, dom := range domains {
		if dom = d.label(dom); d.walked[dom] {
			continue
		}
		d.walked[dom] = true
		dc, err := c.inDomain(dom)
		if err != nil {
			return nil, err
		}
		if err := d.list(ctx, dc, dom); err != nil {
			return nil, err
		}
	}
	if err := d.followMissing(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *discovery) graph() *topology.Graph {
	nodes := make([]topology.Node, 0, len(d.nodes))
	for _, n := range d.nodes {
		nodes = append(nodes, *n)
	}
	for id, why := range d.lookupErrors {
		name, domain, _ := strings.Cut(id, "@")
		nodes = append(nodes, topology.Node{ID: id, Name: name, Domain: domain, LookupError: why})
	}
	return topology.New(nodes)
}

// localDomain is the JetStream domain the client talks to ("" if none), so
// a source that names it through an API prefix is recognised as local.
func (c *Client) localDomain(ctx context.Context) (string, error) {
	rctx, cancel := c.requestContext(ctx)
	defer cancel()
	info, err := c.js.AccountInfo(rctx)
	if err != nil {
		return "", c.wrap(err, "JetStream account info")
	}
	return info.Domain, nil
}

type discovery struct {
	c            *Client
	lookupErrors map[string]string // node ID -> why it could not be looked up
	local        string
	nodes        map[string]*topology.Node
	walked       map[string]bool // domain labels whose streams were all listed
}

// label turns a real domain name into the label nodes carry: "" for the
// client's own domain.
func (d *discovery) label(domain string) string {
	if domain == d.local {
		return ""
	}
	return domain
}

// upstreamDomain is the label of the domain a source of a stream in domain
// `in` lives in: another domain when the source has an external API prefix
// "$JS.<domain>.API"; another prefix (an account import) is used verbatim.
func (d *discovery) upstreamDomain(in string, ext *jetstream.ExternalStream) string {
	if ext == nil || ext.APIPrefix == "" {
		return in
	}
	p := strings.TrimSuffix(ext.APIPrefix, ".")
	if rest, ok := strings.CutPrefix(p, "$JS."); ok {
		if dom, ok := strings.CutSuffix(rest, ".API"); ok && dom != "" && !strings.Contains(dom, ".") {
			return d.label(dom)
		}
	}
	return p
}

func (d *discovery) list(ctx context.Context, dc *Client, domain string) error {
	rctx, cancel := dc.requestContext(ctx)
	defer cancel()
	lister := dc.js.ListStreams(rctx)
	for info := range lister.Info() {
		d.add(info, domain)
	}
	if err := lister.Err(); err != nil {
		if domain == "" {
			return dc.wrap(err, "list streams")
		}
		if errkind.NoJetStream(err) {
			// A domain the user named (--domains, a source's @DOMAIN), not
			// --js-domain: the name is the likelier mistake.
			return errkind.Unavailablef("list streams in domain %s: JetStream is not available%s: check the domain name, and that a server of domain %s is connected", domain, dc.where(), domain)
		}
		return dc.wrap(err, "list streams in domain "+domain)
	}
	return nil
}

func (d *discovery) add(info *jetstream.StreamInfo, domain string) {
	n := d.node(info, domain)
	d.nodes[n.ID] = n
}

// node builds the node of one stream in domain (a label).
func (d *discovery) node(info *jetstream.StreamInfo, domain string) *topology.Node {
	cfg := info.Config
	state := info.State
	n := &topology.Node{
		ID:          topology.NodeID(cfg.Name, domain),
		Name:        cfg.Name,
		Domain:      domain,
		Counter:     cfg.AllowMsgCounter,
		AllowDirect: cfg.AllowDirect,
		Subjects:    cfg.Subjects,
		Config:      &cfg,
		State:       &state,
	}
	if !info.Created.IsZero() && !info.TimeStamp.IsZero() {
		n.Age = info.TimeStamp.Sub(info.Created)
	}
	used := make([]bool, len(info.Sources))
	edge := func(s *jetstream.StreamSource, mirror bool, live []*jetstream.StreamSourceInfo, usedLive []bool) topology.Edge {
		e := configEdge(s)
		e.Upstream = topology.NodeID(s.Name, d.upstreamDomain(domain, s.External))
		e.Mirror, e.Active = mirror, -1
		if si := matchSourceInfo(s, live, usedLive); si != nil {
			e.Lag, e.Active = si.Lag, si.Active
			if si.Error != nil {
				// The server's description, as other errors show it: not
				// nats.go's "nats: API error: code=… err_code=…" line.
				e.Error = fmt.Sprintf("%s (error %d)", si.Error.Description, si.Error.ErrorCode)
			}
		}
		return e
	}
	if cfg.Mirror != nil {
		var live []*jetstream.StreamSourceInfo
		if info.Mirror != nil {
			live = []*jetstream.StreamSourceInfo{info.Mirror}
		}
		n.Sources = append(n.Sources, edge(cfg.Mirror, true, live, make([]bool, len(live))))
	}
	for _, s := range cfg.Sources {
		n.Sources = append(n.Sources, edge(s, false, info.Sources, used))
	}
	return n
}

// matchSourceInfo finds the live info of a configured source: same name,
// API prefix, filter and transforms (a stream may be sourced twice with
// different filters).
func matchSourceInfo(s *jetstream.StreamSource, live []*jetstream.StreamSourceInfo, used []bool) *jetstream.StreamSourceInfo {
	prefix := func(e *jetstream.ExternalStream) string {
		if e == nil {
			return ""
		}
		return e.APIPrefix
	}
	best := -1
	for i, si := range live {
		if used[i] || si.Name != s.Name || prefix(si.External) != prefix(s.External) {
			continue
		}
		if si.FilterSubject == s.FilterSubject && slices.Equal(si.SubjectTransforms, s.SubjectTransforms) {
			best = i
			break
		}
		if best < 0 {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	used[best] = true
	return live[best]
}

// followMissing looks up, one by one, the sources that live in domains not
// listed, and then their sources, so a chain across domains is complete.
func (d *discovery) followMissing(ctx context.Context) error {
	tried := map[string]bool{}
	for {
		var todo []topology.Edge
		for _, n := range d.nodes {
			for _, e := range n.Sources {
				if d.nodes[e.Upstream] == nil && !tried[e.Upstream] {
					tried[e.Upstream] = true
					todo = append(todo, e)
				}
			}
		}
		if len(todo) == 0 {
			return nil
		}
		for _, e := range todo {
			name, domain, _ := strings.Cut(e.Upstream, "@")
			if d.walked[domain] {
				continue // listed already: it really does not exist
			}
			dc, err := d.c.inDomain(domain)
			if err != nil {
				return err
			}
			info, err := dc.StreamInfo(ctx, name)
			if err != nil {
				// It stays a node without configuration, which Check
				// reports: as missing, or with why it could not be read.
				if !errors.Is(err, errkind.ErrNotFound) {
					d.lookupErrors[e.Upstream] = err.Error()
				}
				continue
			}
			d.add(info, domain)
		}
	}
}

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
func (c *Client) Tiers(ctx context.Context, g *topology.Graph, subject string) ([]Tier, error) {
	if err := ValidSubject(subject, false); err != nil {
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
		if n.Counter && n.Config != nil && slices.ContainsFunc(n.Subjects, func(s string) bool { return SubjectMatches(subject, s) }) {
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
		return nil, errkind.NotFoundf("no counter stream holds %s: check the subject (counter topology shows the streams)", subject)
	}
	// Sources first, then the named tier, then aggregates: the order data flows.
	sort.SliceStable(tiers, func(i, j int) bool { return tiers[i].Depth < tiers[j].Depth })

	values := map[key]*Tier{}
	for i := range tiers {
		t := &tiers[i]
		values[key{t.Stream, t.Subject}] = t
		ctrs, err := c.readTier(ctx, g.Node(t.Stream), t.Subject)
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
			} else if ctrs, err := c.readTier(ctx, g.Node(s.Stream), s.Subject); err == nil && len(ctrs) == 1 {
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

// readTier reads subject (or every counter matching a pattern) in n, in
// n's domain. No value is an empty result, not an error.
func (c *Client) readTier(ctx context.Context, n *topology.Node, subject string) ([]Counter, error) {
	if n == nil || n.Config == nil {
		return nil, errkind.NotFoundf("stream not found")
	}
	dc, err := c.inDomain(n.Domain)
	if err != nil {
		return nil, err
	}
	// The graph already holds the stream's configuration: read directly,
	// without Get's stream lookup.
	if IsLiteral(subject) {
		// From the leader: tiers are compared with each other ("behind").
		ctr, err := dc.readOne(ctx, n.Name, subject, readSources)
		if errors.Is(err, errkind.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []Counter{*ctr}, nil
	}
	var ctrs []Counter
	err = dc.ReadLast(ctx, n.Name, []string{subject}, func(ctr Counter) error {
		ctrs = append(ctrs, ctr)
		return nil
	})
	return ctrs, err
}

// tierSources pairs each Nats-Counter-Sources entry with the configured
// source it came from, sorted by key then subject.
func tierSources(n *topology.Node, srcs Sources) []TierSource {
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

// configEdge is the topology edge of a configured source or mirror: its
// upstream stream name, filter, transforms and API prefix (the parts the
// server's source key and subject mapping depend on).
func configEdge(s *jetstream.StreamSource) topology.Edge {
	e := topology.Edge{Upstream: s.Name, Filter: s.FilterSubject, APIPrefix: apiPrefix(s.External)}
	for _, t := range s.SubjectTransforms {
		e.Transforms = append(e.Transforms, topology.Transform{From: t.Source, To: t.Destination})
	}
	return e
}

// apiPrefix is an external source's API prefix, "" for a local source.
func apiPrefix(e *jetstream.ExternalStream) string {
	if e == nil {
		return ""
	}
	return e.APIPrefix
}
