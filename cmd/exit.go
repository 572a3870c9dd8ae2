package cmd

import (
	"errors"

	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
)

// Exit codes: a contract scripts rely on. Never renumber.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitNotFound    = 3
	ExitUnavailable = 4
	ExitProblems    = 5
	ExitRefused     = 6
)

// errProblems marks `topology --check` finding errors.
var errProblems = errors.New("problems found")

// ExitCode maps an error to the process exit code. It is the only place
// that does.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, counters.ErrInvalid):
		return ExitUsage
	case errors.Is(err, counters.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, counters.ErrUnavailable),
		// A connection that closes mid-read, whatever path reported it.
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrStaleConnection):
		return ExitUnavailable
	case errors.Is(err, errProblems):
		return ExitProblems
	case errors.Is(err, counters.ErrRefused):
		return ExitRefused
	}
	return ExitError
}
