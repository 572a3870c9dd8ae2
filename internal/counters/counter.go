package counters

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"time"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/nats-io/nats.go"
)

// Header names from ADR-49.
const (
	HeaderIncr     = "Nats-Incr"
	HeaderSources  = "Nats-Counter-Sources"
	HeaderMsgID    = "Nats-Msg-Id"
	headerStream   = "Nats-Stream"
	HeaderSubject  = "Nats-Subject"
	HeaderSequence = "Nats-Sequence"
	HeaderTime     = "Nats-Time-Stamp"
)

// Counter is the last stored value of one counter subject in one stream.
type Counter struct {
	Subject string
	Stream  string
	Value   *big.Int
	Seq     uint64
	Updated time.Time
	// Sources is what each source stream last contributed, keyed by source
	// stream then original subject (the Nats-Counter-Sources header). Nil
	// when the message has no such header, or it was not read.
	Sources Sources
	// SourcesError is why the sources record could not be parsed (written
	// by another client, say). The value is right all the same.
	SourcesError error
	// Broken: the sources record is not even the JSON shape the server
	// reads, so the server refuses every increment of this counter.
	Broken bool
}

// Sources maps source key (stream name, ":hash" for external sources) to the
// upstream subject and its last seen value.
type Sources map[string]map[string]*big.Int

// Total is the sum of every contribution.
func (s Sources) Total() *big.Int {
	total := new(big.Int)
	for _, subjects := range s {
		for _, v := range subjects {
			total.Add(total, v)
		}
	}
	return total
}

// maxBodyBytes is the longest body ParseBody reads: {"val":"…"} around a
// value of MaxValueDigits digits and its sign, with room for whitespace.
const maxBodyBytes = MaxValueDigits + 64

// ParseBody parses a stored counter body {"val":"<decimal>"} whose value
// has at most MaxValueDigits digits. A longer body is refused unread
// (ValueTooLong); callers name the counter.
func ParseBody(body []byte) (*big.Int, error) {
	if len(body) > maxBodyBytes {
		return nil, ValueTooLong(len(body))
	}
	// Fast path for the exact form the server writes: reflection-based JSON
	// decoding was a fifth of the client CPU of a 100,000-counter read.
	// Anything else (escapes, spaces, extra fields) takes the decoder below.
	if rest, ok := bytes.CutPrefix(body, []byte(`{"val":"`)); ok {
		if digits, ok := bytes.CutSuffix(rest, []byte(`"}`)); ok {
			if v, ok := new(big.Int).SetString(string(digits), 10); ok {
				return v, nil
			}
		}
	}
	var b struct {
		Val *string `json:"val"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Val == nil {
		return nil, errkind.Invalidf("message is not a counter value: %.60q", body)
	}
	return ParseValue(*b.Val)
}

// errBrokenRecord marks a sources record the server cannot parse either: it
// then refuses every increment of the counter (10172, "counter is broken").
var errBrokenRecord = brokenRecord{}

type brokenRecord struct{}

func (brokenRecord) Error() string { return "" }

// ParseSources parses the Nats-Counter-Sources header; "" gives nil.
func ParseSources(header string) (Sources, error) {
	if header == "" {
		return nil, nil
	}
	var raw map[string]map[string]string
	if err := json.Unmarshal([]byte(header), &raw); err != nil {
		return nil, errkind.Invalidf("invalid %s header: %v%w", HeaderSources, err, errBrokenRecord)
	}
	out := make(Sources, len(raw))
	for key, subjects := range raw {
		m := make(map[string]*big.Int, len(subjects))
		for subj, val := range subjects {
			v, err := ParseValue(val)
			if err != nil {
				return nil, errkind.Invalidf("invalid %s header: %s %s: %v", HeaderSources, key, subj, err)
			}
			m[subj] = v
		}
		out[key] = m
	}
	return out, nil
}

// counterFromMsg builds a Counter from a stored message's body and, when
// withSources, its Nats-Counter-Sources header. A bad sources record (any
// client may write that header, and the server keeps counting) is kept as
// a warning on the counter: the value does not depend on it.
func CounterFromMsg(subject, stream string, seq uint64, ts time.Time, h nats.Header, body []byte, withSources bool) (Counter, error) {
	v, err := ParseBody(body)
	if err != nil {
		return Counter{}, err
	}
	ctr := Counter{Subject: subject, Stream: stream, Value: v, Seq: seq, Updated: ts}
	if withSources {
		ctr.Sources, ctr.SourcesError = ParseSources(h.Get(HeaderSources))
		ctr.Broken = errors.Is(ctr.SourcesError, errBrokenRecord)
	}
	return ctr, nil
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

// Entry is the record's value for source key and subject, nil if none.
func (s Sources) Entry(key, subject string) *big.Int {
	if s == nil {
		return nil
	}
	return s[key][subject]
}

// Headers of our own on a reset message: an audit trail that stays in the
// stream (and is copied into the aggregates above, which source it).
const (
	HeaderResetReason = "Counter-Reset-Reason"
	HeaderResetBy     = "Counter-Reset-By"
	// HeaderResetRun is on every reset message of one `counter reset`
	// invocation (all its rounds, all its counters): the id that undoes
	// the whole run.
	HeaderResetRun = "Counter-Reset-Run"
	// HeaderResetTotal is what the reset of this counter has applied up to
	// and including this message (the sum of its rounds' Nats-Incr, signed).
	// The last round, the one kept by the purge, carries the reset's total.
	HeaderResetTotal = "Counter-Reset-Total"
)

// Headers of our own on an undo message (`counter reset --undo`): which
// reset it reverses, so that history and audit show it and a second undo of
// the same reset is refused.
const (
	// HeaderUndoStream and HeaderUndoSeq name the reset message undone: the
	// stream it was published to and its sequence there.
	HeaderUndoStream = "Counter-Undo-Stream"
	HeaderUndoSeq    = "Counter-Undo-Seq"
	// HeaderUndoRun is the run id of the reset undone.
	HeaderUndoRun = "Counter-Undo-Run"
	// HeaderUndoResetReason is the reason the undone reset gave.
	HeaderUndoResetReason = "Counter-Undo-Reset-Reason"
	// HeaderUndoBy (user@host) and HeaderUndoReason are who undid it and why.
	HeaderUndoBy     = "Counter-Undo-By"
	HeaderUndoReason = "Counter-Undo-Reason"
)
