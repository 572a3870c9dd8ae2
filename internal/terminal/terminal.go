// Package terminal owns counter's terminal. One value, IO, is decided once
// at start from the process (System) or chosen by a test (Test): the three
// streams and whether each is a terminal, whether colour is on, TERM=dumb,
// the alternate screen and the terminal's size. Every byte that reaches
// stdout or stderr and may carry a server's or a user's text is written
// through it, so showing control characters instead of obeying them, and
// scrubbing credentials, cannot be forgotten:
//
//   - messages on stderr (Errorf, Warnf, Notef, Linef, Progressf, Confirm)
//     are scrubbed and made Visible, whatever stderr is;
//   - Out is stdout for render: on a terminal it shows any control
//     character it is given; in a pipe it keeps the exact bytes scripts
//     rely on;
//   - ErrOut is stderr for tables (a plan) and usage text: always shown,
//     never obeyed;
//   - Screen and Progress are the raw terminal, for the live table and
//     progress bars, which draw with escape sequences of their own.
//
// It is modelled on gh's iostreams. It imports nothing of counter, so any
// package may use it (internal/counters takes IsControl from here).
package terminal

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// IO is the terminal of one run of counter.
type IO struct {
	in          io.Reader
	out, errOut io.Writer
	inTTY       bool
	outTTY      bool
	errTTY      bool
	// noColor: NO_COLOR is set to a non-empty value (no-color.org: an
	// empty one does not count).
	noColor bool
	// dumb: TERM=dumb (an editor's shell buffer, a serial console) shows
	// text but obeys no cursor or screen escapes.
	dumb bool
	// size asks the terminal stdout writes to for its size.
	size func() (width, height int)
	// scrub removes credentials from a message (set by the connection).
	scrub func(string) string

	// Shared by copies (WithStdin), so that a held partial character is
	// written once.
	outGuard, errGuard, progress *guard
}

// System is the terminal of the running process: the one place that asks
// the operating system which streams are terminals, reads NO_COLOR and
// TERM, and (through Size) asks for the window size.
func System() *IO {
	t := &IO{
		in:      os.Stdin,
		inTTY:   term.IsTerminal(int(os.Stdin.Fd())),
		noColor: os.Getenv("NO_COLOR") != "",
		dumb:    os.Getenv("TERM") == "dumb",
		size: func() (int, int) {
			w, h, err := term.GetSize(int(os.Stdout.Fd()))
			if err != nil || w <= 0 || h <= 0 {
				return 0, 0
			}
			return w, h
		},
	}
	t.SetStdout(os.Stdout, term.IsTerminal(int(os.Stdout.Fd())))
	t.SetStderr(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
	return t
}

// Test is a terminal for tests over buffers: stdin, stdout and stderr,
// none of them a terminal, no colour, size unknown. The Set methods make
// it what a test needs.
func Test() (t *IO, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	t = &IO{in: in, noColor: true, size: func() (int, int) { return 0, 0 }}
	t.SetStdout(out, false)
	t.SetStderr(errOut, false)
	return t, in, out, errOut
}

// SetStdin replaces stdin; tty says whether it is a terminal.
func (t *IO) SetStdin(r io.Reader, tty bool) { t.in, t.inTTY = r, tty }

// SetStdout replaces stdout; tty says whether it is a terminal.
func (t *IO) SetStdout(w io.Writer, tty bool) {
	t.out, t.outTTY = w, tty
	t.outGuard = newGuard(w, "\n\t")
}

// SetStderr replaces stderr; tty says whether it is a terminal.
func (t *IO) SetStderr(w io.Writer, tty bool) {
	t.errOut, t.errTTY = w, tty
	t.errGuard = newGuard(w, "\n\t")
	t.progress = newGuard(w, "\n\t\r")
}

// SetEnv decides colour and TERM=dumb again from these variables (a test's
// environment; System reads the process's).
func (t *IO) SetEnv(env map[string]string) {
	t.noColor = env["NO_COLOR"] != ""
	t.dumb = env["TERM"] == "dumb"
}

// SetSize sets the size Size reports (a test's terminal).
func (t *IO) SetSize(width, height int) {
	t.size = func() (int, int) { return width, height }
}

// SetScrubber sets what removes credentials from every message on stderr:
// the connection's, which knows the secrets of this run.
func (t *IO) SetScrubber(scrub func(string) string) { t.scrub = scrub }

// WithStdin is a copy of t reading another stdin, writing to the same
// stdout and stderr (counter demo runs its steps with an empty one).
func (t *IO) WithStdin(r io.Reader, tty bool) *IO {
	c := *t
	c.in, c.inTTY = r, tty
	return &c
}

// StdinTTY reports whether stdin is a terminal.
func (t *IO) StdinTTY() bool { return t.inTTY }

// StdoutTTY reports whether stdout is a terminal.
func (t *IO) StdoutTTY() bool { return t.outTTY }

// StderrTTY reports whether stderr is a terminal.
func (t *IO) StderrTTY() bool { return t.errTTY }

// CanPrompt reports whether a question may be asked: stdin and stderr are
// both terminals.
func (t *IO) CanPrompt() bool { return t.inTTY && t.errTTY }

// ColorEnabled reports whether stdout may be coloured: a terminal, no
// NO_COLOR, not TERM=dumb.
func (t *IO) ColorEnabled() bool { return t.outTTY && !t.noColor && !t.dumb }

// ErrColorEnabled reports whether stderr may be coloured.
func (t *IO) ErrColorEnabled() bool { return t.errTTY && !t.noColor && !t.dumb }

// Dumb reports TERM=dumb: text, but no cursor or screen escapes.
func (t *IO) Dumb() bool { return t.dumb }

// AltScreenEnabled reports whether a full-screen view may use the
// alternate screen and move the cursor: stdout is a terminal that obeys
// escapes.
func (t *IO) AltScreenEnabled() bool { return t.outTTY && !t.dumb }

// Size is the size of the terminal stdout writes to, asked anew each time
// (it may have been resized); 0, 0 when it is not a terminal or cannot be
// asked.
func (t *IO) Size() (width, height int) {
	if !t.outTTY {
		return 0, 0
	}
	return t.size()
}

// Width is the terminal's width in columns; 0 when unknown.
func (t *IO) Width() int {
	w, _ := t.Size()
	return w
}

// In is stdin.
func (t *IO) In() io.Reader { return t.in }

// Out is stdout for results. On a terminal every control character that
// reaches it is shown (\x1b), not obeyed, except newline and tab; in a
// pipe the bytes are exact, for scripts.
func (t *IO) Out() io.Writer {
	if t.outTTY {
		return t.outGuard
	}
	return t.out
}

// ErrOut is stderr for text counter composes, such as a plan to confirm
// or usage: control characters are always shown, not obeyed. Messages
// have their own methods (Errorf, Warnf, Notef, Linef).
func (t *IO) ErrOut() io.Writer { return t.errGuard }

// Screen is stdout as it is, for a full-screen view that draws with escape
// sequences of its own (watch's live table): everything it shows that
// came from elsewhere must already be Visible.
func (t *IO) Screen() io.Writer { return t.out }

// Progress is stderr for a progress bar: carriage returns pass, to redraw
// the line; every other control character is shown. Nothing is written
// when stderr is not a terminal.
func (t *IO) Progress() io.Writer {
	if !t.errTTY {
		return io.Discard
	}
	return t.progress
}

// Flush writes what a guard holds back (the start of a character cut by a
// buffer's end; shown as an escape, since nothing completes it).
func (t *IO) Flush() {
	for _, g := range []*guard{t.outGuard, t.errGuard, t.progress} {
		g.flush()
	}
}

// RawInput puts a terminal stdin in raw mode (keys arrive one at a time,
// Ctrl-C as a byte); restore undoes it. ok is false when stdin is not a
// terminal or raw mode is not available.
func (t *IO) RawInput() (restore func(), ok bool) {
	f, isFile := t.in.(interface{ Fd() uintptr })
	if !t.inTTY || !isFile {
		return func() {}, false
	}
	old, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		return func() {}, false
	}
	return func() { term.Restore(int(f.Fd()), old) }, true
}

// Scrub removes credentials from s (see SetScrubber).
func (t *IO) Scrub(s string) string {
	if t.scrub == nil {
		return s
	}
	return t.scrub(s)
}

const prefix = "counter: "

// Errorf writes an error line on stderr: "counter: " (red on a colour
// terminal) and the message, scrubbed and Visible.
func (t *IO) Errorf(format string, args ...any) {
	p := prefix
	if t.ErrColorEnabled() {
		p = "\x1b[31mcounter:\x1b[0m "
	}
	t.message(p, format, args...)
}

// Warnf writes "counter: warning: " and the message on stderr, scrubbed
// and Visible.
func (t *IO) Warnf(format string, args ...any) { t.message(prefix+"warning: ", format, args...) }

// Notef writes "counter: " and the message on stderr, scrubbed and
// Visible: what a run says besides its results.
func (t *IO) Notef(format string, args ...any) { t.message(prefix, format, args...) }

// Linef writes a line on stderr without the prefix (a summary, the rest of
// a plan), scrubbed and Visible.
func (t *IO) Linef(format string, args ...any) { t.message("", format, args...) }

// message writes head and the message, scrubbed, then made Visible, as one
// line in one write (lines from several goroutines do not mix).
func (t *IO) message(head, format string, args ...any) {
	msg := Visible(t.Scrub(fmt.Sprintf(format, args...)))
	io.WriteString(t.errOut, head+msg+"\n")
}

// Progressf redraws the progress line on stderr ("\r" and the message,
// Visible) when stderr is a terminal; EndProgress ends the line.
func (t *IO) Progressf(format string, args ...any) {
	if t.errTTY {
		io.WriteString(t.errOut, "\r"+Visible(t.Scrub(fmt.Sprintf(format, args...))))
	}
}

// EndProgress ends a line Progressf drew.
func (t *IO) EndProgress() {
	if t.errTTY {
		io.WriteString(t.errOut, "\n")
	}
}

// Confirm asks question on stderr with [y/N] and reads one line from
// stdin: only y or yes agrees. Ctrl-C (ctx cancelled) ends the wait at
// once, as interrupted: a read from a terminal cannot be interrupted, so
// it is left to the process exit. A yes that arrives after Ctrl-C is no
// yes. Callers ask only when CanPrompt.
func (t *IO) Confirm(ctx context.Context, question string) (yes, interrupted bool) {
	io.WriteString(t.errOut, Visible(t.Scrub(question))+" [y/N] ")
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(t.in).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		io.WriteString(t.errOut, "\n")
		return false, true
	case line := <-answer:
		if ctx.Err() != nil {
			return false, true
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, false
		}
		return false, false
	}
}

// guard writes to w with every control character except those in keep
// shown as Visible shows it. A character cut by the end of one write is
// held until the next, so that its parts are judged together.
type guard struct {
	mu   sync.Mutex
	w    io.Writer
	keep string
	held []byte
	buf  []byte
}

func newGuard(w io.Writer, keep string) *guard { return &guard{w: w, keep: keep} }

func (g *guard) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	data := p
	if len(g.held) > 0 {
		data = append(g.held, p...)
		g.held = nil
	}
	if n := incompleteTail(data); n > 0 {
		g.held = append([]byte(nil), data[len(data)-n:]...)
		data = data[:len(data)-n]
	}
	if len(data) == 0 {
		return len(p), nil
	}
	g.buf = appendVisible(g.buf[:0], data, g.keep)
	if _, err := g.w.Write(g.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (g *guard) flush() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.held) > 0 {
		g.w.Write(appendVisible(nil, g.held, g.keep))
		g.held = nil
	}
}
