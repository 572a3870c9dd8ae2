//go:build !unix

package connection

import "os"

// openNonBlocking opens path for reading; the caller refuses anything not a
// regular file.
func openNonBlocking(path string) (*os.File, error) {
	return os.Open(path)
}
