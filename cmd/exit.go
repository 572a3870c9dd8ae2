package cmd

import (
	"github.com/jetcounter/counter/internal/errkind"
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

// exitCodes gives every error kind its code.
var exitCodes = map[error]int{
	errkind.ErrInvalid:     ExitUsage,
	errkind.ErrNotFound:    ExitNotFound,
	errkind.ErrUnavailable: ExitUnavailable,
	errkind.ErrProblems:    ExitProblems,
	errkind.ErrRefused:     ExitRefused,
	// The server holds something else than asked (a stream of that name
	// with another configuration): an error, neither bad input nor a retry.
	errkind.ErrConflict: ExitError,
}

// ExitCode maps an error to the process exit code. It is the only place
// that does.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if code, ok := exitCodes[errkind.Of(err)]; ok {
		return code
	}
	return ExitError
}
