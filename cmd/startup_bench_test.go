package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/testserver"
)

// BenchmarkOneShotIncr measures a whole `counter incr` process (start-up,
// connect, one increment, exit) against the smallest nats.go program doing
// the same. Run with GODEBUG=inittrace=1 to see where start-up goes.
func BenchmarkOneShotIncr(b *testing.B) {
	dir := b.TempDir()
	build := func(name, pkg string) string {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("build %s: %v", name, err)
		}
		return out
	}
	counterBin := build("counter", "..")
	bareBin := build("bare", "../testdata/startup/bare")

	s := testserver.Single(b)
	env := append(os.Environ(), "NATS_URL="+s.ClientURL(), "XDG_CONFIG_HOME="+dir)
	run := func(b *testing.B, bin string, args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s %v: %v\n%s", bin, args, err, out)
		}
	}
	run(b, counterBin, "create", "BENCH", "--subjects", "bench.>", "--storage", "memory")

	// On a busy machine two sequential sub-benchmarks see different loads;
	// alternating the two programs in one loop gives a ratio that holds.
	b.Run("ratio", func(b *testing.B) {
		var bare, counter []time.Duration
		for b.Loop() {
			t := time.Now()
			run(b, bareBin, "bench.bare")
			bare = append(bare, time.Since(t))
			t = time.Now()
			run(b, counterBin, "incr", "bench.counter")
			counter = append(counter, time.Since(t))
		}
		b.ReportMetric(float64(median(counter))/float64(median(bare)), "counter/bare")
	})
	for _, bc := range []struct {
		name string
		bin  string
		args []string
	}{
		{"bare-nats.go", bareBin, []string{"bench.bare"}},
		{"counter", counterBin, []string{"incr", "bench.counter"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				run(b, bc.bin, bc.args...)
			}
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}
