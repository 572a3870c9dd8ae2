package counters

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// FuzzConsumerFilters checks that Get never gives one consumer overlapping
// filters (the server refuses them) and that the split loses no pattern.
func FuzzConsumerFilters(f *testing.F) {
	for _, s := range []string{"a.>,a.*", "a.*,a.*", "a.*.y,a.x.*", "a.>,b.>", ">,*", "*.b,a.*,a.>,a.b.c", "a.*.*,a.>,*.*.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var patterns []string
		for _, p := range strings.Split(in, ",") {
			if ValidSubject(p, true) == nil && len(p) < 64 {
				patterns = append(patterns, p)
			}
		}
		sets := ConsumerFilters(patterns)
		var kept []string
		for _, set := range sets {
			for i, p := range set {
				for _, q := range set[i+1:] {
					if server.SubjectsCollide(p, q) {
						t.Fatalf("ConsumerFilters(%q) = %q: %q and %q share a consumer but overlap", patterns, sets, p, q)
					}
				}
			}
			kept = append(kept, set...)
		}
		for _, p := range patterns {
			found := false
			for _, k := range kept {
				found = found || server.SubjectMatchesFilter(p, k)
			}
			if !found {
				t.Fatalf("ConsumerFilters(%q) = %q: nothing reads %q", patterns, sets, p)
			}
		}
		if len(kept) > len(patterns) {
			t.Fatalf("ConsumerFilters(%q) = %q: more filters than patterns", patterns, sets)
		}
	})
}
