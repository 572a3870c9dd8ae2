package cmd

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/testserver"
)

// bulkMemoryLines is the size of the input of BenchmarkBulkMemory3M, and
// bulkMemoryBound the peak RSS the whole counter process must stay under.
const (
	bulkMemoryLines = 3_000_000
	bulkMemoryBound = 100 << 20
)

// BenchmarkBulkMemory3M runs `counter incr -` (a production build) on
// 3,000,000 lines over 10,000 counters, fed through a pipe (the input is
// then copied to a temporary file while it is checked: the case that
// holds most), against a real server, and reports the process's peak
// resident memory (getrusage of the child): it must stay under 100 MB,
// whatever the input's size. It takes a minute or more (the server is the
// limit): make bench runs it once.
func BenchmarkBulkMemory3M(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "counter")
	build := exec.Command("go", "build", "-o", bin, "..")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build counter: %v", err)
	}
	input := filepath.Join(dir, "input.txt")
	f, err := os.Create(input)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range bulkMemoryLines {
		fmt.Fprintf(w, "mem.c%d %d\n", i%10000, 1+i%7)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()

	s := testserver.Single(b)
	env := append(os.Environ(), "NATS_URL="+s.ClientURL(), "XDG_CONFIG_HOME="+dir, "TMPDIR="+dir)
	create := exec.Command(bin, "create", "MEM", "--subjects", "mem.>", "--storage", "memory", "--history", "1")
	create.Env = env
	if out, err := create.CombinedOutput(); err != nil {
		b.Fatalf("create: %v\n%s", err, out)
	}
	var peak int64
	for b.Loop() {
		in, err := os.Open(input)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "incr", "-")
		cmd.Env = env
		pw, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		go func() { io.Copy(pw, in); pw.Close(); in.Close() }()
		if err := cmd.Wait(); err != nil {
			b.Fatalf("counter incr -: %v\n%s", err, stderr.String())
		}
		took := time.Since(start)
		if want := fmt.Sprintf("%d applied", bulkMemoryLines); !strings.Contains(stderr.String(), want) {
			b.Fatalf("summary %q, want %s", stderr.String(), want)
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
		peak = max(peak, rss)
		b.ReportMetric(float64(bulkMemoryLines)/took.Seconds(), "lines/s")
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	if peak > bulkMemoryBound {
		b.Errorf("peak RSS %d MiB, want under %d MiB", peak>>20, bulkMemoryBound>>20)
	}
}
