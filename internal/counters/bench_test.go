package counters_test

import (
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// BenchmarkGet100k reads 100,000 counters through one wildcard and sorts
// them, the path `counter get 'bench.>'` takes on a terminal; in a pipe it
// streams them instead (Each; whole processes: cmd's BenchmarkReadMillion).
func BenchmarkGet100k(b *testing.B) {
	const n = 100_000
	s := testserver.Single(b)
	c := countertest.NewClient(b, s)
	countertest.MustCreate(b, c, streams.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}})
	countertest.Seed(b, testserver.Connect(b, s), "bench", n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := c.Get(ctx, []string{"bench.>"}, counters.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != n {
			b.Fatalf("read %d counters, want %d", len(got), n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "counters/s")
}

// BenchmarkIncr is one increment round trip (publish, ack with the value).
func BenchmarkIncr(b *testing.B) {
	c := countertest.NewClient(b, testserver.Single(b))
	countertest.MustCreate(b, c, streams.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}})
	one := big.NewInt(1)
	var i int64
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Incr(ctx, "bench.hits", one, "")
		if err != nil {
			b.Fatal(err)
		}
		i++
		if r.Value.Int64() != i {
			b.Fatalf("value %s after %d increments", r.Value, i)
		}
	}
}

// BenchmarkGetOne is a single literal read (one direct get, after the
// stream lookup).
func BenchmarkGetOne(b *testing.B) {
	s := testserver.Single(b)
	c := countertest.NewClient(b, s)
	countertest.MustCreate(b, c, streams.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}})
	countertest.Seed(b, testserver.Connect(b, s), "bench", 1000)
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.Get(ctx, []string{"bench.500"}, counters.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 1 || got[0].Value.Int64() != 500 {
			b.Fatalf("got %v", countertest.Subjects(got))
		}
	}
}

// BenchmarkAudit100k audits 100,000 history messages (1,000 counters, 100
// changes each) next to the bare nats.go program that only reads the same
// messages through one ordered consumer: the target is audit/bare <= 1.5.
func BenchmarkAudit100k(b *testing.B) {
	const counterCount, changes = 1000, 100
	s := testserver.Single(b)
	c := countertest.NewClient(b, s)
	countertest.MustCreate(b, c, streams.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}})
	nc := testserver.Connect(b, s)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	for i := range counterCount * changes {
		msg := nats.NewMsg("bench." + strconv.Itoa(i%counterCount))
		msg.Header.Set(counters.HeaderIncr, "+"+strconv.Itoa(i%7))
		if _, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(30*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		b.Fatal("seeding did not finish")
	}
	audit := func() {
		r, err := history.Audit(ctx, c, []string{"bench.>"}, history.AuditOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if r.Messages != counterCount*changes || len(r.Counters) != counterCount || r.Problems() != 0 {
			b.Fatalf("%d messages, %d counters, %d problems", r.Messages, len(r.Counters), r.Problems())
		}
	}
	bare := func() {
		if n := bareRead(b, js, "BENCH", "bench.>"); n != counterCount*changes {
			b.Fatalf("read %d messages", n)
		}
	}
	// Side by side in each round, so that a machine whose load changes
	// during the run slows both alike; one warm-up round each.
	audit()
	bare()
	var auditTime, bareTime time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		audit()
		auditTime += time.Since(start)
		start = time.Now()
		bare()
		bareTime += time.Since(start)
	}
	b.ReportMetric(auditTime.Seconds()/float64(b.N), "audit-s/op")
	b.ReportMetric(bareTime.Seconds()/float64(b.N), "bare-s/op")
	b.ReportMetric(float64(auditTime)/float64(bareTime), "audit/bare")
}

// bareRead is the smallest nats.go program that reads every message of a
// stream once: one ordered consumer, stop when caught up.
func bareRead(b *testing.B, js jetstream.JetStream, stream, filter string) int {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		b.Fatal(err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		b.Fatal(err)
	}
	defer it.Stop()
	n := 0
	for {
		msg, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			b.Fatal(err)
		}
		n++
		if meta.NumPending == 0 {
			return n
		}
	}
}
