package live

import (
	"fmt"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/watch"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func upd(stream, subject, value string, seq uint64) watch.Update {
	v, ok := new(big.Int).SetString(value, 10)
	if !ok {
		panic(value)
	}
	return watch.Update{Subject: subject, Stream: stream, Value: v, Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second)}
}

func str(v *big.Int) string {
	if v == nil {
		return "<nil>"
	}
	return v.String()
}

func TestApplyLineDeltas(t *testing.T) {
	b := NewBoard(t0)
	big30 := "123456789012345678901234567890"
	steps := []struct {
		u            watch.Update
		changed      bool
		value, delta string
	}{
		{upd("S", "a", big30, 1), true, big30, "<nil>"},
		{upd("S", "a", "123456789012345678901234567895", 2), true, "123456789012345678901234567895", "5"},
		// The same message again (a stream resumed after a reconnect).
		{upd("S", "a", "123456789012345678901234567895", 2), false, "", ""},
		{upd("S", "a", "7", 3), true, "7", "-123456789012345678901234567888"},
		// The same subject in another stream is another counter.
		{upd("T", "a", "7", 1), true, "7", "<nil>"},
	}
	for i, s := range steps {
		c, changed := b.Apply(s.u, t0)
		if changed != s.changed {
			t.Fatalf("step %d: changed %v, want %v", i, changed, s.changed)
		}
		if !changed {
			if _, ok := b.Line(c); ok {
				t.Fatalf("step %d: a line for an unchanged counter", i)
			}
			continue
		}
		l, ok := b.Line(c)
		if !ok || str(l.Value) != s.value || str(l.Delta) != s.delta || l.Seq != s.u.Seq || l.Stream != s.u.Stream {
			t.Fatalf("step %d: line %+v (value %s delta %s), want value %s delta %s", i, l, str(l.Value), str(l.Delta), s.value, s.delta)
		}
	}
	if b.Len() != 2 {
		t.Fatalf("Len %d, want 2", b.Len())
	}
	if len(b.dirty) != 0 {
		t.Fatalf("dirty list keeps %d printed counters", len(b.dirty))
	}
}

func TestLinesCoalesce(t *testing.T) {
	b := NewBoard(t0)
	b.Apply(upd("S", "a", "1", 1), t0)
	b.Apply(upd("S", "b", "10", 2), t0)
	b.Apply(upd("S", "a", "2", 3), t0)
	b.Apply(upd("S", "a", "5", 4), t0)
	got := lineStrings(b.Lines())
	want := []string{"a 5 <nil> 4", "b 10 <nil> 2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first interval %v, want %v", got, want)
	}
	if l := b.Lines(); len(l) != 0 {
		t.Fatalf("nothing changed, got %v", lineStrings(l))
	}
	b.Apply(upd("S", "b", "11", 5), t0)
	b.Apply(upd("S", "a", "4", 6), t0)
	b.Apply(upd("S", "a", "9", 7), t0)
	got = lineStrings(b.Lines())
	// The delta spans the whole interval: the change since the last line.
	want = []string{"b 11 1 5", "a 9 4 7"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("second interval %v, want %v", got, want)
	}
}

func lineStrings(ls []Line) []string {
	var out []string
	for _, l := range ls {
		out = append(out, fmt.Sprintf("%s %s %s %d", l.Subject, str(l.Value), str(l.Delta), l.Seq))
	}
	return out
}

func TestChangeCountsFromStart(t *testing.T) {
	b := NewBoard(t0)
	b.Apply(upd("S", "old", "100", 1), t0)
	b.Synced("S")
	b.Apply(upd("S", "old", "103", 2), t0)
	b.Apply(upd("S", "new", "4", 3), t0)
	// Another stream still delivering its initial values.
	b.Apply(upd("T", "early", "50", 1), t0)
	for subj, want := range map[string]string{"old": "3", "new": "4"} {
		if got := b.Get("S", subj).Change().String(); got != want {
			t.Errorf("change of %s = %s, want %s", subj, got, want)
		}
	}
	if got := b.Get("T", "early").Change().String(); got != "0" {
		t.Errorf("change of a counter seen while loading = %s, want 0", got)
	}
	if b.IsSynced([]string{"S", "T"}) || !b.IsSynced([]string{"S"}) {
		t.Errorf("IsSynced wrong")
	}
}

func TestRate(t *testing.T) {
	b := NewBoard(t0)
	b.Apply(upd("S", "a", "0", 1), t0)
	b.Synced("S")
	// +1 every 100ms (10 per second) for 20 seconds.
	for i := 1; i <= 200; i++ {
		now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		b.Apply(upd("S", "a", strconv.Itoa(i), uint64(i+1)), now)
	}
	now := t0.Add(20 * time.Second)
	if r := b.Get("S", "a").Rate(now); r < 9.7 || r > 10.3 {
		t.Fatalf("rate %v, want 10", r)
	}
	if r := b.UpdateRate(now); r < 9.7 || r > 10.3 {
		t.Fatalf("update rate %v, want 10", r)
	}
	// Idle for two windows: the rate falls to 0.
	later := now.Add(2*RateWindow + time.Second)
	b.Get("S", "a").Rate(now.Add(RateWindow + time.Second))
	if r := b.Get("S", "a").Rate(later); r != 0 {
		t.Fatalf("rate after idling %v, want 0", r)
	}
	// A counter seen a moment ago does not report an absurd rate.
	b.Apply(upd("S", "fresh", "5", 30), later)
	if r := b.Get("S", "fresh").Rate(later.Add(time.Millisecond)); r != 5 {
		t.Fatalf("rate of a new counter %v, want 5 (5 over at least a second)", r)
	}
}

func TestTop(t *testing.T) {
	b := NewBoard(t0)
	b.Synced("S")
	for i, v := range []string{"5", "100000000000000000000000000000000", "-3", "5", "42"} {
		b.Apply(upd("S", fmt.Sprintf("c%d", i), v, uint64(i+1)), t0)
	}
	// c1 moves fastest after the start.
	b.Apply(upd("S", "c2", "997", 10), t0.Add(time.Second))
	now := t0.Add(time.Second)
	cases := []struct {
		by   SortBy
		n    int
		want string
	}{
		{BySubject, 3, "[c0 c1 c2]"},
		{ByValue, 3, "[c1 c2 c4]"},
		{ByValue, 10, "[c1 c2 c4 c0 c3]"},
		{ByRate, 2, "[c1 c2]"},
		{BySubject, 0, "[]"},
	}
	for _, c := range cases {
		var got []string
		for _, r := range b.Top(c.n, c.by, now) {
			got = append(got, r.Subject)
		}
		if s := fmt.Sprint(got); s != c.want {
			t.Errorf("Top(%d, %s) = %s, want %s", c.n, c.by, s, c.want)
		}
	}
}

// BenchmarkWatchBoard100k applies updates spread over 100,000 counters and
// builds a frame's rows every 50,000 updates (one second at the target
// rate). ns/op is per update: under 20µs keeps up with 50k updates/s.
func BenchmarkWatchBoard100k(b *testing.B) {
	const counters100k = 100_000
	board := NewBoard(t0)
	subjects := make([]string, counters100k)
	for i := range subjects {
		subjects[i] = "count.region" + strconv.Itoa(i%50) + ".c" + strconv.Itoa(i)
		board.Apply(upd("S", subjects[i], strconv.Itoa(i), uint64(i+1)), t0)
	}
	board.Synced("S")
	b.ReportAllocs()
	b.ResetTimer()
	now := t0
	seq := uint64(counters100k)
	for i := 0; i < b.N; i++ {
		seq++
		u := watch.Update{Subject: subjects[i*7919%counters100k], Stream: "S", Value: big.NewInt(int64(i)), Seq: seq, Time: now}
		c, _ := board.Apply(u, now)
		board.Line(c)
		if i%50_000 == 0 {
			now = now.Add(time.Second)
			board.Top(50, ByRate, now)
		}
	}
}
