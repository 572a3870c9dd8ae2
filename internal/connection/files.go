package connection

import (
	"errors"
	"io"
	"io/fs"

	"github.com/jetcounter/counter/internal/errkind"
)

// maxLocalFile bounds every credential, key, certificate and context file
// counter reads: they are kilobytes, and a path such as /dev/zero must not
// grow the process without end.
const maxLocalFile = 1 << 20

// readLocalFile reads a small local file named by what (a flag such as
// --creds, or a context field): only a regular file, at most maxLocalFile
// bytes, opened without blocking (a FIFO with no writer never hangs the
// process). Every failure is ErrInvalid (exit 2) naming what and the path:
// the file is the user's to fix, not the server's.
func readLocalFile(what, path string) ([]byte, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, errkind.Invalidf("%s %q: no such file", what, path)
		case errors.Is(err, fs.ErrPermission):
			return nil, errkind.Invalidf("%s %q: permission denied", what, path)
		}
		return nil, errkind.Invalidf("%s %q: cannot open it: %v", what, path, unwrapPathError(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, errkind.Invalidf("%s %q: %v", what, path, unwrapPathError(err))
	}
	if !info.Mode().IsRegular() {
		return nil, errkind.Invalidf("%s %q is not a regular file", what, path)
	}
	if info.Size() > maxLocalFile {
		return nil, errkind.Invalidf("%s %q is %d bytes: such files are at most %d", what, path, info.Size(), maxLocalFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxLocalFile+1))
	if err != nil {
		return nil, errkind.Invalidf("%s %q: cannot read it: %v", what, path, unwrapPathError(err))
	}
	if len(data) > maxLocalFile {
		return nil, errkind.Invalidf("%s %q grew past %d bytes while being read", what, path, maxLocalFile)
	}
	return data, nil
}

// unwrapPathError drops the path from an *fs.PathError: the message names
// the path once, quoted.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
