package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/natsort"
	"github.com/jetcounter/counter/internal/parallel"
	"github.com/jetcounter/counter/internal/topology"
)

// Audit checks (ADR-49 "Recounts and Audit"). Each names what a problem
// breaks; they are part of the --json contract.
const (
	// CheckMessage: a stored message is not a counter message (no value,
	// no Nats-Incr, an unreadable sources record).
	CheckMessage = "message"
	// CheckChain: value = previous value + delta, for consecutive
	// retained messages. A break is what a lost or doubled increment
	// looks like.
	CheckChain = "chain"
	// CheckSourceDelta: a sourced message's delta = the sourced value -
	// the previous sources-record entry for that source and subject.
	CheckSourceDelta = "source-delta"
	// CheckSourcesRecord: the sources record only moves for the source
	// that sent the message (never on a direct increment).
	CheckSourcesRecord = "sources-record"
	// CheckTotal: value = direct increments + the sum of the sources
	// record.
	CheckTotal = "total"
	// CheckUpstream (a warning): a source's last seen value against that
	// source's current value.
	CheckUpstream = "upstream"
	// CheckUndo: an undo (`counter reset --undo`) made on this stream adds
	// back exactly what the reset it names took (when that reset message
	// is retained), and no reset is undone twice.
	CheckUndo = "undo"
)

// maxProblemsPerCounter bounds what one counter keeps: a stream whose
// every message is broken must not hold every message in memory.
const maxProblemsPerCounter = 20

// Origin says where a stored message came from: a direct increment (Key
// ""), or a source stream (Nats-Stream-Source).
type Origin struct {
	// Key is the source as the Nats-Counter-Sources record names it: the
	// stream name, plus ":<hash>" for a source in another domain.
	Key string
	// Stream names the source for people: NAME, or NAME@DOMAIN in another
	// domain (the reader fills it from the stream's sources; else Key).
	Stream string
	// Subject is the upstream subject, before any transform.
	Subject string
	// Seq is the message's sequence in the upstream stream.
	Seq uint64
}

// Direct reports whether the message was an increment made on this stream.
func (o Origin) Direct() bool { return o.Key == "" }

// HistoryMsg is one stored message of a counter.
type HistoryMsg struct {
	Stream  string
	Seq     uint64
	Time    time.Time
	Subject string
	// Value is the counter's value after this message; nil when the body
	// is not a counter value (Err says why).
	Value *big.Int
	// Delta is the Nats-Incr header: what this message added; nil when
	// missing or not a number.
	Delta *big.Int
	// Sources is the Nats-Counter-Sources record; nil when absent.
	Sources counters.Sources
	Origin  Origin
	// MsgID is Nats-Msg-Id; ResetReason and ResetBy are the headers
	// `counter reset` writes on its reset messages.
	MsgID                string
	ResetReason, ResetBy string
	// ResetRun and ResetTotal are the run id and the reset's total so far
	// (the last round carries the whole) on a reset message; "" and nil
	// otherwise, or on a reset made before counter wrote them.
	ResetRun   string
	ResetTotal *big.Int
	// Undo is set on an undo message: the reset it reverses.
	Undo *UndoRef
	// Err: the message could not be read as a counter message.
	Err error
	// FirstRetained: History sets it on the counter's first retained
	// message (when known); StartsCounter says whether older ones were
	// purged.
	FirstRetained bool
	// NothingBefore: the stream never removed a message (its first
	// sequence is 1 and it has no gaps), so a counter's first retained
	// message is its first message, whatever it looks like.
	NothingBefore bool
}

// StartsCounter reports whether m is, or can be, its counter's very first
// message: nothing older was purged.
func (m HistoryMsg) StartsCounter() bool { return looksFirst(m) || m.NothingBefore }

// UnexplainedRecord reports whether m, a counter's first message, carries
// what no first message can: a sources record (or a value) that no source
// message explains. A client can write Nats-Counter-Sources on a counter's
// first message; the server stores it and counts on from it.
func (m HistoryMsg) UnexplainedRecord() bool { return m.NothingBefore && !looksFirst(m) }

// AuditProblem is one thing that does not hold, at the message where it
// first appears.
type AuditProblem struct {
	Seq      uint64
	Check    string
	Message  string
	Expected string
	Found    string
}

// CounterAudit is the result for one counter at one stream.
type CounterAudit struct {
	Subject string
	Stream  string
	// Messages is how many retained messages were checked.
	Messages uint64
	// FirstSeq/FirstTime: where the retained history starts; LastSeq the
	// message holding the current value.
	FirstSeq, LastSeq uint64
	FirstTime         time.Time
	// Complete: the first retained message is the counter's first (its
	// value equals its delta), so the whole history was checked. When
	// false, older messages were purged (a reset or a limit) and the
	// first retained message starts the chain.
	Complete bool
	// Value, Direct and Sources are the current value, what direct
	// increments contributed (Value - Sources.Total()) and the current
	// sources record. Value is nil when the last message was unreadable.
	Value   *big.Int
	Direct  *big.Int
	Sources counters.Sources
	// Problems are errors (the counter does not hold); at most
	// maxProblemsPerCounter, MoreProblems counts the rest. Warnings do
	// not fail an audit.
	Problems     []AuditProblem
	MoreProblems int
	Warnings     []AuditProblem

	// seenSeq is, by source key and upstream subject, the upstream
	// sequence of the last sourced message (Nats-Stream-Source).
	seenSeq map[originKey]uint64
	// Undos are the retained undo messages, direct or sourced, oldest
	// first: each is an increment as far as the chain goes.
	Undos []AuditUndo
}

// originKey names one upstream counter of a sources record.
type originKey struct{ key, subject string }

// OK reports whether every check held.
func (a *CounterAudit) OK() bool { return len(a.Problems) == 0 }

// ProblemCount is the number of problems, kept or not.
func (a *CounterAudit) ProblemCount() int { return len(a.Problems) + a.MoreProblems }

// counterState is what the checker keeps per counter between messages:
// the previous message's value, sources record and direct share. Its size
// depends on the number of sources, never on the number of messages.
type counterState struct {
	audit   CounterAudit
	scratch *big.Int // shared by every counter of an Auditor
	value   *big.Int // nil: no usable previous message (start or resync)
	prevSeq uint64
	sources counters.Sources
	direct  *big.Int
	seenSeq map[originKey]uint64
	// resets maps each retained reset message made on this stream to its
	// reset's total; undone maps a reset's sequence to the undo of it.
	resets map[uint64]*big.Int
	undone map[uint64]uint64
}

// Auditor recounts counters from their retained history, one message at a
// time, in stream order. It is pure: no I/O, no clock.
type Auditor struct {
	stream   string
	counters map[string]*counterState
	scratch  big.Int
}

// NewAuditor starts an audit of counters in stream.
func NewAuditor(stream string) *Auditor {
	return &Auditor{stream: stream, counters: map[string]*counterState{}}
}

// AuditHistory checks a whole message sequence of one stream (any mix of
// subjects, in stream order) and returns one result per counter, sorted by
// subject.
func AuditHistory(stream string, msgs []HistoryMsg) []CounterAudit {
	a := NewAuditor(stream)
	for _, m := range msgs {
		a.Add(m)
	}
	return a.Results()
}

// Results returns one result per counter seen, sorted by subject.
func (a *Auditor) Results() []CounterAudit {
	out := make([]CounterAudit, 0, len(a.counters))
	for _, st := range a.counters {
		res := st.audit
		res.Problems = slices.Clone(res.Problems)
		res.seenSeq = st.seenSeq
		if st.value != nil {
			res.Value = new(big.Int).Set(st.value)
			res.Direct = new(big.Int).Sub(st.value, st.sources.Total())
			res.Sources = st.sources
		}
		if p := st.checkTotal(); p != nil {
			if len(res.Problems) < maxProblemsPerCounter {
				res.Problems = append(res.Problems, *p)
			} else {
				res.MoreProblems++
			}
		}
		out = append(out, res)
	}
	slices.SortFunc(out, func(x, y CounterAudit) int { return natsort.Compare(x.Subject, y.Subject) })
	return out
}

// Add checks the next stored message of the stream.
func (a *Auditor) Add(m HistoryMsg) {
	st := a.counters[m.Subject]
	if st == nil {
		st = &counterState{audit: CounterAudit{Subject: m.Subject, Stream: a.stream, FirstSeq: m.Seq, FirstTime: m.Time}, scratch: &a.scratch}
		a.counters[m.Subject] = st
		// The first retained message starts the chain. When it looks
		// like the counter's first message, it is itself checked against
		// an empty past. When nothing was ever removed it is the first
		// message, and what it holds that no first message can is a
		// finding, not purged history.
		switch {
		case looksFirst(m):
			st.audit.Complete = true
			st.value, st.direct = new(big.Int), new(big.Int)
		case m.UnexplainedRecord() && m.Err == nil && m.Value != nil:
			st.audit.Complete = true
			st.problem(AuditProblem{
				Seq: m.Seq, Check: CheckSourcesRecord,
				Message:  fmt.Sprintf("the counter's first message (nothing was ever removed before it) holds %s with delta %s and sources record %s, which no source message explains: written by another client? Later sourced deltas count from it", m.Value, counters.Signed(m.Delta), sourcesText(m.Sources)),
				Expected: "{}", Found: sourcesText(m.Sources),
			})
		}
	}
	st.audit.Messages++
	st.audit.LastSeq = m.Seq
	if !m.Origin.Direct() && m.Origin.Seq > 0 {
		if st.seenSeq == nil {
			st.seenSeq = map[originKey]uint64{}
		}
		st.seenSeq[originKey{m.Origin.Key, m.Origin.Subject}] = m.Origin.Seq
	}
	st.check(m)
	st.checkUndo(a.stream, m)
	st.prevSeq = m.Seq
}

// looksFirst reports whether m can be a counter's very first message: its
// value is its delta, and its sources record holds nothing but what m
// itself brought. Otherwise older messages were purged (a reset keeps its
// reset message, whose value 0 is not its delta).
func looksFirst(m HistoryMsg) bool {
	if m.Err != nil || m.Value == nil || m.Delta == nil || m.Value.Cmp(m.Delta) != 0 {
		return false
	}
	if m.Origin.Direct() {
		return len(m.Sources) == 0
	}
	return len(m.Sources) == 1 && len(m.Sources[m.Origin.Key]) == 1 && m.Sources.Entry(m.Origin.Key, m.Origin.Subject) != nil &&
		m.Sources.Entry(m.Origin.Key, m.Origin.Subject).Cmp(m.Delta) == 0
}

func (st *counterState) problem(p AuditProblem) {
	if len(st.audit.Problems) >= maxProblemsPerCounter {
		st.audit.MoreProblems++
		return
	}
	st.audit.Problems = append(st.audit.Problems, p)
}

// restart makes m the start of a chain: the first retained message, or
// the first after one whose value or delta is unknown. Its value is taken
// as given, and what is not in its sources record as direct increments.
func (st *counterState) restart(m HistoryMsg) {
	if m.Err != nil || m.Value == nil {
		st.value, st.sources, st.direct = nil, nil, nil
		return
	}
	st.value, st.sources = m.Value, m.Sources
	st.direct = new(big.Int).Sub(m.Value, m.Sources.Total())
}

func (st *counterState) check(m HistoryMsg) {
	switch {
	case m.Err != nil:
		st.problem(AuditProblem{Seq: m.Seq, Check: CheckMessage, Message: m.Err.Error()})
		st.restart(m)
		return
	case m.Delta == nil:
		st.problem(AuditProblem{Seq: m.Seq, Check: CheckMessage, Message: "no valid " + counters.HeaderIncr + " header: the message's delta is unknown"})
		st.restart(m)
		return
	case st.value == nil:
		st.restart(m)
		return
	}
	want := st.scratch.Add(st.value, m.Delta)
	if m.Value.Cmp(want) != 0 {
		st.problem(AuditProblem{
			Seq: m.Seq, Check: CheckChain,
			Message: fmt.Sprintf("value %s is not the previous value %s (seq %s) plus the delta %s: an increment was lost, doubled or deleted",
				m.Value, st.value, st.prevSeqText(), counters.Signed(m.Delta)),
			Expected: want.String(), Found: m.Value.String(),
		})
	}
	if m.Origin.Direct() {
		st.direct.Add(st.direct, m.Delta)
		if moved := recordChanges(st.sources, m.Sources, "", ""); moved != "" {
			st.problem(AuditProblem{
				Seq: m.Seq, Check: CheckSourcesRecord,
				Message:  "the sources record changed on a direct increment (" + moved + "): only a sourced message moves it",
				Expected: sourcesText(st.sources), Found: sourcesText(m.Sources),
			})
		}
	} else {
		key, subj := m.Origin.Key, m.Origin.Subject
		prev := st.sources.Entry(key, subj)
		if prev == nil {
			prev = new(big.Int)
		}
		if cur := m.Sources.Entry(key, subj); cur == nil {
			st.problem(AuditProblem{
				Seq: m.Seq, Check: CheckSourcesRecord,
				Message: fmt.Sprintf("sourced from %s %s, but the sources record has no entry for it", m.Origin.name(), subj),
				Found:   sourcesText(m.Sources),
			})
		} else if wantDelta := new(big.Int).Sub(cur, prev); wantDelta.Cmp(m.Delta) != 0 {
			st.problem(AuditProblem{
				Seq: m.Seq, Check: CheckSourceDelta,
				Message: fmt.Sprintf("delta %s from %s %s is not the sourced value %s minus the value last seen %s",
					counters.Signed(m.Delta), m.Origin.name(), subj, cur, prev),
				Expected: counters.Signed(wantDelta), Found: counters.Signed(m.Delta),
			})
		}
		if moved := recordChanges(st.sources, m.Sources, key, subj); moved != "" {
			st.problem(AuditProblem{
				Seq: m.Seq, Check: CheckSourcesRecord,
				Message:  fmt.Sprintf("the sources record moved for %s on a message from %s %s: only the sending source's entry may move", moved, m.Origin.name(), subj),
				Expected: sourcesText(st.sources), Found: sourcesText(m.Sources),
			})
		}
	}
	// The next message is checked against this one as stored, so that
	// one fault is reported once, where it appears. The direct share is
	// not resynchronised: the total check shows what a fault cost.
	st.value, st.sources = m.Value, m.Sources
}

// checkTotal is check 3, on the current value: it equals the direct
// increments (since the start of the retained history, plus what the first
// retained message held beyond its sources) and the sum of the sources
// record.
func (st *counterState) checkTotal() *AuditProblem {
	if st.value == nil || st.direct == nil {
		return nil
	}
	sum := st.sources.Total()
	if new(big.Int).Sub(st.value, sum).Cmp(st.direct) == 0 {
		return nil
	}
	want := new(big.Int).Add(st.direct, sum)
	return &AuditProblem{
		Seq: st.audit.LastSeq, Check: CheckTotal,
		Message: fmt.Sprintf("the current value %s is not direct increments %s + the sources record %s = %s (off by %s)",
			st.value, st.direct, sum, want, counters.Signed(new(big.Int).Sub(st.value, want))),
		Expected: want.String(), Found: st.value.String(),
	}
}

func (st *counterState) prevSeqText() string {
	if st.prevSeq == 0 {
		return "none"
	}
	return fmt.Sprint(st.prevSeq)
}

func (o Origin) name() string {
	return cmp.Or(o.Stream, o.Key)
}

// recordChanges names the entries that differ between two sources records,
// ignoring (key, subject); "" when none do. A missing entry and 0 differ.
func recordChanges(before, after counters.Sources, key, subject string) string {
	var moved []string
	seen := func(k, s string) bool { return k == key && s == subject }
	for k, subs := range before {
		for s, v := range subs {
			if seen(k, s) {
				continue
			}
			if w := after.Entry(k, s); w == nil || w.Cmp(v) != 0 {
				moved = append(moved, k+" "+s)
			}
		}
	}
	for k, subs := range after {
		for s := range subs {
			if !seen(k, s) && before.Entry(k, s) == nil {
				moved = append(moved, k+" "+s)
			}
		}
	}
	slices.Sort(moved)
	return strings.Join(moved, ", ")
}

// sourcesText renders a record compactly and deterministically.
func sourcesText(s counters.Sources) string {
	if len(s) == 0 {
		return "{}"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		for _, subj := range slices.Sorted(maps.Keys(s[k])) {
			parts = append(parts, k+" "+subj+"="+s[k][subj].String())
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// AuditOptions shape an audit.
type AuditOptions struct {
	// Stream audits at this tier instead of the streams that own the
	// subjects.
	Stream string
}

// AuditReport is the result of Audit.
type AuditReport struct {
	Counters []CounterAudit
	// Streams and Messages are what was read.
	Streams  int
	Messages uint64
	// Unmatched are the patterns that matched no counter.
	Unmatched []string
}

// Problems counts the problems over every counter.
func (r *AuditReport) Problems() int {
	n := 0
	for i := range r.Counters {
		n += r.Counters[i].ProblemCount()
	}
	return n
}

// Warnings counts the warnings over every counter.
func (r *AuditReport) Warnings() int {
	n := 0
	for i := range r.Counters {
		n += len(r.Counters[i].Warnings)
	}
	return n
}

// Audit recounts every counter matching the patterns from its retained
// history: one ordered consumer per stream reads every message once, and
// the checker keeps per counter only the previous message's state. Then
// each aggregate's sources record is compared with the sources' current
// values. errkind.ErrNotFound when no counter matches at all.
func Audit(ctx context.Context, c *counters.Client, patterns []string, opts AuditOptions) (*AuditReport, error) {
	for _, p := range patterns {
		if err := counters.ValidSubject(p, true); err != nil {
			return nil, err
		}
	}
	plan, uncaptured, err := c.ResolvePartial(ctx, patterns, opts.Stream)
	if err != nil {
		return nil, err
	}
	report := &AuditReport{}
	matched := map[string]bool{}
	for _, sp := range plan {
		stream := sp.Info.Config.Name
		origins, err := originNames(ctx, c, sp.Info)
		if err != nil {
			return nil, err
		}
		// One consumer per stream, unless patterns overlap in part (the
		// server refuses such filters together): then one per filter
		// set, and a counter two sets share is kept once.
		var results []CounterAudit
		sets := counters.ConsumerFilters(sp.Patterns)
		var seen map[string]bool
		if len(sets) > 1 {
			seen = map[string]bool{}
		}
		for _, filters := range sets {
			auditor := NewAuditor(stream)
			n, err := readHistory(ctx, c, stream, jetstream.OrderedConsumerConfig{
				FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy, InactiveThreshold: time.Minute,
			}, func(m HistoryMsg) error {
				m.Origin.Stream = originName(origins, m.Origin.Key)
				m.NothingBefore = nothingRemoved(sp.Info)
				auditor.Add(m)
				return nil
			})
			if err != nil {
				return nil, err
			}
			report.Messages += n
			if seen == nil {
				// One read: its results as they are (a million counters
				// are copied no more than they must be).
				results = auditor.Results()
				continue
			}
			for _, r := range auditor.Results() {
				if !seen[r.Subject] {
					seen[r.Subject] = true
					results = append(results, r)
				}
			}
		}
		report.Streams++
		checkUpstreams(ctx, c, sp.Info, origins, results)
		for _, r := range results {
			sp.Matched(r.Subject, matched)
		}
		if report.Counters == nil {
			report.Counters = results
		} else {
			report.Counters = append(report.Counters, results...)
		}
	}
	// Each stream's results are in natural order already: one stream's
	// need no second sort.
	byName := func(x, y CounterAudit) int {
		return cmp.Or(natsort.Compare(x.Subject, y.Subject), strings.Compare(x.Stream, y.Stream))
	}
	if !slices.IsSortedFunc(report.Counters, byName) {
		slices.SortFunc(report.Counters, byName)
	}
	for _, p := range patterns {
		if !matched[p] && !slices.Contains(report.Unmatched, p) {
			report.Unmatched = append(report.Unmatched, p)
		}
	}
	if len(report.Counters) == 0 {
		return report, counters.NotFound(slices.DeleteFunc(slices.Clone(report.Unmatched), func(p string) bool { return slices.Contains(uncaptured, p) }), uncaptured, plan)
	}
	return report, nil
}

// upstream is one configured source of an audited aggregate.
type upstream struct {
	name, label string // stream name, domain label
	id          string // node ID
	lag         uint64
	src         *jetstream.StreamSource
	info        *jetstream.StreamInfo
	err         error // looking the stream up (or reading it) failed
	// values holds the last value of every counter the source carries,
	// when many counters are checked against it (read at once).
	values map[string]counters.Counter
}

// bulkUpstreamAfter is how many counters of one source are checked with a
// request each; beyond it the source's counters are read in one pass.
const bulkUpstreamAfter = 256

// checkUpstreams compares each entry of each counter's sources record with
// the source's current value (ADR-49: an aggregate that lags shows an
// older value; a source that is gone keeps its last value counted). Only
// warnings: a busy source is normally a little ahead.
func checkUpstreams(ctx context.Context, c *counters.Client, info *jetstream.StreamInfo, origins map[string]string, results []CounterAudit) {
	type job struct {
		counter   int
		key, subj string
		up        *upstream
		lastSeen  *big.Int
		warn      *AuditProblem
	}
	ups := map[string]*upstream{}
	for _, s := range info.Config.Sources {
		key := topology.SourceKey(topology.Edge{APIPrefix: counters.APIPrefix(s.External)}, s.Name)
		id := origins[key]
		_, label, _ := strings.Cut(id, "@")
		u := &upstream{name: s.Name, label: label, id: id, src: s}
		for _, live := range info.Sources {
			if live != nil && live.Name == s.Name && counters.APIPrefix(live.External) == counters.APIPrefix(s.External) {
				u.lag = live.Lag
			}
		}
		ups[key] = u
	}
	var jobs []*job
	for i := range results {
		r := &results[i]
		for _, key := range slices.Sorted(maps.Keys(r.Sources)) {
			for _, subj := range slices.Sorted(maps.Keys(r.Sources[key])) {
				jobs = append(jobs, &job{counter: i, key: key, subj: subj, up: ups[key], lastSeen: r.Sources[key][subj]})
			}
		}
		// A source whose counter never arrived here has no entry at all:
		// look for it where the source's mapping says it lives (a
		// source can skip its backlog and only deliver its next change).
		for _, key := range slices.Sorted(maps.Keys(ups)) {
			for _, down := range counters.ConfigEdge(ups[key].src).MapDown(r.Subject) {
				if counters.IsLiteral(down) && r.Sources.Entry(key, down) == nil {
					jobs = append(jobs, &job{counter: i, key: key, subj: down, up: ups[key]})
				}
			}
		}
	}
	if len(jobs) == 0 {
		return
	}
	perKey := map[string]int{}
	for _, j := range jobs {
		perKey[j.key]++
	}
	// Each source stream is looked up once; one checked for many counters
	// is read in one pass instead of a request per counter.
	for key, u := range ups {
		if perKey[key] == 0 {
			continue
		}
		dc, err := c.InDomain(u.label)
		if err == nil {
			u.info, err = dc.StreamInfo(ctx, u.name)
		}
		if err == nil && perKey[key] > bulkUpstreamAfter {
			u.values = map[string]counters.Counter{}
			for _, filters := range counters.ConsumerFilters(sourceFilters(u.src)) {
				err = dc.ReadLast(ctx, u.name, filters, func(ctr counters.Counter) error {
					u.values[ctr.Subject] = ctr
					return nil
				})
				if err != nil {
					break
				}
			}
		}
		u.err = err
	}
	parallel.Do(ctx, len(jobs), func(i int) {
		j := jobs[i]
		j.warn = upstreamWarning(ctx, c, j.key, j.subj, j.up, j.lastSeen, results[j.counter].seenSeq[originKey{j.key, j.subj}], info.Config.Name)
	}, func(int) {})
	for _, j := range jobs {
		if j.warn != nil {
			results[j.counter].Warnings = append(results[j.counter].Warnings, *j.warn)
		}
	}
}

func upstreamWarning(ctx context.Context, c *counters.Client, key, subj string, u *upstream, lastSeen *big.Int, seenSeq uint64, stream string) *AuditProblem {
	warn := func(format string, args ...any) *AuditProblem {
		return &AuditProblem{Check: CheckUpstream, Message: fmt.Sprintf(format, args...)}
	}
	unseen := lastSeen == nil
	switch {
	case unseen && (u == nil || u.err != nil):
		return nil // what is wrong with the source is said for what it sent
	case u == nil:
		return warn("%s is no longer a source of %s: the %s it last sent for %s stays counted", key, stream, lastSeen, subj)
	case errors.Is(u.err, errkind.ErrNotFound):
		return warn("source %s no longer exists: the %s it last sent for %s stays counted", u.id, lastSeen, subj)
	case u.err != nil:
		return warn("source %s could not be read: %v", u.id, u.err)
	}
	dc, err := c.InDomain(u.label)
	if err != nil {
		return warn("source %s could not be read: %v", u.id, err)
	}
	var (
		cur    *big.Int
		curSeq uint64
	)
	if u.values != nil {
		if ctr, ok := u.values[subj]; ok {
			cur, curSeq = ctr.Value, ctr.Seq
		}
	} else if u.info.Config.AllowDirect || u.info.Config.MirrorDirect {
		ctr, err := dc.ReadOne(ctx, u.name, subj, counters.ReadLeader)
		if err != nil && !errors.Is(err, errkind.ErrNotFound) {
			return warn("source %s %s could not be read: %v", u.id, subj, err)
		}
		if ctr != nil {
			cur, curSeq = ctr.Value, ctr.Seq
		}
	} else {
		err := dc.ReadLast(ctx, u.name, []string{subj}, func(ctr counters.Counter) error {
			cur, curSeq = ctr.Value, ctr.Seq
			return nil
		})
		if err != nil {
			return warn("source %s %s could not be read: %v", u.id, subj, err)
		}
	}
	if unseen {
		if cur == nil || cur.Sign() == 0 {
			return nil
		}
		p := warn("behind: source %s %s is %s and never arrived here: the total lacks it until the source's next change of it (the source reports a lag of %d messages)", u.id, subj, cur, u.lag)
		p.Expected, p.Found = cur.String(), "none"
		return p
	}
	if cur == nil && lastSeen.Sign() == 0 {
		return nil // reset, then purged with its reset message: both 0
	}
	if cur == nil {
		return warn("source %s has no value for %s any more (purged): the %s last seen stays counted until it is next incremented", u.id, subj, lastSeen)
	}
	if cur.Cmp(lastSeen) == 0 {
		return nil
	}
	if seenSeq > 0 && curSeq > 0 && curSeq < seenSeq {
		// The message this stream last saw is gone upstream: the source's
		// counter rolled back, and deletes never flow through sources.
		p := warn("deleted: source %s %s is %s (seq %d), but the message %s last saw from it (seq %d, value %s) was deleted there: %s keeps %s until the source's next change of it",
			u.id, subj, cur, curSeq, stream, seenSeq, lastSeen, stream, lastSeen)
		p.Expected, p.Found = cur.String(), lastSeen.String()
		return p
	}
	p := warn("behind: source %s %s is %s, last seen %s (by %s; the source reports a lag of %d messages)",
		u.id, subj, cur, lastSeen, counters.Signed(new(big.Int).Sub(cur, lastSeen)), u.lag)
	p.Expected, p.Found = cur.String(), lastSeen.String()
	return p
}

// sourceFilters are the upstream subjects a source carries.
func sourceFilters(s *jetstream.StreamSource) []string {
	if s.FilterSubject != "" {
		return []string{s.FilterSubject}
	}
	var out []string
	for _, t := range s.SubjectTransforms {
		out = append(out, cmp.Or(t.Source, ">"))
	}
	if len(out) == 0 {
		return []string{">"}
	}
	return out
}

// nothingRemoved reports whether the stream never removed a message: its
// first sequence is 1 and it has no gaps, so every counter's first
// retained message is its first message.
func nothingRemoved(info *jetstream.StreamInfo) bool {
	return info.State.FirstSeq <= 1 && info.State.NumDeleted == 0
}
