package counters

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/errkind"
)

// The two predicates every verb uses about a stream. A stream carries
// counter values when reading it gives counter values (a counter stream, or
// a mirror of one: CarriesCounterValues follows the mirror); it accepts
// increments only when a publish there is counted.

// AcceptsIncrements reports whether a publish with Nats-Incr to one of the
// stream's subjects is counted: a counter stream that is neither a mirror
// nor sealed.
func AcceptsIncrements(cfg *jetstream.StreamConfig) bool {
	return cfg != nil && cfg.AllowMsgCounter && cfg.Mirror == nil && !cfg.Sealed
}

// PublishTarget is the one check of where an increment may go, made before
// anything is sent by incr, decr, incr - and reset alike: the subject is
// not reserved, a stream captures it (cfg, nil when none does:
// errkind.ErrNotFound), and that stream counts increments and captures the
// subject itself (errkind.ErrInvalid otherwise: the input can never succeed
// there). A subject the user typed passes ValidPublishSubject first; one a
// reset found on the server (which may hold any bytes) needs only this.
func PublishTarget(subject string, cfg *jetstream.StreamConfig) error {
	if ReservedSubject(subject) {
		return reserved(subject)
	}
	if cfg == nil {
		return NotCaptured(subject)
	}
	name := cfg.Name
	switch {
	case cfg.Mirror != nil:
		return errkind.Invalidf("stream %s is a mirror of %s and takes no increments: increment or reset at %s (the mirror and every aggregate above it follow)", name, cfg.Mirror.Name, cfg.Mirror.Name)
	case !cfg.AllowMsgCounter:
		return NotCounter(name)
	case cfg.Sealed:
		return Sealed(name)
	}
	// A subject of its own (published to as it is), or one its
	// subject_transform stores counters under (a reset publishes to the
	// subject that lands there).
	if _, ok := PublishSubject(cfg, subject); ok || captures(cfg, subject) {
		return nil
	}
	if len(cfg.Subjects) == 0 {
		return errkind.Invalidf("stream %s has no subjects of its own, so it cannot take an increment to %s: add the subject to it (subjects of an aggregate may be its sourced ones: counter create %s … --subjects %s --update), or change the counter upstream", name, subject, name, subject)
	}
	return errkind.Invalidf("stream %s does not capture subject %s (its subjects: %s): an increment there would land in another stream; change the counter at the stream that captures it", name, subject, strings.Join(cfg.Subjects, ", "))
}

// NotCaptured: no stream captures the subject (exit 3 in every verb).
func NotCaptured(subject string) error {
	return errkind.NotFoundf("no stream captures subject %s: create one with 'counter create NAME --subjects %s'", subject, subject)
}

// NotCounter: the stream that captures the subject counts nothing (exit 2
// in every verb: the input can never succeed there).
func NotCounter(stream string) error {
	return errkind.Invalidf("stream %s is not a counter stream: increments need a stream made with 'counter create' (allow_msg_counter)", stream)
}

// Sealed: the stream takes no more writes, ever.
func Sealed(stream string) error {
	return errkind.Invalidf("stream %s is sealed: it takes no increments or resets any more", stream)
}

// RefusedIncrement maps the server's refusal of an increment (its ack's
// error) to the same kinds PublishTarget gives, so a refusal the server
// makes reads as the check counter makes first. nil for any other error.
func RefusedIncrement(subject, stream string, e *jetstream.APIError) error {
	switch e.ErrorCode {
	case ErrCodeCountersDisabled:
		return NotCounter(stream)
	case ErrCodeStreamSealed:
		return Sealed(stream)
	case ErrCodeIncrInvalid:
		return errkind.Invalidf("increment %s: the server rejected the increment: %s", subject, e.Description)
	case ErrCodeCounterBroken:
		return fmt.Errorf("counter %s in stream %s is broken (its stored value or sources record is not valid), so every increment is refused: 'counter reset %s' recovers it (it purges the subject, then publishes +0; it asks first)", subject, stream, subject)
	}
	return nil
}

// TooLarge explains a refusal for size (10054, 10097). The limit covers the
// whole stored message, headers and the new value, so a value can grow
// into it and then refuse even +1: a small delta refused is the counter at
// its stream's max_msg_size or the server's max_payload (exit 1, the input
// was fine); a huge delta is the input (exit 2).
func TooLarge(subject, stream string, delta *big.Int, maxMsgSize int32, maxPayload int64, desc string) error {
	if len(new(big.Int).Abs(delta).String()) >= checkAboveDigits {
		return errkind.Invalidf("increment %s: the delta is too large for the server (%s): it travels in a header, which holds at most about 65,000 digits", subject, desc)
	}
	limit := fmt.Sprintf("the server's max_payload of %d bytes", maxPayload)
	if maxMsgSize > 0 && (maxPayload <= 0 || int64(maxMsgSize) < maxPayload) {
		limit = fmt.Sprintf("stream %s's max_msg_size of %d bytes", stream, maxMsgSize)
	}
	return fmt.Errorf("increment %s: counter %s in stream %s has reached %s (%s): its stored message, with the value it holds, cannot grow any more; nothing was applied. Raise the limit, or reset the counter", subject, subject, stream, limit, desc)
}
