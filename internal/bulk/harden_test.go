package bulk_test

import (
	"context"
	"errors"
	"io"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/jetcounter/counter/internal/bulk"
	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/testserver"
)

func nines(n int) string { return strings.Repeat("9", n) }

// TestBulkCarryCheck: a bulk line gets every check a single increment
// gets, the carry check of aggregates above too: a delta, or the value it
// leads to, that EU could not carry is refused (nothing sent) instead of
// stopping EU's source for every later counter, silently. The topology is
// walked once per run, not once per line.
func TestBulkCarryCheck(t *testing.T) {
	t.Parallel() // its own server
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1) // EU has 2 sources
	// Every subject below has as many bytes as count.de.big: one limit.
	limit := counters.MaxCarriedDigits(2, len("DE")+20, len("count.de.big"))

	for _, tc := range []struct {
		name, input string
		opts        bulk.BulkOptions
		line        int
	}{
		{"one line", "count.de.okk 5\ncount.de.big " + nines(limit+1) + "\n", bulk.BulkOptions{}, 2},
		{"negative", "count.de.big -" + nines(limit+1) + "\n", bulk.BulkOptions{}, 1},
		// Each fits; the value they lead to does not.
		{"value", "count.de.sss " + nines(limit) + "\ncount.de.sss " + nines(limit) + "\n", bulk.BulkOptions{}, 2},
		{"coalesced", "count.de.cco " + nines(limit) + "\ncount.de.cco " + nines(limit) + "\n", bulk.BulkOptions{Coalesce: true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := bulk.Bulk(ctx, c, strings.NewReader(tc.input), tc.opts)
			var ie *bulk.InputError
			if !errors.As(err, &ie) || !errors.Is(err, errkind.ErrInvalid) || ie.Lines[0].Line != tc.line ||
				!strings.Contains(err.Error(), "more than aggregate EU above could carry") {
				t.Fatalf("got %+v, %v; want line %d refused: EU could not carry it", res, err, tc.line)
			}
			if n := countertest.SubjectMsgs(t, c.Conn(), "DE", "count.de.okk"); n != 0 {
				t.Fatalf("DE holds %d messages of count.de.okk: something was sent", n)
			}
		})
	}

	// Many large deltas over a few counters: one walk, one read per counter.
	jsz := func() uint64 {
		j, err := s.Jsz(nil)
		if err != nil {
			t.Fatal(err)
		}
		return j.API.Total
	}
	var sb strings.Builder
	for i := range 60 {
		sb.WriteString("count.de.many" + string(rune('a'+i%3)) + " 1" + strings.Repeat("0", 1200) + "\n")
	}
	before := jsz()
	res, err := bulk.Bulk(ctx, c, strings.NewReader(sb.String()), bulk.BulkOptions{})
	if err != nil || res.Applied != 60 {
		t.Fatalf("%+v, %v", res, err)
	}
	if n := jsz() - before; n > 15 {
		t.Errorf("%d JetStream API requests for 60 large deltas over 3 counters: the checks are not cached", n)
	}
	want := new(big.Int).Mul(countertest.Big(t, "1"+strings.Repeat("0", 1200)), big.NewInt(20))
	countertest.WaitValue(t, c, "EU", "count.eu.manya", want.String())

	// --follow skips such a line and goes on.
	var (
		mu  sync.Mutex
		bad []bulk.LineError
	)
	res, err = bulk.Bulk(ctx, c, strings.NewReader("count.de.fff "+nines(limit+1)+"\ncount.de.fff 2\n"), bulk.BulkOptions{Follow: true,
		BadLine: func(e bulk.LineError) { mu.Lock(); bad = append(bad, e); mu.Unlock() }})
	if err != nil || res.Skipped != 1 || res.Applied != 1 || len(bad) != 1 || !strings.Contains(bad[0].Error(), "could carry") {
		t.Fatalf("--follow: %+v, %v, bad lines %v", res, err, bad)
	}
}

// TestBulkIDCollisions: two lines with one id and different increments
// would lose one silently (the server drops the second as a duplicate):
// the input is refused, nothing sent. The same increment twice is what ids
// are for. An ID column of the form --id-prefix gives is refused.
func TestBulkIDCollisions(t *testing.T) {
	t.Parallel() // its own server
	_, c := bulkFixture(t)
	before := lastSeq(t, c, "B")
	for _, tc := range []struct {
		name, input string
		opts        bulk.BulkOptions
		line        int
		says        string
	}{
		{"different delta", "b.dup 1 X\nb.dup 10 X\n", bulk.BulkOptions{}, 2, "its id is also the id of line 1"},
		{"different subject", "b.a 1 X\nb.ok\nb.b 1 X\n", bulk.BulkOptions{}, 3, "its id is also the id of line 1"},
		{"big", "b.a 1" + strings.Repeat("0", 30) + " X\nb.a 2" + strings.Repeat("0", 30) + " X\n", bulk.BulkOptions{}, 2, "line 1"},
		{"generated", "b.a 1 p:2\nb.b 5\n", bulk.BulkOptions{IDPrefix: "p"}, 1, `id "p:2" has the form --id-prefix p gives`},
		{"generated later", "b.b 5\nb.a 1 p:1\n", bulk.BulkOptions{IDPrefix: "p"}, 2, "--id-prefix p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := bulk.Bulk(ctx, c, strings.NewReader(tc.input), tc.opts)
			var ie *bulk.InputError
			if !errors.As(err, &ie) || !errors.Is(err, errkind.ErrInvalid) || ie.Lines[0].Line != tc.line || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %+v, %v; want line %d refused: %s", res, err, tc.line, tc.says)
			}
			if got := lastSeq(t, c, "B"); got != before {
				t.Fatalf("stream B last seq %d, want %d: something was written", got, before)
			}
		})
	}
	// The same increment twice with one id, however the delta is written:
	// applied once. An id that only starts like a generated one is fine.
	res, err := bulk.Bulk(ctx, c, strings.NewReader("b.same 5 S\nb.same +5 S\nb.same 0000000000000000000005 S\nb.x 1 p:x\n"), bulk.BulkOptions{IDPrefix: "p"})
	if err != nil || res.Applied != 2 || res.Duplicates != 2 {
		t.Fatalf("%+v, %v: want 2 applied, 2 duplicates", res, err)
	}
	countertest.WaitValue(t, c, "B", "b.same", "5")

	// --follow checks the ids it has seen lately: the colliding line is
	// skipped, the rest applied.
	var bad []bulk.LineError
	res, err = bulk.Bulk(ctx, c, strings.NewReader("b.fol 1 F\nb.fol 10 F\nb.fol 1 F\nb.fol 2 G\n"), bulk.BulkOptions{Follow: true,
		BadLine: func(e bulk.LineError) { bad = append(bad, e) }})
	if err != nil || res.Skipped != 1 || len(bad) != 1 || bad[0].Line != 2 || res.Applied != 2 || res.Duplicates != 1 {
		t.Fatalf("--follow: %+v, %v, bad %v", res, err, bad)
	}
	countertest.WaitValue(t, c, "B", "b.fol", "3")
}

// TestBulkSpillLimit: input that is not a regular file is kept in a
// temporary file while it is checked, up to SpillLimit; past it the run is
// refused (exit 2), nothing sent.
func TestBulkSpillLimit(t *testing.T) {
	t.Parallel() // its own server
	_, c := bulkFixture(t)
	before := lastSeq(t, c, "B")
	input := strings.Repeat("b.spill 1\n", 1000)
	_, err := bulk.Bulk(ctx, c, strings.NewReader(input), bulk.BulkOptions{SpillLimit: 5000})
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "the input is more than 5000 bytes") {
		t.Fatalf("err %v", err)
	}
	if got := lastSeq(t, c, "B"); got != before {
		t.Fatalf("something was written")
	}
	res, err := bulk.Bulk(ctx, c, strings.NewReader(input), bulk.BulkOptions{SpillLimit: int64(len(input))})
	if err != nil || res.Applied != 1000 {
		t.Fatalf("%+v, %v", res, err)
	}
	countertest.WaitValue(t, c, "B", "b.spill", "1000")
}

// TestBulkFollowInterruptedLine: a --follow run interrupted in the middle
// of a line (an over-long one here) neither reports nor counts it: the
// line was cut short, not found bad, and the summary agrees with stderr.
func TestBulkFollowInterruptedLine(t *testing.T) {
	t.Parallel() // its own server
	_, c := bulkFixture(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	cctx, cancel := context.WithCancel(ctx)
	var (
		mu  sync.Mutex
		bad []bulk.LineError
	)
	done := make(chan *bulk.BulkResult, 1)
	go func() {
		res, err := bulk.Bulk(cctx, c, endsWith(cctx, pr), bulk.BulkOptions{Follow: true,
			BadLine: func(e bulk.LineError) { mu.Lock(); bad = append(bad, e); mu.Unlock() }})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	io.WriteString(pw, "b.cut 1\n")
	countertest.WaitValue(t, c, "B", "b.cut", "1")
	io.WriteString(pw, strings.Repeat("x", bulk.MaxBulkLineLen+10)) // read, no newline yet
	cancel()
	res := <-done
	mu.Lock()
	defer mu.Unlock()
	if res.Skipped != len(bad) || len(bad) != 0 || res.Applied != 1 {
		t.Fatalf("result %+v, bad lines reported %v: want 1 applied, nothing skipped", res, bad)
	}
}

// endsWith is r, ended (EOF) once ctx is: as --file --follow reads.
func endsWith(ctx context.Context, r io.Reader) io.Reader {
	type result struct {
		n   int
		err error
	}
	return readerFunc(func(p []byte) (int, error) {
		ch := make(chan result, 1)
		buf := make([]byte, len(p))
		go func() { n, err := r.Read(buf); ch <- result{n, err} }()
		select {
		case res := <-ch:
			copy(p, buf[:res.n])
			return res.n, res.err
		case <-ctx.Done():
			return 0, io.EOF
		}
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
