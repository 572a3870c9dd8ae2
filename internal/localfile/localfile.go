// Package localfile opens files named on the command line without letting
// the kernel hold the process: open(2) of a FIFO with no writer blocks
// until one comes, and no signal handler runs meanwhile in Go terms (the
// verb never sees its context end). Files are opened non-blocking; a
// FIFO's wait for its writer is a wait the context ends.
package localfile

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/jetcounter/counter/internal/errkind"
)

// Input is a file opened for reading increments (incr --file): a regular
// file, a FIFO, or a character device such as /dev/stdin.
type Input struct {
	*os.File
	Info fs.FileInfo
}

// OpenInput opens path for reading without blocking. A missing,
// unreadable or directory path is errkind.ErrInvalid (exit 2), found before
// anything connects; what names the flag (--file).
func OpenInput(what, path string) (*Input, error) {
	f, err := OpenNonBlocking(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, errkind.Invalidf("%s %q: no such file", what, path)
		case errors.Is(err, fs.ErrPermission):
			return nil, errkind.Invalidf("%s %q: permission denied", what, path)
		}
		return nil, errkind.Invalidf("%s %q: cannot open it: %v", what, path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errkind.Invalidf("%s %q: %v", what, path, err)
	}
	if info.IsDir() {
		f.Close()
		return nil, errkind.Invalidf("%s %q is a directory: give a file of increments, one per line", what, path)
	}
	return &Input{File: f, Info: info}, nil
}

// IsFIFO reports whether the input is a named pipe.
func (in *Input) IsFIFO() bool { return in.Info.Mode()&fs.ModeNamedPipe != 0 }

// Reader reads the input. A FIFO's reader first waits, until ctx ends,
// for a writer to write or hang up: read without a writer would give an
// empty input at once (a non-blocking open does not wait for one).
func (in *Input) Reader(ctx context.Context) io.Reader {
	if !in.IsFIFO() {
		return in.File
	}
	return &fifoReader{ctx: ctx, f: in.File}
}

type fifoReader struct {
	ctx   context.Context
	f     *os.File
	ready bool
}

func (r *fifoReader) Read(p []byte) (int, error) {
	if !r.ready {
		if err := waitWriter(r.ctx, r.f); err != nil {
			return 0, err
		}
		r.ready = true
	}
	return r.f.Read(p)
}

// waitWriter blocks until the FIFO has data or its writer hung up, or ctx
// ends (ctx.Err()). The runtime's poller does the waiting: a RawConn read
// calls readable, and while that says no waits for the poller's next
// event; a read deadline (set when ctx ends) stops the wait.
func waitWriter(ctx context.Context, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil // reads block as they would
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	rc.Read(readable)
	if !stop() || ctx.Err() != nil {
		return ctx.Err()
	}
	// Any other end of the wait (a file the poller does not take): the
	// reads that follow say what there is.
	return nil
}
