//go:build unix

package embedded

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const lockWait = 2 * time.Second

// lockStore takes an exclusive lock on the JetStream store: two servers
// on one store directory would both write its files (nats-server itself
// does not guard against that). The lock lasts until release is called
// or the process ends.
func lockStore(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create JetStream store %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "counter-server.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot lock JetStream store %s: %w", dir, err)
	}
	// A server that is shutting down releases the lock a moment after its
	// shutdown returns; a restart on the same store waits that long.
	deadline := time.Now().Add(lockWait)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("JetStream store %s is in use by another server: stop it, or choose another --store", dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return func() { f.Close() }, nil
}
