// Package watch streams counter updates through ordered consumers (last
// per subject, then every change), surviving reconnects and recreated
// streams; it reports events and never prints.
package watch

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Update is one stored counter message seen by a watch.
type Update struct {
	Subject string
	Stream  string
	Value   *big.Int
	Seq     uint64
	Time    time.Time // when the server stored it
}

// WatchEventKind says what a WatchEvent reports.
type WatchEventKind int

const (
	// WatchUpdate carries a counter value in Update.
	WatchUpdate WatchEventKind = iota
	// WatchSynced: every counter of Stream that existed when its consumer
	// started has been delivered (sent again after each resume).
	WatchSynced
	// WatchDisconnected: the connection to the server was lost; Err says why.
	WatchDisconnected
	// WatchReconnected: the connection is back; the streams resume next.
	WatchReconnected
	// WatchResumed: Stream delivers again, from the last value of every
	// counter, so nothing that changed while away is lost.
	WatchResumed
	// WatchProblem: Stream cannot be watched right now (Err); the watch
	// keeps retrying.
	WatchProblem
	// WatchClosed: the connection is closed for good; no more events.
	WatchClosed
)

// WatchEvent is one thing a watch reports, in the order it happened.
type WatchEvent struct {
	Kind   WatchEventKind
	Update Update
	Stream string
	Err    error
}

// WatchOptions shape a watch.
type WatchOptions struct {
	// Stream watches this stream (tier) instead of the streams that own
	// the subjects.
	Stream string
	// Buffer is the capacity of the event channel (default 4096). A reader
	// that falls behind slows delivery down; nothing is dropped.
	Buffer int
}

// Watch follows counters as the server pushes them: one ordered consumer
// per stream, delivering the last value of every matching counter, then
// every new one.
type Watch struct {
	c       *counters.Client
	events  chan WatchEvent
	streams []*watchedStream
	done    chan struct{}
	stop    sync.Once
	wg      sync.WaitGroup
	resync  chan struct{}
}

type watchedStream struct {
	name    string
	filters []string
	// gen identifies the current consumer; messages of a replaced one are
	// dropped.
	gen    atomic.Uint64
	mu     sync.Mutex
	cc     jetstream.ConsumeContext
	cons   jetstream.Consumer
	synced atomic.Uint64 // gen that already reported WatchSynced
	broken atomic.Bool   // needs a new consumer
}

// resumeBackoff bounds how often a stream that cannot be watched is tried
// again.
const (
	resumeFirstRetry = 250 * time.Millisecond
	resumeMaxRetry   = 5 * time.Second
)

// Watch resolves the patterns to streams like Get does and starts following
// them. Patterns that match no counter yet are fine: their counters appear
// when they are first incremented. The connection should reconnect
// (MaxReconnects -1): the watch installs its disconnect, reconnect and
// closed handlers on it, and after a reconnect every stream resumes from the
// last value of each counter (which also survives a server whose memory
// streams were lost and recreated). Stop ends it.
func Start(ctx context.Context, c *counters.Client, patterns []string, opts WatchOptions) (*Watch, error) {
	for _, p := range patterns {
		if err := counters.ValidSubject(p, true); err != nil {
			return nil, err
		}
	}
	plan, err := c.Resolve(ctx, patterns, opts.Stream)
	if err != nil {
		return nil, err
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 4096
	}
	w := &Watch{
		c:      c,
		events: make(chan WatchEvent, opts.Buffer),
		done:   make(chan struct{}),
		resync: make(chan struct{}, 1),
	}
	for _, sp := range plan {
		filters, err := watchFilters(sp.Patterns)
		if err != nil {
			return nil, err
		}
		w.streams = append(w.streams, &watchedStream{name: sp.Info.Config.Name, filters: filters})
	}
	// Handlers first, so that no connection change goes unnoticed.
	c.Conn().SetDisconnectErrHandler(func(_ *nats.Conn, err error) {
		w.emit(WatchEvent{Kind: WatchDisconnected, Err: err})
	})
	c.Conn().SetReconnectHandler(func(*nats.Conn) {
		w.emit(WatchEvent{Kind: WatchReconnected})
		for _, ws := range w.streams {
			ws.broken.Store(true)
		}
		w.kick()
	})
	c.Conn().SetClosedHandler(func(nc *nats.Conn) {
		why := ""
		if err := nc.LastError(); err != nil {
			why = " (" + err.Error() + ")"
		}
		w.emit(WatchEvent{Kind: WatchClosed, Err: errkind.Unavailablef("watch: the connection to the server was closed%s: check the server and credentials, then watch again", why)})
	})
	for _, ws := range w.streams {
		if err := w.start(ctx, ws, false); err != nil {
			w.Stop()
			return nil, err
		}
	}
	w.wg.Add(1)
	go w.supervise()
	return w, nil
}

// Events delivers updates and connection changes in order. It is never
// closed: stop reading once Stop is called.
func (w *Watch) Events() <-chan WatchEvent { return w.events }

// Streams lists the watched streams.
func (w *Watch) Streams() []string {
	out := make([]string, len(w.streams))
	for i, ws := range w.streams {
		out[i] = ws.name
	}
	return out
}

// Stop ends the watch and its consumers; it does not close the connection.
func (w *Watch) Stop() {
	w.stop.Do(func() {
		close(w.done)
		var deletes sync.WaitGroup
		for _, ws := range w.streams {
			ws.gen.Add(1)
			ws.mu.Lock()
			if ws.cc != nil {
				ws.cc.Stop()
			}
			if cons := ws.cons; cons != nil {
				deletes.Go(func() { w.deleteConsumer(ws.name, cons) })
			}
			ws.mu.Unlock()
		}
		w.wg.Wait()
		deletes.Wait()
	})
}

// emit hands an event to the reader, waiting while its buffer is full so
// that nothing is dropped; it gives up once the watch is stopped.
func (w *Watch) emit(ev WatchEvent) bool {
	select {
	case w.events <- ev:
		return true
	case <-w.done:
		return false
	}
}

func (w *Watch) kick() {
	select {
	case w.resync <- struct{}{}:
	default:
	}
}

// start replaces the stream's consumer by a new one that delivers the last
// value of every counter, then live updates. resume reports WatchResumed
// before the first of those.
func (w *Watch) start(ctx context.Context, ws *watchedStream, resume bool) error {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	gen := ws.gen.Add(1)
	if ws.cc != nil {
		ws.cc.Stop()
		ws.cc = nil
		go w.deleteConsumer(ws.name, ws.cons)
	}
	rctx, cancel := w.c.RequestContext(ctx)
	defer cancel()
	cons, err := w.c.JetStream().OrderedConsumer(rctx, ws.name, jetstream.OrderedConsumerConfig{
		FilterSubjects: ws.filters,
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
		// One attempt, then the supervisor takes over: it retries
		// forever too, but says so.
		MaxResetAttempts: 1,
		// Consumers a killed watch leaves behind go soon; a live one
		// keeps pulling, so it is never inactive that long.
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return errkind.NotFoundf("stream %s not found%s", ws.name, w.c.Where())
		}
		return w.c.Wrap(err, "watch stream "+ws.name)
	}
	if resume {
		w.emit(WatchEvent{Kind: WatchResumed, Stream: ws.name})
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { w.deliver(ws, gen, msg) },
		jetstream.PullMaxMessages(2048),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) { w.consumeError(ws, gen, err) }),
	)
	if err != nil {
		return w.c.Wrap(err, "watch stream "+ws.name)
	}
	ws.cc, ws.cons = cc, cons
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		w.synced(ws, gen)
	}
	return nil
}

// deleteConsumer removes a consumer the watch no longer uses, so that
// none lingers until its inactivity threshold. Best effort: quick, and
// skipped while disconnected.
func (w *Watch) deleteConsumer(stream string, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || !w.c.Conn().IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(w.c.Timeout(), time.Second))
	defer cancel()
	_ = w.c.JetStream().DeleteConsumer(ctx, stream, info.Name)
}

func (w *Watch) deliver(ws *watchedStream, gen uint64, msg jetstream.Msg) {
	if ws.gen.Load() != gen {
		return
	}
	meta, err := msg.Metadata()
	if err != nil {
		return
	}
	v, err := counters.ParseBody(msg.Data())
	if err != nil {
		// Not a counter message (a stray publish on a counter stream is
		// rejected by the server, so this is a broken stream): say so once
		// per message and go on with the others.
		w.emit(WatchEvent{Kind: WatchProblem, Stream: ws.name, Err: errors.New(msg.Subject() + " in stream " + ws.name + ": " + err.Error())})
		return
	}
	w.emit(WatchEvent{Kind: WatchUpdate, Update: Update{
		Subject: msg.Subject(), Stream: ws.name, Value: v, Seq: meta.Sequence.Stream, Time: meta.Timestamp,
	}})
	if meta.NumPending == 0 {
		w.synced(ws, gen)
	}
}

func (w *Watch) synced(ws *watchedStream, gen uint64) {
	for {
		old := ws.synced.Load()
		if old >= gen {
			return
		}
		if ws.synced.CompareAndSwap(old, gen) {
			w.emit(WatchEvent{Kind: WatchSynced, Stream: ws.name})
			return
		}
	}
}

// consumeError handles what the ordered consumer cannot recover from by
// itself: its consumer could not be recreated (stream deleted, or lost with
// a memory store). Heartbeat and reconnect errors it recovers from alone.
func (w *Watch) consumeError(ws *watchedStream, gen uint64, err error) {
	if ws.gen.Load() != gen || w.c.Conn().IsReconnecting() {
		return
	}
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		strings.Contains(err.Error(), "stream not found"):
		ws.broken.Store(true)
		w.kick()
	case errors.Is(err, jetstream.ErrNoHeartbeat) && w.c.Conn().IsConnected():
		// Connected yet silent: the library re-subscribes by itself, but
		// the values shown may be stale meanwhile, so say so.
		w.emit(WatchEvent{Kind: WatchProblem, Stream: ws.name, Err: fmt.Errorf("stream %s: no heartbeat from the server", ws.name)})
	}
}

// supervise recreates the consumers of broken streams (after a reconnect, or
// a stream lost and recreated), retrying with backoff until it works.
func (w *Watch) supervise() {
	defer w.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	retry := resumeFirstRetry
	var timer <-chan time.Time
	for {
		select {
		case <-w.done:
			return
		case <-w.resync:
		case <-timer:
		}
		timer = nil
		if !w.c.Conn().IsConnected() {
			continue // the reconnect handler kicks again
		}
		failed := false
		for _, ws := range w.streams {
			if !ws.broken.Load() {
				continue
			}
			ws.broken.Store(false)
			if err := w.start(ctx, ws, true); err != nil {
				if ctx.Err() != nil {
					return
				}
				ws.broken.Store(true)
				failed = true
				w.emit(WatchEvent{Kind: WatchProblem, Stream: ws.name, Err: err})
			}
		}
		if failed {
			timer = time.After(retry)
			retry = min(retry*2, resumeMaxRetry)
		} else {
			retry = resumeFirstRetry
		}
	}
}

// watchFilters gives one consumer's filters for patterns: those another
// pattern covers are dropped (the server rejects overlapping filters), and
// patterns that overlap only in part are refused (one ordered consumer per
// stream follows them).
func watchFilters(patterns []string) ([]string, error) {
	sets := counters.ConsumerFilters(patterns)
	switch len(sets) {
	case 0:
		return nil, nil
	case 1:
		return sets[0], nil
	}
	return nil, errkind.Invalidf("patterns %s and %s overlap in part: watch one pattern that covers both, or patterns that do not overlap", strings.Join(sets[0], " "), strings.Join(sets[1], " "))
}
