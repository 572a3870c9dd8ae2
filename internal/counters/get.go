package counters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// GetOptions shape a read.
type GetOptions struct {
	// Stream reads at this tier instead of the stream that owns each subject.
	Stream string
}

// Get returns the last value of every counter matching the patterns, sorted
// by subject then stream. Patterns that match nothing are reported with an
// ErrNotFound error alongside whatever was found.
func (c *Client) Get(ctx context.Context, patterns []string, opts GetOptions) ([]Counter, error) {
	for _, p := range patterns {
		if err := ValidSubject(p, true); err != nil {
			return nil, err
		}
	}
	plan, err := c.resolve(ctx, patterns, opts.Stream)
	if err != nil {
		return nil, err
	}
	var (
		out     []Counter
		matched = map[string]bool{}
		seen    = map[string]bool{}
	)
	for _, sp := range plan {
		var literals, wildcards []string
		for _, p := range sp.patterns {
			if IsLiteral(p) && sp.info.Config.AllowDirect {
				literals = append(literals, p)
			} else {
				wildcards = append(wildcards, p)
			}
		}
		found, err := c.readLiterals(ctx, sp.info.Config.Name, literals)
		if err != nil {
			return nil, err
		}
		if len(wildcards) > 0 {
			err := c.ReadLast(ctx, sp.info.Config.Name, wildcards, func(ctr Counter) error {
				found = append(found, ctr)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		for _, ctr := range found {
			key := ctr.Stream + " " + ctr.Subject
			if seen[key] {
				continue // a literal and a wildcard may name the same counter
			}
			seen[key] = true
			out = append(out, ctr)
			for _, p := range sp.patterns {
				if SubjectMatches(ctr.Subject, p) {
					matched[p] = true
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Stream < out[j].Stream
	})
	var missing []string
	for _, p := range patterns {
		if !matched[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return out, notFound(missing, plan)
	}
	return out, nil
}

func notFound(missing []string, plan []streamPlan) error {
	where := ""
	if len(plan) == 1 {
		where = " in stream " + plan[0].info.Config.Name
	}
	if len(missing) == 1 {
		if IsLiteral(missing[0]) {
			return NotFoundf("counter %s has no value%s", missing[0], where)
		}
		return NotFoundf("no counter matches %s%s", missing[0], where)
	}
	return NotFoundf("no counter matches %s%s", strings.Join(missing, ", "), where)
}

type streamPlan struct {
	info     *jetstream.StreamInfo
	patterns []string
}

// resolve finds the stream that holds each pattern: the named tier, or the
// streams whose subjects overlap the pattern.
func (c *Client) resolve(ctx context.Context, patterns []string, stream string) ([]streamPlan, error) {
	if stream != "" {
		info, err := c.StreamInfo(ctx, stream)
		if err != nil {
			return nil, err
		}
		if !info.Config.AllowMsgCounter {
			return nil, notCounter(stream)
		}
		return []streamPlan{{info: info, patterns: patterns}}, nil
	}
	byName := map[string]*streamPlan{}
	var order []string
	for _, p := range patterns {
		infos, err := c.streamsFor(ctx, p)
		if err != nil {
			return nil, err
		}
		if len(infos) == 0 {
			return nil, NotFoundf("no stream captures subject %s: check the subject, or read an aggregate with --stream NAME", p)
		}
		for _, info := range infos {
			name := info.Config.Name
			if !info.Config.AllowMsgCounter {
				if IsLiteral(p) {
					return nil, notCounter(name)
				}
				continue // a wildcard may span plain streams too; skip them
			}
			if byName[name] == nil {
				byName[name] = &streamPlan{info: info}
				order = append(order, name)
			}
			byName[name].patterns = append(byName[name].patterns, p)
		}
	}
	if len(order) == 0 {
		return nil, notCounter(strings.Join(patterns, ", "))
	}
	plan := make([]streamPlan, 0, len(order))
	for _, name := range order {
		plan = append(plan, *byName[name])
	}
	return plan, nil
}

func notCounter(stream string) error {
	return errors.New("stream " + stream + " is not a counter stream")
}

// StreamInfo fetches one stream's info.
func (c *Client) StreamInfo(ctx context.Context, name string) (*jetstream.StreamInfo, error) {
	rctx, cancel := c.requestContext(ctx)
	defer cancel()
	s, err := c.js.Stream(rctx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, NotFoundf("stream %s not found%s", name, c.where())
		}
		return nil, c.wrap(err, "stream "+name)
	}
	return s.CachedInfo(), nil
}

// streamsFor lists the streams whose subjects overlap subject.
func (c *Client) streamsFor(ctx context.Context, subject string) ([]*jetstream.StreamInfo, error) {
	rctx, cancel := c.requestContext(ctx)
	defer cancel()
	lister := c.js.ListStreams(rctx, jetstream.WithStreamListSubject(subject))
	var out []*jetstream.StreamInfo
	for info := range lister.Info() {
		out = append(out, info)
	}
	if err := lister.Err(); err != nil {
		return nil, c.wrap(err, "list streams for "+subject)
	}
	return out, nil
}

// readLiterals direct-gets the last message of each literal subject, a few
// requests in flight at once. Subjects without a value are left out.
func (c *Client) readLiterals(ctx context.Context, stream string, subjects []string) ([]Counter, error) {
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
			ctr, err := c.readOne(ctx, stream, subj)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrNotFound):
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

// readOne direct-gets the last message on subject in stream.
func (c *Client) readOne(ctx context.Context, stream, subject string) (*Counter, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": subject})
	rctx, cancel := c.requestContext(ctx)
	defer cancel()
	msg, err := c.nc.RequestWithContext(rctx, c.prefix+".DIRECT.GET."+stream, req)
	if err != nil {
		return nil, c.wrap(err, "read "+subject+" from stream "+stream)
	}
	if status := msg.Header.Get("Status"); status != "" {
		if status == "404" {
			return nil, NotFoundf("counter %s has no value in stream %s", subject, stream)
		}
		return nil, fmt.Errorf("read %s from stream %s: %s %s", subject, stream, status, msg.Header.Get("Description"))
	}
	seq, _ := strconv.ParseUint(msg.Header.Get(headerSequence), 10, 64)
	ts, _ := time.Parse(time.RFC3339Nano, msg.Header.Get(headerTime))
	ctr, err := counterFromMsg(msg.Header.Get(headerSubject), stream, seq, ts, msg.Header, msg.Data)
	if err != nil {
		return nil, fmt.Errorf("read %s from stream %s: %w", subject, stream, err)
	}
	return &ctr, nil
}

// ReadLast streams the last message of every subject matching filters in
// stream to fn, through one ephemeral consumer (deliver last per subject).
// It ends when every counter that existed when it started was delivered; a
// stall longer than the client timeout is an error, never a shorter result.
func (c *Client) ReadLast(ctx context.Context, stream string, filters []string, fn func(Counter) error) error {
	cfg := jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: max(c.timeout, 10*time.Second),
	}
	if len(filters) == 1 {
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = filters
	}
	rctx, cancel := c.requestContext(ctx)
	cons, err := c.js.CreateConsumer(rctx, stream, cfg)
	cancel()
	if err != nil {
		return c.wrap(err, "read "+strings.Join(filters, " ")+" from stream "+stream)
	}
	info := cons.CachedInfo()
	defer func() {
		// Best effort: the inactive threshold removes it anyway.
		dctx, cancel := c.requestContext(context.Background())
		_ = c.js.DeleteConsumer(dctx, stream, info.Name)
		cancel()
	}()
	want := info.NumPending
	if want == 0 {
		return nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return c.wrap(err, "read from stream "+stream)
	}
	defer it.Stop()
	var got uint64
	for got < want {
		nctx, cancel := c.requestContext(ctx)
		msg, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				return fmt.Errorf("read from stream %s timed out after %d of %d counters: nothing printed; retry or raise --timeout", stream, got, want)
			}
			return c.wrap(err, fmt.Sprintf("read from stream %s (after %d of %d counters)", stream, got, want))
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read from stream %s: %w", stream, err)
		}
		got++
		ctr, err := counterFromMsg(msg.Subject(), stream, meta.Sequence.Stream, meta.Timestamp, msg.Headers(), msg.Data())
		if err != nil {
			return fmt.Errorf("read %s from stream %s: %w", msg.Subject(), stream, err)
		}
		if err := fn(ctr); err != nil {
			return err
		}
		if meta.NumPending == 0 {
			break
		}
	}
	return nil
}

// SubjectMatches reports whether the literal subject matches pattern.
func SubjectMatches(subject, pattern string) bool {
	st := strings.Split(subject, ".")
	pt := strings.Split(pattern, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || (p != "*" && p != st[i]) {
			return false
		}
	}
	return len(st) == len(pt)
}
