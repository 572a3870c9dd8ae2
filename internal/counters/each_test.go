package counters_test

import (
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestEachOrderAndOnce: Each delivers in the order of the patterns, a
// literal where it is named, a wildcard's counters in the server's order
// (by last change, oldest first), and every counter once however the
// patterns overlap; Get sorts the same counters.
func TestEachOrderAndOnce(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "A", Subjects: []string{"a.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "B", Subjects: []string{"b.>"}})
	// Last changes in this order: a.10, a.2, b.1, a.x.y, b.2, a.1.
	for _, inc := range []struct {
		subject string
		delta   int64
	}{{"a.1", 1}, {"a.10", 10}, {"a.2", 2}, {"b.1", 10}, {"a.x.y", 3}, {"b.2", -20}, {"a.1", 0}} {
		if _, err := c.Incr(ctx, inc.subject, big.NewInt(inc.delta), ""); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		patterns []string
		want     []string
		streams  []string
	}{
		{[]string{"a.>"}, []string{"A:a.10=10", "A:a.2=2", "A:a.x.y=3", "A:a.1=1"}, []string{"A"}},
		{[]string{"b.2", "a.1", "b.1"}, []string{"B:b.2=-20", "A:a.1=1", "B:b.1=10"}, []string{"B", "A"}},
		// A literal named after a wildcard that holds it, and before.
		{[]string{"a.*", "a.2"}, []string{"A:a.10=10", "A:a.2=2", "A:a.1=1"}, []string{"A"}},
		{[]string{"a.2", "a.*"}, []string{"A:a.2=2", "A:a.10=10", "A:a.1=1"}, []string{"A"}},
		// Repeats, overlapping and nested wildcards.
		{[]string{"a.1", "a.1"}, []string{"A:a.1=1"}, []string{"A"}},
		{[]string{"a.*", "a.>"}, []string{"A:a.10=10", "A:a.2=2", "A:a.1=1", "A:a.x.y=3"}, []string{"A"}},
		{[]string{"a.>", "a.*"}, []string{"A:a.10=10", "A:a.2=2", "A:a.x.y=3", "A:a.1=1"}, []string{"A"}},
		{[]string{"a.*.y", "a.x.*"}, []string{"A:a.x.y=3"}, []string{"A"}},
		// One pattern, several streams: stream by stream.
		{[]string{"*.1"}, []string{"A:a.1=1", "B:b.1=10"}, []string{"A", "B"}},
		{[]string{"b.>", ">"}, []string{"B:b.1=10", "B:b.2=-20", "A:a.10=10", "A:a.2=2", "A:a.x.y=3", "A:a.1=1"}, []string{"B", "A"}},
	}
	for _, tc := range cases {
		r, err := c.Prepare(ctx, tc.patterns, counters.GetOptions{})
		if err != nil {
			t.Fatalf("Prepare(%q): %v", tc.patterns, err)
		}
		var got []counters.Counter
		if err := r.Each(ctx, func(ctr counters.Counter) error { got = append(got, ctr); return nil }); err != nil {
			t.Errorf("Each(%q): %v", tc.patterns, err)
			continue
		}
		if !slices.Equal(countertest.Subjects(got), tc.want) {
			t.Errorf("Each(%q) = %v, want %v", tc.patterns, countertest.Subjects(got), tc.want)
		}
		if slices.Sort(tc.streams); !slices.Equal(slices.Sorted(slices.Values(r.Streams())), tc.streams) {
			t.Errorf("Streams(%q) = %v, want %v", tc.patterns, r.Streams(), tc.streams)
		}
		sorted, err := c.Get(ctx, tc.patterns, counters.GetOptions{})
		want := slices.Clone(tc.want)
		slices.SortFunc(want, func(a, b string) int { return strings.Compare(subjectOf(a), subjectOf(b)) })
		if err != nil || !slices.Equal(countertest.Subjects(sorted), want) {
			t.Errorf("Get(%q) = %v, %v; want %v", tc.patterns, countertest.Subjects(sorted), err, want)
		}
	}

	// Patterns that match nothing: everything found first, then the error.
	r, err := c.Prepare(ctx, []string{"a.none", "a.1", "b.none.>", "b.2"}, counters.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []counters.Counter
	err = r.Each(ctx, func(ctr counters.Counter) error { got = append(got, ctr); return nil })
	if !errors.Is(err, errkind.ErrNotFound) || !strings.Contains(err.Error(), "a.none, b.none.>") {
		t.Errorf("Each with missing patterns: %v", err)
	}
	if want := []string{"A:a.1=1", "B:b.2=-20"}; !slices.Equal(countertest.Subjects(got), want) {
		t.Errorf("Each with missing patterns delivered %v, want %v", countertest.Subjects(got), want)
	}

	// An error from fn ends the read and comes back as it is.
	stop := errors.New("stop")
	calls := 0
	if err := r.Each(ctx, func(counters.Counter) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("Each with a failing fn: %v after %d calls", err, calls)
	}
}

// subjectOf is the subject in a countertest.Subjects entry ("A:a.1=1").
func subjectOf(s string) string {
	_, rest, _ := strings.Cut(s, ":")
	subject, _, _ := strings.Cut(rest, "=")
	return subject
}
