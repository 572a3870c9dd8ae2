package history_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// stored increments subject and returns when the message was stored.
func stored(t *testing.T, c *counters.Client, subject string, delta int64) time.Time {
	t.Helper()
	r := countertest.Incr(t, c, subject, delta)
	ctr, err := c.ReadOne(ctx, r.Stream, subject, counters.ReadLeader)
	if err != nil || ctr.Seq != r.Seq {
		t.Fatalf("read back %s: %v %+v", subject, err, ctr)
	}
	return ctr.Updated
}

func getAt(t *testing.T, c *counters.Client, at time.Time, stream string, patterns ...string) ([]history.PastCounter, error) {
	t.Helper()
	return history.ValuesAt(ctx, c, patterns, at, history.AtOptions{Stream: stream})
}

func wantAt(t *testing.T, c *counters.Client, at time.Time, stream, subject, value string) history.PastCounter {
	t.Helper()
	got, err := getAt(t, c, at, stream, subject)
	if err != nil || len(got) != 1 || got[0].Value == nil || got[0].Value.String() != value {
		t.Fatalf("%s in %q at %s: %v %+v, want %s", subject, stream, at.Format(time.RFC3339Nano), err, got, value)
	}
	return got[0]
}

// TestGetAt: the value at a moment is that of the last message at or
// before it, at any tier; before and after a reset; where a reset or a
// --history limit purged the messages at or before the moment it is
// "purged" (never a guess), and a counter that did not exist yet is
// "not-yet" (left out of a wildcard) on a stream that never lost one.
func TestGetAt(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "H", Subjects: []string{"h.>"}, History: 2})

	tb := stored(t, c, "count.de.b", 1)
	t1 := stored(t, c, "count.de.a", 5)
	t2 := stored(t, c, "count.de.a", 3)
	countertest.WaitValue(t, c, "EU", "count.eu.a", "8")
	teu := time.Now() // an aggregate has its own times: it stored 8 after t2
	if p := wantAt(t, c, t1, "", "count.de.a", "5"); !p.Updated.Equal(t1) || p.Seq != 2 {
		t.Fatalf("read from %+v, want seq 2 at %s", p, t1)
	}
	wantAt(t, c, t2, "", "count.de.a", "8")                       // at the moment: inclusive
	wantAt(t, c, t2.Add(-time.Nanosecond), "", "count.de.a", "5") // just before
	wantAt(t, c, teu, "EU", "count.eu.a", "8")                    // an aggregate tier
	wantAt(t, c, time.Now(), "", "count.de.a", "8")

	res := countertest.ResetAll(t, c, reset.ResetOptions{}, "count.de.a")
	tr := stored(t, c, "count.de.a", 2)
	// Before the reset: purged below the reset message at the leaf.
	got, err := getAt(t, c, t2, "", "count.de.a")
	if err != nil || len(got) != 1 || got[0].Value != nil || got[0].Missing != history.MissingPurged || got[0].FirstSeq != res[0].Seq {
		t.Fatalf("before the reset: %v %+v, want purged from seq %d", err, got, res[0].Seq)
	}
	// The aggregate keeps its history: it still knows.
	wantAt(t, c, teu, "EU", "count.eu.a", "8")
	wantAt(t, c, tr.Add(-time.Nanosecond), "", "count.de.a", "0") // after the reset
	wantAt(t, c, tr, "", "count.de.a", "2")
	// A wildcard: each counter on its own.
	got, err = getAt(t, c, t2, "", "count.de.>")
	if err != nil || len(got) != 2 || got[0].Subject != "count.de.a" || got[0].Missing != history.MissingPurged ||
		got[1].Subject != "count.de.b" || got[1].Value.String() != "1" || !got[1].Updated.Equal(tb) {
		t.Fatalf("wildcard before the reset: %v %+v", err, got)
	}

	// A --history limit: the oldest messages are gone (H keeps 2).
	var times []time.Time
	for range 4 {
		times = append(times, stored(t, c, "h.x", 1))
	}
	wantAt(t, c, times[2], "", "h.x", "3")
	got, err = getAt(t, c, times[1], "", "h.x")
	if err != nil || got[0].Missing != history.MissingPurged || got[0].FirstSeq != 3 || !got[0].FirstTime.Equal(times[2]) {
		t.Fatalf("h.x before its retained history: %v %+v", err, got)
	}

	// PL never lost a message: a counter made later did not exist yet.
	t0 := stored(t, c, "count.pl.old", 1)
	stored(t, c, "count.pl.new", 1)
	got, err = getAt(t, c, t0, "", "count.pl.>")
	if err != nil || len(got) != 1 || got[0].Subject != "count.pl.old" {
		t.Fatalf("wildcard at PL: %v %+v", err, got)
	}
	got, err = getAt(t, c, t0, "", "count.pl.new")
	if err != nil || got[0].Missing != history.MissingNotYet {
		t.Fatalf("count.pl.new at t0: %v %+v", err, got)
	}
	// Many retained messages per counter: the counters are listed first,
	// the unchanged one is answered by the listing, and the history of the
	// changed ones is read only up to their first message after the moment.
	stored(t, c, "count.pl.quiet", 7)
	var busy []time.Time
	for range 6 {
		busy = append(busy, stored(t, c, "count.pl.busy", 1))
	}
	for range 6 {
		stored(t, c, "count.pl.busy", 1)
	}
	got, err = getAt(t, c, busy[3], "", "count.pl.busy", "count.pl.quiet")
	if err != nil || len(got) != 2 || got[0].Subject != "count.pl.busy" || got[0].Value.String() != "4" || !got[0].Updated.Equal(busy[3]) ||
		got[1].Value.String() != "7" {
		t.Fatalf("busy at its 4th message: %v %+v", err, got)
	}
	got, err = getAt(t, c, time.Now(), "", "count.pl.>")
	if err != nil || len(got) != 4 || got[0].Value.String() != "12" || got[3].Value.String() != "7" {
		t.Fatalf("PL now: %v %+v", err, got)
	}
	// A counter with no message at all, and a pattern matching nothing.
	if _, err := getAt(t, c, t0, "", "count.pl.none"); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("no such counter: %v", err)
	}
}

// BenchmarkGetAt10k: 10,000 counters as of a moment between two rounds of
// increments (every counter has a message on each side), next to a plain
// read of the same counters; metric ratio is get --at over get. "pristine":
// a stream that never lost a message (the read ends at the moment);
// "after-reset": one counter of the stream was reset before (its purge
// left a gap), so every answer is checked against the next message.
func BenchmarkGetAt10k(b *testing.B) {
	for _, tc := range []struct {
		name  string
		reset bool
	}{{"pristine", false}, {"after-reset", true}} {
		b.Run(tc.name, func(b *testing.B) {
			const n = 10_000
			s := testserver.Single(b)
			c := countertest.NewClient(b, s)
			countertest.MustCreate(b, c, streams.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}})
			nc := testserver.Connect(b, s)
			if tc.reset {
				countertest.Incr(b, c, "bench.other", 1)
				countertest.Incr(b, c, "bench.other", 1)
				countertest.ResetAll(b, c, reset.ResetOptions{}, "bench.other")
			}
			countertest.Seed(b, nc, "bench", n)
			time.Sleep(2 * time.Millisecond) // a moment strictly between the rounds
			at := time.Now()
			time.Sleep(2 * time.Millisecond)
			countertest.Seed(b, nc, "bench", n)
			want := n
			if tc.reset {
				want++
			}
			b.ReportAllocs()
			var plain, past time.Duration
			for b.Loop() {
				start := time.Now()
				got, err := c.Get(ctx, []string{"bench.>"}, counters.GetOptions{})
				if err != nil || len(got) != want {
					b.Fatalf("get: %d, %v", len(got), err)
				}
				plain += time.Since(start)
				start = time.Now()
				then, err := history.ValuesAt(ctx, c, []string{"bench.>"}, at, history.AtOptions{})
				if err != nil || len(then) != want {
					b.Fatalf("get --at: %d, %v", len(then), err)
				}
				past += time.Since(start)
				for _, pc := range then[:5] {
					i, err := strconv.Atoi(pc.Subject[len("bench."):])
					if err == nil && (pc.Value == nil || pc.Value.Int64() != int64(i)) {
						b.Fatalf("%s at the moment: %+v, want %d", pc.Subject, pc.Value, i)
					}
				}
			}
			b.ReportMetric(float64(plain.Milliseconds())/float64(b.N), "get-ms")
			b.ReportMetric(float64(past.Milliseconds())/float64(b.N), "at-ms")
			b.ReportMetric(past.Seconds()/plain.Seconds(), "ratio")
		})
	}
}
