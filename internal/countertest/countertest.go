// Package countertest holds the fixtures the engine packages' tests share:
// a client on a real test server, streams made through counter's own code or
// through the raw API, seeded values and polled waits. Tests only.
package countertest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NewClient connects a counters client to s with default options.
func NewClient(t testing.TB, s *server.Server) *counters.Client {
	t.Helper()
	c, err := counters.New(testserver.Connect(t, s), counters.Options{})
	if err != nil {
		t.Fatalf("counters.New: %v", err)
	}
	return c
}

// MustCreate makes a counter stream through the code under test.
func MustCreate(t testing.TB, c *counters.Client, spec streams.StreamSpec) {
	t.Helper()
	res, err := streams.Create(context.Background(), c, spec, streams.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", spec.Name, err)
	}
	if res.Action != "created" {
		t.Fatalf("create %s: action %q, want created", spec.Name, res.Action)
	}
}

// Seed sets PREFIX.i to i for i in 1..n with pipelined increments and checks
// every acknowledgement. A long stall wait lets a slow (-race) server catch up
// instead of failing the publish.
func Seed(t testing.TB, nc *nats.Conn, prefix string, n int) {
	t.Helper()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		t.Fatal(err)
	}
	acks := make([]jetstream.PubAckFuture, 0, n)
	for i := 1; i <= n; i++ {
		msg := nats.NewMsg(prefix + "." + strconv.Itoa(i))
		msg.Header.Set(counters.HeaderIncr, "+"+strconv.Itoa(i))
		f, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(30*time.Second))
		if err != nil {
			t.Fatalf("seed %s: publish %d: %v", prefix, i, err)
		}
		acks = append(acks, f)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		t.Fatalf("seed %s: %d acks still pending", prefix, js.PublishAsyncPending())
	}
	for i, f := range acks {
		select {
		case err := <-f.Err():
			t.Fatalf("seed %s.%d: %v", prefix, i+1, err)
		case <-f.Ok():
		}
	}
}

// WaitValue polls a counter until it equals want.
func WaitValue(t testing.TB, c *counters.Client, stream, subject, want string) counters.Counter {
	t.Helper()
	var found counters.Counter
	testserver.Eventually(t, 15*time.Second, where(subject, stream)+" to be "+want, func() error {
		got, err := c.Get(context.Background(), []string{subject}, counters.GetOptions{Stream: stream, Sources: true})
		switch {
		case err != nil || len(got) != 1:
			return fmt.Errorf("%d results, err %v", len(got), err)
		case got[0].Value.String() != want:
			return fmt.Errorf("still %s", got[0].Value)
		}
		found = got[0]
		return nil
	})
	return found
}

// where names a counter: subject, and the stream if one is given.
func where(subject, stream string) string {
	if stream == "" {
		return subject
	}
	return subject + " in " + stream
}

func Big(t testing.TB, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad test number %q", s)
	}
	return v
}

func Subjects(list []counters.Counter) []string {
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = c.Stream + ":" + c.Subject + "=" + c.Value.String()
	}
	return out
}

// RawStream creates a stream straight through the JetStream API, the way
// a hazard gets into a real deployment (not through counter create).
func RawStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) {
	t.Helper()
	if _, err := js.CreateStream(context.Background(), cfg); err != nil {
		t.Fatalf("create %s: %v", cfg.Name, err)
	}
}

func CounterConfig(name string, subjects []string, srcs ...*jetstream.StreamSource) jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: name, Subjects: subjects, AllowMsgCounter: true, AllowDirect: true, Sources: srcs}
}

func Incr(t testing.TB, c *counters.Client, subject string, delta int64) *counters.IncrResult {
	t.Helper()
	r, err := c.Incr(context.Background(), subject, big.NewInt(delta), "")
	if err != nil {
		t.Fatalf("incr %s %d: %v", subject, delta, err)
	}
	return r
}

func Sources(t testing.TB, specs ...string) []streams.SourceSpec {
	t.Helper()
	var out []streams.SourceSpec
	for _, s := range specs {
		spec, err := streams.ParseSourceSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, spec)
	}
	return out
}

// EUTiers makes leaves DE and PL, an aggregate EU summing both into
// count.eu.> (with those subjects of its own, so it can take a reset), and a
// top tier WORLD summing EU into count.world.>.
func EUTiers(t testing.TB, c *counters.Client, replicas int) {
	t.Helper()
	MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}, Replicas: replicas})
	MustCreate(t, c, streams.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}, Replicas: replicas})
	MustCreate(t, c, streams.StreamSpec{Name: "EU", Subjects: []string{"count.eu.>"}, Replicas: replicas,
		Sources: Sources(t, "DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>")})
	MustCreate(t, c, streams.StreamSpec{Name: "WORLD", Replicas: replicas,
		Sources: Sources(t, "EU:count.eu.>:count.world.>")})
}

// ValueOrZero is the counter's value, 0 when it has none (purged away).
func ValueOrZero(t testing.TB, c *counters.Client, stream, subject string) *big.Int {
	t.Helper()
	got, err := c.Get(context.Background(), []string{subject}, counters.GetOptions{Stream: stream})
	switch {
	case errors.Is(err, errkind.ErrNotFound):
		return new(big.Int)
	case err != nil:
		t.Fatalf("get %s in %s: %v", subject, stream, err)
	}
	return got[0].Value
}

// WaitValueOrZero polls until the counter (0 when it has no value) is want.
func WaitValueOrZero(t testing.TB, c *counters.Client, stream, subject string, want *big.Int) {
	t.Helper()
	testserver.Eventually(t, 20*time.Second, where(subject, stream)+" to be "+want.String(), func() error {
		if got := ValueOrZero(t, c, stream, subject); got.Cmp(want) != 0 {
			return fmt.Errorf("it is %s", got)
		}
		return nil
	})
}

// SubjectMsgs is how many messages stream holds on subject.
func SubjectMsgs(t testing.TB, nc *nats.Conn, stream, subject string) uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func ResetAll(t testing.TB, c *counters.Client, opts reset.ResetOptions, patterns ...string) []reset.ResetResult {
	t.Helper()
	plan, err := reset.PlanReset(context.Background(), c, patterns, opts, nil)
	if err != nil {
		t.Fatalf("plan reset %v: %v", patterns, err)
	}
	res, err := reset.Reset(context.Background(), c, plan, opts)
	if err != nil {
		t.Fatalf("reset %v: %v", patterns, err)
	}
	for _, r := range res {
		if r.Err != nil || r.PurgeError != nil {
			t.Fatalf("reset %s in %s: err %v, purge error %v", r.Subject, r.Stream, r.Err, r.PurgeError)
		}
	}
	return res
}

// ConcurrentResets runs writers on leaves while resets hit a leaf and the
// aggregate, then checks the books: every acked increment and every reset
// delta is accounted for at every tier. Writers go on until each tier has
// had `resets` resets that took something away, so the overlap does not
// depend on timing.
func ConcurrentResets(t *testing.T, c *counters.Client, writers, resets int) {
	const (
		de = "count.de.hits"
		pl = "count.pl.hits"
	)
	var (
		mu    sync.Mutex
		acked = map[string]*big.Int{de: new(big.Int), pl: new(big.Int)}
		wg    sync.WaitGroup
		done  = make(chan struct{})
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			subj := de
			if w%2 == 1 {
				subj = pl
			}
			sum := new(big.Int)
			defer func() {
				mu.Lock()
				acked[subj].Add(acked[subj], sum)
				mu.Unlock()
			}()
			for {
				select {
				case <-done:
					return
				default:
				}
				d := big.NewInt(rng.Int64N(9) + 1)
				if _, err := c.Incr(context.Background(), subj, d, ""); err != nil {
					t.Errorf("incr %s: %v", subj, err)
					return
				}
				sum.Add(sum, d)
			}
		}()
	}

	resetDeltas := map[string]*big.Int{"DE": new(big.Int), "EU": new(big.Int)}
	rounds := 0
	nonzero := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for nonzero["DE"] < resets || nonzero["EU"] < resets {
		if time.Now().After(deadline) || t.Failed() {
			close(done)
			wg.Wait()
			t.Fatalf("resets that overlapped writes: %v, want %d at each tier", nonzero, resets)
		}
		for _, tier := range []struct{ stream, subject string }{{"DE", de}, {"EU", "count.eu.hits"}} {
			opts := reset.ResetOptions{Stream: tier.stream}
			plan, err := reset.PlanReset(context.Background(), c, []string{tier.subject}, opts, nil)
			if errors.Is(err, errkind.ErrNotFound) {
				continue // nothing there yet (or just reset and purged)
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := reset.Reset(context.Background(), c, plan, opts)
			if err != nil || res[0].Err != nil {
				t.Fatalf("reset %s: %v %+v", tier.stream, err, res)
			}
			resetDeltas[tier.stream].Add(resetDeltas[tier.stream], res[0].Delta)
			rounds += res[0].Rounds
			if res[0].Delta.Sign() != 0 {
				nonzero[tier.stream]++
			}
		}
	}
	close(done)
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("reset deltas %v, %d publishes, non-zero resets %v", resetDeltas, rounds, nonzero)

	// leaf == acked increments + Σ its reset deltas (exact, no waiting).
	wantDE := new(big.Int).Add(acked[de], resetDeltas["DE"])
	if got := ValueOrZero(t, c, "DE", de); got.Cmp(wantDE) != 0 {
		t.Fatalf("DE = %s, want acked %s + resets %s", got, acked[de], resetDeltas["DE"])
	}
	if got := ValueOrZero(t, c, "PL", pl); got.Cmp(acked[pl]) != 0 {
		t.Fatalf("PL = %s, want acked %s", got, acked[pl])
	}
	// aggregate == Σ leaf values + Σ its own reset deltas; top == aggregate.
	wantEU := new(big.Int).Add(wantDE, acked[pl])
	wantEU.Add(wantEU, resetDeltas["EU"])
	WaitValueOrZero(t, c, "EU", "count.eu.hits", wantEU)
	WaitValueOrZero(t, c, "WORLD", "count.world.hits", wantEU)
}
