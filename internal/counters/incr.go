package counters

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// IncrResult is the server's answer to one increment.
type IncrResult struct {
	Subject string
	Stream  string
	Seq     uint64
	Delta   *big.Int
	// Value is the counter's total right after this increment. For a
	// duplicate it is the current value, read separately (nil if unreadable).
	Value *big.Int
	// Duplicate is true when the message id was seen before: not applied.
	Duplicate bool
}

type pubAck struct {
	Stream    string              `json:"stream"`
	Seq       uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate"`
	Val       *string             `json:"val"`
	Error     *jetstream.APIError `json:"error"`
}

// Server error codes for counters (ADR-49).
const (
	errCodeCountersDisabled = 10168
	errCodeIncrMissing      = 10169
	errCodeCounterPayload   = 10170
	errCodeIncrInvalid      = 10171
	errCodeCounterBroken    = 10172
	errCodeHeaderTooLarge   = 10097
	errCodeMessageTooLarge  = 10054
)

// Incr adds delta to the counter at subject. msgID, when set, makes retries
// exact: the server applies one increment per id within its duplicate window.
func (c *Client) Incr(ctx context.Context, subject string, delta *big.Int, msgID string) (*IncrResult, error) {
	if err := ValidSubject(subject, false); err != nil {
		return nil, err
	}
	if err := c.checkCarried(ctx, subject, delta); err != nil {
		return nil, err
	}
	var extra nats.Header
	if msgID != "" {
		if err := c.checkDedupe(ctx, subject); err != nil {
			return nil, err
		}
		extra = nats.Header{HeaderMsgID: []string{msgID}}
	}
	ack, err := c.publishIncr(ctx, subject, delta, extra)
	if err != nil {
		return nil, err
	}
	res := &IncrResult{Subject: subject, Stream: ack.Stream, Seq: ack.Seq, Delta: delta, Duplicate: ack.Duplicate}
	switch {
	case ack.Val != nil:
		if res.Value, err = ParseValue(*ack.Val); err != nil {
			return nil, err
		}
	case ack.Duplicate:
		// The ack of a duplicate carries no value; report the current one.
		if cur, err := c.readOne(ctx, ack.Stream, subject, readLeader); err == nil {
			res.Value = cur.Value
		}
	default:
		// A server without counters stores the message as a plain one.
		return nil, errorf(ErrUnavailable, "increment %s: stream %s stored it without counting: counters need nats-server 2.12 or newer and a stream made by 'counter create'", subject, ack.Stream)
	}
	return res, nil
}

// checkDedupe refuses a message id the stream would not de-duplicate. The
// server gives streams with sources (aggregates) no duplicate window, and
// must not have one: it would drop sourced updates that carry an id already
// seen. There, --id would promise a retry safety that does not exist.
func (c *Client) checkDedupe(ctx context.Context, subject string) error {
	infos, err := c.streamsFor(ctx, subject)
	if err != nil {
		return err
	}
	for _, info := range infos {
		if info.Config.Duplicates <= 0 {
			return Invalidf("stream %s has no duplicate window (aggregates never have one), so a message id would not make this increment retry-safe: increment a leaf stream, or leave out --id", info.Config.Name)
		}
	}
	return nil
}

// publishIncr sends one increment with any extra headers (message id, reset
// reason) and returns the server's acknowledgement; API errors in the ack
// come back as errors. Shared by Incr and Reset.
func (c *Client) publishIncr(ctx context.Context, subject string, delta *big.Int, extra nats.Header) (*pubAck, error) {
	msg := nats.NewMsg(subject)
	for k, v := range extra {
		msg.Header[k] = v
	}
	msg.Header.Set(HeaderIncr, Signed(delta))
	rctx, cancel := c.requestContext(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, c.wrap(err, "increment "+subject) // not sent
	}
	resp, err := c.nc.RequestMsgWithContext(rctx, msg)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, c.noStreamFor(ctx, subject)
		}
		return nil, c.notAcked(err, c.wrap(err, "increment "+subject))
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return nil, errorf(ErrUnavailable, "increment %s: reply is not a JetStream acknowledgement: %.80q", subject, resp.Data)
	}
	if ack.Error != nil {
		return nil, c.incrError(ctx, subject, ack)
	}
	return &ack, nil
}

// noStreamFor explains a publish nobody answered: no stream, or no JetStream.
func (c *Client) noStreamFor(ctx context.Context, subject string) error {
	if _, err := c.APILevel(ctx); err != nil {
		return err
	}
	return NotFoundf("no stream captures subject %s: create one with 'counter create NAME --subjects %s'", subject, subject)
}

func (c *Client) incrError(ctx context.Context, subject string, ack pubAck) error {
	stream := ack.Stream
	if stream == "" {
		sctx, cancel := c.requestContext(ctx)
		stream, _ = c.js.StreamNameBySubject(sctx, subject)
		cancel()
	}
	switch ack.Error.ErrorCode {
	case errCodeCountersDisabled:
		return errors.New("stream " + stream + " is not a counter stream: increments need a stream made with 'counter create'")
	case errCodeIncrInvalid:
		return Invalidf("increment %s: the server rejected the increment: %s", subject, ack.Error.Description)
	case errCodeHeaderTooLarge, errCodeMessageTooLarge:
		return Invalidf("increment %s: the delta is too large for the server (%s): it travels in a header, which holds at most about 65,000 digits", subject, ack.Error.Description)
	case errCodeCounterBroken:
		return errors.New("counter " + subject + " in stream " + stream + " is broken (its stored value or sources record is not valid), so every increment is refused: 'counter reset " + subject + "' recovers it (it purges the subject, then publishes +0; it asks first)")
	}
	return c.wrap(ack.Error, "increment "+subject)
}
