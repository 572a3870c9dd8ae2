// Package errkind holds the kinds of error every package of counter raises,
// and the one table that turns NATS and JetStream errors into them. The CLI
// maps each kind to one exit code (cmd/exit.go); messages stay the caller's
// own words, so errors.Is(err, ErrNotFound) works without the kind leaking
// into the text.
package errkind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	// ErrInvalid: the input can never succeed as given (bad delta, bad
	// spec); nothing was written.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: no stream or no counter matched.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: cannot connect, not allowed, JetStream unusable or no
	// leader yet: retry.
	ErrUnavailable = errors.New("unavailable")
	// ErrProblems: a check (topology --check, audit) found problems.
	ErrProblems = errors.New("problems found")
	// ErrRefused: the operation needs confirmation (--force).
	ErrRefused = errors.New("refused")
	// ErrConflict: the server already holds something different from what
	// was asked (a stream of that name with another configuration).
	ErrConflict = errors.New("conflict")
)

// ErrUnreachable marks a JetStream domain (or a stream in it) that did not
// answer: its servers are down, or the link to them (a leafnode
// connection) is cut. Errors of this kind are also ErrUnavailable (exit 4:
// retry): unreachable is never "not found".
var ErrUnreachable = errors.New("unreachable")

// ErrUnknownOutcome marks a publish whose outcome is unknown: it was sent,
// and no acknowledgement came (timeout, connection lost after sending). It
// may have been applied. Errors of this kind are also ErrUnavailable (exit
// 4: retry), and their text never says "failed".
var ErrUnknownOutcome = errors.New("outcome unknown")

type kindError struct {
	kinds []error
	msg   string
	err   error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() []error {
	if e.err == nil {
		return e.kinds
	}
	return append(append([]error(nil), e.kinds...), e.err)
}

// Errorf returns an error of the given kind with a formatted message. A %w
// verb in the format keeps the wrapped error reachable by errors.Is/As.
func Errorf(kind error, format string, args ...any) error {
	wrapped := fmt.Errorf(format, args...)
	return &kindError{kinds: []error{kind}, msg: wrapped.Error(), err: errors.Unwrap(wrapped)}
}

func Invalidf(format string, args ...any) error     { return Errorf(ErrInvalid, format, args...) }
func NotFoundf(format string, args ...any) error    { return Errorf(ErrNotFound, format, args...) }
func Unavailablef(format string, args ...any) error { return Errorf(ErrUnavailable, format, args...) }
func Refusedf(format string, args ...any) error     { return Errorf(ErrRefused, format, args...) }
func Conflictf(format string, args ...any) error    { return Errorf(ErrConflict, format, args...) }
func Problemsf(format string, args ...any) error    { return Errorf(ErrProblems, format, args...) }

// Unknownf is a publish that was sent and not acknowledged: unknown, and
// unavailable (retry).
func Unknownf(format string, args ...any) error {
	wrapped := fmt.Errorf(format, args...)
	return &kindError{kinds: []error{ErrUnknownOutcome, ErrUnavailable}, msg: wrapped.Error(), err: errors.Unwrap(wrapped)}
}

// Unreachablef is a domain that did not answer: unreachable, and
// unavailable (retry).
func Unreachablef(format string, args ...any) error {
	wrapped := fmt.Errorf(format, args...)
	return &kindError{kinds: []error{ErrUnreachable, ErrUnavailable}, msg: wrapped.Error(), err: errors.Unwrap(wrapped)}
}

// Unreachable reports whether err says that a JetStream domain did not
// answer (down or cut off).
func Unreachable(err error) bool { return errors.Is(err, ErrUnreachable) }

// OutcomeUnknown reports whether err is a publish that was sent but not
// acknowledged (a timeout, an interrupt, a lost connection): it may have
// been applied. Only a message id makes a retry of it safe.
func OutcomeUnknown(err error) bool { return errors.Is(err, ErrUnknownOutcome) }

// Kinded reports whether err already carries one of these kinds.
func Kinded(err error) bool {
	var k *kindError
	return errors.As(err, &k)
}

// Of returns the kind of err: one of the Err* values above, or nil for an
// error of no known kind (exit 1). A connection that closed mid-read is
// unavailable whatever path reported it.
func Of(err error) error {
	for _, kind := range []error{ErrInvalid, ErrNotFound, ErrUnavailable, ErrProblems, ErrRefused, ErrConflict} {
		if errors.Is(err, kind) {
			return kind
		}
	}
	if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUnknownOutcome) {
		return ErrUnavailable // both are "retry"
	}
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrStaleConnection) {
		return ErrUnavailable
	}
	return nil
}

// Where describes the JetStream a request went to, for the NATS table.
type Where struct {
	// At is " at $JS.hub.API" for a domain or prefix, empty for the default.
	At      string
	Timeout time.Duration
	// Denied is the permission violation the server reported for a request
	// that was then cancelled, if any.
	Denied error
	// Gone is whether the connection is closed or reconnecting.
	Gone bool
	// Domain is set when the request went to another JetStream domain
	// than the user's own, for a walk of the aggregation graph: no answer
	// from it means that domain is down or cut off, not that JetStream is
	// off.
	Domain string
}

// NoJetStream is whether err says that no JetStream answered at all.
func NoJetStream(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount)
}

// NATS is the one table from NATS and JetStream errors to kinds: its text
// says what failed (what) and what to do.
func NATS(err error, what string, w Where) error {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case Kinded(err):
		return err
	case errors.Is(err, context.Canceled) && w.Denied != nil:
		return Unavailablef("%s: permission denied: %v", what, w.Denied)
	case NoJetStream(err) && w.Domain != "":
		return Unreachablef("%s: domain %s did not answer (nothing responded%s): it is down or cut off from here (a leafnode link?); retry when it is reachable", what, w.Domain, w.At)
	case w.Domain != "" && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, os.ErrDeadlineExceeded)):
		return Unreachablef("%s: domain %s did not answer within %s%s: it is down, cut off or slow; retry when it is reachable, or raise --timeout", what, w.Domain, w.Timeout, w.At)
	case NoJetStream(err):
		return Unavailablef("%s: JetStream is not available%s: enable JetStream on the server or check --js-domain", what, w.At)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded):
		return Unavailablef("%s: no answer from JetStream%s within %s: check the server, --js-domain or raise --timeout", what, w.At, w.Timeout)
	case errors.Is(err, nats.ErrPermissionViolation), errors.Is(err, nats.ErrAuthorization):
		return Unavailablef("%s: permission denied: %v", what, err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining), errors.Is(err, nats.ErrDisconnected),
		// Whatever shape the error took on its way up (an iterator's
		// "messages iterator closed"), a connection that is gone is the
		// cause: retry (exit 4).
		w.Gone:
		return Unavailablef("%s: connection lost: %v", what, err)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return NotFoundf("%s: stream not found%s", what, w.At)
	case errors.As(err, &apiErr):
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeJetStreamNotEnabled, jetstream.JSErrCodeJetStreamNotEnabledForAccount:
			return Unavailablef("%s: JetStream is not enabled for this account%s", what, w.At)
		}
		if apiErr.Code == 503 {
			return Unavailablef("%s: %s (a leader election?): retry", what, apiErr.Description)
		}
		if apiErr.Code == 403 {
			return Unavailablef("%s: permission denied: %s", what, apiErr.Description)
		}
		return fmt.Errorf("%s: %s (error %d)", what, apiErr.Description, apiErr.ErrorCode)
	}
	return fmt.Errorf("%s: %w", what, err)
}
