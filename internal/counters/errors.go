package counters

import "errors"

var (
	// ErrInterrupted: a step was not done because the run was interrupted.
	ErrInterrupted = errors.New("interrupted before the purge")
	// ErrPurgeSkipped: a reset at an aggregate left its history in place
	// because a source had not delivered anything yet (see purgeSafe).
	ErrPurgeSkipped = errors.New("purge skipped")
)
