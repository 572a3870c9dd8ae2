package counters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/jetcounter/counter/internal/errkind"
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
	ErrCodeCountersDisabled = 10168
	ErrCodeIncrMissing      = 10169
	ErrCodeCounterPayload   = 10170
	ErrCodeIncrInvalid      = 10171
	ErrCodeCounterBroken    = 10172
	ErrCodeHeaderTooLarge   = 10097
	ErrCodeMessageTooLarge  = 10054
	ErrCodeMaxStreams       = 10027 // JSMaximumStreamsLimitErr
	ErrCodeStreamSealed     = 10109
)

// Incr adds delta to the counter at subject. msgID, when set, makes retries
// exact: the server applies one increment per id within its duplicate window.
//
// Nothing is sent unless the subject passes ValidPublishSubject and a
// stream captures it (StreamFor, one request): a publish to any other
// subject could be an API call ($JS.API.STREAM.DELETE.X). Without an id the
// stream's configuration is not fetched (one request less for a one-shot
// incr): a stream that does not count refuses the increment itself (10168,
// 10109 sealed) and stores nothing, and RefusedIncrement gives that refusal
// the kind PublishTarget would have.
func (c *Client) Incr(ctx context.Context, subject string, delta *big.Int, msgID string) (*IncrResult, error) {
	if err := ValidPublishSubject(subject); err != nil {
		return nil, err
	}
	stream, err := c.StreamFor(ctx, subject)
	if err != nil {
		return nil, err
	}
	var extra nats.Header
	if msgID != "" {
		// Only a retry-safe increment pays for a second request: the
		// stream's configuration.
		info, err := c.StreamInfo(ctx, stream)
		if err != nil {
			return nil, err
		}
		if err := PublishTarget(subject, &info.Config); err != nil {
			return nil, err
		}
		if info.Config.Duplicates <= 0 {
			// The server gives streams with sources (aggregates) no
			// duplicate window, and must not have one: it would drop
			// sourced updates that carry an id already seen. There, --id
			// would promise a retry safety that does not exist.
			return nil, errkind.Invalidf("stream %s has no duplicate window (aggregates never have one), so a message id would not make this increment retry-safe: increment a leaf stream, or leave out --id", stream)
		}
		extra = nats.Header{HeaderMsgID: []string{msgID}}
	}
	ack, err := c.PublishIncr(ctx, subject, delta, extra)
	if err != nil {
		var nl *noLeaderError
		if errors.As(err, &nl) {
			nl.stream = stream
		}
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
		if cur, err := c.ReadOne(ctx, ack.Stream, subject, ReadLeader); err == nil {
			res.Value = cur.Value
		}
	default:
		// A server without counters stores the message as a plain one.
		return nil, errkind.Unavailablef("increment %s: stream %s stored it without counting: counters need nats-server 2.12 or newer and a stream made by 'counter create'", subject, ack.Stream)
	}
	return res, nil
}

// StreamFor names the stream that captures a literal subject, with one
// JetStream API request (stream names filtered by that subject: the
// cheapest request that answers it, a third of a one-shot incr's time
// with the full stream list). errkind.ErrNotFound when no stream captures it. It is
// the server half of the publish gate; ValidPublishSubject is the local
// half.
func (c *Client) StreamFor(ctx context.Context, subject string) (string, error) {
	req, err := json.Marshal(map[string]any{"subject": subject})
	if err != nil {
		return "", err
	}
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	msg, err := c.nc.RequestWithContext(rctx, c.prefix+".STREAM.NAMES", req)
	if err != nil {
		return "", c.Wrap(err, "find the stream for "+subject)
	}
	var resp struct {
		Streams []string            `json:"streams"`
		Total   int                 `json:"total"`
		Error   *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return "", errkind.Unavailablef("find the stream for %s: the reply is not a JetStream answer: %.80q", subject, msg.Data)
	}
	if resp.Error != nil {
		return "", c.Wrap(resp.Error, "find the stream for "+subject)
	}
	switch len(resp.Streams) {
	case 0:
		return "", NotCaptured(subject)
	case 1:
		return resp.Streams[0], nil
	}
	return "", fmt.Errorf("subject %s is captured by several streams (%s): increment through one stream only", subject, strings.Join(resp.Streams, ", "))
}

// noLeaderError is a publish nobody answered although a stream captures the
// subject: during a leader election no server answers the stream's subjects.
type noLeaderError struct {
	subject, stream string
}

func (e *noLeaderError) Error() string {
	stream := "the stream capturing " + e.subject
	if e.stream != "" {
		stream = "stream " + e.stream
	}
	return stream + " has no leader yet (no server answered the increment): retry (with --id to make the retry safe)"
}

func (e *noLeaderError) Unwrap() error { return errkind.ErrUnavailable }

// publishIncr sends one increment with any extra headers (message id, reset
// reason) and returns the server's acknowledgement; API errors in the ack
// come back as errors. Shared by Incr and Reset; callers have found the
// counter stream that captures subject, and the subject passes the same
// local gate here again, so nothing reaches a reserved subject.
func (c *Client) PublishIncr(ctx context.Context, subject string, delta *big.Int, extra nats.Header) (*pubAck, error) {
	if err := ValidPublishSubject(subject); err != nil {
		return nil, err
	}
	msg := nats.NewMsg(subject)
	for k, v := range extra {
		msg.Header[k] = v
	}
	msg.Header.Set(HeaderIncr, Signed(delta))
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, c.Wrap(err, "increment "+subject) // not sent
	}
	resp, err := c.nc.RequestMsgWithContext(rctx, msg)
	if err != nil {
		return nil, c.publishError(ctx, subject, delta, extra, err)
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		// Sent, and answered with something unreadable (nats-server 2.15.2
		// writes a control character in a stream name as an invalid JSON
		// escape): the increment may well have been applied.
		return nil, errkind.Unknownf("increment %s %s: the reply is not a JetStream acknowledgement (%.80q): it may have been applied; read the counter, or %s", subject, Signed(delta), resp.Data, retryAdvice(extra))
	}
	if ack.Error != nil {
		return nil, c.incrError(ctx, subject, delta, ack)
	}
	return &ack, nil
}

// publishError explains a publish that got no acknowledgement. Nobody
// answering means no stream leader (the caller found the stream); a timeout
// or a connection lost after sending leaves the outcome unknown.
func (c *Client) publishError(ctx context.Context, subject string, delta *big.Int, extra nats.Header, err error) error {
	retry := retryAdvice(extra)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return &noLeaderError{subject: subject}
	case c.denials.err() != nil && errors.Is(err, context.Canceled):
		return c.Wrap(err, "increment "+subject)
	case ctx.Err() != nil:
		// Interrupted by the user after sending.
		return errkind.Unknownf("increment %s %s: interrupted before the server answered: it may have been applied; read the counter, or %s", subject, Signed(delta), retry)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrDisconnected):
		return errkind.Unknownf("increment %s %s: no answer within %s: it may have been applied; read the counter, or %s", subject, Signed(delta), c.timeout, retry)
	}
	return c.Wrap(err, "increment "+subject)
}

// retryAdvice says how to retry an increment whose outcome is unknown.
func retryAdvice(extra nats.Header) string {
	if id := extra.Get(HeaderMsgID); id != "" {
		return fmt.Sprintf("retrying with the same --id %q is safe", id)
	}
	return "retry with --id to make the retry safe"
}

func (c *Client) incrError(ctx context.Context, subject string, delta *big.Int, ack pubAck) error {
	stream := ack.Stream
	if stream == "" {
		sctx, cancel := c.RequestContext(ctx)
		stream, _ = c.js.StreamNameBySubject(sctx, subject)
		cancel()
	}
	if err := RefusedIncrement(subject, stream, ack.Error); err != nil {
		return err
	}
	switch ack.Error.ErrorCode {
	case ErrCodeHeaderTooLarge, ErrCodeMessageTooLarge:
		var maxMsgSize int32
		if info, err := c.StreamInfo(ctx, stream); err == nil {
			maxMsgSize = info.Config.MaxMsgSize
		}
		return TooLarge(subject, stream, delta, maxMsgSize, c.nc.MaxPayload(), ack.Error.Description)
	}
	return c.Wrap(ack.Error, "increment "+subject)
}
