//go:build unix

package localfile

import (
	"os"
	"syscall"
)

// OpenNonBlocking opens path for reading without waiting for a FIFO's
// writer or a device; callers decide what kinds of file they take.
func OpenNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}
