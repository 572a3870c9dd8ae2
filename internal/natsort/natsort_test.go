package natsort

import (
	"slices"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	got := []string{"c10", "c2", "c1", "count.eu.hits", "c", "c02", "b100", "c2a", "c2.10", "c2.9", "c" + strings.Repeat("9", 40), "c" + strings.Repeat("1", 41)}
	slices.SortFunc(got, Compare)
	want := []string{"b100", "c", "c1", "c02", "c2", "c2.9", "c2.10", "c2a", "c10", "c" + strings.Repeat("9", 40), "c" + strings.Repeat("1", 41), "count.eu.hits"}
	if !slices.Equal(got, want) {
		t.Fatalf("sorted:\n%q\nwant:\n%q", got, want)
	}
	for _, s := range want {
		if Compare(s, s) != 0 {
			t.Fatalf("Compare(%q, %q) != 0", s, s)
		}
	}
}

// FuzzCompare: a total order (antisymmetric, and consistent with equality).
func FuzzCompare(f *testing.F) {
	f.Add("c2", "c10")
	f.Add("a01", "a1")
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := Compare(a, b), Compare(b, a)
		if ab != -ba {
			t.Fatalf("Compare(%q,%q)=%d but Compare(%q,%q)=%d", a, b, ab, b, a, ba)
		}
		if (ab == 0) != (a == b) {
			t.Fatalf("Compare(%q,%q)=%d", a, b, ab)
		}
	})
}
