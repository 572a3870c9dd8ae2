package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/bulk"
	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// bulkInput is generated input and the totals it must produce.
type bulkInput struct {
	text   string
	lines  int
	totals map[string]*big.Int
}

// genBulk writes n increment lines over counters prefix.0 .. prefix.k-1
// with default, positive, negative and 40-digit deltas, plus blank and
// comment lines, and an id column on some lines when ids is set.
func genBulk(n, k int, prefix string, seed uint64) bulkInput {
	rng := rand.New(rand.NewPCG(seed, 1))
	var sb strings.Builder
	in := bulkInput{totals: map[string]*big.Int{}}
	forty, _ := new(big.Int).SetString("1234567890123456789012345678901234567890", 10)
	for i := range n {
		subj := fmt.Sprintf("%s.%d", prefix, rng.IntN(k))
		var d *big.Int
		switch i % 5 {
		case 0:
			d = big.NewInt(1)
			sb.WriteString(subj + "\n")
		case 1:
			d = big.NewInt(rng.Int64N(1000))
			fmt.Fprintf(&sb, "%s +%s\n", subj, d)
		case 2:
			d = big.NewInt(-rng.Int64N(1000))
			fmt.Fprintf(&sb, "%s\t%s\n", subj, d)
		case 3:
			d = new(big.Int).Set(forty)
			if rng.IntN(2) == 0 {
				d.Neg(d)
			}
			fmt.Fprintf(&sb, "  %s %s  \r\n", subj, counters.Signed(d))
		case 4:
			d = big.NewInt(rng.Int64N(1_000_000_000_000))
			fmt.Fprintf(&sb, "%s %s\n", subj, d)
		}
		if i%997 == 0 {
			sb.WriteString("\n# a comment line\n")
		}
		if in.totals[subj] == nil {
			in.totals[subj] = new(big.Int)
		}
		in.totals[subj].Add(in.totals[subj], d)
		in.lines++
	}
	in.text = sb.String()
	return in
}

// checkTotals reads every counter and compares it with want.
func checkTotals(t *testing.T, c *counters.Client, pattern string, want map[string]*big.Int) {
	t.Helper()
	got, err := c.Get(ctx, []string{pattern}, counters.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", pattern, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d counters, want %d", len(got), len(want))
	}
	for _, ctr := range got {
		if w := want[ctr.Subject]; w == nil || ctr.Value.Cmp(w) != 0 {
			t.Fatalf("%s = %s, want %v", ctr.Subject, ctr.Value, w)
		}
	}
}

func bulkFixture(t *testing.T) (*server.Server, *counters.Client) {
	t.Helper()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "B", Subjects: []string{"b.>"}, Storage: "memory"})
	return s, c
}

func checkAccounted(t *testing.T, res *bulk.BulkResult) {
	t.Helper()
	if sum := res.Applied + res.Duplicates + res.Failed + res.Unknown; sum != res.Sent {
		t.Fatalf("sent %d, but applied+duplicates+failed+unknown = %d: %+v", res.Sent, sum, res)
	}
}

func TestBulkExactTotals(t *testing.T) {
	_, c := bulkFixture(t)
	in := genBulk(10_000, 500, "b.t", 1)
	res, err := bulk.Bulk(ctx, c, strings.NewReader(in.text), bulk.BulkOptions{Values: true, Window: 512})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	if res.Lines != in.lines || res.Sent != in.lines || res.Applied != in.lines || res.Counters != len(in.totals) {
		t.Fatalf("result %+v, want %d lines applied over %d counters", res, in.lines, len(in.totals))
	}
	checkTotals(t, c, "b.t.>", in.totals)
	if len(res.Values) != len(in.totals) {
		t.Fatalf("%d values, want %d", len(res.Values), len(in.totals))
	}
	for _, v := range res.Values {
		if v.Value.Cmp(in.totals[v.Subject]) != 0 {
			t.Fatalf("value of %s reported %s, want %s", v.Subject, v.Value, in.totals[v.Subject])
		}
	}
}

func TestBulkCoalesce(t *testing.T) {
	_, c := bulkFixture(t)
	in := genBulk(20_000, 50, "b.c", 2)
	// Sums that leave int64 on the way and come back.
	in.text += "b.c.big 9223372036854775807\nb.c.big 9223372036854775807\nb.c.big -9223372036854775807\n"
	in.totals["b.c.big"] = big.NewInt(9223372036854775807)
	in.lines += 3
	res, err := bulk.Bulk(ctx, c, strings.NewReader(in.text), bulk.BulkOptions{Coalesce: true, Values: true})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	if res.Lines != in.lines || res.Sent != len(in.totals) || res.Applied != len(in.totals) {
		t.Fatalf("result %+v: want %d lines in %d increments", res, in.lines, len(in.totals))
	}
	checkTotals(t, c, "b.c.>", in.totals)

	_, err = bulk.Bulk(ctx, c, strings.NewReader("b.c.x +1 id-1\n"), bulk.BulkOptions{Coalesce: true})
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "line 1: --coalesce") {
		t.Fatalf("coalesce with an id column: %v", err)
	}
	_, err = bulk.Bulk(ctx, c, strings.NewReader("b.c.x\n"), bulk.BulkOptions{Coalesce: true, IDPrefix: "p"})
	if !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("coalesce with --id-prefix: %v", err)
	}
}

// TestBulkIDPrefixRerun: the same input twice with the same --id-prefix
// applies every line once; the re-run reports every line as a duplicate.
func TestBulkIDPrefixRerun(t *testing.T) {
	_, c := bulkFixture(t)
	in := genBulk(5000, 100, "b.r", 3)
	// An ID column wins over the prefix.
	in.text += "b.r.own +5 own-id\nb.r.own +5 own-id\n"
	in.totals["b.r.own"] = big.NewInt(5)
	opts := bulk.BulkOptions{IDPrefix: "import-1", Values: true}
	res, err := bulk.Bulk(ctx, c, strings.NewReader(in.text), opts)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	if res.Applied != in.lines+1 || res.Duplicates != 1 {
		t.Fatalf("first run: %+v, want %d applied and 1 duplicate", res, in.lines+1)
	}
	checkTotals(t, c, "b.r.>", in.totals)
	res, err = bulk.Bulk(ctx, c, strings.NewReader(in.text), opts)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	if res.Applied != 0 || res.Duplicates != in.lines+2 {
		t.Fatalf("re-run: %+v, want all %d duplicates", res, in.lines+2)
	}
	checkTotals(t, c, "b.r.>", in.totals)
	// Values come from reads when every ack was a duplicate.
	if len(res.Values) != len(in.totals) {
		t.Fatalf("re-run reported %d values, want %d", len(res.Values), len(in.totals))
	}
	for _, v := range res.Values {
		if v.Value.Cmp(in.totals[v.Subject]) != 0 {
			t.Fatalf("re-run value of %s: %s, want %s", v.Subject, v.Value, in.totals[v.Subject])
		}
	}
}

func lastSeq(t *testing.T, c *counters.Client, stream string) uint64 {
	t.Helper()
	info, err := c.StreamInfo(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// TestBulkBadLineWritesNothing: one bad line anywhere refuses the whole
// input before anything is sent; the first bad lines are named.
func TestBulkBadLineWritesNothing(t *testing.T) {
	_, c := bulkFixture(t)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "AGG", Subjects: []string{"agg.>"},
		Sources: []streams.SourceSpec{{Stream: "B", From: "b.>", To: "agg.>"}}})
	if _, err := c.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "PLAIN", Subjects: []string{"plain.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	before := lastSeq(t, c, "B")
	good := genBulk(9999, 10, "b.bad", 4)
	lines := strings.SplitAfter(good.text, "\n")
	for _, tc := range []struct {
		name, line, want string
		opts             bulk.BulkOptions
	}{
		{"delta", "b.x 1e3", `invalid delta "1e3"`, bulk.BulkOptions{}},
		{"sign", "b.x +-1", `invalid delta "+-1"`, bulk.BulkOptions{}},
		{"wildcard", "b.* 1", "has a wildcard", bulk.BulkOptions{}},
		{"gt", "b.> 1", "has a wildcard", bulk.BulkOptions{}},
		{"empty token", "b..x", "empty token", bulk.BulkOptions{}},
		{"control", "b.\x1b[2J 1", "control character", bulk.BulkOptions{}},
		{"long", "b." + strings.Repeat("x", counters.MaxSubjectLen), "bytes long", bulk.BulkOptions{}},
		{"reserved", "$JS.API.STREAM.DELETE.B 1", "reserved", bulk.BulkOptions{}},
		{"inbox", "_INBOX.x 1", "reserved", bulk.BulkOptions{}},
		{"uncaptured", "nowhere.x 1", "no stream captures subject nowhere.x", bulk.BulkOptions{}},
		{"plain", "plain.x 1", "stream PLAIN is not a counter stream", bulk.BulkOptions{}},
		{"aggregate id", "agg.x 1 id-1", "no duplicate window", bulk.BulkOptions{}},
		{"aggregate prefix", "agg.x 1", "no duplicate window", bulk.BulkOptions{IDPrefix: "p"}},
		{"fields", "b.x 1 id extra", "too many fields", bulk.BulkOptions{}},
		{"id control", "b.x 1 id\x01", "control character", bulk.BulkOptions{}},
		{"too long", "b.x " + strings.Repeat("9", bulk.MaxBulkLineLen), "longer than", bulk.BulkOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := strings.Join(lines[:4999], "") + tc.line + "\n" + strings.Join(lines[4999:], "")
			res, err := bulk.Bulk(ctx, c, strings.NewReader(input), tc.opts)
			var ie *bulk.InputError
			kind := errkind.ErrInvalid
			if tc.name == "uncaptured" {
				kind = errkind.ErrNotFound // as incr says it: one rule
			}
			if !errors.As(err, &ie) || !errors.Is(err, kind) {
				t.Fatalf("got %+v, %v; want an input error", res, err)
			}
			if ie.Total != 1 || ie.Lines[0].Line != 5000 || !strings.Contains(ie.Lines[0].Err.Error(), tc.want) {
				t.Fatalf("error %v (%d bad lines): want line 5000: %s", err, ie.Total, tc.want)
			}
			if got := lastSeq(t, c, "B"); got != before {
				t.Fatalf("stream B last seq %d, want %d: something was written", got, before)
			}
		})
	}
	// Many bad lines: the first few are kept by number, all are counted.
	input := strings.Repeat("b.x\nbad line here now\n", 50)
	_, err := bulk.Bulk(ctx, c, strings.NewReader(input), bulk.BulkOptions{})
	var ie *bulk.InputError
	if !errors.As(err, &ie) || ie.Total != 50 || len(ie.Lines) != 10 || ie.Lines[1].Line != 4 {
		t.Fatalf("many bad lines: %v", err)
	}
	if got := lastSeq(t, c, "B"); got != before {
		t.Fatalf("stream B last seq %d, want %d", got, before)
	}
}

// TestBulkFollow: lines written slowly into a pipe are applied as they
// arrive; a bad line is reported, skipped, and the rest goes on.
func TestBulkFollow(t *testing.T) {
	_, c := bulkFixture(t)
	for _, coalesce := range []bool{false, true} {
		t.Run(fmt.Sprint("coalesce=", coalesce), func(t *testing.T) {
			subj := fmt.Sprintf("b.f%v", coalesce)
			pr, pw := io.Pipe()
			var (
				mu  sync.Mutex
				bad []bulk.LineError
			)
			done := make(chan *bulk.BulkResult, 1)
			go func() {
				res, err := bulk.Bulk(ctx, c, pr, bulk.BulkOptions{Follow: true, Coalesce: coalesce, FlushEvery: 50 * time.Millisecond,
					BadLine: func(e bulk.LineError) { mu.Lock(); bad = append(bad, e); mu.Unlock() }})
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			for i := 1; i <= 5; i++ {
				fmt.Fprintf(pw, "%s.hits %d\n", subj, i)
				// Each line is applied while the pipe stays open.
				countertest.WaitValue(t, c, "B", subj+".hits", fmt.Sprint(i*(i+1)/2))
			}
			fmt.Fprintf(pw, "%s.hits 1e3\n", subj)
			io.WriteString(pw, "# comment\n\n")
			// A line split across writes: a pipe's Write returns once the
			// reader has taken the bytes, so bulk reads the first part
			// before the rest exists.
			fmt.Fprintf(pw, "%s.hits", subj)
			io.WriteString(pw, " 100\n")
			pw.Close()
			res := <-done
			checkAccounted(t, res)
			countertest.WaitValue(t, c, "B", subj+".hits", "115")
			mu.Lock()
			defer mu.Unlock()
			if len(bad) != 1 || bad[0].Line != 6 || res.Skipped != 1 || res.Lines != 7 {
				t.Fatalf("bad lines %v, result %+v: want line 6 skipped of 7", bad, res)
			}
			if !coalesce && res.Applied != 6 {
				t.Fatalf("applied %d, want 6", res.Applied)
			}
		})
	}
}

// TestBulkInterrupt: cancelling stops sending; every line is accounted
// for, and the counter holds exactly what was acknowledged.
func TestBulkInterrupt(t *testing.T) {
	_, c := bulkFixture(t)
	const n = 200_000
	input := strings.Repeat("b.i.hits\n", n)
	cctx, cancel := context.WithCancel(ctx)
	res, err := bulk.Bulk(cctx, c, strings.NewReader(input), bulk.BulkOptions{Window: 64, Progress: func(p bulk.BulkProgress) {
		if p.Done > 1000 {
			cancel()
		}
	}, ProgressEvery: time.Millisecond})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	if !res.Interrupted || res.Applied < 1000 || res.Applied+res.Unknown+res.NotSent != n {
		t.Fatalf("interrupted run: %+v", res)
	}
	if res.Unknown == 0 && (res.ResumeLine != res.Applied+1 || !res.ResumeExact) {
		t.Fatalf("resume line %d (exact %v), want %d", res.ResumeLine, res.ResumeExact, res.Applied+1)
	}
	got, err := c.Get(ctx, []string{"b.i.hits"}, counters.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := got[0].Value.Int64(); v < int64(res.Applied) || v > int64(res.Applied+res.Unknown) {
		t.Fatalf("counter %d after %d applied, %d unknown", v, res.Applied, res.Unknown)
	}
}

// TestBulkServerRefuses: a counter broken by a client-written sources
// header refuses every increment (10172): its lines fail, by number, and
// the others apply.
func TestBulkServerRefuses(t *testing.T) {
	_, c := bulkFixture(t)
	m := nats.NewMsg("b.s.broken")
	m.Header.Set(counters.HeaderIncr, "+1")
	m.Header.Set(counters.HeaderSources, "{not json")
	if _, err := c.Conn().RequestMsg(m, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	res, err := bulk.Bulk(ctx, c, strings.NewReader("b.s.ok\nb.s.broken 5\nb.s.ok\n"), bulk.BulkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	if res.Applied != 2 || res.Failed != 1 || len(res.Failures) != 1 || res.Failures[0].Line != 2 || !strings.Contains(res.Failures[0].Err.Error(), "broken") {
		t.Fatalf("result %+v, failures %v", res, res.Failures)
	}
	// --follow says so as it happens.
	var told []bulk.LineError
	res, err = bulk.Bulk(ctx, c, strings.NewReader("b.s.ok\nb.s.broken 5\n"), bulk.BulkOptions{Follow: true,
		Failure: func(e bulk.LineError) { told = append(told, e) }})
	if err != nil || res.Failed != 1 || len(told) != 1 || told[0].Line != 2 {
		t.Fatalf("follow: %+v, %v, told %v", res, err, told)
	}
}

// TestBulkR3LeaderKilled: the stream leader dies mid-run. With
// --id-prefix, a re-run of the same input makes the totals exact.
func TestBulkR3LeaderKilled(t *testing.T) {
	servers := testserver.Cluster(t, 3)
	admin := countertest.NewClient(t, servers[0])
	countertest.MustCreate(t, admin, streams.StreamSpec{Name: "R", Subjects: []string{"r.>"}, Replicas: 3})
	var leader *server.Server
	testserver.Eventually(t, 10*time.Second, "a leader of stream R", func() error {
		for _, s := range servers {
			if s.JetStreamIsStreamLeader("$G", "R") {
				leader = s
				return nil
			}
		}
		return errors.New("no stream leader")
	})
	var other *server.Server
	for _, s := range servers {
		if s != leader {
			other = s
		}
	}
	nc := testserver.Connect(t, other)
	c, err := counters.New(nc, counters.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	in := genBulk(8_000, 200, "r.k", 5)
	opts := bulk.BulkOptions{IDPrefix: "run", Window: 256}
	var once sync.Once
	opts.ProgressEvery = 5 * time.Millisecond
	opts.Progress = func(p bulk.BulkProgress) {
		if p.Done > 2000 {
			once.Do(func() { go leader.Shutdown() })
		}
	}
	res, err := bulk.Bulk(ctx, c, strings.NewReader(in.text), opts)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	t.Logf("with the leader killed: %+v", res)
	once.Do(func() { leader.Shutdown() })
	// Re-run (at least once) until nothing is left unknown; bounded: a
	// new leader is elected within seconds. Ids make each re-run exact.
	opts.Progress = nil
	for attempt := 1; attempt == 1 || res.Unknown > 0 || res.Failed > 0 || res.NotSent > 0; attempt++ {
		if attempt > 5 {
			t.Fatalf("still not settled after %d re-runs: %+v", attempt-1, res)
		}
		if res, err = bulk.Bulk(ctx, c, strings.NewReader(in.text), opts); err != nil {
			t.Fatal(err)
		}
		checkAccounted(t, res)
		t.Logf("re-run %d: %+v", attempt, res)
	}
	testserver.Eventually(t, 15*time.Second, "exact totals after the re-run", func() error {
		got, err := c.Get(ctx, []string{"r.k.>"}, counters.GetOptions{})
		ok := err == nil && len(got) == len(in.totals)
		for _, ctr := range got {
			ok = ok && ctr.Value.Cmp(in.totals[ctr.Subject]) == 0
		}
		if !ok {
			return fmt.Errorf("totals not exact after the re-run: %d counters, %v", len(got), err)
		}
		return nil
	})
}

// TestBulkConnectionLost: the server goes away mid-run. Increments
// without ids that were in flight are unknown (never resent); the rest
// are not sent; every line is accounted for, and the run ends promptly.
func TestBulkConnectionLost(t *testing.T) {
	s := testserver.Single(t)
	countertest.MustCreate(t, countertest.NewClient(t, s), streams.StreamSpec{Name: "B", Subjects: []string{"b.>"}})
	nc, err := nats.Connect(s.ClientURL(), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Acks must not time out before the server goes (a loaded machine took
	// over a second for some): the test is about the connection lost.
	c, err := counters.New(nc, counters.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	var once sync.Once
	start := time.Now()
	res, err := bulk.Bulk(ctx, c, strings.NewReader(strings.Repeat("b.lost\n", n)), bulk.BulkOptions{
		ProgressEvery: time.Millisecond,
		Progress: func(p bulk.BulkProgress) {
			if p.Done > 1000 {
				once.Do(func() { go s.Shutdown() })
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	if res.Stopped == nil || !errors.Is(res.Stopped, errkind.ErrUnavailable) || res.Applied < 1000 ||
		res.Applied+res.Unknown+res.NotSent != n || res.NotSent == 0 || res.ResumeLine < 1 || res.ResumeLine > res.Applied+1 {
		t.Fatalf("result %+v", res)
	}
	t.Logf("%+v", res)
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %s to stop", time.Since(start))
	}
}

// TestBulkFromLineUntil: --from-line passes over the lines before it and
// keeps the ids of the whole input (a resumed run sends line N as P:N);
// --until refuses a run past it, and stops one that reaches it.
func TestBulkFromLineUntil(t *testing.T) {
	t.Parallel()
	_, c := bulkFixture(t)
	in := "b.fl.a\nb.fl.a\n# comment\nb.fl.a 5\nb.fl.b\n"
	res, err := bulk.Bulk(ctx, c, strings.NewReader(in), bulk.BulkOptions{IDPrefix: "fl"})
	if err != nil || res.Applied != 4 {
		t.Fatalf("first run: %+v %v", res, err)
	}
	// From line 4 on: lines 4 and 5, with the ids fl:4 and fl:5.
	res, err = bulk.Bulk(ctx, c, strings.NewReader(in), bulk.BulkOptions{IDPrefix: "fl", FromLine: 4})
	if err != nil || res.Lines != 2 || res.Duplicates != 2 || res.Applied != 0 {
		t.Fatalf("from line 4: %+v %v, want lines 4 and 5 as duplicates", res, err)
	}
	if got := countertest.ValueOrZero(t, c, "", "b.fl.a"); got.String() != "7" {
		t.Fatalf("b.fl.a = %s, want 7", got)
	}

	_, err = bulk.Bulk(ctx, c, strings.NewReader(in), bulk.BulkOptions{IDPrefix: "fl", Until: time.Now().Add(-time.Second)})
	if !errors.Is(err, errkind.ErrRefused) || !strings.Contains(err.Error(), "nothing was sent") {
		t.Fatalf("past --until: %v, want refused", err)
	}
	// A follower still reading when --until comes stops sending.
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan *bulk.BulkResult, 1)
	go func() {
		res, err := bulk.Bulk(ctx, c, pr, bulk.BulkOptions{IDPrefix: "un", Follow: true, Until: time.Now().Add(time.Second)})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	fmt.Fprintln(pw, "b.fl.until")
	select {
	case res = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("--until did not end the run")
	}
	if res == nil || !res.UntilPassed || res.Applied != 1 {
		t.Fatalf("follower at --until: %+v", res)
	}
}
