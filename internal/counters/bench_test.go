package counters_test

import (
	"math/big"
	"testing"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
)

// BenchmarkGet100k reads 100,000 counters through one wildcard, the path
// `counter get 'bench.>'` takes.
func BenchmarkGet100k(b *testing.B) {
	const n = 100_000
	s := testserver.Single(b)
	c := newClient(b, s)
	mustCreate(b, c, counters.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}})
	seed(b, testserver.Connect(b, s), "bench", n)
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
	c := newClient(b, testserver.Single(b))
	mustCreate(b, c, counters.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}})
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
	c := newClient(b, s)
	mustCreate(b, c, counters.StreamSpec{Name: "BENCH", Subjects: []string{"bench.>"}})
	seed(b, testserver.Connect(b, s), "bench", 1000)
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.Get(ctx, []string{"bench.500"}, counters.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 1 || got[0].Value.Int64() != 500 {
			b.Fatalf("got %v", subjects(got))
		}
	}
}
