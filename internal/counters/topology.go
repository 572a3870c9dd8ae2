package counters

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// cannot be found is a node with Config nil, and one whose domain did not
// answer has Unreachable set. A listed domain that does not answer does not
// fail the walk: the graph names it (Graph.Unreachable) and holds the rest.
func (c *Client) Topology(ctx context.Context, domains []string) (*topology.Graph, error) {
	d, err := c.DiscoverReachable(ctx, domains)
	if err != nil {
		return nil, err
	}
	return d.Graph(), nil
}

// Discover walks like Topology, but fails when a listed domain does not
// answer: for decisions (create's hazard check) that need the whole graph.
func (c *Client) Discover(ctx context.Context, domains []string) (*Discovery, error) {
	d, err := c.DiscoverReachable(ctx, domains)
	if err != nil {
		return nil, err
	}
	for _, dom := range domains {
		if why, ok := d.unreachable[d.label(dom)]; ok {
			return nil, errkind.Unreachablef("%s", why)
		}
	}
	return d, nil
}

// DiscoverReachable walks like Topology and returns the walk itself.
func (c *Client) DiscoverReachable(ctx context.Context, domains []string) (*Discovery, error) {
	local, err := c.LocalDomain(ctx)
	if err != nil {
		return nil, err
	}
	d := &Discovery{c: c, local: local, nodes: map[string]*topology.Node{}, lookupErrors: map[string]error{},
		unreachable: map[string]string{}, silent: map[string]bool{}, walked: map[string]bool{"": true}}
	if err := d.list(ctx, c, ""); err != nil {
		return nil, err
	}
	for _, dom := range domains {
		if dom = d.label(dom); d.walked[dom] || d.unreachable[dom] != "" {
			continue
		}
		dc, err := c.InDomain(dom)
		if err != nil {
			return nil, err
		}
		err = d.list(ctx, dc, dom)
		switch {
		case errkind.Unreachable(err):
			d.unreachable[dom] = strings.TrimPrefix(err.Error(), "list streams in domain "+dom+": ")
			d.silent[dom] = true
		case err != nil:
			return nil, err
		default:
			d.walked[dom] = true
		}
	}
	if err := d.followMissing(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Discovery) Graph() *topology.Graph {
	nodes := make([]topology.Node, 0, len(d.nodes))
	for _, n := range d.nodes {
		nodes = append(nodes, *n)
	}
	for id, err := range d.lookupErrors {
		name, domain, _ := strings.Cut(id, "@")
		nodes = append(nodes, topology.Node{ID: id, Name: name, Domain: domain, LookupError: err.Error(), Unreachable: errkind.Unreachable(err)})
	}
	g := topology.New(nodes)
	for dom, why := range d.unreachable {
		g.Unreachable[dom] = why
	}
	return g
}

// localDomain is the JetStream domain the client talks to ("" if none), so
// a source that names it through an API prefix is recognised as local.
func (c *Client) LocalDomain(ctx context.Context) (string, error) {
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	info, err := c.js.AccountInfo(rctx)
	if err != nil {
		return "", c.Wrap(err, "JetStream account info")
	}
	return info.Domain, nil
}

type Discovery struct {
	c            *Client
	lookupErrors map[string]error // node ID -> why it could not be looked up
	local        string
	nodes        map[string]*topology.Node
	walked       map[string]bool   // domain labels whose streams were all listed
	unreachable  map[string]string // listed domain labels that did not answer -> why
	silent       map[string]bool   // domain labels a lookup got no answer from
}

// label turns a real domain name into the label nodes carry: "" for the
// client's own domain.
func (d *Discovery) label(domain string) string {
	if domain == d.local {
		return ""
	}
	return domain
}

// upstreamDomain is the label of the domain a source of a stream in domain
// `in` lives in: another domain when the source has an external API prefix
// "$JS.<domain>.API"; another prefix (an account import) is used verbatim.
func (d *Discovery) UpstreamDomain(in string, ext *jetstream.ExternalStream) string {
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

func (d *Discovery) list(ctx context.Context, dc *Client, domain string) error {
	rctx, cancel := dc.RequestContext(ctx)
	defer cancel()
	lister := dc.js.ListStreams(rctx)
	for info := range lister.Info() {
		d.add(info, domain)
	}
	if err := lister.Err(); err != nil {
		if domain == "" {
			return dc.Wrap(err, "list streams")
		}
		if errkind.NoJetStream(err) {
			// A domain the user named (--domains, a source's @DOMAIN), not
			// --js-domain: down, cut off, or a misspelt name.
			return errkind.Unreachablef("list streams in domain %s: domain %s did not answer (nothing responded%s): it is down, cut off from here, or not a domain's name (check the spelling); retry when it is reachable", domain, domain, dc.Where())
		}
		return dc.Wrap(err, "list streams in domain "+domain)
	}
	return nil
}

func (d *Discovery) add(info *jetstream.StreamInfo, domain string) {
	n := d.Node(info, domain)
	d.nodes[n.ID] = n
}

// node builds the node of one stream in domain (a label).
func (d *Discovery) Node(info *jetstream.StreamInfo, domain string) *topology.Node {
	cfg := info.Config
	state := info.State
	n := &topology.Node{
		ID:          topology.NodeID(cfg.Name, domain),
		Name:        cfg.Name,
		Domain:      domain,
		Counter:     cfg.AllowMsgCounter,
		AllowDirect: cfg.AllowDirect,
		Subjects:    StoredSubjects(&cfg),
		Config:      &cfg,
		State:       &state,
	}
	if !info.Created.IsZero() && !info.TimeStamp.IsZero() {
		n.Age = info.TimeStamp.Sub(info.Created)
	}
	if cl := info.Cluster; cl != nil && cl.LeaderSince != nil && !info.TimeStamp.IsZero() {
		n.LeaderAge = max(info.TimeStamp.Sub(*cl.LeaderSince), time.Nanosecond)
	}
	used := make([]bool, len(info.Sources))
	edge := func(s *jetstream.StreamSource, mirror bool, live []*jetstream.StreamSourceInfo, usedLive []bool) topology.Edge {
		e := ConfigEdge(s)
		e.Upstream = topology.NodeID(s.Name, d.UpstreamDomain(domain, s.External))
		e.Mirror, e.Active = mirror, -1
		if si := matchSourceInfo(s, live, usedLive); si != nil {
			e.Lag, e.Active, e.Seq = si.Lag, si.Active, si.Seq
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
func (d *Discovery) followMissing(ctx context.Context) error {
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
			if d.silent[domain] {
				// It did not answer a moment ago: no use asking again
				// (each question could cost a whole --timeout).
				d.lookupErrors[e.Upstream] = errkind.Unreachablef("stream %s: domain %s did not answer: it is down or cut off from here; retry when it is reachable", e.Upstream, domain)
				continue
			}
			dc, err := d.c.InDomain(domain)
			if err != nil {
				return err
			}
			info, err := dc.StreamInfo(ctx, name)
			if err != nil {
				// It stays a node without configuration, which Check
				// reports: as missing, or with why it could not be read.
				if !errors.Is(err, errkind.ErrNotFound) {
					d.lookupErrors[e.Upstream] = err
				}
				if errkind.Unreachable(err) {
					d.silent[domain] = true
				}
				continue
			}
			d.add(info, domain)
		}
	}
}

// readTier reads subject (or every counter matching a pattern) in n, in
// n's domain. No value is an empty result, not an error. A stream that
// could not be looked up is that error (unreachable is exit 4, never "not
// found").
func (c *Client) ReadTier(ctx context.Context, n *topology.Node, subject string) ([]Counter, error) {
	if n != nil && n.Config == nil && n.LookupError != "" {
		if n.Unreachable {
			return nil, errkind.Unreachablef("could not be reached: %s; retry when it is reachable", n.Unreached())
		}
		return nil, errkind.Unavailablef("could not be looked up: %s", n.LookupError)
	}
	if n == nil || n.Config == nil {
		return nil, errkind.NotFoundf("stream not found")
	}
	dc, err := c.InDomain(n.Domain)
	if err != nil {
		return nil, err
	}
	// The graph already holds the stream's configuration: read directly,
	// without Get's stream lookup.
	if IsLiteral(subject) {
		// From the leader: tiers are compared with each other ("behind").
		ctr, err := dc.ReadOne(ctx, n.Name, subject, ReadSources)
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

// configEdge is the topology edge of a configured source or mirror: its
// upstream stream name, filter, transforms and API prefix (the parts the
// server's source key and subject mapping depend on).
func ConfigEdge(s *jetstream.StreamSource) topology.Edge {
	e := topology.Edge{Upstream: s.Name, Filter: s.FilterSubject, APIPrefix: APIPrefix(s.External)}
	for _, t := range s.SubjectTransforms {
		e.Transforms = append(e.Transforms, topology.Transform{From: t.Source, To: t.Destination})
	}
	return e
}

// apiPrefix is an external source's API prefix, "" for a local source.
func APIPrefix(e *jetstream.ExternalStream) string {
	if e == nil {
		return ""
	}
	return e.APIPrefix
}

// Local is the domain the connection's JetStream belongs to.
func (d *Discovery) Local() string { return d.local }

// NewDiscovery is an empty walk from the local domain, for naming the
// upstreams of one stream without listing any.
func NewDiscovery(local string) *Discovery { return &Discovery{local: local} }

// StoredSubjects are the subjects the stream keeps counters under: its own,
// through its subject_transform when it has one.
func StoredSubjects(cfg *jetstream.StreamConfig) []string {
	if _, ok := streamTransform(cfg); !ok {
		return cfg.Subjects
	}
	out := make([]string, 0, len(cfg.Subjects))
	for _, s := range cfg.Subjects {
		out = append(out, StoredSubject(cfg, s))
	}
	return out
}
