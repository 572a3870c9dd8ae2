package counters

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// maxMirrorChain bounds how far CarriesCounterValues follows mirrors of
// mirrors (each step is a lookup).
const maxMirrorChain = 8

// CarriesCounterValues applies the one rule for a stream that carries
// counter values (topology.CarriesCounterValues) to a stream read through
// c: it is a counter stream, or a mirror of one, followed through each
// origin's domain (an external API prefix).
func (c *Client) CarriesCounterValues(ctx context.Context, info *jetstream.StreamInfo) (bool, error) {
	clients := map[*topology.Node]*Client{}
	nodeOf := func(dc *Client, cfg jetstream.StreamConfig) *topology.Node {
		n := StreamNode(&cfg)
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
			if dc, err = c.InDomain(e.APIPrefix); err != nil {
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

// StreamNode is a stream as the counter-values rule sees it: whether it
// counts, and the mirror it copies, if any.
func StreamNode(cfg *jetstream.StreamConfig) *topology.Node {
	n := &topology.Node{ID: cfg.Name, Name: cfg.Name, Counter: cfg.AllowMsgCounter, Config: cfg}
	if cfg.Mirror != nil {
		e := topology.Edge{Upstream: cfg.Mirror.Name, Mirror: true}
		if cfg.Mirror.External != nil {
			e.APIPrefix = cfg.Mirror.External.APIPrefix
		}
		n.Sources = []topology.Edge{e}
	}
	return n
}
