package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/choria-io/fisk"
	"github.com/schollz/progressbar/v3"

	"github.com/jetcounter/counter/internal/bulk"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/localfile"
	"github.com/jetcounter/counter/render"
)

// incrBulkFlags are `counter incr`'s pipe mode: `counter incr -` and
// `counter incr --file PATH`.
type incrBulkFlags struct {
	file     string
	idPrefix string
	coalesce bool
	follow   bool
	values   bool
	fromLine int
	until    string
}

func addIncrBulkFlags(c *fisk.CmdClause) *incrBulkFlags {
	f := &incrBulkFlags{}
	c.Flag("file", "Read increments from FILE, one per line: SUBJECT [DELTA] [ID]").PlaceHolder("FILE").StringVar(&f.file)
	c.Flag("id-prefix", "With - or --file: give line N the message id PREFIX:N, so re-running the same input applies nothing twice").PlaceHolder("PREFIX").StringVar(&f.idPrefix)
	c.Flag("coalesce", "With - or --file: sum the deltas per counter and send one increment each").UnNegatableBoolVar(&f.coalesce)
	c.Flag("follow", "With - or --file: send lines as they arrive (tail -f) instead of checking the whole input first").UnNegatableBoolVar(&f.follow)
	c.Flag("values", "With - or --file: print the value of every counter touched").UnNegatableBoolVar(&f.values)
	c.Flag("from-line", "With - or --file: pass over the lines before line N, which an earlier run applied (line numbers and --id-prefix ids stay those of the whole input)").PlaceHolder("N").IntVar(&f.fromLine)
	c.Flag("until", "With - or --file: send nothing from TIME on (RFC 3339), when the ids an earlier run sent are no longer remembered; refused after it").PlaceHolder("TIME").StringVar(&f.until)
	return f
}

func (f *incrBulkFlags) used() bool {
	return f.file != "" || f.idPrefix != "" || f.coalesce || f.follow || f.values || f.fromLine != 0 || f.until != ""
}

func (a *app) incrBulk(ctx context.Context, subject, delta, id string, asJSON bool, f *incrBulkFlags) error {
	switch {
	case subject != "-" && f.file == "":
		return errkind.Invalidf("--id-prefix, --coalesce, --follow and --values read increments from stdin (counter incr -) or --file PATH")
	case subject == "-" && f.file != "":
		return errkind.Invalidf("read increments from stdin (-) or from --file, not both")
	case subject != "-" && subject != "":
		return errkind.Invalidf("with --file, give no subject: each line names its own")
	case delta != "+1":
		return errkind.Invalidf("reading increments from input takes no DELTA argument: each line has its own (SUBJECT [DELTA] [ID])")
	case id != "":
		return errkind.Invalidf("--id names one increment: give each line an ID column, or use --id-prefix")
	case f.fromLine < 0:
		return errkind.Invalidf("--from-line %d: want a line number, 1 or more", f.fromLine)
	case f.fromLine > 1 && f.coalesce:
		return errkind.Invalidf("--from-line resumes a run by line, and --coalesce sends sums: leave out one of them")
	}
	var until time.Time
	if f.until != "" {
		t, err := time.Parse(time.RFC3339, f.until)
		if err != nil {
			return errkind.Invalidf("--until %q is not a time: give it as the advice printed it, such as 2026-11-23T12:34:56Z", f.until)
		}
		until = t
	}
	if f.idPrefix != "" {
		if err := bulk.ValidIDPrefix(f.idPrefix); err != nil {
			return err
		}
	}
	if f.coalesce && f.idPrefix != "" {
		return errkind.Invalidf("--coalesce sums lines into one increment per counter, which has no single id: leave out --id-prefix")
	}
	in := a.term.In()
	name := "-"
	if f.file != "" {
		// Opened without blocking (a FIFO with no writer held open(2),
		// deaf to signals), and checked before connecting: a missing file
		// or a directory is bad input (exit 2).
		file, err := localfile.OpenInput("--file", f.file)
		if err != nil {
			return err
		}
		defer file.Close()
		in, name = file.Reader(ctx), f.file
		if f.follow {
			in = &followFile{ctx: ctx, f: file.File}
		}
	}
	if a.term.StdinTTY() && f.file == "" && !f.follow {
		a.term.Notef("reading increments from the terminal, one per line (SUBJECT [DELTA] [ID]); end with Ctrl-D")
	}
	// A finite input does not reconnect: a lost connection ends the run at
	// once (exit 4, with what is known) instead of timing out window after
	// window. --follow runs for as long as its input, so it rides out a
	// server restart: what is in flight then is resent (ids) or unknown.
	client, err := a.conn.connect(ctx, f.follow)
	if err != nil {
		return err
	}
	defer client.Conn().Close()

	opts := bulk.BulkOptions{IDPrefix: f.idPrefix, Coalesce: f.coalesce, Follow: f.follow, Values: f.values, FromLine: f.fromLine, Until: until}
	var bar *bulkProgress
	if a.term.StderrTTY() {
		bar = newBulkProgress(a.term.Progress())
		opts.Progress = bar.update
	}
	opts.BadLine = func(e bulk.LineError) {
		bar.clear()
		a.term.Notef("skipped %v", e)
	}
	if f.follow {
		// A follower may run for days: say so when it happens.
		opts.Failure = func(e bulk.LineError) {
			bar.clear()
			a.term.Notef("%v", e)
		}
	}
	res, err := bulk.Bulk(ctx, client, in, opts)
	bar.clear()
	var inputErr *bulk.InputError
	if errors.As(err, &inputErr) && inputErr.Total > 1 {
		for _, e := range inputErr.Lines {
			a.term.Notef("%v", e)
		}
		shown := ""
		if inputErr.Total > len(inputErr.Lines) {
			shown = fmt.Sprintf(", the first %d shown", len(inputErr.Lines))
		}
		where := "the input"
		if f.file != "" {
			where = f.file
		}
		return errkind.Invalidf("%d bad lines in %s%s: nothing was sent", inputErr.Total, where, shown)
	}
	if err != nil {
		return err
	}
	p := a.printer(asJSON)
	if asJSON {
		if err := p.BulkJSON(res); err != nil {
			return err
		}
	} else {
		for _, e := range res.Failures {
			if !f.follow { // already said as they happened
				a.term.Notef("%v", e)
			}
		}
		a.term.Linef("%s", render.BulkSummary(res))
		if f.values {
			if err := p.Counters(res.Values, render.GetOptions{}); err != nil {
				return err
			}
		}
	}
	return bulkOutcome(res, f, name)
}

// bulkOutcome is the run's exit status, with what to do next.
func bulkOutcome(res *bulk.BulkResult, f *incrBulkFlags, name string) error {
	var next string
	switch {
	case res.Unknown == 0 && res.NotSent == 0:
	case f.coalesce:
		next = ": --coalesce sends sums, so a partial run cannot be resumed by line: check the counters (--values shows those touched) before sending again"
	case res.WithoutID == 0 && res.Sent > 0:
		next = resumeWithIDs(res, f)
	case res.ResumeExact && name != "-":
		next = fmt.Sprintf(": every line before %d was applied and none from it on; continue with: tail -n +%d %s | counter incr -", res.ResumeLine, res.ResumeLine, shellQuote(name))
	case res.ResumeExact:
		next = fmt.Sprintf(": every line before %d was applied and none from it on; continue from line %d", res.ResumeLine, res.ResumeLine)
	default:
		next = fmt.Sprintf(": lines from %d on may be partly applied, so re-running them is not exact without ids; --id-prefix makes re-running safe", res.ResumeLine)
	}
	switch {
	case res.UntilPassed:
		return fmt.Errorf("stopped at --until %s, when the ids the earlier run sent stopped being remembered: %d applied, %d unknown, %d not sent%s", f.until, res.Applied, res.Unknown, res.NotSent, next)
	case res.Stopped != nil:
		return fmt.Errorf("%w%s", res.Stopped, next)
	case res.Interrupted && f.follow && res.Unknown == 0 && res.NotSent == 0 && res.ResumeLine == 0:
		// Ctrl-C is how a --follow run ends: everything read was applied.
		if res.Failed > 0 || res.Skipped > 0 {
			return fmt.Errorf("%d increments failed and %d bad lines were skipped", res.Failed, res.Skipped)
		}
		return nil
	case res.Interrupted && res.Sent == 0 && res.Applied+res.Duplicates+res.Failed+res.Unknown == 0:
		return fmt.Errorf("interrupted before anything was sent")
	case res.Interrupted:
		return fmt.Errorf("interrupted: %d applied, %d unknown, %d not sent%s", res.Applied, res.Unknown, res.NotSent, next)
	case res.Unknown > 0:
		// Unknown, as a single incr's is: exit 4, never "failed".
		return errkind.Unknownf("%d increments may or may not have been applied (no acknowledgement)%s", res.Unknown, next)
	case res.Failed > 0 && res.FailedRetry == res.Failed:
		// Nothing was applied, and only for now (no leader yet): retry.
		return errkind.Unavailablef("%d increments failed (not applied): the stream could not take them now; retry", res.Failed)
	case res.Failed > 0:
		return fmt.Errorf("%d increments failed (not applied)", res.Failed)
	case res.Skipped > 0:
		return fmt.Errorf("%d bad lines were skipped", res.Skipped)
	}
	return nil
}

// resumeWithIDs says how to send the rest of a run whose every line had an
// id: again from the resume line, with the same ids, and until when that
// is exact (the stream's duplicate window, read from the stream).
func resumeWithIDs(res *bulk.BulkResult, f *incrBulkFlags) string {
	rerun := "run the same input again with"
	if f.idPrefix != "" {
		rerun += " --id-prefix " + f.idPrefix
	}
	rerun += fmt.Sprintf(" --from-line %d", res.ResumeLine)
	window := shortDuration(res.DuplicateWindow)
	switch {
	case res.ResumeExact:
		return fmt.Sprintf(": every line before %d was applied and none from it on; %s (exact at any time)", res.ResumeLine, rerun)
	case !res.ExactUntil.IsZero() && time.Now().Before(res.ExactUntil):
		return fmt.Sprintf(": %s --until %s: lines already applied are skipped as duplicates until %s UTC (the stream's %s duplicate window); after that a re-run would apply them again",
			rerun, res.ExactUntil.UTC().Format(time.RFC3339), res.ExactUntil.UTC().Format(time.TimeOnly), window)
	case !res.ExactUntil.IsZero():
		return fmt.Sprintf(": lines from %d on may be partly applied, and their ids are no longer remembered (the stream's %s duplicate window ended at %s UTC), so a re-run would apply some of them again: check the counters and send only what is missing",
			res.ResumeLine, window, res.ExactUntil.UTC().Format(time.TimeOnly))
	}
	return fmt.Sprintf(": lines from %d on may be partly applied; %s within the stream's %s duplicate window of this run, or check the counters and send only what is missing", res.ResumeLine, rerun, window)
}

// shortDuration writes 2m, 90s, 1h30m rather than 2m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// bulkProgress shows lines/s, done/total and the time left on a terminal.
// schollz/progressbar is small, maintained, handles an unknown total (a
// spinner for --follow), predicts the time left and throttles its redraws.
type bulkProgress struct {
	mu  sync.Mutex // bad lines are reported from the reading goroutine
	w   io.Writer
	bar *progressbar.ProgressBar
	max int
}

func newBulkProgress(w io.Writer) *bulkProgress { return &bulkProgress{w: w} }

func (b *bulkProgress) update(p bulk.BulkProgress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	max, now, what := p.Total, p.Done, "sending"
	if p.Reading {
		max, now, what = -1, p.Lines, "checking"
	} else if max == 0 {
		max = -1
	}
	if b.bar == nil || b.max != max {
		if b.bar != nil {
			b.bar.Clear()
		}
		b.max = max
		b.bar = progressbar.NewOptions64(int64(max),
			progressbar.OptionSetWriter(b.w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("lines"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
			// No drawing goroutine of its own: the bar changes only when
			// the run reports progress, so nothing is drawn after clear.
			progressbar.OptionSetSpinnerChangeInterval(0),
		)
	}
	b.bar.Set(now)
}

// clear removes the bar before anything else is written to the terminal.
func (b *bulkProgress) clear() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		b.bar.Clear()
	}
}

// followFile reads a file like tail -f: at its end it waits for more
// until the run is interrupted. (A log that is rotated is not followed to
// its new file: use tail -F FILE | counter incr - --follow.)
type followFile struct {
	ctx context.Context
	f   *os.File
}

func (r *followFile) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 || !errors.Is(err, io.EOF) {
			return n, err
		}
		select {
		case <-r.ctx.Done():
			return 0, io.EOF
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// shellQuote makes a path safe to paste into a shell command line.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ',' || r == ':' || r == '@' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
