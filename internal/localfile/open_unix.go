//go:build unix

package localfile

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenNonBlocking opens path for reading without waiting for a FIFO's
// writer or a device; callers decide what kinds of file they take.
func OpenNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

// readable reports, without waiting or reading, whether a read of fd
// would return at once: data, or a writer that came and hung up (a FIFO
// that never had a writer reports neither).
func readable(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || (n > 0 && fds[0].Revents != 0)
	}
}
