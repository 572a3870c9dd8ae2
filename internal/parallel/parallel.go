// Package parallel runs many independent requests a bounded number at a
// time, and says which were never started once the run is interrupted.
package parallel

import (
	"context"
	"sync"
	"sync/atomic"
)

// InFlight is how many requests Do keeps going at once.
const InFlight = 64

// Do runs do(0..n-1) InFlight at a time; once ctx is done the
// indexes not started go to skipped instead.
func Do(ctx context.Context, n int, do, skipped func(int)) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(n, InFlight) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if ctx.Err() != nil {
					skipped(i)
					continue
				}
				do(i)
			}
		}()
	}
	wg.Wait()
}
