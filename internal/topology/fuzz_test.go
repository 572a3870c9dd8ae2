package topology

import (
	"strings"
	"testing"
)

// FuzzMapRoundTrip: whatever MapDown finds for a subject must map back up
// to that subject (when it is literal), and MapUp must agree with Down.
func FuzzMapRoundTrip(f *testing.F) {
	for _, seed := range [][3]string{
		{"count.pl.>", "count.eu.>", "count.eu.hits"},
		{"a.*.*", "x.$2.$1", "x.c.b"},
		{"a.*.*", "x.{{wildcard(2)}}.{{ Wildcard(1) }}", "x.c.b"},
		{"a.*.hits", "all.hits", "all.hits"},
		{"a.*", "b.{{partition(3,1)}}", "b.0"},
		{"", "", "a.b"},
		{"a.*.>", "z.{{wildcard(1)}}.>", "z.q.r.s"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, from, to, subject string) {
		if !validLiteral(subject) {
			return
		}
		e := Edge{Transforms: []Transform{{From: from, To: to}}}
		if from != "" && transformer(orAll(from), to) == nil && to != "" {
			return // the server would reject this source
		}
		for _, up := range e.MapDown(subject) {
			if strings.ContainsAny(up, "*>") {
				continue // a pattern: many upstream subjects sum into subject
			}
			got, ok := e.MapUp(up)
			if placeholderFree(to) && (!ok || got != subject) {
				t.Fatalf("MapDown(%q) gave %q, which maps up to %q %v", subject, up, got, ok)
			}
		}
	})
}

func validLiteral(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n*>") {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" {
			return false
		}
	}
	return true
}

// placeholderFree: only literal tokens and wildcard references, the
// mappings MapDown inverts exactly.
func placeholderFree(to string) bool {
	for _, tok := range strings.Split(to, ".") {
		if placeholder(tok) < 0 {
			return false
		}
	}
	return true
}
