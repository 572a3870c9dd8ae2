package history

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
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
// (typical after resets, or with --history), one pass over their retained
// history answers for all of them. Otherwise a plain read lists the
// counters first, so that only the history of those changed since at is
// read.
func valuesAt(ctx context.Context, c *counters.Client, stream string, patterns []string, at time.Time) ([]PastCounter, error) {
	filters := counters.ConsumerFilters(patterns)
	retained, n, err := retainedCounts(ctx, c, stream, filters)
	if err != nil {
		return nil, err
	}
	var (
		out     []PastCounter
		read    []string
		onePass = retained <= 2*n
	)
	if onePass {
		read = nil // every counter the filters match
	} else {
		seen := map[string]bool{}
		for _, set := range filters {
			err := c.ReadLast(ctx, stream, set, func(ctr counters.Counter) error {
				if seen[ctr.Subject] {
					return nil
				}
				seen[ctr.Subject] = true
				if ctr.Updated.After(at) {
					read = append(read, ctr.Subject)
				} else {
					out = append(out, PastCounter{Counter: ctr})
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if len(read) == 0 && !onePass {
		return out, nil
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		scans, err := scanPast(ctx, c, stream, read, filters, at)
		if err != nil {
			return nil, err
		}
		// Whether the stream ever lost a message is read after the
		// history, and only when needed: a removal racing with the read
		// then shows.
		lostKnown, lost := false, true
		var past []PastCounter
		gaps := 0
		subjects := read
		if onePass {
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
				if !lostKnown {
					info, err := c.StreamInfo(ctx, stream)
					if err != nil {
						return nil, err
					}
					lostKnown, lost = true, info.State.FirstSeq > 1 || info.State.NumDeleted > 0
				}
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
			return append(out, past...), nil
		}
		// A purge racing with the read looks like a gap: read again.
	}
}

// retainedCounts is how many messages the stream retains of the counters
// matching filters, and how many counters that is: from the stream's state
// when a filter covers every subject of the stream, else from stream info
// with a subjects filter (one request per pattern, paged by the client).
func retainedCounts(ctx context.Context, c *counters.Client, stream string, filters [][]string) (msgs, subjects uint64, err error) {
	s, err := c.Stream(ctx, stream)
	if err != nil {
		return 0, 0, err
	}
	info := s.CachedInfo()
	for _, set := range filters {
		for _, f := range set {
			if len(info.Config.Subjects) > 0 && !slices.ContainsFunc(info.Config.Subjects, func(sub string) bool { return !topology.Covers(f, sub) }) {
				return info.State.Msgs, uint64(info.State.NumSubjects), nil
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
				return 0, 0, c.Wrap(err, "count the messages of "+f+" in stream "+stream)
			}
			maps.Copy(counts, info.State.Subjects)
		}
	}
	for _, n := range counts {
		msgs += n
	}
	return msgs, uint64(len(counts)), nil
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
// match) in one pass.
func scanPast(ctx context.Context, c *counters.Client, stream string, subjects []string, filters [][]string, at time.Time) (map[string]*pastScan, error) {
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
