package counters

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

// GetOptions shape a read.
type GetOptions struct {
	// Stream reads at this tier instead of the stream that owns each subject.
	Stream string
	// Direct reads literal subjects from any replica (direct get) instead of
	// the stream leader: a little faster, spread over the replicas, but on a
	// replicated stream possibly older than an increment already
	// acknowledged (even your own).
	Direct bool
	// Sources parses each counter's Nats-Counter-Sources record into
	// Counter.Sources; a bad record is Counter.SourcesError, not a failure.
	Sources bool
}

func (o GetOptions) mode() ReadMode {
	var m ReadMode
	if o.Direct {
		m |= ReadDirect
	}
	if o.Sources {
		m |= ReadSources
	}
	return m
}

// Get returns the last value of every counter matching the patterns, sorted
// by subject then stream. Patterns that match nothing are reported with an
// errkind.ErrNotFound error alongside whatever was found. It holds every
// counter: Prepare and Each read any number of them in constant memory.
func (c *Client) Get(ctx context.Context, patterns []string, opts GetOptions) ([]Counter, error) {
	r, err := c.Prepare(ctx, patterns, opts)
	if err != nil {
		return nil, err
	}
	var out []Counter
	err = r.Each(ctx, func(ctr Counter) error {
		out = append(out, ctr)
		return nil
	})
	if err != nil && !errors.Is(err, errkind.ErrNotFound) {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Counter) int {
		return cmp.Or(strings.Compare(a.Subject, b.Subject), strings.Compare(a.Stream, b.Stream))
	})
	return out, err
}

// A Reading is a read resolved to the streams that hold its patterns
// (Prepare); Each delivers its counters.
type Reading struct {
	c          *Client
	patterns   []string
	opts       GetOptions
	plan       []StreamPlan
	uncaptured []string
}

// Prepare checks the patterns and finds the streams that hold them.
func (c *Client) Prepare(ctx context.Context, patterns []string, opts GetOptions) (*Reading, error) {
	for _, p := range patterns {
		if err := ValidSubject(p, true); err != nil {
			return nil, err
		}
	}
	plan, uncaptured, err := c.ResolvePartial(ctx, patterns, opts.Stream)
	if err != nil {
		return nil, err
	}
	return &Reading{c: c, patterns: patterns, opts: opts, plan: plan, uncaptured: uncaptured}, nil
}

// Streams names the streams the read spans, in the order the patterns
// name them.
func (r *Reading) Streams() []string {
	names := make([]string, len(r.plan))
	for i, sp := range r.plan {
		names[i] = sp.Info.Config.Name
	}
	return names
}

// Each calls fn with every counter the patterns match, each counter once,
// as it is read: it holds none of them, so a million counters take the
// memory of one. The order is the order of the patterns: a literal
// subject's counter where it is named (literal subjects are read first,
// in parallel), a wildcard's counters where it is named, in the order the
// server keeps them (by their last change, oldest first); a pattern that
// several streams hold, stream by stream. A counter an earlier pattern
// delivered is not delivered again.
//
// Patterns that matched nothing give an errkind.ErrNotFound error once
// everything found was delivered. Any other error ends the read early, and
// what fn was given is then incomplete; an error from fn is returned as is.
func (r *Reading) Each(ctx context.Context, fn func(Counter) error) error {
	type key struct{ stream, subject string }
	literals := map[key]Counter{}
	for i := range r.plan {
		sp := &r.plan[i]
		var asked []string
		for _, p := range sp.Patterns {
			if IsLiteral(p) && !slices.Contains(asked, p) {
				asked = append(asked, p)
			}
		}
		mode := r.opts.mode()
		if !sp.Info.Config.AllowDirect {
			mode &^= ReadDirect // no direct gets there: the leader answers
		}
		found, err := r.c.ReadLiterals(ctx, sp.Info.Config.Name, asked, mode)
		if err != nil {
			return err
		}
		for _, ctr := range found {
			literals[key{ctr.Stream, ctr.Subject}] = ctr
		}
	}

	matched := map[string]bool{}
	// match marks the patterns of sp that subject answers; false once
	// every pattern of sp is matched (no need to look any more).
	match := func(sp *StreamPlan, subject string) (more bool) {
		for i, p := range sp.Patterns {
			switch {
			case matched[sp.Asked[i]]:
			case topology.Covers(p, subject):
				matched[sp.Asked[i]] = true
			default:
				more = true
			}
		}
		return more
	}
	// What each stream delivered so far: literal subjects, and wildcards.
	delivered := make([]struct {
		subjects  map[string]bool
		wildcards []string
	}, len(r.plan))
	covered := func(i int, subject string) bool {
		return slices.ContainsFunc(delivered[i].wildcards, func(w string) bool { return topology.Covers(w, subject) })
	}
	seen := map[string]bool{}
	for _, asked := range r.patterns {
		if seen[asked] {
			continue
		}
		seen[asked] = true
		for i := range r.plan {
			sp := &r.plan[i]
			name := sp.Info.Config.Name
			for j, p := range sp.Patterns {
				if sp.Asked[j] != asked {
					continue
				}
				d := &delivered[i]
				if IsLiteral(p) {
					ctr, ok := literals[key{name, p}]
					if !ok {
						continue
					}
					matched[asked] = true
					if d.subjects[p] || covered(i, p) {
						continue // delivered already
					}
					if d.subjects == nil {
						d.subjects = map[string]bool{}
					}
					d.subjects[p] = true
					if err := fn(ctr); err != nil {
						return err
					}
					continue
				}
				if covered(i, p) {
					// An earlier wildcard delivered all of this one; it
					// marked this pattern matched if anything matched.
					continue
				}
				earlier, more := len(d.subjects) > 0 || len(d.wildcards) > 0, true
				err := r.c.readLast(ctx, sp.Info, name, []string{p}, r.opts.Sources, func(ctr Counter) error {
					if earlier && (d.subjects[ctr.Subject] || covered(i, ctr.Subject)) {
						return nil
					}
					if more {
						more = match(sp, ctr.Subject)
					}
					return fn(ctr)
				})
				if err != nil {
					return err
				}
				d.wildcards = append(d.wildcards, p)
			}
		}
	}

	var missing []string
	for _, p := range r.patterns {
		if !matched[p] && !slices.Contains(r.uncaptured, p) && !slices.Contains(missing, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 || len(r.uncaptured) > 0 {
		return NotFound(missing, r.uncaptured, r.plan)
	}
	return nil
}

func NotFound(missing, uncaptured []string, plan []StreamPlan) error {
	var parts []string
	if len(uncaptured) > 0 {
		parts = append(parts, "no stream captures subject "+strings.Join(uncaptured, ", ")+": check the subject, or read an aggregate with --stream NAME")
	}
	where := ""
	if len(plan) == 1 {
		where = " in stream " + plan[0].Info.Config.Name
	}
	switch {
	case len(missing) == 1 && IsLiteral(missing[0]):
		parts = append(parts, fmt.Sprintf("counter %s has no value%s", missing[0], where))
	case len(missing) > 0:
		parts = append(parts, fmt.Sprintf("no counter matches %s%s", strings.Join(missing, ", "), where))
	}
	return errkind.NotFoundf("%s", strings.Join(parts, "; "))
}

type StreamPlan struct {
	Info *jetstream.StreamInfo
	// Patterns are what to read in the stream: the patterns asked, each
	// under the subjects the stream stores it as (its subject_transform);
	// Asked[i] is the pattern Patterns[i] was asked as.
	Patterns, Asked []string
}

// add puts pattern p, asked as asked, in the plan once.
func (sp *StreamPlan) add(p, asked string) {
	for i := range sp.Patterns {
		if sp.Patterns[i] == p && sp.Asked[i] == asked {
			return
		}
	}
	sp.Patterns, sp.Asked = append(sp.Patterns, p), append(sp.Asked, asked)
}

// Matched marks in matched every asked pattern that subject, read from
// the stream, answers.
func (sp *StreamPlan) Matched(subject string, matched map[string]bool) {
	for i, p := range sp.Patterns {
		if !matched[sp.Asked[i]] && topology.Covers(p, subject) {
			matched[sp.Asked[i]] = true
		}
	}
}

// resolve finds the stream that holds each pattern: the named tier, or the
// streams whose subjects overlap the pattern.
func (c *Client) Resolve(ctx context.Context, patterns []string, stream string) ([]StreamPlan, error) {
	plan, uncaptured, err := c.ResolvePartial(ctx, patterns, stream)
	if err == nil && len(uncaptured) > 0 {
		return nil, NotFound(nil, uncaptured, nil)
	}
	return plan, err
}

// resolvePartial is resolve that returns the patterns no stream captures
// apart, so Get can still read the others.
func (c *Client) ResolvePartial(ctx context.Context, patterns []string, stream string) (plan []StreamPlan, uncaptured []string, err error) {
	if stream != "" {
		info, err := c.StreamInfo(ctx, stream)
		if err != nil {
			return nil, nil, err
		}
		// A mirror of a counter stream is a read replica: read it as one,
		// also while its origin cannot be reached (what replicas are for;
		// a message that is no counter value fails the read anyway).
		if carries, err := c.CarriesCounterValues(ctx, info); !carries && (err == nil || info.Config.Mirror == nil) {
			return nil, nil, NotCounter(stream)
		}
		sp := StreamPlan{Info: info}
		for _, p := range patterns {
			sp.add(StoredSubject(&info.Config, p), p)
		}
		return []StreamPlan{sp}, nil, nil
	}
	// One lookup per pattern, several in flight: a thousand literal
	// subjects must not mean a thousand sequential round trips.
	found := make([][]*jetstream.StreamInfo, len(patterns))
	errs := make([]error, len(patterns))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, p := range patterns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found[i], errs[i] = c.StreamsFor(ctx, p)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	byName := map[string]*StreamPlan{}
	var order []string
	var transformed []*jetstream.StreamInfo // listed once, when needed
	for i, p := range patterns {
		infos := found[i]
		if len(infos) == 0 {
			// No stream has it as a subject of its own: a stream may still
			// store counters under it (its subject_transform).
			if transformed == nil {
				if transformed, err = c.transformingStreams(ctx); err != nil {
					return nil, nil, err
				}
			}
			for _, info := range transformed {
				if TransformsInto(&info.Config, p) {
					infos = append(infos, info)
				}
			}
		}
		if len(infos) == 0 {
			if !slices.Contains(uncaptured, p) {
				uncaptured = append(uncaptured, p)
			}
			continue
		}
		for _, info := range infos {
			name := info.Config.Name
			if !info.Config.AllowMsgCounter {
				if IsLiteral(p) {
					return nil, nil, NotCounter(name)
				}
				continue // a wildcard may span plain streams too; skip them
			}
			if byName[name] == nil {
				byName[name] = &StreamPlan{Info: info}
				order = append(order, name)
			}
			byName[name].add(StoredSubject(&info.Config, p), p)
		}
	}
	if len(order) == 0 && len(uncaptured) == 0 {
		return nil, nil, fmt.Errorf("no counter stream holds %s: the streams there are not counter streams", strings.Join(patterns, ", "))
	}
	plan = make([]StreamPlan, 0, len(order))
	for _, name := range order {
		plan = append(plan, *byName[name])
	}
	return plan, uncaptured, nil
}

// transformingStreams lists the counter streams that have a
// subject_transform (an empty, non-nil list when none do).
func (c *Client) transformingStreams(ctx context.Context) ([]*jetstream.StreamInfo, error) {
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	out := []*jetstream.StreamInfo{}
	lister := c.js.ListStreams(rctx)
	for info := range lister.Info() {
		if _, ok := streamTransform(&info.Config); ok && info.Config.AllowMsgCounter {
			out = append(out, info)
		}
	}
	if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return nil, c.Wrap(err, "list streams")
	}
	return out, nil
}

// StreamInfo fetches one stream's info.
func (c *Client) StreamInfo(ctx context.Context, name string) (*jetstream.StreamInfo, error) {
	s, err := c.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}

// streamsFor lists the streams whose subjects overlap subject.
func (c *Client) StreamsFor(ctx context.Context, subject string) ([]*jetstream.StreamInfo, error) {
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	lister := c.js.ListStreams(rctx, jetstream.WithStreamListSubject(subject))
	var out []*jetstream.StreamInfo
	for info := range lister.Info() {
		out = append(out, info)
	}
	if err := lister.Err(); err != nil {
		return nil, c.Wrap(err, "list streams for "+subject)
	}
	return out, nil
}

// readLiterals reads the last message of each literal subject, a few
// requests in flight at once. Subjects without a value are left out.
func (c *Client) ReadLiterals(ctx context.Context, stream string, subjects []string, mode ReadMode) ([]Counter, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	const inFlight = 64
	var (
		mu   sync.Mutex
		out  []Counter
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, inFlight)
	)
	for _, subj := range subjects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctr, err := c.ReadOne(ctx, stream, subj, mode)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, errkind.ErrNotFound):
			case err != nil:
				errs = append(errs, err)
			default:
				out = append(out, *ctr)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return out, nil
}

// ReadMode says which server answers a read and what it carries.
type ReadMode uint8

const (
	// ReadLeader: the stream leader answers ($JS.API.STREAM.MSG.GET), so the
	// value includes every acknowledged increment (read-your-writes).
	ReadLeader ReadMode = 0
	// ReadDirect: any replica answers (direct get, allow_direct); on a
	// replicated stream one that has not applied the latest increments
	// answers with an older value.
	ReadDirect ReadMode = 1 << iota
	// ReadSources: also parse the Nats-Counter-Sources record; a bad one is
	// a warning on the counter (Counter.SourcesError), never a failed read.
	ReadSources
)

// readOne reads the last message on subject in stream.
func (c *Client) ReadOne(ctx context.Context, stream, subject string, mode ReadMode) (*Counter, error) {
	if mode&ReadDirect != 0 || c.denials.leaderReadsDenied.Load() {
		return c.readOneDirect(ctx, stream, subject, mode)
	}
	// Without the sources record the message's headers are not needed:
	// no_hdr (ADR-49) keeps a value read independent of them.
	req, _ := json.Marshal(msgGetRequest{LastBySubject: subject, NoHeaders: mode&ReadSources == 0})
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	msg, err := c.nc.RequestWithContext(rctx, c.prefix+".STREAM.MSG.GET."+stream, req)
	if err != nil {
		if denied := c.denials.err(); denied != nil && errors.Is(err, context.Canceled) && strings.Contains(denied.Error(), ".STREAM.MSG.GET.") {
			// A role allowed only direct gets (read-only users often
			// are): read from any replica, as it allows.
			c.denials.leaderReadsDenied.Store(true)
			return c.readOneDirect(ctx, stream, subject, mode)
		}
		return nil, c.Wrap(err, "read "+subject+" from stream "+stream)
	}
	var resp MsgGetResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, errkind.Unavailablef("read %s from stream %s: reply is not a JetStream answer: %.80q", subject, stream, msg.Data)
	}
	if resp.Error != nil {
		switch resp.Error.ErrorCode {
		case jetstream.JSErrCodeMessageNotFound:
			return nil, errkind.NotFoundf("counter %s has no value in stream %s", subject, stream)
		case jetstream.JSErrCodeStreamNotFound:
			return nil, errkind.NotFoundf("stream %s not found%s", stream, c.Where())
		}
		return nil, c.Wrap(resp.Error, "read "+subject+" from stream "+stream)
	}
	m := resp.Message
	if m == nil {
		return nil, errkind.Unavailablef("read %s from stream %s: the answer holds no message", subject, stream)
	}
	var hdr nats.Header
	if len(m.Header) > 0 {
		// A header block the client library cannot decode only matters
		// for the sources record, which then is reported as bad.
		hdr, _ = nats.DecodeHeadersMsg(m.Header)
		if hdr == nil {
			hdr = nats.Header{HeaderSources: []string{string(m.Header)}}
		}
	}
	ctr, err := CounterFromMsg(m.Subject, stream, m.Sequence, m.Time, hdr, m.Data, mode&ReadSources != 0)
	if err != nil {
		return nil, fmt.Errorf("read %s from stream %s: %w", subject, stream, err)
	}
	return &ctr, nil
}

type msgGetRequest struct {
	LastBySubject string `json:"last_by_subj"`
	NoHeaders     bool   `json:"no_hdr,omitempty"`
}

// MsgGetResponse is the answer to $JS.API.STREAM.MSG.GET.
type MsgGetResponse struct {
	Error   *jetstream.APIError `json:"error"`
	Message *struct {
		Subject  string    `json:"subject"`
		Sequence uint64    `json:"seq"`
		Header   []byte    `json:"hdrs"`
		Data     []byte    `json:"data"`
		Time     time.Time `json:"time"`
	} `json:"message"`
}

// readOneDirect direct-gets the last message on subject from any replica.
// The headers stay on (no_hdr would drop the sequence and time too); the
// sources record among them is parsed only when asked for.
func (c *Client) readOneDirect(ctx context.Context, stream, subject string, mode ReadMode) (*Counter, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": subject})
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	msg, err := c.nc.RequestWithContext(rctx, c.prefix+".DIRECT.GET."+stream, req)
	if err != nil {
		return nil, c.Wrap(err, "read "+subject+" from stream "+stream)
	}
	if status := msg.Header.Get("Status"); status != "" {
		if status == "404" {
			return nil, errkind.NotFoundf("counter %s has no value in stream %s", subject, stream)
		}
		return nil, fmt.Errorf("read %s from stream %s: %s %s", subject, stream, status, msg.Header.Get("Description"))
	}
	seq, _ := strconv.ParseUint(msg.Header.Get(HeaderSequence), 10, 64)
	ts, _ := time.Parse(time.RFC3339Nano, msg.Header.Get(HeaderTime))
	ctr, err := CounterFromMsg(msg.Header.Get(HeaderSubject), stream, seq, ts, msg.Header, msg.Data, mode&ReadSources != 0)
	if err != nil {
		return nil, fmt.Errorf("read %s from stream %s: %w", subject, stream, err)
	}
	return &ctr, nil
}

// ReadLast streams the last message of every subject matching filters in
// stream to fn, through one ephemeral consumer (deliver last per subject).
// It ends when every counter that existed when it started was delivered; a
// stall longer than the client timeout is an error, never a shorter result.
//
// Each counter's sources record is parsed (a bad one is a warning on it).
func (c *Client) ReadLast(ctx context.Context, stream string, filters []string, fn func(Counter) error) error {
	return c.readLast(ctx, nil, stream, filters, true, fn)
}

// readerPause is how long a read's consumer outlives a caller that stops
// taking counters: get in a pipe writes as it reads, so a pager left open
// stops the read, and the server deletes a pull consumer that was not
// pulled from for its inactive threshold. Past it the read fails (never a
// short list); a consumer whose reader was killed goes after it.
const readerPause = 2 * time.Minute

// readLast is ReadLast; si, when known, is the stream's info, which spares
// a request to learn where its leader is.
func (c *Client) readLast(ctx context.Context, si *jetstream.StreamInfo, stream string, filters []string, withSources bool, fn func(Counter) error) error {
	cfg := jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: max(c.timeout, readerPause),
	}
	if len(filters) == 1 {
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = filters
	}
	cons, err := c.leaderConsumer(ctx, stream, cfg, si)
	if err != nil {
		return c.Wrap(err, "read "+strings.Join(filters, " ")+" from stream "+stream)
	}
	info := cons.CachedInfo()
	defer c.dropConsumer(stream, info.Name)
	want := info.NumPending
	if want == 0 {
		return nil
	}
	// got is written by whichever goroutine delivers (this one for the
	// first pull, the consumer's callback after) and read by the other.
	var got atomic.Uint64
	handle := func(msg jetstream.Msg) (done bool, err error) {
		meta, err := msg.Metadata()
		if err != nil {
			return false, fmt.Errorf("read from stream %s: %w", stream, err)
		}
		n := got.Add(1)
		ctr, err := CounterFromMsg(msg.Subject(), stream, meta.Sequence.Stream, meta.Timestamp, msg.Headers(), msg.Data(), withSources)
		if err != nil {
			return false, fmt.Errorf("read %s from stream %s: %w", msg.Subject(), stream, err)
		}
		if err := fn(ctr); err != nil {
			return false, err
		}
		if meta.NumPending == 0 && n < want {
			// Counters that the consumer listed at its start went away
			// while it delivered (purged meanwhile): never a shorter list.
			return false, errkind.Unavailablef("read from stream %s ended after %d of %d counters (purged while reading?): the read is incomplete; retry", stream, n, want)
		}
		return meta.NumPending == 0, nil
	}
	stalled := func() error {
		return fmt.Errorf("read from stream %s stalled after %d of %d counters: the read is incomplete; retry or raise --timeout", stream, got.Load(), want)
	}

	// On a replicated stream the consumer may live on another server, and
	// the create response can arrive before that server's interest in pull
	// requests has reached ours: a pull sent then is dropped, and a read
	// waiting on it stalls (about 1% of reads on an R3 stream; our server
	// answers it with "no responders", which the pipelined consumer
	// ignores). So unless the consumer is on the server we talk to, the
	// first counter is pulled with requests that expire, re-issued until
	// one is answered. It pulls ONE message: a pull that expires while the
	// server is still delivering its batch (a loaded machine) has stopped
	// listening for the message in flight at its expiry, and with no acks
	// that counter is never sent again (the read then stalled at 1,999 of
	// 2,000). One message is in flight far shorter than the wait.
	start := time.Now()
	for wait := 250 * time.Millisecond; got.Load() == 0 && !c.onOurServer(info); wait = min(2*wait, c.timeout) {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(wait))
		if err != nil {
			return c.Wrap(err, "read from stream "+stream)
		}
		for msg := range batch.Messages() {
			done, err := handle(msg)
			if err != nil {
				return err
			}
			if done {
				return nil
			}
		}
		// "No responders" is that dropped pull, reported by our server.
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrNoResponders) {
			return c.Wrap(err, fmt.Sprintf("read from stream %s (after %d of %d counters)", stream, got.Load(), want))
		}
		if got.Load() == want {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return c.Wrap(err, "read from stream "+stream)
		}
		if got.Load() == 0 && time.Since(start) > c.timeout {
			return stalled()
		}
		if errors.Is(batch.Error(), nats.ErrNoResponders) {
			time.Sleep(10 * time.Millisecond) // the interest is on its way
		}
	}
	return c.consumeLast(ctx, cons, stream, handle, func() uint64 { return got.Load() }, want, stalled)
}

// consumeLast delivers the rest of a read through the consumer's callback
// with pipelined pulls: no timer or context per message (a fifth of the
// CPU of a read, once). A watchdog ends the read when nothing arrived for
// the client timeout while nothing was being handled: a slow fn (a pipe
// nobody reads yet) is no stall. handle runs on the consumer's goroutine,
// never after consumeLast returned.
func (c *Client) consumeLast(ctx context.Context, cons jetstream.Consumer, stream string, handle func(jetstream.Msg) (bool, error), got func() uint64, want uint64, stalled func() error) error {
	var (
		mu       sync.Mutex // held while a message is handled
		stopped  bool       // under mu: deliver nothing more
		busy     atomic.Bool
		progress atomic.Uint64
		result   = make(chan error, 1)
	)
	finish := func(err error) {
		select {
		case result <- err:
		default:
		}
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		busy.Store(true)
		done, err := handle(msg)
		busy.Store(false)
		progress.Add(1)
		if err != nil || done {
			stopped = true
			finish(err)
		}
	}, jetstream.PullMaxMessages(4096), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		// Missed heartbeats and leader changes are re-pulled by the
		// library (and a real stall is the watchdog's); these end it.
		switch {
		case errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
			errors.Is(err, jetstream.ErrBadRequest) || errors.Is(err, jetstream.ErrConnectionClosed):
			finish(c.Wrap(err, fmt.Sprintf("read from stream %s (after %d of %d counters)", stream, got(), want)))
		case errors.Is(err, nats.ErrNoResponders):
			// Nobody took a pull: the consumer is gone (its stream
			// deleted, its server restarted), or out of reach a moment.
			go func() {
				if gone := c.consumerGone(cons, stream, got(), want); gone != nil {
					finish(gone)
				}
			}()
		}
	}))
	if err != nil {
		return c.Wrap(err, "read from stream "+stream)
	}
	defer func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		cc.Stop()
	}()
	tick := max(c.timeout/8, 10*time.Millisecond)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var last uint64
	var silent time.Duration
	for {
		select {
		case err := <-result:
			return err
		case <-ctx.Done():
			return c.Wrap(ctx.Err(), fmt.Sprintf("read from stream %s (after %d of %d counters)", stream, got(), want))
		case <-ticker.C:
			if p := progress.Load(); p != last || busy.Load() {
				last, silent = p, 0
				continue
			}
			if silent += tick; silent >= c.timeout {
				return stalled()
			}
		}
	}
}

// consumerGone is an error when the read's consumer no longer exists.
func (c *Client) consumerGone(cons jetstream.Consumer, stream string, got, want uint64) error {
	rctx, cancel := c.RequestContext(context.Background())
	defer cancel()
	_, err := cons.Info(rctx)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return errkind.Unavailablef("read from stream %s ended after %d of %d counters: its consumer is gone (the stream was deleted, or the consumer's server restarted): the read is incomplete; retry", stream, got, want)
	}
	return nil
}

// onOurServer: the consumer lives on the server this client is connected
// to, so its interest in pull requests is there as soon as it exists.
func (c *Client) onOurServer(info *jetstream.ConsumerInfo) bool {
	return c.prefix == "$JS.API" && info.Cluster != nil && info.Cluster.Leader != "" &&
		info.Cluster.Leader == c.nc.ConnectedServerName()
}

// leaderConsumerAttempts bounds how often a read re-creates its consumer to
// have it on the stream leader.
const leaderConsumerAttempts = 8

// leaderConsumer creates the read's consumer on the stream leader. The
// server places a one-replica consumer on any replica of the stream, and a
// consumer delivers from its own server's copy: one that has not applied
// the latest acknowledged writes lists older values, and when it applies a
// purge while delivering (right after a reset), counters it listed vanish
// and the read ends short or stalls. The leader has applied every
// acknowledged write, like the leader's reads of literal subjects. After
// leaderConsumerAttempts placements elsewhere the last one is used: a
// replica is behind only briefly. si, when known, says where the leader
// was (it is asked again when the consumer is elsewhere).
func (c *Client) leaderConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig, si *jetstream.StreamInfo) (jetstream.Consumer, error) {
	fresh := si == nil
	for attempt := 1; ; attempt++ {
		rctx, cancel := c.RequestContext(ctx)
		cons, err := c.js.CreateConsumer(rctx, stream, cfg)
		cancel()
		if err != nil {
			return nil, err
		}
		info := cons.CachedInfo()
		if info.Cluster == nil || info.Cluster.Leader == "" || attempt == leaderConsumerAttempts {
			return cons, nil
		}
		for {
			if si == nil {
				if si, err = c.StreamInfo(ctx, stream); err != nil {
					c.deleteConsumer(stream, info.Name)
					return nil, err
				}
				fresh = true
			}
			if si.Cluster == nil || len(si.Cluster.Replicas) == 0 {
				return cons, nil // one copy of the stream: the consumer is with it
			}
			if info.Cluster.Leader == si.Cluster.Leader {
				return cons, nil
			}
			if fresh {
				break
			}
			si = nil // the leader may have moved since si was read
		}
		c.deleteConsumer(stream, info.Name)
	}
}

// deleteConsumer removes a consumer, best effort: its inactive threshold
// removes it anyway.
func (c *Client) deleteConsumer(stream, name string) {
	dctx, cancel := c.RequestContext(context.Background())
	_ = c.js.DeleteConsumer(dctx, stream, name)
	cancel()
}

// dropConsumer asks the server to remove a read's consumer without waiting
// for the answer (one round trip less at the end of every read): best
// effort, like deleteConsumer. The request leaves with the next flush, at
// the latest when the connection closes.
func (c *Client) dropConsumer(stream, name string) {
	_ = c.nc.Publish(c.prefix+".CONSUMER.DELETE."+stream+"."+name, nil)
}

// consumerFilters splits wildcard patterns into filter sets one consumer
// accepts: the server refuses overlapping filter subjects (10138). Repeats
// and patterns covered by another are dropped; patterns that still overlap
// (a.*.y and a.x.*) go to separate reads, whose results Get de-duplicates.
func ConsumerFilters(patterns []string) [][]string {
	var kept []string
	for i, p := range patterns {
		covered := false
		for j, q := range patterns {
			// Of two equal patterns, keep the first.
			if i != j && topology.Covers(q, p) && (p != q || j < i) {
				covered = true
				break
			}
		}
		if !covered {
			kept = append(kept, p)
		}
	}
	var sets [][]string
next:
	for _, p := range kept {
		for i, set := range sets {
			if !slices.ContainsFunc(set, func(q string) bool { return topology.Overlaps(p, q) }) {
				sets[i] = append(set, p)
				continue next
			}
		}
		sets = append(sets, []string{p})
	}
	return sets
}
