// Package history reads every retained change of a counter with where it
// came from, and audits many counters: a pure auditor recounts each value
// from its increments and sources records (ADR-49 "Recounts and Audit").
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/topology"
)

const (
	headerStreamSource = "Nats-Stream-Source"
	headerNumPending   = "Nats-Num-Pending"
)

// HistoryOptions shape a history read.
type HistoryOptions struct {
	// Stream reads at this tier instead of the stream that owns the subject.
	Stream string
	// Since skips messages stored before it (zero: from the start).
	Since time.Time
	// Last keeps only the last N messages (0: all); the read starts near
	// the end instead of reading everything.
	Last int
}

// HistoryInfo describes the retained history of a counter.
type HistoryInfo struct {
	Stream  string
	Subject string
	// Total is how many messages of the counter the stream retains (0 when
	// unknown: a stream without direct get).
	Total uint64
	// First is the first retained message (nil when unknown).
	First *HistoryMsg
	// Shown is how many messages were handed to the caller.
	Shown int
}

// Purged reports whether history older than the first retained message
// was removed (a reset, a purge or a limit): it is not the counter's first
// message (its value is not its delta).
func (h *HistoryInfo) Purged() bool {
	return h.First != nil && !h.First.StartsCounter()
}

// History hands every retained message of subject (a literal) at its
// stream, oldest first, to fn, read through one ordered consumer. With
// opts.Last the messages are handed over once the read is complete.
func History(ctx context.Context, c *counters.Client, subject string, opts HistoryOptions, fn func(HistoryMsg) error) (*HistoryInfo, error) {
	if err := counters.ValidSubject(subject, false); err != nil {
		return nil, err
	}
	if opts.Last < 0 {
		return nil, errkind.Invalidf("--last %d: want a positive number of messages", opts.Last)
	}
	plan, err := c.Resolve(ctx, []string{subject}, opts.Stream)
	if err != nil {
		return nil, err
	}
	if len(plan) != 1 {
		var names []string
		for _, sp := range plan {
			names = append(names, sp.Info.Config.Name)
		}
		return nil, errkind.Invalidf("%s is held by streams %s: choose one with --stream", subject, strings.Join(names, ", "))
	}
	info := plan[0].Info
	stream := info.Config.Name
	origins, err := originNames(ctx, c, info)
	if err != nil {
		return nil, err
	}
	hi := &HistoryInfo{Stream: stream, Subject: subject}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, InactiveThreshold: time.Minute}
	direct := info.Config.AllowDirect
	if direct {
		n, first, err := countFrom(ctx, c, stream, subject, 0)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errkind.NotFoundf("counter %s has no history in stream %s", subject, stream)
		}
		hi.Total = n
		fm := parseHistoryMsg(first.Header.Get(counters.HeaderSubject), seqHeader(first), timeHeader(first), first.Header, first.Data)
		fm.Stream, fm.Origin.Stream = stream, originName(origins, fm.Origin.Key)
		fm.NothingBefore = nothingRemoved(info)
		hi.First = &fm
		if opts.Last > 0 && uint64(opts.Last) < n {
			start, err := nthLast(ctx, c, stream, subject, uint64(opts.Last), fm.Seq, info.State.LastSeq)
			if err != nil {
				return nil, err
			}
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
		}
	}
	if cfg.DeliverPolicy == jetstream.DeliverAllPolicy && !opts.Since.IsZero() {
		since := opts.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	// --last keeps a ring of N: exact even when writes land during the
	// read, and the fallback when the stream has no direct get.
	var ring []HistoryMsg
	next := 0
	deliver := func(m HistoryMsg) error {
		if !opts.Since.IsZero() && m.Time.Before(opts.Since) {
			return nil
		}
		m.Origin.Stream = originName(origins, m.Origin.Key)
		if hi.First == nil && opts.Since.IsZero() {
			first := m
			first.NothingBefore = nothingRemoved(info)
			hi.First = &first
		}
		m.FirstRetained = hi.First != nil && hi.First.Seq == m.Seq
		m.NothingBefore = m.FirstRetained && hi.First.NothingBefore
		if opts.Last == 0 {
			hi.Shown++
			return fn(m)
		}
		if len(ring) < opts.Last {
			ring = append(ring, m)
			return nil
		}
		ring[next] = m
		next = (next + 1) % opts.Last
		return nil
	}
	seen, err := readHistory(ctx, c, stream, cfg, deliver)
	if err != nil {
		return nil, err
	}
	if seen == 0 && !direct && opts.Since.IsZero() {
		return nil, errkind.NotFoundf("counter %s has no history in stream %s", subject, stream)
	}
	if !direct && opts.Since.IsZero() {
		hi.Total = seen // read from the start
	}
	for i := range ring {
		hi.Shown++
		if err := fn(ring[(next+i)%len(ring)]); err != nil {
			return nil, err
		}
	}
	return hi, nil
}

// readHistory delivers a stream's messages through one ordered consumer
// until it has caught up with what was stored when it started; it returns
// how many it read. A stall longer than the client timeout is an error,
// never a shorter history.
func readHistory(ctx context.Context, c *counters.Client, stream string, cfg jetstream.OrderedConsumerConfig, fn func(HistoryMsg) error) (uint64, error) {
	what := "read history from stream " + stream
	rctx, cancel := c.RequestContext(ctx)
	cons, err := c.JetStream().OrderedConsumer(rctx, stream, cfg)
	cancel()
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, errkind.NotFoundf("stream %s not found%s", stream, c.Where())
		}
		return 0, c.Wrap(err, what)
	}
	// Heartbeats well inside the stall timeout: a first pull that a
	// replica never answers (the consumer's interest not yet known where
	// the pull arrives) is then noticed, and the ordered consumer re-made,
	// before the read would be reported as stalled (nats.go's default for
	// ordered consumers, 5 s, is the whole default timeout; the server
	// accepts 0.5 s to 30 s).
	it, err := cons.Messages(jetstream.PullMaxMessages(historyBatch), jetstream.PullHeartbeat(min(max(500*time.Millisecond, c.Timeout()/5), 5*time.Second)))
	if err != nil {
		return 0, c.Wrap(err, what)
	}
	defer func() {
		it.Stop()
		deleteOrdered(c, stream, cons)
	}()
	info := cons.CachedInfo()
	if info == nil {
		ictx, cancel := c.RequestContext(ctx)
		info, err = cons.Info(ictx)
		cancel()
		if err != nil {
			return 0, c.Wrap(err, what)
		}
	}
	want := info.NumPending
	if want == 0 {
		return 0, nil
	}
	// A stall is a wait with no message for a whole client timeout. One
	// self-rearming timer watches a progress counter and stops the
	// iterator: per message only an atomic add, instead of a timer reset
	// or a context per wait (those were a large share of the client CPU
	// of a 100,000-message read). Cancelling ctx stops it too.
	var (
		waiting, stalled atomic.Bool
		progress         atomic.Uint64
		seen             uint64
		watchdog         *time.Timer
	)
	watchdog = time.AfterFunc(c.Timeout(), func() {
		if p := progress.Load(); p != seen || !waiting.Load() {
			seen = p
			watchdog.Reset(c.Timeout())
			return
		}
		stalled.Store(true)
		it.Stop()
	})
	defer watchdog.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	var got uint64
	for {
		waiting.Store(true)
		msg, err := it.Next()
		waiting.Store(false)
		progress.Add(1)
		if err != nil {
			switch {
			case stalled.Load() || errors.Is(err, nats.ErrTimeout):
				return got, fmt.Errorf("%s stalled after %d of %d messages: the result would be incomplete; retry or raise --timeout", what, got, want)
			case ctx.Err() != nil:
				return got, fmt.Errorf("%s interrupted after %d of %d messages: %w", what, got, want, ctx.Err())
			}
			return got, c.Wrap(err, fmt.Sprintf("%s (after %d of %d messages)", what, got, want))
		}
		meta, err := msg.Metadata()
		if err != nil {
			return got, fmt.Errorf("%s: %w", what, err)
		}
		got++
		m := parseHistoryMsg(msg.Subject(), meta.Sequence.Stream, meta.Timestamp, msg.Headers(), msg.Data())
		m.Stream = stream
		if err := fn(m); err != nil {
			return got, err
		}
		if meta.NumPending == 0 {
			return got, nil
		}
	}
}

// historyBatch is how many messages a history read asks for at once.
const historyBatch = 4096

// deleteOrdered removes a finished ordered consumer at once instead of
// leaving it to its inactivity threshold. Best effort.
func deleteOrdered(c *counters.Client, stream string, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || !c.Conn().IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(c.Timeout(), time.Second))
	defer cancel()
	_ = c.JetStream().DeleteConsumer(ctx, stream, info.Name)
}

// parseHistoryMsg reads one stored message. It never fails: what cannot be
// read is recorded in the message (Err, nil Delta) for the audit to report.
func parseHistoryMsg(subject string, seq uint64, ts time.Time, h nats.Header, body []byte) HistoryMsg {
	m := HistoryMsg{
		Seq: seq, Time: ts, Subject: subject,
		MsgID:       h.Get(counters.HeaderMsgID),
		ResetReason: h.Get(counters.HeaderResetReason),
		ResetBy:     h.Get(counters.HeaderResetBy),
		ResetRun:    h.Get(counters.HeaderResetRun),
		Undo:        parseUndo(h),
	}
	if t := h.Get(counters.HeaderResetTotal); t != "" {
		m.ResetTotal, _ = parseIncr(t)
	}
	if v, err := counters.ParseBody(body); err != nil {
		m.Err = err
	} else {
		m.Value = v
	}
	if incr := h.Get(counters.HeaderIncr); incr != "" {
		// The server writes the delta it applied; like the server, accept
		// surrounding spaces and an explicit sign.
		if d, ok := parseIncr(incr); ok {
			m.Delta = d
		}
	}
	if raw := h.Get(counters.HeaderSources); raw != "" {
		src, err := counters.ParseSources(raw)
		if err != nil && m.Err == nil {
			m.Err = err
		}
		m.Sources = src
	}
	if src := h.Get(headerStreamSource); src != "" {
		m.Origin = parseStreamSource(src, subject)
	}
	return m
}

// parseStreamSource reads the Nats-Stream-Source header the server writes
// on a sourced message: "<key> <seq> <filter> <transform> <subject> [<id>]"
// (nats-server genSourceHeader). Like the server, a header without the
// subject means the message kept its subject.
func parseStreamSource(h, subject string) Origin {
	fields := strings.Split(h, " ")
	o := Origin{Key: fields[0], Subject: subject}
	if len(fields) >= 2 {
		o.Seq, _ = strconv.ParseUint(fields[1], 10, 64)
	}
	if len(fields) >= 5 {
		o.Subject = fields[4]
	}
	return o
}

// originName is the name shown for a source key: NAME or NAME@DOMAIN when
// the stream's configuration knows it, else the key itself.
func originName(names map[string]string, key string) string {
	if key == "" {
		return ""
	}
	if n, ok := names[key]; ok {
		return n
	}
	return key
}

// originNames maps each source key of the stream's configuration (as the
// Nats-Counter-Sources record names it) to the source's node ID.
func originNames(ctx context.Context, c *counters.Client, info *jetstream.StreamInfo) (map[string]string, error) {
	names := map[string]string{}
	srcs := info.Config.Sources
	if len(srcs) == 0 {
		return names, nil
	}
	local := ""
	for _, s := range srcs {
		if s.External != nil && s.External.APIPrefix != "" {
			var err error
			if local, err = c.LocalDomain(ctx); err != nil {
				return nil, err
			}
			break
		}
	}
	d := counters.NewDiscovery(local)
	for _, s := range srcs {
		names[topology.SourceKey(topology.Edge{APIPrefix: counters.APIPrefix(s.External)}, s.Name)] = topology.NodeID(s.Name, d.UpstreamDomain("", s.External))
	}
	return names, nil
}

// countFrom returns how many messages of subject the stream holds at or
// after seq, and the first of them (nil when none). One direct get in
// batch form: its first reply carries the count (Nats-Num-Pending).
func countFrom(ctx context.Context, c *counters.Client, stream, subject string, seq uint64) (uint64, *nats.Msg, error) {
	req, _ := json.Marshal(struct {
		Seq     uint64 `json:"seq,omitempty"`
		NextFor string `json:"next_by_subj"`
		Batch   int    `json:"batch"`
	}{seq, subject, 1})
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	msg, err := c.Conn().RequestWithContext(rctx, c.Prefix()+".DIRECT.GET."+stream, req)
	if err != nil {
		return 0, nil, c.Wrap(err, "read history of "+subject+" from stream "+stream)
	}
	switch status := msg.Header.Get("Status"); status {
	case "":
	case "404":
		return 0, nil, nil
	default:
		return 0, nil, fmt.Errorf("read history of %s from stream %s: %s %s", subject, stream, status, msg.Header.Get("Description"))
	}
	pending, err := strconv.ParseUint(msg.Header.Get(headerNumPending), 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("read history of %s from stream %s: no message count in the reply", subject, stream)
	}
	// The server counts the message it sends out of the pending ones.
	return pending + 1, msg, nil
}

// nthLast finds the sequence of the n-th last message of subject by
// bisecting on countFrom: about log2(lastSeq) small requests instead of
// reading the whole history. first is the subject's first sequence.
func nthLast(ctx context.Context, c *counters.Client, stream, subject string, n, first, last uint64) (uint64, error) {
	lo, hi := first, max(last, first)
	for lo <= hi {
		mid := lo + (hi-lo)/2
		count, msg, err := countFrom(ctx, c, stream, subject, mid)
		if err != nil {
			return 0, err
		}
		switch {
		case count == n:
			return seqHeader(msg), nil
		case count > n:
			lo = seqHeader(msg) + 1
		default:
			if mid == 0 {
				return first, nil
			}
			hi = mid - 1
		}
	}
	// Writes moved the end meanwhile: start a little early, the ring of
	// --last keeps exactly the last n.
	return lo, nil
}

func seqHeader(m *nats.Msg) uint64 {
	seq, _ := strconv.ParseUint(m.Header.Get(counters.HeaderSequence), 10, 64)
	return seq
}

func timeHeader(m *nats.Msg) time.Time {
	ts, _ := time.Parse(time.RFC3339Nano, m.Header.Get(counters.HeaderTime))
	return ts
}

// parseIncr parses a stored Nats-Incr value as the server does (big.Int
// SetString base 10, after trimming spaces; "+" allowed).
func parseIncr(s string) (*big.Int, bool) {
	return new(big.Int).SetString(strings.TrimSpace(s), 10)
}
