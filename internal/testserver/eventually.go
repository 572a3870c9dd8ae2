package testserver

import (
	"time"
)

// Poll intervals of Eventually: the first retry comes at once, and the
// wait doubles up to pollMax, so a condition that holds a moment later
// is seen a moment later, and one that takes seconds is not asked a
// thousand times.
const (
	pollMin = time.Millisecond
	pollMax = 20 * time.Millisecond
)

// Eventually calls cond until it returns nil, waiting a little longer
// after each try, and fails the test if that has not happened within
// `within`, with what it was waiting for and cond's last error. cond runs
// on the calling goroutine, so it may itself fail the test (t.Fatal) on
// an error that no amount of waiting mends.
func Eventually(t TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	wait := pollMin
	for {
		err := cond()
		if err == nil {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", within, what, err)
			return
		}
		time.Sleep(min(wait, time.Until(deadline)))
		wait = min(2*wait, pollMax)
	}
}
