package counters

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// ParseMirrorSpec parses --mirror STREAM[@DOMAIN].
func ParseMirrorSpec(spec string) (SourceSpec, error) {
	s, err := ParseSourceSpec(spec)
	if err != nil {
		return SourceSpec{}, errkind.Invalidf("invalid mirror %q: want STREAM[@DOMAIN]", spec)
	}
	if s.From != "" {
		return SourceSpec{}, errkind.Invalidf("invalid mirror %q: a mirror copies a whole stream; want STREAM[@DOMAIN]", spec)
	}
	return s, nil
}

// maxMirrorChain bounds how far carriesCounterValues follows mirrors of
// mirrors (each step is a lookup).
const maxMirrorChain = 8

// carriesCounterValues applies topology.CarriesCounterValues to a stream
// read through c: it is a counter stream, or a mirror of one, followed
// through each origin's domain (an external API prefix).
func (c *Client) carriesCounterValues(ctx context.Context, info *jetstream.StreamInfo) (bool, error) {
	clients := map[*topology.Node]*Client{}
	nodeOf := func(dc *Client, cfg jetstream.StreamConfig) *topology.Node {
		n := &topology.Node{ID: cfg.Name, Name: cfg.Name, Counter: cfg.AllowMsgCounter, Config: &cfg}
		if cfg.Mirror != nil {
			e := topology.Edge{Upstream: cfg.Mirror.Name, Mirror: true}
			if cfg.Mirror.External != nil {
				e.APIPrefix = cfg.Mirror.External.APIPrefix
			}
			n.Sources = []topology.Edge{e}
		}
		clients[n] = dc
		return n
	}
	var (
		lookupErr error
		steps     int
		current   *topology.Node
	)
	current = nodeOf(c, info.Config)
	carries := topology.CarriesCounterValues(current, func(e topology.Edge) *topology.Node {
		steps++
		if steps > maxMirrorChain {
			return nil
		}
		dc := clients[current]
		if e.APIPrefix != "" {
			var err error
			if dc, err = c.inDomain(e.APIPrefix); err != nil {
				lookupErr = err
				return nil
			}
		}
		up, err := dc.StreamInfo(ctx, e.Upstream)
		if err != nil {
			if !errors.Is(err, errkind.ErrNotFound) {
				lookupErr = err
			}
			return nil
		}
		current = nodeOf(dc, up.Config)
		return current
	})
	if !carries && lookupErr != nil {
		return false, lookupErr
	}
	return carries, nil
}
