package cmd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/live"
	"github.com/jetcounter/counter/internal/watch"
	"github.com/jetcounter/counter/render"
)

// watchBatch bounds how many events are handled between two flushes, so a
// flood of updates still reaches a pipe steadily.
const watchBatch = 1024

type watchFlags struct {
	patterns []string
	stream   string
	asJSON   bool
	interval time.Duration
	sortBy   string
	top      int
	count    int
	duration time.Duration
}

func addWatch(a *app) {
	f := &watchFlags{}
	c := a.fisk.Command("watch", "Follow counters live: a table on a terminal, JSON lines in a pipe")
	c.Arg("subject", "Counter subjects or wildcard patterns").Required().StringsVar(&f.patterns)
	c.Flag("stream", "Watch at this stream (tier) instead of the stream that owns the subject").PlaceHolder("NAME").StringVar(&f.stream)
	c.Flag("json", "Print one JSON line per change, also on a terminal (values are strings)").UnNegatableBoolVar(&f.asJSON)
	durationVar(c.Flag("interval", "Redraw the table at most this often (default 1s); with JSON lines, print at most one line per counter per interval").PlaceHolder("D"), "--interval", &f.interval)
	c.Flag("sort", "Order of the table: subject, value or rate (highest first)").Default("subject").EnumVar(&f.sortBy, "subject", "value", "rate")
	c.Flag("top", "Show at most N counters (default: as many as fit the terminal)").PlaceHolder("N").SetValue(wholeNumber{"--top", &f.top})
	c.Flag("count", "Exit after N JSON lines").PlaceHolder("N").SetValue(wholeNumber{"--count", &f.count})
	durationVar(c.Flag("duration", "Exit after watching this long").PlaceHolder("D"), "--duration", &f.duration)
	c.Cheat("watch", `# a live table; q or Ctrl-C quits
counter watch 'count.>' --sort rate
# JSON lines for a script, one per change
counter watch 'count.>' | jq -r '.subject + " " + .value'
# at most one line per counter every 10s
counter watch 'count.>' --json --interval 10s
# wait for the next change of one counter (the first line is its value now)
counter watch orders.done --json --count 2 | tail -n 1`)

	a.verbs["watch"] = func(ctx context.Context) error {
		table := a.term.StdoutTTY() && !f.asJSON
		if err := f.validate(table); err != nil {
			return err
		}
		client, err := a.conn.connect(ctx, true)
		if err != nil {
			return err
		}
		defer client.Conn().Close()
		w, err := watch.Start(ctx, client, f.patterns, watch.WatchOptions{Stream: f.stream})
		if err != nil {
			return err
		}
		defer w.Stop()
		if f.duration > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, f.duration)
			defer cancel()
		}
		if table {
			return a.watchTable(ctx, w, f)
		}
		return a.watchLines(ctx, w, f)
	}
}

func (f *watchFlags) validate(table bool) error {
	for _, p := range f.patterns {
		if err := counters.ValidSubject(p, true); err != nil {
			return err
		}
	}
	if err := validStreamFlag(f.stream); err != nil {
		return err
	}
	switch {
	case f.interval < 0:
		return errkind.Invalidf("--interval %s: want a positive duration such as 1s", f.interval)
	case f.top < 0:
		return errkind.Invalidf("--top %d: want a positive number of counters", f.top)
	case f.count < 0:
		return errkind.Invalidf("--count %d: want a positive number of lines", f.count)
	case f.duration < 0:
		return errkind.Invalidf("--duration %s: want a positive duration such as 30s", f.duration)
	case f.count > 0 && table:
		return errkind.Invalidf("--count counts JSON lines: add --json, or pipe the output")
	}
	return nil
}

// watchLines prints one JSON line per change (or, with --interval, per
// counter and interval), flushing whenever it has caught up. It keeps per
// counter only what the next line needs (live.Tally), not the table's
// Board: a million counters fit in a fifth of the memory.
func (a *app) watchLines(ctx context.Context, w *watch.Watch, f *watchFlags) error {
	tally := live.NewTally()
	out := a.printer(true).NewWatchLines()
	var tick <-chan time.Time
	if f.interval > 0 {
		t := time.NewTicker(f.interval)
		defer t.Stop()
		tick = t.C
	}
	written := 0
	lastNotice := ""
	// write prints a line; done reports that --count was reached.
	write := func(l live.Line) (done bool, err error) {
		if err := out.Write(l); err != nil {
			return true, err
		}
		written++
		return f.count > 0 && written >= f.count, nil
	}
	handle := func(ev watch.WatchEvent) (done bool, err error) {
		if ev.Kind != watch.WatchUpdate {
			return false, a.watchNotice(ev, &lastNotice)
		}
		l, changed := tally.Update(ev.Update, f.interval > 0)
		if !changed || f.interval > 0 {
			return false, nil
		}
		return write(l)
	}
	// writePending prints the latest value of each counter changed since
	// the last interval.
	writePending := func() (done bool, err error) {
		for _, l := range tally.Pending() {
			if done, err := write(l); done || err != nil {
				return done, err
			}
		}
		return false, nil
	}
	for {
		select {
		case <-ctx.Done():
			// Values still waiting for their interval are not lost.
			_, err := writePending()
			return flushed(out, err)
		case <-tick:
			if done, err := writePending(); done || err != nil {
				return flushed(out, err)
			}
			if err := out.Flush(); err != nil {
				return err
			}
		case ev := <-w.Events():
			done, err := handle(ev)
		drain:
			for n := 0; !done && err == nil && n < watchBatch; n++ {
				select {
				case ev = <-w.Events():
					done, err = handle(ev)
				default:
					break drain
				}
			}
			if done || err != nil {
				return flushed(out, err)
			}
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
}

func flushed(out *render.WatchLines, err error) error {
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	return err
}

// watchNotice handles an event that is not an update: connection changes
// go to stderr. A closed connection ends the watch. last is the previous
// notice: a problem retried every few seconds is reported once, not once
// per attempt.
func (a *app) watchNotice(ev watch.WatchEvent, last *string) error {
	msg := watchStatus(ev)
	if ev.Kind == watch.WatchClosed {
		return ev.Err
	}
	if msg != "" && msg != *last {
		a.term.Notef("watch: %s", msg)
		*last = msg
	}
	return nil
}

// watchStatus says what a connection event means to the person watching;
// "" for events that need no word.
func watchStatus(ev watch.WatchEvent) string {
	switch ev.Kind {
	case watch.WatchDisconnected:
		if ev.Err != nil {
			return "disconnected (" + redact(ev.Err.Error()) + "), reconnecting…"
		}
		return "disconnected, reconnecting…"
	case watch.WatchReconnected:
		return "reconnected, resuming…"
	case watch.WatchResumed:
		return "stream " + ev.Stream + " resumed at " + time.Now().Format(time.TimeOnly)
	case watch.WatchProblem:
		return redact(ev.Err.Error()) + "; retrying"
	}
	return ""
}

// watchTable shows the live table on the alternate screen until q, Ctrl-C
// or --duration, and always leaves the terminal as it found it.
func (a *app) watchTable(ctx context.Context, w *watch.Watch, f *watchFlags) error {
	interval := f.interval
	if interval == 0 {
		interval = time.Second
	}
	quit := make(chan struct{})
	newline := "\n"
	if a.term.StdinTTY() {
		// Raw mode to read q without Enter; it also turns Ctrl-C into a
		// byte instead of SIGINT, so that byte quits too.
		if restore, ok := a.term.RawInput(); ok {
			defer restore()
			newline = "\r\n"
		}
		go readQuitKey(a.term.In(), quit)
	}
	// The live table draws with escapes of its own; what it shows is
	// made Visible by render.WatchFrame.
	screen := bufio.NewWriterSize(a.term.Screen(), 64<<10)
	var frame func(last bool) string
	// TERM=dumb obeys no escape sequence: plain frames, one after another.
	dumb := !a.term.AltScreenEnabled()
	if !dumb {
		screen.WriteString("\x1b[?1049h\x1b[?25l") // alternate screen, hide cursor
	}
	board := live.NewBoard(time.Now())
	streams := w.Streams()
	status := ""
	// ended: --duration is over. The last view then stays on the main
	// screen, where the alternate one would take it away.
	ended := false
	defer func() {
		if !dumb {
			screen.WriteString("\x1b[?25h\x1b[?1049l")
			if ended {
				screen.WriteString(strings.ReplaceAll(frame(true), "\n", newline) + newline)
			}
		}
		screen.Flush()
	}()
	draw := func() error {
		if dumb {
			screen.WriteString(strings.ReplaceAll(frame(false), "\n", newline) + newline + newline)
			return screen.Flush()
		}
		// Home, each line cleared to its end (raw mode: \r\n), then the
		// rest of the screen cleared: no flicker, no leftovers.
		screen.WriteString("\x1b[H")
		screen.WriteString(strings.ReplaceAll(frame(false), "\n", "\x1b[K\r\n"))
		screen.WriteString("\x1b[K\x1b[J")
		return screen.Flush()
	}
	frame = func(last bool) string {
		width, height := a.term.Size()
		if width <= 0 || height <= 0 {
			width, height = 80, 24 // cannot be asked
		}
		now := time.Now()
		n := render.WatchRowsFit(height)
		if f.top > 0 {
			n = min(n, f.top)
		}
		return render.WatchFrame(render.WatchView{
			Patterns:   f.patterns,
			Streams:    streams,
			Total:      board.Len(),
			Rows:       board.Top(n, live.SortBy(f.sortBy), now),
			Sort:       live.SortBy(f.sortBy),
			UpdateRate: board.UpdateRate(now),
			Loading:    !board.IsSynced(streams),
			Status:     status,
			Now:        now,
			Width:      width,
			Height:     height,
			Color:      a.term.ColorEnabled(),
			Ended:      last,
		})
	}
	handle := func(ev watch.WatchEvent) error {
		switch ev.Kind {
		case watch.WatchUpdate:
			board.Apply(ev.Update, time.Now())
		case watch.WatchSynced:
			board.Synced(ev.Stream)
		case watch.WatchClosed:
			return ev.Err
		default:
			status = watchStatus(ev)
		}
		return nil
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	if err := draw(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			ended = errors.Is(ctx.Err(), context.DeadlineExceeded)
			return nil
		case <-quit:
			return nil
		case <-ticker.C:
			if err := draw(); err != nil {
				return err
			}
		case ev := <-w.Events():
			if err := handle(ev); err != nil {
				return err
			}
		}
	}
}

// readQuitKey closes quit when q, Q, Ctrl-C or Ctrl-D is typed, or input
// ends.
func readQuitKey(in io.Reader, quit chan<- struct{}) {
	defer close(quit)
	buf := make([]byte, 64)
	for {
		n, err := in.Read(buf)
		for _, b := range buf[:n] {
			switch b {
			case 'q', 'Q', 3, 4:
				return
			}
		}
		if err != nil {
			return
		}
	}
}
