package topology

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// Subject mapping across one edge.
//
// Upward (MapUp) uses nats-server's own transform code, so a literal subject
// lands where the server would store it. Downward (MapDown) is hand-written:
// the server's reverse is unexported. It handles literal tokens, '*', '>',
// $N and {{wildcard(N)}}; any other mapping function ({{partition}},
// {{split}}, ...) is treated as "any token", which over-approximates: the
// upstream pattern then keeps a '*' where the value cannot be recovered.
//
// Both directions are exact for literal subjects. A subject with wildcards
// is mapped only when the edge carries all of it (it is a subset of the
// filter or of a transform's source); a partial overlap is not mapped.

// MapUp returns the subject under which the upstream's subject is stored
// in the consuming stream, and false when e does not carry it.
func (e Edge) MapUp(subject string) (string, bool) {
	if len(e.Transforms) == 0 {
		if e.Filter == "" || Covers(e.Filter, subject) {
			return subject, true
		}
		return "", false
	}
	// The server applies the first transform whose source matches.
	for _, t := range e.Transforms {
		from := orAll(t.From)
		if !Covers(from, subject) {
			continue
		}
		if t.To == "" || t.To == from {
			return subject, true
		}
		tr := transformer(from, t.To)
		if tr == nil {
			return "", false
		}
		return tr.TransformTokenizedSubject(strings.Split(subject, ".")), true
	}
	return "", false
}

// MapDown returns the upstream subjects (patterns when the mapping drops a
// wildcard, so many upstream subjects sum into one) that e stores as
// subject in the consuming stream.
func (e Edge) MapDown(subject string) []string {
	if len(e.Transforms) == 0 {
		if e.Filter == "" || Covers(e.Filter, subject) {
			return []string{subject}
		}
		return nil
	}
	var out []string
	for i, t := range e.Transforms {
		from := orAll(t.From)
		var up string
		if t.To == "" || t.To == from {
			if !Covers(from, subject) {
				continue
			}
			up = subject
		} else {
			var ok bool
			if up, ok = reverse(from, t.To, subject); !ok {
				continue
			}
		}
		if shadowed(e.Transforms[:i], up) {
			continue
		}
		if !contains(out, up) {
			out = append(out, up)
		}
	}
	return out
}

// shadowed: an earlier transform takes every subject of up, so this one
// never sees them (first match wins).
func shadowed(earlier []Transform, up string) bool {
	for _, t := range earlier {
		if Covers(orAll(t.From), up) {
			return true
		}
	}
	return false
}

func orAll(s string) string {
	if s == "" {
		return ">"
	}
	return s
}

var wildcardRef = regexp.MustCompile(`^\{\{\s*[wW]ildcard\s*\(\s*(\d+)\s*\)\s*\}\}$`)

// placeholder parses a destination token: the wildcard index it copies
// (1-based), -1 for another mapping function, 0 for a literal token.
func placeholder(tok string) int {
	if len(tok) > 1 && tok[0] == '$' {
		if n, err := strconv.Atoi(tok[1:]); err == nil {
			return n
		}
		return 0 // the server leaves other $ tokens literal
	}
	if m := wildcardRef.FindStringSubmatch(tok); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if strings.HasPrefix(tok, "{{") && strings.HasSuffix(tok, "}}") {
		return -1
	}
	return 0
}

// reverse finds the upstream subject that transform from->to maps onto
// subject; unbound source wildcards stay '*'.
func reverse(from, to, subject string) (string, bool) {
	dtoks := strings.Split(to, ".")
	stoks := strings.Split(subject, ".")
	bound := map[int]string{}
	var rest []string
	j := 0
	for i, d := range dtoks {
		if d == ">" {
			if i != len(dtoks)-1 || j >= len(stoks) {
				return "", false
			}
			rest = stoks[j:]
			j = len(stoks)
			break
		}
		if j >= len(stoks) {
			return "", false
		}
		s := stoks[j]
		j++
		switch n := placeholder(d); {
		case n > 0:
			if prev, ok := bound[n]; ok && prev != s && prev != "*" && s != "*" {
				return "", false // one wildcard copied twice must agree
			}
			if s != "*" || bound[n] == "" {
				bound[n] = s
			}
		case n < 0:
			// Unknown function: any value, recovers nothing.
		default:
			if d != s && s != "*" {
				return "", false
			}
		}
	}
	if j != len(stoks) {
		return "", false
	}
	var up []string
	k := 0
	for _, t := range strings.Split(from, ".") {
		switch t {
		case "*":
			k++
			if v, ok := bound[k]; ok {
				up = append(up, v)
			} else {
				up = append(up, "*")
			}
		case ">":
			if rest == nil {
				up = append(up, ">")
			} else {
				up = append(up, rest...)
			}
		default:
			up = append(up, t)
		}
	}
	return strings.Join(up, "."), true
}

// Covers reports whether every subject matching sub also matches pattern.
func Covers(pattern, sub string) bool { return server.SubjectMatchesFilter(sub, pattern) }

// Overlaps reports whether some subject matches both a and b.
func Overlaps(a, b string) bool { return server.SubjectsCollide(a, b) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type subjectTransformer interface {
	TransformTokenizedSubject(tokens []string) string
}

var transformers sync.Map // "from\x00to" -> subjectTransformer (nil if invalid)

// transformer returns the server's transform for from->to, cached: building
// one parses every destination token.
func transformer(from, to string) subjectTransformer {
	key := from + "\x00" + to
	if v, ok := transformers.Load(key); ok {
		tr, _ := v.(subjectTransformer)
		return tr
	}
	var tr subjectTransformer
	if t, err := server.NewSubjectTransform(from, to); err == nil && t != nil {
		tr = t
	}
	transformers.Store(key, tr)
	return tr
}

// intersect returns a pattern for the subjects matching both a and b.
func intersect(a, b string) (string, bool) {
	at := strings.Split(a, ".")
	bt := strings.Split(b, ".")
	var out []string
	for i := 0; ; i++ {
		switch {
		case i == len(at) && i == len(bt):
			return strings.Join(out, "."), true
		case i < len(at) && at[i] == ">":
			if i == len(bt) {
				return "", false
			}
			return strings.Join(append(out, bt[i:]...), "."), true
		case i < len(bt) && bt[i] == ">":
			if i == len(at) {
				return "", false
			}
			return strings.Join(append(out, at[i:]...), "."), true
		case i == len(at) || i == len(bt):
			return "", false
		case at[i] == "*":
			out = append(out, bt[i])
		case bt[i] == "*" || at[i] == bt[i]:
			out = append(out, at[i])
		default:
			return "", false
		}
	}
}

// carried returns the part of pattern p (in the upstream's names) that e
// carries, before any renaming.
func (e Edge) carried(p string) []string {
	if len(e.Transforms) == 0 {
		if e.Filter == "" {
			return []string{p}
		}
		if q, ok := intersect(p, e.Filter); ok {
			return []string{q}
		}
		return nil
	}
	var out []string
	for _, t := range e.Transforms {
		if q, ok := intersect(p, orAll(t.From)); ok && !contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}

// mapPattern maps every subject of pattern p that e carries, as patterns
// in the consuming stream. It over-approximates (a transform shadowed by an
// earlier one still maps): used to decide whether data can circulate.
func (e Edge) mapPattern(p string) []string {
	if len(e.Transforms) == 0 {
		return e.carried(p)
	}
	var out []string
	for _, t := range e.Transforms {
		from := orAll(t.From)
		q, ok := intersect(p, from)
		if !ok {
			continue
		}
		if t.To != "" && t.To != from {
			tr := transformer(from, t.To)
			if tr == nil {
				continue
			}
			q = tr.TransformTokenizedSubject(strings.Split(q, "."))
		}
		if !contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}
