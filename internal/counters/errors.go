package counters

import (
	"errors"
	"fmt"
)

// Error kinds. The CLI maps each kind to one exit code; messages stay the
// caller's own words, so errors.Is(err, ErrNotFound) works without the kind
// leaking into the text.
var (
	// ErrInvalid: the input can never succeed as given (bad delta, bad spec).
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: no stream or no counter matched.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: cannot connect, not allowed, or JetStream unusable.
	ErrUnavailable = errors.New("unavailable")
	// ErrRefused: the operation needs confirmation (--force).
	ErrRefused = errors.New("refused")
	// ErrConflict: the server already holds something different.
	ErrConflict = errors.New("conflict")
	// ErrInterrupted: a step was not done because the run was interrupted.
	ErrInterrupted = errors.New("interrupted before the purge")
	// ErrPurgeSkipped: a reset at an aggregate left its history in place
	// because a source had not delivered anything yet (see purgeSafe).
	ErrPurgeSkipped = errors.New("purge skipped")
)

// ErrUnknownOutcome marks a publish whose outcome is unknown: it was sent,
// and no acknowledgement came (timeout, connection lost after sending). It
// may have been applied. Errors of this kind are also ErrUnavailable (exit
// 4: retry), and their text never says "failed". Reset rows use it too:
// errors.Is(err, ErrUnknownOutcome) means "report as unknown, not as not done".
var ErrUnknownOutcome = errors.New("outcome unknown")

type kindError struct {
	kind error
	msg  string
	err  error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// errorf returns an error of the given kind with a formatted message. A %w
// verb in the format keeps the wrapped error reachable by errors.Is/As.
func errorf(kind error, format string, args ...any) error {
	wrapped := fmt.Errorf(format, args...)
	return &kindError{kind: kind, msg: wrapped.Error(), err: errors.Unwrap(wrapped)}
}

// Invalidf, NotFoundf, Unavailablef and Refusedf let callers outside the
// package (the CLI) raise the same kinds.
func Invalidf(format string, args ...any) error     { return errorf(ErrInvalid, format, args...) }
func NotFoundf(format string, args ...any) error    { return errorf(ErrNotFound, format, args...) }
func Unavailablef(format string, args ...any) error { return errorf(ErrUnavailable, format, args...) }
func Refusedf(format string, args ...any) error     { return errorf(ErrRefused, format, args...) }

// OutcomeUnknown reports whether err is a publish that was sent but not
// acknowledged (a timeout, an interrupt, a lost connection): it may have
// been applied. Only a message id makes a retry of it safe.
func OutcomeUnknown(err error) bool { return errors.Is(err, ErrUnknownOutcome) }
