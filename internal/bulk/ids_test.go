package bulk

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestIDSetMatchesMap: the id check, sorted in memory or spilled in runs
// of a few records and merged, finds exactly the lines a map of ids finds.
func TestIDSetMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, runLen := range []int{3, 64, 1 << 20} {
		for round := range 20 {
			n := 1 + rng.IntN(400)
			ids := newIDSet(runLen)
			first := map[string]struct {
				line int
				inc  string
			}{}
			var want []string
			for line := 1; line <= n; line++ {
				id := fmt.Sprint("id-", rng.IntN(n/2+1))
				subj := fmt.Sprint("s.", rng.IntN(3))
				delta := int64(rng.IntN(3))
				l := bulkLine{subject: []byte(subj), delta: delta, id: []byte(id)}
				if err := ids.add(l, line); err != nil {
					t.Fatal(err)
				}
				inc := fmt.Sprint(subj, " ", delta)
				if f, ok := first[id]; !ok {
					first[id] = struct {
						line int
						inc  string
					}{line, inc}
				} else if f.inc != inc {
					want = append(want, fmt.Sprint(line, "<", f.line))
				}
			}
			var got []string
			if err := ids.collisions(context.Background(), func(line, first int) { got = append(got, fmt.Sprint(line, "<", first)) }); err != nil {
				t.Fatal(err)
			}
			ids.close()
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("run length %d, round %d: collisions %v, want %v", runLen, round, got, want)
			}
		}
	}
}

// TestRecentIDsForget: --follow remembers the last recentIDsLen ids only.
func TestRecentIDsForget(t *testing.T) {
	r := newRecentIDs()
	l := func(id string, d int64) bulkLine { return bulkLine{subject: []byte("s"), delta: d, id: []byte(id)} }
	if r.check(l("a", 1), 1) != 0 || r.check(l("a", 2), 2) != 1 || r.check(l("a", 1), 3) != 0 {
		t.Fatal("a reused id not found")
	}
	for i := range recentIDsLen {
		r.check(l(fmt.Sprint("x", i), 1), 10+i)
	}
	if len(r.byID) != recentIDsLen || r.check(l("a", 2), 1e6) != 0 {
		t.Fatalf("%d ids kept; the oldest is still checked", len(r.byID))
	}
}

// TestReplayFile: a regular file is read twice from where it started (stdin
// redirected from a file, partly read), exactly the bytes checked; one
// changed in between is refused.
func TestReplayFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte("skip\na 1\nb 2\n"), 0o600)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Seek(5, io.SeekStart)
	p := newReplay(f, 10)
	first, _ := io.ReadAll(p.first())
	if err := p.endFirst(); err != nil || string(first) != "a 1\nb 2\n" || p.spill != nil {
		t.Fatalf("first pass %q, %v, spilled %v", first, err, p.spill != nil)
	}
	rd, err := p.second()
	if err != nil {
		t.Fatal(err)
	}
	if second, _ := io.ReadAll(rd); string(second) != string(first) {
		t.Fatalf("second pass %q, want %q", second, first)
	}
	os.WriteFile(path, []byte("skip\na 1\nb 2\nc 3\n"), 0o600)
	if _, err := p.second(); err == nil || !strings.Contains(err.Error(), "changed while it was being checked") {
		t.Fatalf("changed file: %v", err)
	}
	// Anything else is copied while it is read.
	p = newReplay(strings.NewReader("x 1\n"), 10)
	defer p.close()
	io.ReadAll(p.first())
	p.endFirst()
	rd, _ = p.second()
	if b, _ := io.ReadAll(rd); string(b) != "x 1\n" || p.spill == nil {
		t.Fatalf("spilled input read back as %q", b)
	}
}
