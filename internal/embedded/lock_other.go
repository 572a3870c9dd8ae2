//go:build !unix

package embedded

import (
	"fmt"
	"os"
)

// lockStore only creates the store where advisory locks are not portable.
func lockStore(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create JetStream store %s: %w", dir, err)
	}
	return func() {}, nil
}
