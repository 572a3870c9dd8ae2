// Package bulk sends many increments read one per line (counter incr -,
// --file): the whole input is checked first with the kernel's rules (one
// stream listing, each distinct subject matched locally, the carry check
// of large deltas, ids that name one increment each), then read again
// (a file twice, other input from a temporary copy: memory never holds
// the lines) and sent through a pipelined window; lines with ids are
// resent with the same id until acknowledged, lines without one are
// reported unknown, never resent blind.
package bulk

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/tiers"
	"github.com/jetcounter/counter/internal/topology"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bulk increments: many lines, pipelined asynchronous publishes with a
// bounded window, every ack checked, retries only where they are exact.

// Defaults for BulkOptions.
const (
	DefaultBulkWindow = 4096
	// DefaultRetryFor is how long, at least, an increment that can be sent
	// again exactly keeps being sent: longer than a stream leader election
	// (5–6 s on a loaded 3-node cluster, up to the server's 9 s election
	// timeout), so an election costs no line.
	DefaultRetryFor = 20 * time.Second
	// MaxBulkLineLen bounds one input line (a 40,000-digit delta fits).
	MaxBulkLineLen = 128 << 10
	// maxReportedLines is how many bad lines or failures are kept by number.
	maxReportedLines = 10
)

// BulkOptions shape a bulk run.
type BulkOptions struct {
	// IDPrefix gives every line the message id "<prefix>:<line number>"
	// (an ID column wins), so a re-run applies nothing twice.
	IDPrefix string
	// Coalesce sums deltas per subject and sends one increment each.
	Coalesce bool
	// Follow sends lines as they arrive; bad lines are skipped and
	// reported through BadLine. Without it the input is read and checked
	// whole before the first publish.
	Follow bool
	// Values reports the value of every counter touched (Result.Values).
	Values bool
	// Window is how many increments may await their ack at once.
	Window int
	// RetryFor bounds, from its first send, how long an increment that can
	// be sent again exactly (it has an id, or nobody received it) keeps
	// being sent until it is acknowledged. Default: the larger of the
	// client timeout and DefaultRetryFor.
	RetryFor time.Duration
	// MaxAttempts, when above 0, also bounds the sends of one increment.
	MaxAttempts int
	// FromLine, when above 1, passes over the lines before it unread: an
	// earlier run applied them (BulkResult.ResumeLine). Line numbers, and so
	// --id-prefix ids, stay those of the whole input.
	FromLine int
	// Until, when set, is when re-sending ids an earlier run sent stops
	// being exact (BulkResult.ExactUntil): a run is refused from then on
	// (errkind.ErrRefused, nothing sent), and one under way stops sending.
	Until time.Time
	// Drain is how long an interrupted run waits for outstanding acks
	// (default: the client timeout, at most 1s, so that a signal ends any
	// run within 2s even when the server has gone silent).
	Drain time.Duration
	// SpillLimit bounds the temporary copy of an input that is not a
	// regular file, kept while it is checked (DefaultSpillLimit).
	SpillLimit int64
	// FlushEvery is how often Coalesce with Follow sends its sums (1s).
	FlushEvery time.Duration
	// Progress, when set, is called from the sending loop about every
	// ProgressEvery (200ms) and once at the end.
	Progress      func(BulkProgress)
	ProgressEvery time.Duration
	// BadLine is told about each bad line skipped in Follow mode.
	BadLine func(LineError)
	// Failure is told about each increment that failed or whose outcome
	// is unknown, as it happens (a --follow run may last for days).
	Failure func(LineError)
}

// BulkProgress is a snapshot for a progress display.
type BulkProgress struct {
	Lines   int  // increment lines read so far
	Total   int  // increments to send; 0 while unknown (reading, --follow)
	Done    int  // increments with a final outcome
	Reading bool // still reading and checking the input
	Elapsed time.Duration
}

// BulkResult is what a bulk run did. Every increment sent ends up in
// exactly one of Applied, Duplicates, Failed or Unknown.
type BulkResult struct {
	Lines      int // increment lines read (blank and comment lines aside)
	Sent       int // increments published (a retry counts once)
	Counters   int // distinct counters sent to
	Applied    int // acknowledged and counted
	Duplicates int // acknowledged as already applied (an id seen before)
	Failed     int // refused by the server, or never answered: not applied
	// FailedRetry of the failed were refused only for now (no leader, no
	// permission yet): errkind.ErrUnavailable, worth a retry.
	FailedRetry int
	Unknown     int // sent, no answer: may or may not have been applied
	Skipped     int // bad lines skipped (--follow)
	NotSent     int // lines read but not sent because the run stopped
	Retries     int // resends of an increment
	Elapsed     time.Duration
	// Interrupted is true when the context ended the run early.
	Interrupted bool
	// ResumeLine is the first line whose increment is not known to be
	// applied (unknown, not sent); 0 when there is none.
	ResumeLine int
	// ResumeExact: every line before ResumeLine was applied and none from
	// it on, so continuing from ResumeLine is exact even without ids.
	ResumeExact bool
	// Failures are the first few failed or unknown increments, by line.
	Failures []LineError
	// Values holds every counter touched, by subject (Options.Values).
	Values []counters.Counter
	// Stopped says why sending stopped early (connection lost), if it did.
	Stopped error
	// WithoutID counts the increments sent without an id: a re-run is
	// exact only when it is 0.
	WithoutID int
	// DuplicateWindow is the shortest duplicate window of the streams
	// increments with ids went to: how long the server remembers an id.
	DuplicateWindow time.Duration
	// ExactUntil: sending the lines from ResumeLine on again, with the same
	// ids, applies none twice until this time (the duplicate window from
	// the first send of the earliest of them that may have been applied).
	// Zero when not known (no ids) or not needed (ResumeExact).
	ExactUntil time.Time
	// UntilPassed: the run stopped sending at BulkOptions.Until.
	UntilPassed bool
}

// Bulk reads increments from r, one per line, and publishes them. A
// refused input (validation first, not Follow) returns *InputError with
// nothing sent. After sending starts, failures are counted in the result,
// never returned as an error.
func Bulk(ctx context.Context, c *counters.Client, r io.Reader, opts BulkOptions) (*BulkResult, error) {
	if !opts.Until.IsZero() && !time.Now().Before(opts.Until) {
		return nil, errkind.Refusedf("--until %s has passed: the streams no longer remember the ids an earlier run sent, so lines it applied would be applied again: nothing was sent; check the counters and send only what is missing", opts.Until.UTC().Format(time.RFC3339))
	}
	if opts.IDPrefix != "" {
		if err := ValidIDPrefix(opts.IDPrefix); err != nil {
			return nil, err
		}
		if opts.Coalesce {
			return nil, errkind.Invalidf("--coalesce sums lines into one increment per counter, which has no single id: leave out --id-prefix")
		}
	}
	if opts.Window <= 0 {
		opts.Window = DefaultBulkWindow
	}
	if opts.RetryFor <= 0 {
		opts.RetryFor = max(c.Timeout(), DefaultRetryFor)
	}
	if opts.Drain <= 0 {
		opts.Drain = min(c.Timeout(), time.Second)
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = time.Second
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 200 * time.Millisecond
	}
	if opts.SpillLimit <= 0 {
		opts.SpillLimit = DefaultSpillLimit
	}
	streams, err := bulkStreams(ctx, c)
	if err != nil {
		if ctx.Err() != nil {
			return &BulkResult{Interrupted: true}, nil
		}
		return nil, err
	}
	run := &bulkRun{
		c:       c,
		opts:    opts,
		streams: streams,
		cache:   map[string]*bulkTarget{},
		carrier: tiers.NewCarrier(c),
		start:   time.Now(),
		pending: map[uint64]*bulkItem{},
		slots:   make(chan struct{}, opts.Window),
		retries: make(chan *bulkItem, opts.Window),
		wake:    make(chan struct{}, 1),
	}
	run.input = r
	// A denied publish is dropped by the server, which only says so
	// asynchronously: stop at once instead of waiting for timeouts.
	ctx, cancel := context.WithCancel(ctx)
	defer c.TrackDenials(cancel)()
	run.cancel = cancel
	parent := ctx
	if !opts.Until.IsZero() {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(ctx, opts.Until)
		defer stop()
	}
	var res *BulkResult
	if opts.Follow {
		res, err = run.follow(ctx)
	} else {
		res, err = run.whole(ctx)
	}
	if res != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.UntilPassed = true
	}
	return res, err
}

type bulkStream struct {
	name   string
	config *jetstream.StreamConfig
	dedupe bool // has a duplicate window (aggregates never do)
}

// bulkStreams lists every stream once (paged), so each input subject is
// matched locally instead of with one request per line.
func bulkStreams(ctx context.Context, c *counters.Client) ([]*bulkStream, error) {
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	lister := c.JetStream().ListStreams(rctx)
	var out []*bulkStream
	for info := range lister.Info() {
		out = append(out, &bulkStream{
			name:   info.Config.Name,
			config: &info.Config,
			dedupe: info.Config.Duplicates > 0,
		})
	}
	if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return nil, c.Wrap(err, "list streams")
	}
	return out, nil
}

// bulkTarget is one distinct subject: checked once, then reused by every
// line naming it.
type bulkTarget struct {
	subject string
	stream  *bulkStream
	err     error // why no line may name this subject

	// Coalesce: the running sum (sumBig once it leaves int64).
	sum          int64
	sumBig       *big.Int
	firstLine    int
	dirty        bool
	pendingLines int // Follow: lines summed since the last flush

	// Set by the sending loop and ack handler (under bulkRun.mu).
	touched bool
	lastSeq uint64
	lastVal string
}

type bulkItem struct {
	t     *bulkTarget
	delta int64
	big   *big.Int
	id    string // the ID column; the --id-prefix id is built when sent
	line  int

	attempts     int32
	first        time.Duration // first send, since the run started
	sent         time.Duration // since the run started: smaller than a time.Time, per line
	maybeApplied bool          // an earlier attempt got no answer
}

type outcome int

const (
	outApplied outcome = iota
	outDuplicate
	outFailed
	outUnknown
	outNotSent
)

type bulkRun struct {
	c       *counters.Client
	opts    BulkOptions
	streams []*bulkStream
	cache   map[string]*bulkTarget
	carrier *tiers.Carrier // the carry check of large deltas
	input   io.Reader
	start   time.Time
	inbox   string
	token   uint64

	lines   atomic.Int64 // increment lines read
	total   atomic.Int64 // increments to send, when known
	reading atomic.Bool

	slots    chan struct{} // one per increment awaiting its final outcome
	retries  chan *bulkItem
	wake     chan struct{}
	stopping atomic.Bool
	cancel   context.CancelFunc // ends sending when the connection closes
	closed   atomic.Bool

	sumMu sync.Mutex // Coalesce with Follow: sums and dirty list
	dirty []*bulkTarget

	// skipMu orders bad-line reports (Follow) with the end of the run:
	// once skipsDone, a line is neither reported nor counted, so the
	// summary and what was said on stderr agree.
	skipMu    sync.Mutex
	skipsDone bool

	mu          sync.Mutex // everything below, and targets' lastSeq/lastVal
	pending     map[uint64]*bulkItem
	res         BulkResult
	done        int
	touched     []*bulkTarget
	lastApplied int // highest line applied (or a duplicate)
	// resumeFirst is the first send of line res.ResumeLine (since start),
	// when it was sent: lines go out in order, so no line after it that
	// may have been applied was first sent earlier.
	resumeFirst time.Duration
	resumeSent  bool
}

// whole reads and checks the entire input, then reads it again to send
// it (replay): memory holds the distinct counters, never the lines.
func (r *bulkRun) whole(ctx context.Context) (*BulkResult, error) {
	src := newReplay(r.input, r.opts.SpillLimit)
	var (
		bad   InputError
		valid int // increment lines to send
		ids   *idSet
	)
	if !r.opts.Coalesce {
		ids = newIDSet(idRunLen)
	}
	addBad := func(e LineError) {
		bad.Total++
		keepLowest(&bad.Lines, e)
	}
	r.reading.Store(true)
	r.progress()
	// Reading runs apart so that Ctrl-C ends a run whose input is slow
	// (or a terminal) at once: a blocked Read cannot be interrupted.
	readDone := make(chan error, 1)
	go func() {
		var idErr error
		err := r.readLines(ctx, bufio.NewReaderSize(src.first(), MaxBulkLineLen), true, func(line int, l bulkLine) bool {
			t, err := r.check(l)
			if err == nil {
				err = r.carrier.Check(ctx, t.stream.name, t.subject, l.big)
			}
			if err == nil && l.id != nil && ids != nil {
				if idErr = ids.add(l, line); idErr != nil {
					return false // a temporary file failed: the run fails with it
				}
			}
			if err != nil {
				addBad(LineError{Line: line, Err: err})
				return true
			}
			if bad.Total > 0 {
				return true // nothing will be sent: only count further bad lines
			}
			if r.opts.Coalesce {
				r.add(t, l, line)
				return true
			}
			valid++
			return true
		}, func(e LineError) bool { addBad(e); return true })
		if err == nil {
			err = idErr
		}
		if err == nil {
			err = src.endFirst()
		}
		if err == nil {
			err = ids.collisions(ctx, func(line, first int) {
				addBad(LineError{Line: line, Err: idCollision(first)})
			})
		}
		if err == nil && r.opts.Coalesce && bad.Total == 0 {
			for _, t := range r.cache {
				if t.err == nil && t.sumBig != nil {
					if cerr := r.carrier.CheckSum(ctx, t.stream.name, t.subject, t.sumBig); cerr != nil {
						addBad(LineError{Line: t.firstLine, Err: cerr})
					}
				}
			}
		}
		readDone <- err
	}()
	var err error
	select {
	case err = <-readDone:
		defer src.close()
		defer ids.close()
	case <-ctx.Done():
		// The temporary files are the reading goroutine's until it ends.
		go func() { <-readDone; src.close(); ids.close() }()
	}
	r.reading.Store(false)
	if ctx.Err() != nil {
		// Interrupted while reading and checking: nothing was sent. (The
		// reading goroutine may still be blocked; its data is not used.)
		r.res.Interrupted = true
		r.res.NotSent = int(r.lines.Load())
		return r.result(), nil
	}
	if err != nil {
		return nil, err
	}
	if bad.Total > 0 {
		return nil, &bad
	}
	if r.opts.Coalesce {
		return r.sendItems(ctx, r.coalesced()), nil
	}
	return r.sendReplay(ctx, src, valid)
}

// keepLowest keeps the lowest-numbered maxReportedLines bad lines, sorted.
func keepLowest(lines *[]LineError, e LineError) {
	l := *lines
	i, _ := slices.BinarySearchFunc(l, e.Line, func(x LineError, line int) int { return cmp.Compare(x.Line, line) })
	if i >= maxReportedLines {
		return
	}
	l = slices.Insert(l, i, e)
	if len(l) > maxReportedLines {
		l = l[:maxReportedLines]
	}
	*lines = l
}

// sendItems sends increments held in memory (the sums of --coalesce).
func (r *bulkRun) sendItems(ctx context.Context, items []bulkItem) *BulkResult {
	r.total.Store(int64(len(items)))
	in := make(chan *bulkItem, 256)
	stopFeed := make(chan struct{})
	go func() {
		defer close(in)
		for i := range items {
			select {
			case in <- &items[i]:
			case <-stopFeed:
				return
			}
		}
	}()
	return r.send(ctx, in, func(taken int, lastLine int) (notSent, resume int) {
		close(stopFeed)
		if taken < len(items) {
			return len(items) - taken, items[taken].line
		}
		return 0, 0
	})
}

// sendReplay reads the checked input again and sends its valid lines
// (valid of them) as they are read.
func (r *bulkRun) sendReplay(ctx context.Context, src *replay, valid int) (*BulkResult, error) {
	rd, err := src.second()
	if err != nil {
		return nil, err
	}
	r.total.Store(int64(valid))
	in := make(chan *bulkItem, 256)
	stopFeed := make(chan struct{})
	done := make(chan struct{})
	var (
		held    *bulkItem // read, not taken when the feed stopped
		fed     int       // items handed to the sending loop
		badLine int       // the line where the input no longer matched
		feedErr error
	)
	go func() {
		defer close(done)
		defer close(in)
		changed := func(line int, err error) bool {
			badLine, feedErr = line, fmt.Errorf("the input changed after it was checked: line %d: %w", line, err)
			return false
		}
		err := r.readLines(ctx, bufio.NewReaderSize(rd, MaxBulkLineLen), false, func(line int, l bulkLine) bool {
			t, err := r.check(l)
			if err != nil {
				return changed(line, err)
			}
			it := &bulkItem{t: t, delta: l.delta, big: l.big, line: line}
			if l.id != nil {
				it.id = string(l.id)
			}
			select {
			case in <- it:
				fed++
				return true
			case <-stopFeed:
				held = it
				return false
			}
		}, func(e LineError) bool { return changed(e.Line, e.Err) })
		if feedErr == nil && err != nil {
			feedErr = err
		}
	}()
	res := r.send(ctx, in, func(taken int, lastLine int) (notSent, resume int) {
		close(stopFeed)
		<-done
		// The first line not taken: waiting in the channel, or held by
		// the feed when it stopped.
		for it := range in {
			if resume == 0 {
				resume = it.line
			}
		}
		if resume == 0 && held != nil {
			resume = held.line
		}
		if resume == 0 && badLine > 0 {
			resume = badLine
		}
		return max(valid-taken, 0), resume
	})
	<-done
	if feedErr != nil && res.Stopped == nil {
		// The input stopped matching what was checked (a file written to
		// meanwhile): everything handed over was sent; the rest was not.
		res.Stopped = feedErr
		if !res.Interrupted {
			res.NotSent += max(valid-fed, 0)
			if badLine > 0 {
				res.ResumeLine = minLine(res.ResumeLine, badLine)
			}
			r.mu.Lock()
			res.ResumeExact = res.ResumeLine > 0 && res.Unknown == 0 && r.lastApplied < res.ResumeLine
			r.mu.Unlock()
		}
	}
	return res, nil
}

// follow checks and sends lines as they arrive.
func (r *bulkRun) follow(ctx context.Context) (*BulkResult, error) {
	in := make(chan *bulkItem, 64)
	stopRead := make(chan struct{})
	readErr := make(chan error, 1)
	var lastRead, valid atomic.Int64 // last line read; valid lines read
	ids := newRecentIDs()
	emit := func(it *bulkItem) bool {
		select {
		case in <- it:
			return true
		case <-stopRead:
			return false
		}
	}
	go func() {
		defer close(in)
		var flush func() bool
		if r.opts.Coalesce {
			// Sums go out every FlushEvery and at the end of the input.
			ticker := time.NewTicker(r.opts.FlushEvery)
			defer ticker.Stop()
			quit := make(chan struct{})
			flushed := make(chan struct{})
			flush = func() bool {
				for _, it := range r.takeDirty() {
					if !emit(it) {
						return false
					}
				}
				return true
			}
			go func() {
				defer close(flushed)
				for {
					select {
					case <-ticker.C:
						if !flush() {
							return
						}
					case <-quit:
						return
					}
				}
			}()
			defer func() { close(quit); <-flushed; flush() }()
		}
		readErr <- r.readLines(ctx, bufio.NewReaderSize(r.input, MaxBulkLineLen), true, func(line int, l bulkLine) bool {
			lastRead.Store(int64(line))
			t, err := r.check(l)
			if err == nil {
				err = r.carrier.Check(ctx, t.stream.name, t.subject, l.big)
			}
			if err == nil && l.id != nil {
				if first := ids.check(l, line); first > 0 {
					err = idCollision(first)
				}
			}
			if err != nil {
				return r.skip(LineError{Line: line, Err: err})
			}
			valid.Add(1)
			if r.opts.Coalesce {
				r.sumMu.Lock()
				r.add(t, l, line)
				t.pendingLines++
				if !t.dirty {
					t.dirty = true
					r.dirty = append(r.dirty, t)
				}
				r.sumMu.Unlock()
				return true
			}
			it := &bulkItem{t: t, delta: l.delta, big: l.big, line: line}
			if l.id != nil {
				it.id = string(l.id)
			}
			return emit(it)
		}, r.skip)
	}()
	res := r.send(ctx, in, func(taken int, lastLine int) (notSent, resume int) {
		close(stopRead)
		if r.opts.Coalesce {
			// Sums not yet flushed: their lines were read, never sent.
			r.sumMu.Lock()
			defer r.sumMu.Unlock()
			for _, t := range r.dirty {
				notSent += t.pendingLines
			}
			return notSent, 0
		}
		// Lines read but not yet taken are few (a channel's worth); the
		// line after the last one taken is where a re-run starts.
		if n := int(lastRead.Load()); n > lastLine {
			return max(int(valid.Load())-taken, 0), lastLine + 1
		}
		return 0, 0
	})
	select {
	case err := <-readErr:
		if err != nil && res.Stopped == nil && !res.Interrupted {
			res.Stopped = err
		}
	default:
	}
	// From here on a bad line is neither reported nor counted (the reader
	// may still be blocked in a read that ends later): what stderr said
	// and the summary agree.
	r.skipMu.Lock()
	r.skipsDone = true
	r.mu.Lock()
	res.Skipped = r.res.Skipped
	r.mu.Unlock()
	r.skipMu.Unlock()
	return res, nil
}

// skip counts and reports a bad line of a --follow run; false once the
// run has ended (the line is then neither).
func (r *bulkRun) skip(e LineError) bool {
	r.skipMu.Lock()
	defer r.skipMu.Unlock()
	if r.skipsDone {
		return false
	}
	r.mu.Lock()
	r.res.Skipped++
	r.mu.Unlock()
	if r.opts.BadLine != nil {
		r.opts.BadLine(e)
	}
	return true
}

// readLines calls fn for every increment line of in and bad for every
// line that cannot be parsed, with 1-based physical line numbers, until
// either returns false or the input ends. count: this is the first read of
// the input (lines and progress are counted).
func (r *bulkRun) readLines(ctx context.Context, in *bufio.Reader, count bool, fn func(int, bulkLine) bool, bad func(LineError) bool) error {
	line := 0
	for {
		b, err := in.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line++
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = in.ReadSlice('\n')
			}
			if err != nil && r.interrupted(ctx) {
				return nil // cut short by the interruption, not known to be bad
			}
			if count {
				r.lines.Add(1)
			}
			// Lines before --from-line were applied by an earlier run.
			if line >= r.opts.FromLine && !bad(LineError{Line: line, Err: errkind.Invalidf("line is longer than %d bytes", MaxBulkLineLen)}) {
				return nil
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read input: %w", err)
			}
			continue
		}
		if len(b) > 0 && line+1 < r.opts.FromLine {
			line++ // applied by an earlier run: passed over unread
		} else if len(b) > 0 {
			line++
			if err != nil && r.interrupted(ctx) {
				return nil // a line cut short by the interruption
			}
			l, skip, perr := parseBulkLine(b)
			if count && (perr != nil || !skip) {
				r.lines.Add(1)
			}
			switch {
			case perr != nil:
				if !bad(LineError{Line: line, Err: perr}) {
					return nil
				}
			case !skip:
				if !fn(line, l) {
					return nil
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read input: %w", err)
		}
		if line&1023 == 0 {
			if ctx.Err() != nil {
				return nil // the caller stopped waiting
			}
			if count && line&(1<<16-1) == 0 && r.reading.Load() {
				r.progress() // checking a large input takes a while too
			}
		}
	}
}

// interrupted: a --follow run was interrupted, which ends its input: a
// line that ends there was cut short.
func (r *bulkRun) interrupted(ctx context.Context) bool {
	return r.opts.Follow && ctx.Err() != nil
}

// check finds (once per subject) the stream a line's subject goes to.
func (r *bulkRun) check(l bulkLine) (*bulkTarget, error) {
	t, ok := r.cache[string(l.subject)]
	if !ok {
		// One entry per distinct subject: memory grows with the number of
		// counters, never with the number of lines.
		t = r.target(string(l.subject))
		r.cache[t.subject] = t
	}
	if t.err != nil {
		return nil, t.err
	}
	if l.id != nil && r.opts.Coalesce {
		return nil, errkind.Invalidf("--coalesce sums lines into one increment per counter, which cannot keep their ids: remove the ID column")
	}
	if l.id != nil && generatedID(l.id, r.opts.IDPrefix) {
		return nil, errkind.Invalidf("id %q has the form --id-prefix %s gives every line without an ID column (%s:LINE), so it could be another line's id: the server would apply one and drop the other as a duplicate; use ids of another form, or another prefix", l.id, r.opts.IDPrefix, r.opts.IDPrefix)
	}
	if (l.id != nil || r.opts.IDPrefix != "") && !t.stream.dedupe {
		return nil, errkind.Invalidf("subject %s is in stream %s, which has no duplicate window (aggregates never have one), so an id would not make it retry-safe: increment a leaf stream, or leave out ids", t.subject, t.stream.name)
	}
	return t, nil
}

func (r *bulkRun) target(subject string) *bulkTarget {
	t := &bulkTarget{subject: subject}
	if err := counters.ValidPublishSubject(subject); err != nil {
		t.err = err
		return t
	}
	var captured *jetstream.StreamConfig
	for _, s := range r.streams {
		if slices.ContainsFunc(s.config.Subjects, func(p string) bool { return topology.Covers(p, subject) }) {
			t.stream, captured = s, s.config
			break
		}
	}
	t.err = counters.PublishTarget(subject, captured)
	return t
}

// add sums a line into its counter (Coalesce).
func (r *bulkRun) add(t *bulkTarget, l bulkLine, line int) {
	if t.firstLine == 0 {
		t.firstLine = line
	}
	if t.sumBig == nil && l.big == nil {
		if s, ok := addInt64(t.sum, l.delta); ok {
			t.sum = s
			return
		}
		t.sumBig = big.NewInt(t.sum)
	}
	if t.sumBig == nil {
		t.sumBig = big.NewInt(t.sum)
	}
	if l.big != nil {
		t.sumBig.Add(t.sumBig, l.big)
	} else {
		t.sumBig.Add(t.sumBig, big.NewInt(l.delta))
	}
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		return 0, false
	}
	return s, true
}

// coalesced turns the sums into one increment per counter, in the order
// the counters first appeared.
func (r *bulkRun) coalesced() []bulkItem {
	items := make([]bulkItem, 0, len(r.cache))
	for _, t := range r.cache {
		if t.err == nil && t.firstLine > 0 {
			items = append(items, bulkItem{t: t, delta: t.sum, big: t.sumBig, line: t.firstLine})
		}
	}
	slices.SortFunc(items, func(a, b bulkItem) int { return cmp.Compare(a.line, b.line) })
	return items
}

// takeDirty returns and resets the sums gathered since the last flush.
func (r *bulkRun) takeDirty() []*bulkItem {
	r.sumMu.Lock()
	defer r.sumMu.Unlock()
	out := make([]*bulkItem, len(r.dirty))
	for i, t := range r.dirty {
		out[i] = &bulkItem{t: t, delta: t.sum, big: t.sumBig, line: t.firstLine}
		t.sum, t.sumBig, t.firstLine, t.dirty, t.pendingLines = 0, nil, 0, false, 0
	}
	r.dirty = r.dirty[:0]
	return out
}

// The window below (slots, the reply inbox, pending, sweep, drain) is our
// own, not jetstream's PublishMsgAsync. That could carry it, given an ack
// timeout, our own resend of a timed-out line (it never resends one), a
// map from each message back to its line beside its own map, and
// CleanupPublisher on stop: little code would go, and every line would
// cost more. Measured on the client alone (server in its own process,
// 200,000 lines, medians of 5 to 10 runs): a bulk run takes 9 allocations
// and 0.8 KB a line, reading and checking included; PublishMsgAsync with
// that timeout and map takes 27 and 1.7 KB (bare: 25 and 1.6 KB) with
// subjects and deltas ready-made, and 1.7 times our CPU time. The rate is
// the server's: see BenchmarkBulk200k.

// send publishes everything from in with at most Window awaiting acks.
// stop is called once if the run ends early, with how many items were
// taken and the last line taken; it says how many were not sent and the
// first line not sent.
func (r *bulkRun) send(ctx context.Context, in <-chan *bulkItem, stop func(taken, lastLine int) (notSent, resume int)) *BulkResult {
	nc := r.c.Conn()
	r.inbox = nc.NewInbox() + "."
	sub, err := nc.Subscribe(r.inbox+"*", r.onAck)
	if err != nil {
		stop(0, 0)
		r.res.Stopped = r.c.Wrap(err, "subscribe for acknowledgements")
		return r.result()
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1) // acks never outnumber the window

	sweepEvery := min(max(r.c.Timeout()/4, 10*time.Millisecond), 250*time.Millisecond)
	sweepDone := make(chan struct{})
	sweepStop := make(chan struct{})
	go r.sweep(sweepEvery, sweepStop, sweepDone)
	defer func() { close(sweepStop); <-sweepDone }()

	progress := time.NewTicker(r.opts.ProgressEvery)
	defer progress.Stop()
	r.progress() // a display starts from 0, so its first rate is right

	var (
		taken, lastLine int
		haveSlot        bool
		inputOpen       = true
	)
	interrupted := func() {
		if err := r.c.Denied(); err != nil && r.res.Stopped == nil {
			r.res.Interrupted = false
			r.res.Stopped = errkind.Unavailablef("publish: permission denied: %v", err)
		}
		if r.closed.Load() && r.res.Stopped == nil {
			r.res.Interrupted = false
			r.res.Stopped = errkind.Unavailablef("connection lost: %v", cmp.Or(r.c.Conn().LastError(), nats.ErrConnectionClosed))
		}
		if haveSlot {
			<-r.slots
		}
		notSent, resume := stop(taken, lastLine)
		r.mu.Lock()
		r.res.NotSent += notSent
		if resume > 0 && (r.res.ResumeLine == 0 || resume < r.res.ResumeLine) {
			r.res.ResumeLine, r.resumeSent = resume, false
		}
		r.mu.Unlock()
		r.drain()
	}
loop:
	for {
		if ctx.Err() != nil { // before any other case that is ready
			r.res.Interrupted = true
			interrupted()
			break
		}
		// One select; a nil channel's case never fires. A slot is taken
		// before the item that fills it, so an item taken is sent at once
		// (stop counts the ones not taken); once the input is closed, only
		// resends and the emptying of the window are waited for.
		var (
			takeSlot chan<- struct{}
			nextItem <-chan *bulkItem
			settled  <-chan struct{}
		)
		switch {
		case !inputOpen:
			if len(r.slots) == 0 {
				break loop
			}
			settled = r.wake
		case haveSlot:
			nextItem = in
		default:
			takeSlot = r.slots
		}
		select {
		case takeSlot <- struct{}{}:
			haveSlot = true
		case it, ok := <-nextItem:
			haveSlot = false
			if !ok {
				inputOpen = false
				<-r.slots
				continue
			}
			taken++
			lastLine = it.line
			if !r.publish(it) {
				interrupted()
				break loop
			}
		case it := <-r.retries:
			r.publish(it)
		case <-settled:
		case <-ctx.Done():
			r.res.Interrupted = true
			interrupted()
			break loop
		case <-progress.C:
			r.progress()
		}
	}
	r.progress()
	return r.result()
}

// publish sends one attempt of it (it holds a window slot). false means
// the connection can take no more: sending stops.
func (r *bulkRun) publish(it *bulkItem) bool {
	if r.stopping.Load() {
		r.giveUp(it)
		return true
	}
	r.token++
	tok := r.token
	it.attempts++
	it.sent = time.Since(r.start)
	if it.attempts == 1 {
		it.first = it.sent
	}
	msg := &nats.Msg{
		Subject: it.t.subject,
		Reply:   r.inbox + strconv.FormatUint(tok, 36),
		Header:  nats.Header{counters.HeaderIncr: []string{it.header()}},
	}
	if id := r.id(it); id != "" {
		msg.Header[counters.HeaderMsgID] = []string{id}
	}
	r.mu.Lock()
	r.pending[tok] = it
	if it.attempts == 1 {
		r.res.Sent++
		if msg.Header[counters.HeaderMsgID] == nil {
			r.res.WithoutID++
		} else if w := it.t.stream.config.Duplicates; w > 0 && (r.res.DuplicateWindow == 0 || w < r.res.DuplicateWindow) {
			r.res.DuplicateWindow = w
		}
		if !it.t.touched {
			it.t.touched = true
			r.touched = append(r.touched, it.t)
		}
	} else {
		r.res.Retries++
	}
	r.mu.Unlock()
	if err := r.c.Conn().PublishMsg(msg); err != nil {
		r.mu.Lock()
		delete(r.pending, tok)
		if r.res.Stopped == nil {
			r.res.Stopped = r.c.Wrap(err, "publish "+it.t.subject)
			if !errors.Is(r.res.Stopped, errkind.ErrUnavailable) {
				// A write to a broken socket and the like: the connection is gone.
				r.res.Stopped = errkind.Unavailablef("publish %s: connection lost: %v", it.t.subject, err)
			}
		}
		r.mu.Unlock()
		r.stopping.Store(true)
		r.giveUp(it)
		return false
	}
	return true
}

func (r *bulkRun) id(it *bulkItem) string {
	if it.id != "" || r.opts.IDPrefix == "" {
		return it.id
	}
	return r.opts.IDPrefix + ":" + strconv.Itoa(it.line)
}

func (it *bulkItem) header() string {
	if it.big != nil {
		return counters.Signed(it.big)
	}
	var buf [24]byte
	b := buf[:0]
	if it.delta >= 0 {
		b = append(b, '+')
	}
	return string(strconv.AppendInt(b, it.delta, 10))
}

// onAck handles the server's answer to one attempt.
func (r *bulkRun) onAck(m *nats.Msg) {
	tok, err := strconv.ParseUint(m.Subject[len(r.inbox):], 36, 64)
	if err != nil {
		return
	}
	r.mu.Lock()
	it, ok := r.pending[tok]
	delete(r.pending, tok)
	r.mu.Unlock()
	if !ok {
		return // the answer to an attempt already given up on or resent
	}
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		// No responders: nobody received it (a stream leader election,
		// or the stream went away). Never applied, so a resend is exact.
		r.retryLater(it, min(time.Duration(it.attempts)*250*time.Millisecond, time.Second), errkind.Unavailablef("no stream answered (no responders) for %s", (time.Since(r.start)-it.first).Round(100*time.Millisecond)))
		return
	}
	ack, err := parseAck(m.Data)
	switch {
	case err != nil:
		r.finish(it, outUnknown, err)
	case ack.Error != nil:
		r.finish(it, outFailed, r.ackError(it, ack.Error))
	case ack.Duplicate:
		r.finish(it, outDuplicate, nil)
	case ack.val == nil:
		r.finish(it, outFailed, errkind.Unavailablef("stream %s stored the increment without counting: counters need nats-server 2.12 or newer", it.t.stream.name))
	default:
		if r.opts.Values {
			r.mu.Lock()
			if ack.Seq >= it.t.lastSeq {
				it.t.lastSeq = ack.Seq
				it.t.lastVal = string(ack.val)
			}
			r.mu.Unlock()
		}
		r.finish(it, outApplied, nil)
	}
}

func (r *bulkRun) ackError(it *bulkItem, e *jetstream.APIError) error {
	if err := counters.RefusedIncrement(it.t.subject, it.t.stream.name, e); err != nil {
		return err
	}
	switch e.ErrorCode {
	case counters.ErrCodeHeaderTooLarge, counters.ErrCodeMessageTooLarge:
		delta := it.big
		if delta == nil {
			delta = big.NewInt(it.delta)
		}
		return counters.TooLarge(it.t.subject, it.t.stream.name, delta, it.t.stream.config.MaxMsgSize, r.c.Conn().MaxPayload(), e.Description)
	}
	return fmt.Errorf("the server refused the increment: %s (error %d)", e.Description, e.ErrorCode)
}

// retryLater resends it after delay if it may be resent, else gives up:
// within RetryFor of its first send (and MaxAttempts, when set).
func (r *bulkRun) retryLater(it *bulkItem, delay time.Duration, why error) {
	spent := time.Since(r.start) - it.first + delay
	if r.stopping.Load() || spent >= r.opts.RetryFor || (r.opts.MaxAttempts > 0 && int(it.attempts) >= r.opts.MaxAttempts) {
		r.giveUpWith(it, why)
		return
	}
	time.AfterFunc(delay, func() {
		if r.stopping.Load() {
			r.giveUpWith(it, why)
			return
		}
		r.retries <- it // never blocks: it holds one of the Window slots
	})
}

// giveUp settles an increment that will not be sent again.
func (r *bulkRun) giveUp(it *bulkItem) { r.giveUpWith(it, nil) }

func (r *bulkRun) giveUpWith(it *bulkItem, why error) {
	switch {
	case it.maybeApplied:
		r.finish(it, outUnknown, cmp.Or(why, errkind.Unavailablef("no acknowledgement")))
	case why != nil && !r.stopping.Load():
		r.finish(it, outFailed, why)
	default:
		r.finish(it, outNotSent, nil)
	}
}

// sweep expires attempts with no answer within the client timeout: an
// increment with an id is resent with the same id (exact: the server
// applies an id once); one without may have been applied, so it is
// unknown and never resent.
func (r *bulkRun) sweep(every time.Duration, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	var expired []*bulkItem
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			now := time.Since(r.start)
			if r.c.Conn().IsClosed() && !r.closed.Load() {
				r.closed.Store(true)
				r.cancel()
			}
			expired = expired[:0]
			r.mu.Lock()
			for tok, it := range r.pending {
				if now-it.sent >= r.c.Timeout() {
					delete(r.pending, tok)
					expired = append(expired, it)
				}
			}
			r.mu.Unlock()
			for _, it := range expired {
				it.maybeApplied = true
				why := errkind.Unavailablef("no acknowledgement within %s", r.c.Timeout())
				if r.id(it) == "" {
					r.finish(it, outUnknown, why)
					continue
				}
				r.retryLater(it, 0, why)
			}
		}
	}
}

// drain waits briefly for the answers to what was sent, then settles the
// rest as unknown (sent) or not sent (waiting for a resend).
func (r *bulkRun) drain() {
	r.stopping.Store(true)
	deadline := time.NewTimer(r.opts.Drain)
	defer deadline.Stop()
wait:
	for len(r.slots) > 0 && !r.c.Conn().IsClosed() {
		select {
		case it := <-r.retries:
			r.giveUp(it)
		case <-r.wake:
		case <-deadline.C:
			break wait
		}
	}
	r.mu.Lock()
	left := make([]*bulkItem, 0, len(r.pending))
	for tok, it := range r.pending {
		delete(r.pending, tok)
		left = append(left, it)
	}
	r.mu.Unlock()
	for _, it := range left {
		if r.c.PublishDenied(it.t.subject) {
			// The server dropped it: denied, not applied.
			r.finish(it, outFailed, errkind.Unavailablef("permission denied: the server refused the publish to %s (not applied)", it.t.subject))
			continue
		}
		it.maybeApplied = true
		r.finish(it, outUnknown, errkind.Unavailablef("no acknowledgement before the run stopped"))
	}
	// Resends waiting on a timer settle themselves within a second.
	for len(r.slots) > 0 {
		select {
		case it := <-r.retries:
			r.giveUp(it)
		case <-r.wake:
		}
	}
}

func (r *bulkRun) finish(it *bulkItem, o outcome, why error) {
	r.mu.Lock()
	switch o {
	case outApplied:
		r.res.Applied++
		r.lastApplied = max(r.lastApplied, it.line)
	case outDuplicate:
		r.res.Duplicates++
		r.lastApplied = max(r.lastApplied, it.line)
	case outFailed:
		r.res.Failed++
		if errors.Is(why, errkind.ErrUnavailable) {
			r.res.FailedRetry++
		}
	case outUnknown:
		r.res.Unknown++
		r.resumeAt(it)
	case outNotSent:
		r.res.NotSent++
		if it.attempts > 0 {
			r.res.Sent-- // counted when first sent, but it never arrived
		}
		r.resumeAt(it)
	}
	var failure *LineError
	if why != nil && (o == outFailed || o == outUnknown) {
		if o == outUnknown {
			why = errkind.Unknownf("may or may not have been applied: %w", why)
		}
		failure = &LineError{Line: it.line, Err: why}
		r.keepFailure(*failure)
	}
	r.done++
	r.mu.Unlock()
	if failure != nil && r.opts.Failure != nil {
		r.opts.Failure(*failure)
	}
	<-r.slots
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// resumeAt lowers ResumeLine to it (under mu), keeping when it was first
// sent.
func (r *bulkRun) resumeAt(it *bulkItem) {
	if r.res.ResumeLine != 0 && r.res.ResumeLine <= it.line {
		return
	}
	r.res.ResumeLine = it.line
	r.resumeFirst, r.resumeSent = it.first, it.attempts > 0
}

// keepFailure keeps the lowest-numbered few failures (under mu): acks
// arrive out of order, and the first lines in doubt matter most.
func (r *bulkRun) keepFailure(e LineError) {
	f := r.res.Failures
	if len(f) < maxReportedLines {
		r.res.Failures = append(f, e)
		return
	}
	worst := 0
	for i := range f {
		if f[i].Line > f[worst].Line {
			worst = i
		}
	}
	if e.Line < f[worst].Line {
		f[worst] = e
	}
}

func (r *bulkRun) progress() {
	if r.opts.Progress == nil {
		return
	}
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	r.opts.Progress(BulkProgress{
		Lines:   int(r.lines.Load()),
		Total:   int(r.total.Load()),
		Done:    done,
		Reading: r.reading.Load(),
		Elapsed: time.Since(r.start),
	})
}

// result settles the summary (and reads values an ack did not carry).
func (r *bulkRun) result() *BulkResult {
	r.mu.Lock()
	res := r.res
	res.Lines = int(r.lines.Load())
	res.Counters = len(r.touched)
	res.Elapsed = time.Since(r.start)
	touched := slices.Clone(r.touched)
	resumeFirst, resumeSent := r.resumeFirst, r.resumeSent
	r.mu.Unlock()
	slices.SortFunc(res.Failures, func(a, b LineError) int { return cmp.Compare(a.Line, b.Line) })
	res.ResumeExact = res.ResumeLine > 0 && res.Unknown == 0 && r.lastApplied < res.ResumeLine
	if r.opts.Coalesce {
		res.ResumeLine, res.ResumeExact = 0, false // sums mix lines
	}
	if res.ResumeLine > 0 && !res.ResumeExact && res.WithoutID == 0 && res.DuplicateWindow > 0 && resumeSent {
		// The server remembers an id for the window from when it stored
		// the message, a moment after it was sent: a little margin, and
		// whole seconds (the advice prints them), keep it exact.
		margin := min(res.DuplicateWindow/20, 5*time.Second)
		res.ExactUntil = r.start.Add(resumeFirst + res.DuplicateWindow - margin).Truncate(time.Second)
		if !r.opts.Until.IsZero() && r.opts.Until.Before(res.ExactUntil) {
			res.ExactUntil = r.opts.Until // the earlier run's ids expire first
		}
	}
	if r.opts.Values {
		res.Values = r.values(touched, !res.Interrupted)
	}
	return &res
}

// values reports each touched counter's value: from the ack with the
// highest sequence, or read when only duplicates were acked.
func (r *bulkRun) values(touched []*bulkTarget, read bool) []counters.Counter {
	out := make([]counters.Counter, 0, len(touched))
	var missing []*bulkTarget
	r.mu.Lock()
	for _, t := range touched {
		if t.lastVal == "" {
			missing = append(missing, t)
			continue
		}
		if v, ok := new(big.Int).SetString(t.lastVal, 10); ok {
			out = append(out, counters.Counter{Subject: t.subject, Stream: t.stream.name, Value: v, Seq: t.lastSeq})
		}
	}
	r.mu.Unlock()
	byStream := map[string][]string{}
	for _, t := range missing {
		byStream[t.stream.name] = append(byStream[t.stream.name], t.subject)
	}
	for stream, subjects := range byStream {
		if !read {
			// Interrupted: no more waiting on the server (a signal ends
			// a run within 2s); values no ack carried are left out.
			break
		}
		if found, err := r.c.ReadLiterals(context.Background(), stream, subjects, counters.ReadLeader); err == nil {
			out = append(out, found...)
		}
	}
	slices.SortFunc(out, func(a, b counters.Counter) int { return cmp.Compare(a.Subject, b.Subject) })
	return out
}

type bulkAck struct {
	Seq       uint64
	Duplicate bool
	val       []byte
	Error     *jetstream.APIError
}

// parseAck reads a publish acknowledgement. The exact forms the server
// writes ({"stream":"S","seq":N,"val":"V"} and the duplicate one) are
// scanned by hand: decoding hundreds of thousands of acks by reflection
// would be a good part of the client's work. Anything else is decoded.
func parseAck(data []byte) (bulkAck, error) {
	var a bulkAck
	rest, ok := bytes.CutPrefix(data, []byte(`{"stream":"`))
	if ok {
		if i := bytes.IndexByte(rest, '"'); i >= 0 && plainJSON(rest[:i]) {
			rest, ok = bytes.CutPrefix(rest[i+1:], []byte(`,"seq":`))
			if ok {
				n := 0
				for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
					n++
				}
				seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
				leadingZero := n > 1 && rest[0] == '0' // not a JSON number
				rest = rest[n:]
				if err == nil && !leadingZero {
					a.Seq = seq
					if v, ok := bytes.CutPrefix(rest, []byte(`,"val":"`)); ok {
						if j := bytes.IndexByte(v, '"'); j > 0 && string(v[j:]) == `"}` && isInteger(v[:j]) {
							a.val = v[:j]
							return a, nil
						}
					}
					if string(rest) == `,"duplicate":true}` {
						a.Duplicate = true
						return a, nil
					}
				}
			}
		}
	}
	var full struct {
		Seq       uint64              `json:"seq"`
		Duplicate bool                `json:"duplicate"`
		Val       *string             `json:"val"`
		Error     *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(data, &full); err != nil {
		return a, errkind.Unavailablef("reply is not a JetStream acknowledgement: %.80q", data)
	}
	a = bulkAck{Seq: full.Seq, Duplicate: full.Duplicate, Error: full.Error}
	if full.Val != nil {
		a.val = []byte(*full.Val)
	}
	return a, nil
}

// plainJSON: printable ASCII with no escapes, the same as JSON text or
// as a Go string.
func plainJSON(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}

func isInteger(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// minLine is the earlier of two line numbers, 0 meaning none.
func minLine(a, b int) int {
	if a == 0 || (b > 0 && b < a) {
		return b
	}
	return a
}
