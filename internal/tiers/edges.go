package tiers

import (
	"context"
	"encoding/json"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
	"github.com/nats-io/nats.go/jetstream"
)

// nextMessage finds, on the stream leader, the first message at or after
// sequence from whose subject matches filter (">" for any): its subject and
// sequence. errkind.ErrNotFound when there is none.
func nextMessage(ctx context.Context, c *counters.Client, stream string, from uint64, filter string) (string, uint64, error) {
	req, _ := json.Marshal(map[string]any{"seq": from, "next_by_subj": filter, "no_hdr": true})
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	msg, err := c.Conn().RequestWithContext(rctx, c.Prefix()+".STREAM.MSG.GET."+stream, req)
	if err != nil {
		return "", 0, c.Wrap(err, "read stream "+stream)
	}
	var resp counters.MsgGetResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return "", 0, errkind.Unavailablef("read stream %s: reply is not a JetStream answer: %.80q", stream, msg.Data)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return "", 0, errkind.NotFoundf("stream %s has no message matching %s from sequence %d", stream, filter, from)
	case resp.Error != nil:
		return "", 0, c.Wrap(resp.Error, "read stream "+stream)
	case resp.Message == nil:
		return "", 0, errkind.Unavailablef("read stream %s: the answer holds no message", stream)
	}
	return resp.Message.Subject, resp.Message.Sequence, nil
}

// edgesNow re-reads stream n's info and returns its sources and mirror as
// they are now, in n.Sources' order (positions, lag, activity).
func edgesNow(ctx context.Context, c *counters.Client, n *topology.Node) ([]topology.Edge, error) {
	dc, err := c.InDomain(n.Domain)
	if err != nil {
		return nil, err
	}
	info, err := dc.StreamInfo(ctx, n.Name)
	if err != nil {
		return nil, err
	}
	// Only the edges' live state is used: how upstreams are labelled
	// does not matter here.
	return counters.NewDiscovery("").Node(info, n.Domain).Sources, nil
}
