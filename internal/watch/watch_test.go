package watch_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
	"github.com/jetcounter/counter/internal/watch"
)

// watchEvent waits for the next event that satisfies match, failing on a
// timeout. Events that do not match are skipped.
func watchEvent(t *testing.T, w *watch.Watch, what string, match func(watch.WatchEvent) bool) watch.WatchEvent {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-w.Events():
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func isUpdate(subject, value string) func(watch.WatchEvent) bool {
	return func(ev watch.WatchEvent) bool {
		return ev.Kind == watch.WatchUpdate && ev.Update.Subject == subject && ev.Update.Value.String() == value
	}
}

func isKind(k watch.WatchEventKind) func(watch.WatchEvent) bool {
	return func(ev watch.WatchEvent) bool { return ev.Kind == k }
}

func mustIncr(t *testing.T, c *counters.Client, subject, delta string) {
	t.Helper()
	d, err := counters.ParseDelta(delta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Incr(context.Background(), subject, d, ""); err != nil {
		t.Fatalf("incr %s %s: %v", subject, delta, err)
	}
}

func TestWatchExistingThenLive(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "W", Subjects: []string{"w.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "OTHER", Subjects: []string{"other.>"}})
	huge := "123456789012345678901234567890123"
	mustIncr(t, c, "w.big", huge)
	mustIncr(t, c, "w.small", "5")
	mustIncr(t, c, "w.small", "2")
	mustIncr(t, c, "other.x", "1")

	// w.> covers w.small: one filter, each counter once.
	w, err := watch.Start(context.Background(), c, []string{"w.>", "w.small"}, watch.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if got := w.Streams(); len(got) != 1 || got[0] != "W" {
		t.Fatalf("streams %v, want [W]", got)
	}
	seen := map[string]string{}
	for len(seen) < 2 {
		ev := watchEvent(t, w, "initial values", isKind(watch.WatchUpdate))
		if _, dup := seen[ev.Update.Subject]; dup {
			t.Fatalf("%s delivered twice", ev.Update.Subject)
		}
		seen[ev.Update.Subject] = ev.Update.Value.String()
		if ev.Update.Stream != "W" || ev.Update.Seq == 0 || ev.Update.Time.IsZero() {
			t.Fatalf("incomplete update %+v", ev.Update)
		}
	}
	if seen["w.big"] != huge || seen["w.small"] != "7" {
		t.Fatalf("initial values %v", seen)
	}
	watchEvent(t, w, "synced", isKind(watch.WatchSynced))

	mustIncr(t, c, "w.big", "+1")
	ev := watchEvent(t, w, "live update", isKind(watch.WatchUpdate))
	if ev.Update.Subject != "w.big" || ev.Update.Value.String() != "123456789012345678901234567890124" {
		t.Fatalf("live update %+v", ev.Update)
	}
	mustIncr(t, c, "other.x", "1") // not watched
	mustIncr(t, c, "w.new", "-4")
	ev = watchEvent(t, w, "new counter", isKind(watch.WatchUpdate))
	if ev.Update.Subject != "w.new" || ev.Update.Value.String() != "-4" {
		t.Fatalf("got %+v, want w.new -4 (and nothing from other.x)", ev.Update)
	}
}

func TestWatchNothingYet(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "W", Subjects: []string{"w.>"}})
	w, err := watch.Start(context.Background(), c, []string{"w.later"}, watch.WatchOptions{Stream: "W"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	watchEvent(t, w, "synced with no counters", isKind(watch.WatchSynced))
	mustIncr(t, c, "w.later", "3")
	watchEvent(t, w, "the first value", isUpdate("w.later", "3"))
}

func TestWatchErrors(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "W", Subjects: []string{"w.>"}})
	ctx := context.Background()
	cases := []struct {
		patterns []string
		stream   string
		kind     error
	}{
		{[]string{"w..x"}, "", errkind.ErrInvalid},
		{[]string{"w.*.c", "w.b.*"}, "", errkind.ErrInvalid}, // overlap, neither covers the other
		{[]string{"nowhere.x"}, "", errkind.ErrNotFound},
		{[]string{"w.x"}, "NOPE", errkind.ErrNotFound},
	}
	for _, tc := range cases {
		w, err := watch.Start(ctx, c, tc.patterns, watch.WatchOptions{Stream: tc.stream})
		if err == nil {
			w.Stop()
		}
		if !errors.Is(err, tc.kind) {
			t.Errorf("Watch(%v, %q) = %v, want %v", tc.patterns, tc.stream, err, tc.kind)
		}
	}
}

// reconnectingClient is what `counter watch` uses: it reconnects forever.
func reconnectingClient(t *testing.T, url string) *counters.Client {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWatchResumesAfterServerRestart(t *testing.T) {
	r := testserver.StartRestartable(t, testserver.Options{})
	url := r.URL()
	c := reconnectingClient(t, url)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "W", Subjects: []string{"w.>"}})
	mustIncr(t, c, "w.a", "10")
	w, err := watch.Start(context.Background(), c, []string{"w.>"}, watch.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	watchEvent(t, w, "w.a before the restart", isUpdate("w.a", "10"))

	r.Stop()
	watchEvent(t, w, "disconnected", isKind(watch.WatchDisconnected))
	r.Start()
	watchEvent(t, w, "reconnected", isKind(watch.WatchReconnected))
	watchEvent(t, w, "resumed", isKind(watch.WatchResumed))

	other := reconnectingClient(t, url)
	mustIncr(t, other, "w.a", "5")
	mustIncr(t, other, "w.b", "1")
	watchEvent(t, w, "w.a after the restart", isUpdate("w.a", "15"))
	watchEvent(t, w, "w.b after the restart", isUpdate("w.b", "1"))
}

// A memory stream does not survive a restart: the watch says so and waits,
// and follows the stream again once it is recreated (its sequence numbers
// restart from 1, which a resume from the next sequence would skip).
func TestWatchMemoryStreamRecreated(t *testing.T) {
	r := testserver.StartRestartable(t, testserver.Options{})
	url := r.URL()
	c := reconnectingClient(t, url)
	spec := streams.StreamSpec{Name: "M", Subjects: []string{"m.>"}, Storage: "memory"}
	countertest.MustCreate(t, c, spec)
	for range 5 {
		mustIncr(t, c, "m.a", "1")
	}
	w, err := watch.Start(context.Background(), c, []string{"m.>"}, watch.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	watchEvent(t, w, "m.a before the restart", isUpdate("m.a", "5"))

	r.Stop()
	r.Start()
	ev := watchEvent(t, w, "stream gone", isKind(watch.WatchProblem))
	if !errors.Is(ev.Err, errkind.ErrNotFound) {
		t.Fatalf("problem %v, want a not-found error", ev.Err)
	}
	other := reconnectingClient(t, url)
	countertest.MustCreate(t, other, spec)
	mustIncr(t, other, "m.a", "2")
	watchEvent(t, w, "m.a in the recreated stream", isUpdate("m.a", "2"))
}

// BenchmarkWatch100k measures the engine at 100,000 counters: each
// iteration starts a watch, receives the last value of all of them
// (snapshot-ms), then 50,000 live updates spread over them, published as
// fast as the server stores them. updates/s is the live rate received;
// max-lag-ms is the longest time between the server storing an update and
// the watch delivering it (small and flat: the watch keeps up; on a small
// machine the server storing increments is the limit, not the watch).
func BenchmarkWatch100k(b *testing.B) {
	const n = 100_000
	const live = 50_000
	s := testserver.Single(b)
	nc := testserver.Connect(b, s)
	c, err := counters.New(nc, counters.Options{Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	countertest.MustCreate(b, c, streams.StreamSpec{Name: "B", Subjects: []string{"b.>"}})
	countertest.Seed(b, nc, "b", n)
	pub := testserver.Connect(b, s)
	var snapshot, liveTime, maxLag time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		w, err := watch.Start(context.Background(), c, []string{"b.>"}, watch.WatchOptions{})
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for got < n {
			if ev := <-w.Events(); ev.Kind == watch.WatchUpdate {
				got++
			}
		}
		snapshot += time.Since(start)
		liveStart := time.Now()
		go func() {
			for i := range live {
				msg := nats.NewMsg("b." + strconv.Itoa(1+i*7919%n))
				msg.Header.Set(counters.HeaderIncr, "+1")
				if err := pub.PublishMsg(msg); err != nil {
					return
				}
			}
		}()
		for got < n+live {
			if ev := <-w.Events(); ev.Kind == watch.WatchUpdate {
				got++
				maxLag = max(maxLag, time.Since(ev.Update.Time))
			}
		}
		liveTime += time.Since(liveStart)
		w.Stop()
	}
	b.ReportMetric(float64(snapshot.Milliseconds())/float64(b.N), "snapshot-ms")
	b.ReportMetric(float64(live*b.N)/liveTime.Seconds(), "updates/s")
	b.ReportMetric(float64(maxLag.Milliseconds()), "max-lag-ms")
}

// A stream deleted and recreated while watched (no restart): the watch says
// the stream is gone, then follows the new one.
func TestWatchStreamDeletedAndRecreated(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	// Memory storage: a file store's directory may still be going away
	// when the same name is created again (the server answers 10049).
	spec := streams.StreamSpec{Name: "D", Subjects: []string{"d.>"}, Storage: "memory"}
	countertest.MustCreate(t, c, spec)
	mustIncr(t, c, "d.a", "4")
	w, err := watch.Start(context.Background(), c, []string{"d.>"}, watch.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	watchEvent(t, w, "d.a", isUpdate("d.a", "4"))
	if err := c.JetStream().DeleteStream(context.Background(), "D"); err != nil {
		t.Fatal(err)
	}
	ev := watchEvent(t, w, "stream gone", isKind(watch.WatchProblem))
	if !errors.Is(ev.Err, errkind.ErrNotFound) {
		t.Fatalf("problem %v, want a not-found error", ev.Err)
	}
	countertest.MustCreate(t, c, spec)
	mustIncr(t, c, "d.a", "1")
	watchEvent(t, w, "resumed", isKind(watch.WatchResumed))
	watchEvent(t, w, "d.a in the new stream", isUpdate("d.a", "1"))
}

var ctx = context.Background()
