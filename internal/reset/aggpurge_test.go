package reset_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestResetAggregateSourceNotStarted: a reset at an aggregate while one of
// its sources has not delivered anything yet must not make the server start
// that source after what it holds. nats-server 2.15.2 creates a source
// consumer that has no recorded position (nothing delivered yet) with
// deliver_policy by_start_time = the aggregate's last message time whenever
// the aggregate's first sequence is above 1 (stream.go,
// trySetupSourceConsumer), and the purge below the reset message moves the
// first sequence: the source's backlog was never delivered.
//
// Deterministic setup: EU sources PL before PL exists, so PL's consumer
// setup fails once and is retried seconds later with no position; PL's
// value is written and EU is reset in that window.
func TestResetAggregateSourceNotStarted(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	js, err := jetstream.New(c.Conn())
	if err != nil {
		t.Fatal(err)
	}
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EU", Subjects: []string{"count.eu.>"},
		AllowMsgCounter: true, AllowDirect: true, Storage: jetstream.FileStorage,
		Sources: []*jetstream.StreamSource{
			{Name: "DE", SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "count.de.>", Destination: "count.eu.>"}}},
			{Name: "PL", SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "count.pl.>", Destination: "count.eu.>"}}},
		}}); err != nil {
		t.Fatal(err)
	}
	// PL's first consumer setup has failed (no such stream): the next
	// attempt comes seconds later.
	waitSource(t, js, "EU", "PL", func(si *jetstream.StreamSourceInfo) bool { return si.Error != nil })
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}})
	countertest.Incr(t, c, "count.pl.a", 5)
	countertest.Incr(t, c, "count.de.a", 2)
	countertest.WaitValue(t, c, "EU", "count.eu.a", "2")

	plan, err := reset.PlanReset(ctx, c, []string{"count.eu.a"}, reset.ResetOptions{Stream: "EU"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reset.Reset(ctx, c, plan, reset.ResetOptions{Stream: "EU"})
	if err != nil || len(res) != 1 || res[0].Err != nil || res[0].Delta.String() != "-2" {
		t.Fatalf("reset: %v %+v", err, res)
	}
	// The server retries PL's setup 10s or more after the failure, longer
	// than the client timeout: the purge is skipped and says why. (Were
	// PL's source to deliver within the timeout, the purge would be safe.)
	r := res[0]
	if !r.Purged && !errors.Is(r.PurgeError, reset.ErrPurgeSkipped) {
		t.Fatalf("purged %v, purge error %v: want purged, or skipped as unsafe", r.Purged, r.PurgeError)
	}
	t.Logf("purged %v, purge error: %v", r.Purged, r.PurgeError)
	if r.PurgeError != nil && !strings.Contains(r.PurgeError.Error(), "source PL has not delivered anything to aggregate EU") {
		t.Fatalf("purge error %q does not name source PL and aggregate EU", r.PurgeError)
	}

	// Once PL's source runs, a later PL message reaching EU proves that
	// everything PL held before it was delivered, or skipped.
	countertest.Incr(t, c, "count.pl.z", 1)
	countertest.WaitValue(t, c, "EU", "count.eu.z", "1")
	eu := countertest.WaitValue(t, c, "EU", "count.eu.a", "5") // -2 reset + DE 2 + PL 5
	if got := eu.Sources["PL"]["count.pl.a"]; got == nil || got.String() != "5" {
		t.Fatalf("EU's sources record %v: PL's count.pl.a never arrived", eu.Sources)
	}
}

// waitSource polls the aggregate's stream info until its source matches.
func waitSource(t *testing.T, js jetstream.JetStream, stream, source string, ok func(*jetstream.StreamSourceInfo) bool) {
	t.Helper()
	testserver.Eventually(t, 20*time.Second, "source "+source+" of "+stream, func() error {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		for _, si := range s.CachedInfo().Sources {
			if si.Name == source && ok(si) {
				return nil
			}
		}
		b, _ := json.Marshal(s.CachedInfo().Sources)
		return fmt.Errorf("sources %s", b)
	})
}

// TestResetAggregateDuringBacklog is the race as first seen: 4 writers put
// 200 increments each into DE and PL while EU is reset as soon as it has a
// value. Without waiting for EU's sources to have a position, PL's source
// was often set up after the purge and its increments never reached EU
// (4 of 5 runs here).
func TestResetAggregateDuringBacklog(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.EUTiers(t, c, 1)
	js, err := jetstream.New(c.Conn())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		subject := []string{"count.de.a", "count.pl.a"}[w%2]
		wg.Go(func() {
			for range 200 {
				m := nats.NewMsg(subject)
				m.Header.Set(counters.HeaderIncr, "+1")
				if _, err := js.PublishMsg(ctx, m); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	testserver.Eventually(t, 20*time.Second, "EU to get a value", func() error {
		got, err := c.Get(ctx, []string{"count.eu.a"}, counters.GetOptions{Stream: "EU"})
		if err != nil {
			return err
		}
		if got[0].Value.Sign() <= 0 {
			return fmt.Errorf("count.eu.a is %s", got[0].Value)
		}
		return nil
	})
	plan, err := reset.PlanReset(ctx, c, []string{"count.eu.a"}, reset.ResetOptions{Stream: "EU"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reset.Reset(ctx, c, plan, reset.ResetOptions{Stream: "EU"})
	if err != nil || res[0].Err != nil {
		t.Fatalf("reset: %v %+v", err, res)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// EU == DE + PL + its own reset delta.
	want := new(big.Int).Add(big.NewInt(800), res[0].Delta)
	countertest.WaitValueOrZero(t, c, "EU", "count.eu.a", want)
}

var ctx = context.Background()
