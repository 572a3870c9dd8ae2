package bulk_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/bulk"
	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// bareAsync is the yardstick: the plainest nats.go program publishing the
// same increments asynchronously (jetstream PublishMsgAsync, its default
// window of 4000), checking every ack. Subjects and deltas are ready-made:
// it neither reads nor checks input.
func bareAsync(b *testing.B, js jetstream.JetStream, subjects, deltas []string) {
	for i, subj := range subjects {
		msg := nats.NewMsg(subj)
		msg.Header.Set(counters.HeaderIncr, deltas[i])
		if _, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(30*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatalf("bare: %d acks pending", js.PublishAsyncPending())
	}
}

// BenchmarkBulk200k: `counter incr -` with 200,000 lines over 10,000
// counters, side by side with bareAsync doing the same increments, in the
// same run against the same server. The target is ratio >= 0.9.
func BenchmarkBulk200k(b *testing.B) {
	const lines, keys = 200_000, 10_000
	s := testserver.Single(b)
	c := countertest.NewClient(b, s)
	countertest.MustCreate(b, c, streams.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}})
	subjects := make([]string, lines)
	deltas := make([]string, lines)
	var text strings.Builder
	for i := range lines {
		subjects[i] = fmt.Sprintf("bench.%d", (i*7919)%keys)
		deltas[i] = fmt.Sprintf("+%d", i%100)
		text.WriteString(subjects[i] + " " + deltas[i] + "\n")
	}
	input := text.String()
	js, err := jetstream.New(testserver.Connect(b, s))
	if err != nil {
		b.Fatal(err)
	}
	var (
		bare, ours            time.Duration
		bareAllocs, ourAllocs uint64
	)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		runBare := func() {
			before, start := mallocs(), time.Now()
			bareAsync(b, js, subjects, deltas)
			bare += time.Since(start)
			bareAllocs += mallocs() - before
		}
		runOurs := func() {
			before, start := mallocs(), time.Now()
			res, err := bulk.Bulk(ctx, c, strings.NewReader(input), bulk.BulkOptions{})
			if err != nil || res.Applied != lines {
				b.Fatalf("bulk: %+v, %v", res, err)
			}
			ours += time.Since(start)
			ourAllocs += mallocs() - before
		}
		// Alternate which goes first: the stream grows as both run.
		if i%2 == 0 {
			runBare()
			runOurs()
		} else {
			runOurs()
			runBare()
		}
	}
	n := float64(lines * b.N)
	b.ReportMetric(n/bare.Seconds(), "bare-lines/s")
	b.ReportMetric(n/ours.Seconds(), "lines/s")
	b.ReportMetric(bare.Seconds()/ours.Seconds(), "ratio")
	// Allocations include the embedded server's, the same for both sides:
	// the difference is the client's.
	b.ReportMetric(float64(bareAllocs)/n, "bare-allocs/line")
	b.ReportMetric(float64(ourAllocs)/n, "allocs/line")
}

// mallocs counts heap allocations so far, in the whole process.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// BenchmarkBulkCoalesce1M: `counter incr - --coalesce` over 1,000,000
// lines and 100 counters (target: >= 1,000,000 lines/s). Reading and
// summing are the work; 100 increments are sent.
func BenchmarkBulkCoalesce1M(b *testing.B) {
	const lines, keys = 1_000_000, 100
	c := countertest.NewClient(b, testserver.Single(b))
	countertest.MustCreate(b, c, streams.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: "memory"})
	var text strings.Builder
	for i := range lines {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&text, "bench.counter.%d\n", i%keys)
		case 1:
			fmt.Fprintf(&text, "bench.counter.%d +%d\n", i%keys, i)
		case 2:
			fmt.Fprintf(&text, "bench.counter.%d -%d\n", i%keys, i/2)
		case 3:
			fmt.Fprintf(&text, "bench.counter.%d\t%d\n", i%keys, i%1000)
		}
	}
	input := text.String()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := bulk.Bulk(ctx, c, strings.NewReader(input), bulk.BulkOptions{Coalesce: true})
		if err != nil || res.Lines != lines || res.Applied != keys {
			b.Fatalf("coalesce: %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
}

var ctx = context.Background()
