package history

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/parallel"
	"github.com/jetcounter/counter/internal/topology"
)

// Why a counter has no value at a past moment (PastCounter.Missing).
const (
	// MissingPurged: no retained message of the counter is at or before
	// the moment, and older ones were removed (a reset's purge, a
	// --history limit): its value then is not known.
	MissingPurged = "purged"
	// MissingNotYet: the counter's first message is after the moment: it
	// did not exist yet (known only where nothing was ever removed).
	MissingNotYet = "not-yet"
	// MissingGap: messages right after the last one at or before the
	// moment were removed (a deleted message): that one may not be the
	// value at the moment, so none is given.
	MissingGap = "gap"
)

// PastCounter is a counter's value at a past moment: Counter is the last
// retained message at or before it (Seq and Updated say which). Without
// one, Value is nil, Missing says why, and FirstSeq/FirstTime are where the
// counter's retained history starts.
type PastCounter struct {
	counters.Counter
	Missing   string
	FirstSeq  uint64
	FirstTime time.Time
}

// AtOptions shape a read of the past.
type AtOptions struct {
	// Stream reads at this tier instead of the stream that owns each
	// subject.
	Stream string
}

// maxAtLiterals is how many changed counters a read of the past names one
// by one in its consumer's filters; beyond it, it reads the patterns.
const maxAtLiterals = 256

// ValuesAt returns, for every counter matching the patterns, its value at
// the moment at: the last retained message at or before it. A counter
// without one is returned with Missing set, except that a wildcard leaves
// out counters that certainly did not exist yet. Patterns that match no
// counter are reported with an errkind.ErrNotFound error alongside the
// rest, as a plain read does.
//
// Per stream: one consumer lists the last message of every counter (as a
// plain read); a counter not changed since at is answered by it. The
// retained history of the others is read once through one ordered
// consumer, which gives each one's last message at or before at and checks
// it against the first one after (value = its value minus its delta): a
// message removed in between, by a purge racing with the read or a delete,
// is never papered over.
func ValuesAt(ctx context.Context, c *counters.Client, patterns []string, at time.Time, opts AtOptions) ([]PastCounter, error) {
	for _, p := range patterns {
		if err := counters.ValidSubject(p, true); err != nil {
			return nil, err
		}
	}
	plan, uncaptured, err := c.ResolvePartial(ctx, patterns, opts.Stream)
	if err != nil {
		return nil, err
	}
	var (
		out     []PastCounter
		matched = map[string]bool{}
	)
	for _, sp := range plan {
		found, err := valuesAt(ctx, c, sp.Info.Config.Name, sp.Patterns, at)
		if err != nil {
			return nil, err
		}
		for _, pc := range found {
			for _, p := range sp.Patterns {
				if topology.Covers(p, pc.Subject) {
					matched[p] = true
				}
			}
		}
		out = append(out, found...)
	}
	slices.SortFunc(out, func(a, b PastCounter) int {
		return cmp.Or(strings.Compare(a.Subject, b.Subject), strings.Compare(a.Stream, b.Stream))
	})
	var missing []string
	for _, p := range patterns {
		if !matched[p] && !slices.Contains(uncaptured, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 || len(uncaptured) > 0 {
		return out, counters.NotFound(missing, uncaptured, plan)
	}
	return out, nil
}

// pastScan is what the read of one counter's retained history found.
type pastScan struct {
	// first retained; last at or before at; first after at (each kept by
	// value: a pointer to the read's message would allocate every one).
	first, last, after          HistoryMsg
	hasFirst, hasLast, hasAfter bool
}

// valuesAt reads the past of the counters matching patterns in one stream.
//
// Where the matched counters retain at most two messages each on average
// (typical after resets, or with --history), their retained history is
// read in one pass. Otherwise a plain read lists the counters first, and
// only the history of those changed since at is read.
//
// The read ends at the first message after the moment, when no message of
// the stream was removed while it ran (its message count and last
// sequence before and after agree): a purge or a limit removes a counter's
// oldest messages, so its last retained one at or before the moment is its
// value then. Otherwise (limits or resets at work meanwhile) the read goes
// on to each counter's next message after the moment and checks that the
// value read is that message's value minus its delta.
func valuesAt(ctx context.Context, c *counters.Client, stream string, patterns []string, at time.Time) ([]PastCounter, error) {
	filters := counters.ConsumerFilters(patterns)
	rc, err := retainedCounts(ctx, c, stream, filters)
	if err != nil {
		return nil, err
	}
	var (
		out   []PastCounter
		exist []string // the counters to answer for (all: nil and pristine)
	)
	if rc.msgs <= 2*rc.subjects {
		exist = rc.names
		if exist != nil && len(exist) == 0 {
			return nil, nil // nothing matches
		}
	} else {
		seen := map[string]bool{}
		for _, set := range filters {
			err := c.ReadLast(ctx, stream, set, func(ctr counters.Counter) error {
				if seen[ctr.Subject] {
					return nil
				}
				seen[ctr.Subject] = true
				if ctr.Updated.After(at) {
					exist = append(exist, ctr.Subject)
				} else {
					out = append(out, PastCounter{Counter: ctr})
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		if len(exist) == 0 {
			return out, nil
		}
	}
	read := exist
	if len(exist) > maxAtLiterals {
		read = nil // through the patterns; only exist count
	}

	// Up to the moment, if nothing was removed meanwhile.
	scans, err := scanPast(ctx, c, stream, read, filters, at, true)
	if err != nil {
		return nil, err
	}
	after, err := c.StreamInfo(ctx, stream)
	if err != nil {
		return nil, err
	}
	if removedBetween(rc.state, after.State) == 0 {
		lost := !neverLost(after.State)
		past, err := answersUpTo(ctx, c, stream, exist, rc.names == nil, scans, lost)
		if err != nil {
			return nil, err
		}
		out = append(out, past...)
		if !lost {
			// A literal pattern without a value did not exist yet: say so
			// with its first message (one without any is not found).
			notYet, err := firstAfter(ctx, c, stream, patterns, out)
			if err != nil {
				return nil, err
			}
			out = append(out, notYet...)
		}
		return out, nil
	}
	past, err := answersChecked(ctx, c, stream, patterns, read, exist, filters, at)
	if err != nil {
		return nil, err
	}
	return append(out, past...), nil
}

// removedBetween is how many messages the stream lost between two states
// of it: every sequence given out is a message stored.
func removedBetween(before, after jetstream.StreamState) int64 {
	return int64(before.Msgs) + int64(after.LastSeq-before.LastSeq) - int64(after.Msgs)
}

// answersUpTo turns a read that ended at the moment into answers. A counter
// without a message at or before the moment did not exist yet when the
// stream never lost a message (a wildcard leaves it out); otherwise its
// retained history starts later, and where is looked up.
func answersUpTo(ctx context.Context, c *counters.Client, stream string, exist []string, all bool, scans map[string]*pastScan, lost bool) ([]PastCounter, error) {
	var out, missing []PastCounter
	subjects := exist
	if all {
		subjects = slices.Sorted(maps.Keys(scans))
	}
	for _, subj := range subjects {
		sc := scans[subj]
		if sc == nil || !sc.hasLast {
			missing = append(missing, PastCounter{Counter: counters.Counter{Subject: subj, Stream: stream}})
			continue
		}
		out = append(out, PastCounter{Counter: counters.Counter{
			Subject: subj, Stream: stream, Value: sc.last.Value, Seq: sc.last.Seq, Updated: sc.last.Time, Sources: sc.last.Sources,
		}})
	}
	if !lost {
		return out, nil // did not exist yet (the caller asks about literals)
	}
	var firstErr error
	var mu sync.Mutex
	parallel.Do(ctx, len(missing), func(i int) {
		n, first, err := countFrom(ctx, c, stream, missing[i].Subject, 0)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			firstErr = cmp.Or(firstErr, err)
		case n > 0:
			missing[i].Missing, missing[i].FirstSeq, missing[i].FirstTime = MissingPurged, seqHeader(first), timeHeader(first)
		}
	}, func(int) {})
	if firstErr == nil && ctx.Err() != nil {
		firstErr = c.Wrap(ctx.Err(), "read first messages from stream "+stream)
	}
	for _, m := range missing {
		if m.Missing != "" {
			out = append(out, m)
		}
	}
	return out, firstErr
}

// answersChecked reads the counters' history on past the moment, to each
// one's next message, and gives a value only where that message follows
// the one at or before the moment (a removal racing with the read, or a
// deleted message, would otherwise be papered over).
func answersChecked(ctx context.Context, c *counters.Client, stream string, patterns, read, exist []string, filters [][]string, at time.Time) ([]PastCounter, error) {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		scans, err := scanPast(ctx, c, stream, read, filters, at, false)
		if err != nil {
			return nil, err
		}
		info, err := c.StreamInfo(ctx, stream)
		if err != nil {
			return nil, err
		}
		lost := !neverLost(info.State)
		var past []PastCounter
		gaps := 0
		subjects := exist
		if exist == nil {
			subjects = slices.Sorted(maps.Keys(scans))
		}
		for _, subj := range subjects {
			sc := scans[subj]
			if sc == nil || !sc.hasFirst {
				continue // purged whole while reading: no retained history
			}
			pc := PastCounter{Counter: counters.Counter{Subject: subj, Stream: stream}}
			switch {
			case sc.hasLast && (sc.last.Value == nil || (sc.hasAfter && !adjacent(&sc.last, &sc.after))):
				pc.Missing, pc.Seq, pc.Updated = MissingGap, sc.last.Seq, sc.last.Time
				gaps++
			case sc.hasLast:
				pc.Value, pc.Seq, pc.Updated, pc.Sources = sc.last.Value, sc.last.Seq, sc.last.Time, sc.last.Sources
			default:
				pc.Missing = MissingPurged
				if !lost && sc.first.StartsCounter() {
					if !slices.Contains(patterns, subj) {
						continue // did not exist yet: a wildcard does not list it
					}
					pc.Missing = MissingNotYet
				}
			}
			if pc.Value == nil {
				pc.FirstSeq, pc.FirstTime = sc.first.Seq, sc.first.Time
			}
			past = append(past, pc)
		}
		if gaps == 0 || attempt == attempts {
			return past, nil
		}
		// A purge racing with the read looks like a gap: read again.
	}
}

// firstAfter finds, for each literal pattern without an answer in have, its
// first message: it did not exist yet at the moment (the caller knows the
// stream never lost a message). One without a message is left out.
func firstAfter(ctx context.Context, c *counters.Client, stream string, patterns []string, have []PastCounter) ([]PastCounter, error) {
	var out []PastCounter
	for _, p := range patterns {
		if !counters.IsLiteral(p) || slices.ContainsFunc(have, func(pc PastCounter) bool { return pc.Subject == p }) {
			continue
		}
		n, first, err := countFrom(ctx, c, stream, p, 0)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		out = append(out, PastCounter{
			Counter: counters.Counter{Subject: p, Stream: stream}, Missing: MissingNotYet,
			FirstSeq: seqHeader(first), FirstTime: timeHeader(first),
		})
	}
	return out, nil
}

// retained is what a stream holds of the counters a read matches.
type retained struct {
	msgs, subjects uint64
	// names are the counters, sorted; nil when the stream never lost a
	// message and a pattern covers it whole (its state has the counts).
	names []string
	state jetstream.StreamState
}

// retainedCounts is how many messages the stream retains of the counters
// matching filters, and how many counters that is: from the stream's state
// when it never lost a message and a filter covers every subject of it,
// else from stream info with a subjects filter (one request per pattern,
// paged by the client library).
func retainedCounts(ctx context.Context, c *counters.Client, stream string, filters [][]string) (retained, error) {
	s, err := c.Stream(ctx, stream)
	if err != nil {
		return retained{}, err
	}
	info := s.CachedInfo()
	r := retained{state: info.State}
	if neverLost(info.State) && len(info.Config.Subjects) > 0 {
		for _, set := range filters {
			for _, f := range set {
				if !slices.ContainsFunc(info.Config.Subjects, func(sub string) bool { return !topology.Covers(f, sub) }) {
					r.msgs, r.subjects = info.State.Msgs, uint64(info.State.NumSubjects)
					return r, nil
				}
			}
		}
	}
	counts := map[string]uint64{}
	for _, set := range filters {
		for _, f := range set {
			rctx, cancel := c.RequestContext(ctx)
			info, err := s.Info(rctx, jetstream.WithSubjectFilter(f))
			cancel()
			if err != nil {
				return retained{}, c.Wrap(err, "count the messages of "+f+" in stream "+stream)
			}
			maps.Copy(counts, info.State.Subjects)
		}
	}
	for _, n := range counts {
		r.msgs += n
	}
	r.subjects, r.names = uint64(len(counts)), slices.Sorted(maps.Keys(counts))
	if r.names == nil {
		r.names = []string{}
	}
	return r, nil
}

// neverLost reports whether a stream has never lost a message (no purge,
// no limit, no delete): its first sequence is 1 and nothing is missing
// after it.
func neverLost(s jetstream.StreamState) bool {
	return s.FirstSeq <= 1 && s.NumDeleted == 0
}

// errReadEnough ends a history read that has what it needs.
var errReadEnough = errors.New("read enough")

// adjacent reports whether after directly follows last in the counter's
// history: its value minus its delta is last's value.
func adjacent(last, after *HistoryMsg) bool {
	if last.Value == nil || after.Value == nil || after.Delta == nil {
		return false
	}
	return new(big.Int).Sub(after.Value, after.Delta).Cmp(last.Value) == 0
}

// scanPast reads the retained history of the counters subjects of stream
// (by name when few, else through filters; nil: every counter the filters
// match) in one pass; with untilAt it ends at the first message after at.
func scanPast(ctx context.Context, c *counters.Client, stream string, subjects []string, filters [][]string, at time.Time, untilAt bool) (map[string]*pastScan, error) {
	sets := filters
	if subjects != nil && len(subjects) <= maxAtLiterals {
		sets = [][]string{subjects}
	}
	want := make(map[string]bool, len(subjects))
	for _, s := range subjects {
		want[s] = true
	}
	out := make(map[string]*pastScan, len(subjects))
	for _, set := range sets {
		pass := map[string]*pastScan{}
		// Named counters were all changed after at: once each has shown
		// its first message after at, the rest of the history is not
		// needed.
		waiting := len(subjects)
		_, err := readHistory(ctx, c, stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: set, DeliverPolicy: jetstream.DeliverAllPolicy, InactiveThreshold: time.Minute,
		}, func(m HistoryMsg) error {
			if untilAt && m.Time.After(at) {
				return errReadEnough // the stream's times rise with its sequence
			}
			if subjects != nil && !want[m.Subject] {
				return nil
			}
			sc := pass[m.Subject]
			if sc == nil {
				sc = &pastScan{}
				pass[m.Subject] = sc
			}
			if !sc.hasFirst {
				sc.first, sc.hasFirst = m, true
			}
			switch {
			case !m.Time.After(at):
				sc.last, sc.hasLast = m, true
			case !sc.hasAfter:
				sc.after, sc.hasAfter = m, true
				if waiting--; subjects != nil && waiting == 0 {
					return errReadEnough
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errReadEnough) {
			return nil, err
		}
		for s, sc := range pass {
			if out[s] == nil {
				out[s] = sc
			}
		}
	}
	return out, nil
}
