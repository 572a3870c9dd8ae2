package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/testserver"
)

// BenchmarkReadMillion times whole `counter` processes reading every
// counter of a stream into a pipe, 100,000 and 1,000,000 of them, against
// the floor: the least a nats.go program can do for the same output
// (testdata/bench/floor: one ordered consumer, last per subject, each body
// parsed, a buffered "subject<TAB>value" line each). The two alternate on
// the same stream of the same server, so a machine whose load changes
// slows both alike. Reported per read: the median wall seconds and peak
// RSS (the child's own maximum resident set, through testdata/bench/peak)
// of each, and the medians of the per-pair ratios (counter/floor). Targets: wall ratio <= 1.2, RSS
// ratio <= 2.
//
// The same floor stands beside `watch` (its first full view of every
// counter, in JSON lines) and `audit` (one message per counter here).
// Seeding 1,100,000 counters takes a while: it is done once per run.
func BenchmarkReadMillion(b *testing.B) {
	dir := b.TempDir()
	counterBin := buildBench(b, dir, "counter", "..")
	floorBin := buildBench(b, dir, "floor", "../testdata/bench/floor")
	peakBin := buildBench(b, dir, "peak", "../testdata/bench/peak")

	s := testserver.Single(b)
	env := append(os.Environ(), "NATS_URL="+s.ClientURL(), "XDG_CONFIG_HOME="+dir)
	const small, large = 100_000, 1_000_000
	for _, st := range []struct {
		name, prefix string
		n            int
	}{{"K", "k", small}, {"M", "m", large}} {
		if out, err := benchCommand(env, counterBin, "create", st.name, "--subjects", st.prefix+".>").CombinedOutput(); err != nil {
			b.Fatalf("create %s: %v\n%s", st.name, err, out)
		}
		start := time.Now()
		seedMany(b, s.ClientURL(), st.name, st.prefix, st.n)
		b.Logf("seeded %d counters in %s", st.n, time.Since(start).Round(time.Millisecond))
	}

	for _, bc := range []struct {
		name string
		n    int
		// pairs of runs per round: more where a run is short, so that
		// the medians of a busy machine stand on more than three.
		pairs int
		args  []string
		// check is the output of the first (uncounted) run: exact, every
		// counter once.
		check func(b *testing.B, out []byte, n int)
	}{
		{"get-100k", small, 5, []string{"get", "k.>"}, checkRows("k")},
		{"get-1M", large, 2, []string{"get", "m.>"}, checkRows("m")},
		{"get-json-1M", large, 1, []string{"get", "m.>", "--json"}, checkJSONArray("m")},
		{"watch-1M", large, 1, []string{"watch", "m.>", "--count", strconv.Itoa(large)}, checkLines},
		{"audit-1M", large, 1, []string{"audit", "m.>"}, checkLines},
	} {
		b.Run(bc.name, func(b *testing.B) {
			stream, prefix := "K", "k"
			if bc.n == large {
				stream, prefix = "M", "m"
			}
			floor := []string{stream, prefix + ".>"}
			// A consumer of a million subjects can take the server more
			// than the default 5 s to create on a loaded machine; the
			// floor waits as long as it takes.
			args := append([]string{"--timeout", "60s"}, bc.args...)
			// The first pair is not counted: it checks both outputs.
			out := runBench(b, env, peakBin, bc.n, true, counterBin, args...)
			bc.check(b, out.stdout, bc.n)
			floorOut := runBench(b, env, peakBin, bc.n, true, floorBin, floor...)
			checkRows(prefix)(b, floorOut.stdout, bc.n)

			var counter, bare []benchRun
			for b.Loop() {
				for range bc.pairs {
					bare = append(bare, runBench(b, env, peakBin, bc.n, false, floorBin, floor...))
					counter = append(counter, runBench(b, env, peakBin, bc.n, false, counterBin, args...))
				}
			}
			wall := func(r benchRun) float64 { return r.wall.Seconds() }
			rss := func(r benchRun) float64 { return float64(r.maxRSS) / (1 << 20) }
			b.ReportMetric(medianOf(counter, wall), "counter-s")
			b.ReportMetric(medianOf(bare, wall), "floor-s")
			b.ReportMetric(ratioMedian(counter, bare, wall), "wall-ratio")
			b.ReportMetric(medianOf(counter, rss), "counter-MiB")
			b.ReportMetric(medianOf(bare, rss), "floor-MiB")
			b.ReportMetric(ratioMedian(counter, bare, rss), "rss-ratio")
			b.Logf("%s: counter wall %s, floor wall %s; counter peak RSS %s MiB, floor %s MiB",
				bc.name, spread(counter, wall), spread(bare, wall), spread(counter, rss), spread(bare, rss))
		})
	}
}

func buildBench(b *testing.B, dir, name, pkg string) string {
	b.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("build %s: %v", name, err)
	}
	return out
}

func benchCommand(env []string, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	return cmd
}

type benchRun struct {
	wall   time.Duration
	maxRSS int64 // bytes
	stdout []byte
}

// runBench runs one process with stdout on a pipe, through peak: a child
// of the benchmark itself would report the benchmark's own peak RSS as
// its own. keep keeps its output; otherwise only its lines are counted,
// and must be at least n.
func runBench(b *testing.B, env []string, peak string, n int, keep bool, bin string, args ...string) benchRun {
	b.Helper()
	cmd := benchCommand(env, peak, append([]string{bin}, args...)...)
	var out bytes.Buffer
	lines := &lineCounter{}
	if keep {
		cmd.Stdout = &out
	} else {
		cmd.Stdout = lines
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// audit ends 0 when every counter holds; anything else is a failure.
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, stderr.Bytes())
	}
	if !keep && lines.n < n && !slices.Contains(args, "--json") {
		b.Fatalf("%s %v: %d lines, want %d", filepath.Base(bin), args, lines.n, n)
	}
	errLines := bytes.Split(bytes.TrimSpace(stderr.Bytes()), []byte{'\n'})
	var wallNS, rssKB int64
	if _, err := fmt.Sscanf(string(errLines[len(errLines)-1]), "peak: %d %d", &wallNS, &rssKB); err != nil {
		b.Fatalf("%s %v: no figures from peak: %q", filepath.Base(bin), args, stderr.Bytes())
	}
	return benchRun{wall: time.Duration(wallNS), maxRSS: rssKB * 1024, stdout: out.Bytes()}
}

type lineCounter struct{ n int }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// checkRows: "PREFIX.i<TAB>i" for every i in 1..n, each once, any order.
func checkRows(prefix string) func(b *testing.B, out []byte, n int) {
	return func(b *testing.B, out []byte, n int) {
		b.Helper()
		seen := make([]bool, n+1)
		sc := bufio.NewScanner(bytes.NewReader(out))
		count := 0
		for sc.Scan() {
			subject, value, ok := bytes.Cut(sc.Bytes(), []byte{'\t'})
			i, err := strconv.Atoi(string(bytes.TrimPrefix(subject, []byte(prefix+"."))))
			if !ok || err != nil || i < 1 || i > n || seen[i] || string(value) != strconv.Itoa(i) {
				b.Fatalf("line %d: %q", count+1, sc.Text())
			}
			seen[i] = true
			count++
		}
		if count != n {
			b.Fatalf("%d rows, want %d", count, n)
		}
	}
}

// checkJSONArray: one array of n counters, each once with its value.
func checkJSONArray(prefix string) func(b *testing.B, out []byte, n int) {
	return func(b *testing.B, out []byte, n int) {
		b.Helper()
		var list []struct{ Subject, Value string }
		if err := json.Unmarshal(out, &list); err != nil {
			b.Fatalf("not one JSON array: %v", err)
		}
		var rows bytes.Buffer
		for _, c := range list {
			fmt.Fprintf(&rows, "%s\t%s\n", c.Subject, c.Value)
		}
		checkRows(prefix)(b, rows.Bytes(), n)
	}
}

// checkLines: at least n lines (watch's JSON lines, audit's rows).
func checkLines(b *testing.B, out []byte, n int) {
	b.Helper()
	if got := bytes.Count(out, []byte{'\n'}); got < n {
		b.Fatalf("%d lines, want %d", got, n)
	}
}

// seedMany sets PREFIX.i to i for i in 1..n in stream, pipelined (4,096
// acks outstanding), keeping no per-message state, then checks the stream
// holds exactly n counters.
func seedMany(b *testing.B, url, stream, prefix string, n int) {
	b.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	var failed error
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) { failed = err }))
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		msg := nats.NewMsg(prefix + "." + strconv.Itoa(i))
		msg.Header.Set("Nats-Incr", "+"+strconv.Itoa(i))
		if _, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute)); err != nil {
			b.Fatalf("seed %s.%d: %v", prefix, i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		b.Fatalf("seed %s: %d acks still pending", prefix, js.PublishAsyncPending())
	}
	if failed != nil {
		b.Fatalf("seed %s: %v", prefix, failed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	str, err := js.Stream(ctx, stream)
	if err != nil {
		b.Fatal(err)
	}
	if st := str.CachedInfo().State; st.Msgs != uint64(n) || st.NumSubjects != uint64(n) {
		b.Fatalf("stream %s holds %d messages on %d subjects, want %d", stream, st.Msgs, st.NumSubjects, n)
	}
}

func medianOf(runs []benchRun, f func(benchRun) float64) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return medianFloat(xs)
}

// ratioMedian is the median of the pair by pair ratios a[i]/b[i].
func ratioMedian(a, b []benchRun, f func(benchRun) float64) float64 {
	xs := make([]float64, 0, len(a))
	for i := range min(len(a), len(b)) {
		if d := f(b[i]); d > 0 {
			xs = append(xs, f(a[i])/d)
		}
	}
	return medianFloat(xs)
}

func medianFloat(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}

// spread is "min–max (median)" of a figure over runs.
func spread(runs []benchRun, f func(benchRun) float64) string {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	if len(xs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f–%.2f (median %.2f)", slices.Min(xs), slices.Max(xs), medianFloat(xs))
}
