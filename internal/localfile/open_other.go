//go:build !unix

package localfile

import "os"

// OpenNonBlocking opens path for reading (no FIFOs here to wait on).
func OpenNonBlocking(path string) (*os.File, error) {
	return os.Open(path)
}

// readable: nothing to wait for here.
func readable(uintptr) bool { return true }
