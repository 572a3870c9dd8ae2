package bulk

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/jetcounter/counter/internal/errkind"
)

// Without --follow the whole input is checked before the first increment
// is sent, and then read a second time to send it: nothing of it is held
// in memory. A regular file (--file, or stdin redirected from one) is
// simply read again; anything else (a pipe, a terminal) is copied to a
// temporary file while it is checked, up to SpillLimit bytes.

// DefaultSpillLimit bounds the copy of an input that cannot be read twice.
const DefaultSpillLimit = 1 << 30

// replay is an input that can be read twice.
type replay struct {
	in    io.Reader
	file  *os.File // the input itself, when it is a regular file
	start int64    // where in file the input starts
	read  int64    // bytes the first pass read
	stat  os.FileInfo

	spill *tempFile // the copy of any other input
	w     *bufio.Writer
	limit int64
}

func newReplay(in io.Reader, limit int64) *replay {
	p := &replay{in: in, limit: limit}
	if f, ok := in.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
			if off, err := f.Seek(0, io.SeekCurrent); err == nil {
				p.file, p.start = f, off
			}
		}
	}
	return p
}

// first is the reader of the first pass.
func (p *replay) first() io.Reader { return p }

func (p *replay) Read(b []byte) (int, error) {
	n, err := p.in.Read(b)
	p.read += int64(n)
	if n > 0 && p.file == nil {
		if p.read > p.limit {
			return 0, errkind.Invalidf("the input is more than %s: without --follow the whole input is checked before anything is sent, and input that is not a regular file is kept in a temporary file meanwhile, up to that size; nothing was sent: give it as a file (--file FILE is read twice, with no limit), split it, or use --follow", sizeText(p.limit))
		}
		if p.spill == nil {
			f, cerr := createTemp("counter-input-")
			if cerr != nil {
				return 0, cerr
			}
			p.spill, p.w = f, bufio.NewWriterSize(f, 256<<10)
		}
		if _, werr := p.w.Write(b[:n]); werr != nil {
			return 0, fmt.Errorf("keep the input in a temporary file: %w", werr)
		}
	}
	return n, err
}

// endFirst is called once the first pass read everything.
func (p *replay) endFirst() error {
	if p.file != nil {
		info, err := p.file.Stat()
		if err != nil {
			return fmt.Errorf("read input: %w", err)
		}
		p.stat = info
		return nil
	}
	if p.w != nil {
		if err := p.w.Flush(); err != nil {
			return fmt.Errorf("keep the input in a temporary file: %w", err)
		}
	}
	return nil
}

// second is the reader of the second pass: exactly the bytes the first
// pass read. A file changed in between is refused.
func (p *replay) second() (io.Reader, error) {
	if p.file != nil {
		info, err := p.file.Stat()
		if err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
		if info.Size() != p.stat.Size() || !info.ModTime().Equal(p.stat.ModTime()) {
			return nil, fmt.Errorf("the input file changed while it was being checked (size %d, now %d): nothing was sent", p.stat.Size(), info.Size())
		}
		return io.NewSectionReader(p.file, p.start, p.read), nil
	}
	if p.spill == nil {
		return eofReader{}, nil
	}
	return io.NewSectionReader(p.spill, 0, p.read), nil
}

func (p *replay) close() {
	if p.spill != nil {
		p.spill.Close()
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// tempFile is a temporary file that is gone once closed, and gone at once
// where the system allows (unix: unlinked while open), so that an
// interrupted or killed run leaves nothing behind.
type tempFile struct {
	*os.File
	removeOnClose bool
}

func createTemp(pattern string) (*tempFile, error) {
	f, err := os.CreateTemp("", pattern+"*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary file: %w", err)
	}
	// Not removable while open (Windows): removed on close instead.
	return &tempFile{File: f, removeOnClose: os.Remove(f.Name()) != nil}, nil
}

func (f *tempFile) Close() error {
	err := f.File.Close()
	if f.removeOnClose {
		os.Remove(f.Name())
	}
	return err
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
