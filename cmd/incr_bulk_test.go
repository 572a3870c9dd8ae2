//go:build unix

package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/testserver"
)

// bulkCmd runs the counter binary against url with stdin.
func bulkCmd(t *testing.T, bin, url string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NATS_URL="+url, "XDG_CONFIG_HOME="+t.TempDir(), "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func counterValue(t *testing.T, c *counters.Client, subject string) int64 {
	t.Helper()
	got, err := c.Get(context.Background(), []string{subject}, counters.GetOptions{})
	if errors.Is(err, errkind.ErrNotFound) {
		return 0
	}
	if err != nil || len(got) != 1 {
		t.Fatalf("get %s: %v", subject, err)
	}
	return got[0].Value.Int64()
}

func waitCounterAbove(t *testing.T, c *counters.Client, subject string, n int64) {
	t.Helper()
	testserver.Eventually(t, 20*time.Second, fmt.Sprintf("%s to go above %d", subject, n), func() error {
		if v := counterValue(t, c, subject); v <= n {
			return fmt.Errorf("it is %d", v)
		}
		return nil
	})
}

func exitCode(t *testing.T, err error) int {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if ee != nil {
		return ee.ExitCode()
	}
	return 0
}

// TestBulkInterruptResume: Ctrl-C in the middle of a file stops sending,
// waits for the outstanding acks and names the line to continue from;
// everything before it was applied and nothing after it.
func TestBulkInterruptResume(t *testing.T) {
	bin, s, c := watchFixture(t)
	const n = 20_000
	file := filepath.Join(t.TempDir(), "events.txt")
	if err := os.WriteFile(file, []byte(strings.Repeat("w.hits\n", n)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, _, stderr := bulkCmd(t, bin, s.ClientURL(), "incr", "--file", file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitCounterAbove(t, c, "w.hits", 1000)
	cmd.Process.Signal(syscall.SIGINT)
	code := exitCode(t, cmd.Wait())
	out := stderr.String()
	m := regexp.MustCompile(`interrupted: (\d+) applied, 0 unknown, (\d+) not sent: every line before (\d+) was applied and none from it on; continue with: tail -n \+(\d+) `).FindStringSubmatch(out)
	if code != 1 || m == nil {
		t.Fatalf("exit %d, stderr:\n%s", code, out)
	}
	applied, _ := strconv.Atoi(m[1])
	notSent, _ := strconv.Atoi(m[2])
	resume, _ := strconv.Atoi(m[3])
	if applied+notSent != n || resume != applied+1 {
		t.Fatalf("applied %d + not sent %d != %d lines, or resume line %d != %d", applied, notSent, n, resume, applied+1)
	}
	if got := counterValue(t, c, "w.hits"); got != int64(applied) {
		t.Fatalf("counter %d after %d applied", got, applied)
	}
	// Continuing from the named line completes the input exactly.
	rest := bytes.Join(bytes.SplitAfter([]byte(strings.Repeat("w.hits\n", n)), []byte("\n"))[resume-1:], nil)
	cmd, _, stderr = bulkCmd(t, bin, s.ClientURL(), "incr", "-")
	cmd.Stdin = bytes.NewReader(rest)
	if err := cmd.Run(); err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr)
	}
	if got := counterValue(t, c, "w.hits"); got != n {
		t.Fatalf("counter %d after resuming, want %d", got, n)
	}
}

// TestBulkFollowPipe: with --follow each line is applied as soon as it is
// written into the pipe; Ctrl-C ends the run.
func TestBulkFollowPipe(t *testing.T) {
	bin, s, c := watchFixture(t)
	cmd, _, stderr := bulkCmd(t, bin, s.ClientURL(), "incr", "-", "--follow")
	pw, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(pw, "w.follow %d\n", i)
		want := int64(i * (i + 1) / 2)
		waitCounterAbove(t, c, "w.follow", want-1)
		if got := counterValue(t, c, "w.follow"); got != want {
			t.Fatalf("after line %d: %d, want %d", i, got, want)
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	code := exitCode(t, cmd.Wait())
	pw.Close()
	// Ctrl-C is how a --follow run ends: all read was applied, so exit 0.
	if out := stderr.String(); code != 0 || !strings.Contains(out, "3 lines, 3 increments to 1 counter in") || !strings.HasSuffix(out, ": 3 applied\n") {
		t.Fatalf("exit %d, stderr:\n%s", code, out)
	}
}

// TestBulkProgressTerminal: on a terminal stderr shows progress (lines/s),
// cleared before the summary; stdout stays clean. (In a pipe there is no
// progress at all: the scripts check that stderr holds only the summary.)
func TestBulkProgressTerminal(t *testing.T) {
	bin, s, c := watchFixture(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 20, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	cmd, stdout, _ := bulkCmd(t, bin, s.ClientURL(), "incr", "-", "--follow")
	cmd.Stderr = tty
	pw, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out screen
	go io.Copy(&out, ptmx)
	fmt.Fprintln(pw, "w.progress 5")
	waitCounterAbove(t, c, "w.progress", 4)
	out.waitFor(t, "progress with a rate", func(s string) bool {
		return strings.Contains(s, "sending") && strings.Contains(s, "lines/")
	})
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%q", err, out.String())
	}
	out.waitFor(t, "the summary after the progress", func(s string) bool {
		return regexp.MustCompile(`\r +\r1 line, 1 increment to 1 counter in [0-9.]+s \([0-9,]+ lines/s\): 1 applied\r?\n$`).MatchString(s)
	})
	if stdout.Len() != 0 {
		t.Fatalf("stdout: %q", stdout)
	}
}

// TestBulkFailedLines: a line the server refuses (a broken counter) fails
// alone, named by line; the others apply; exit 1; --json lists it.
func TestBulkFailedLines(t *testing.T) {
	bin, s, c := watchFixture(t)
	m := nats.NewMsg("w.broken")
	m.Header.Set(counters.HeaderIncr, "+1")
	m.Header.Set(counters.HeaderSources, "{not json")
	if _, err := c.Conn().RequestMsg(m, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	input := "w.ok\nw.broken 5\nw.ok\n"
	cmd, stdout, stderr := bulkCmd(t, bin, s.ClientURL(), "incr", "-")
	cmd.Stdin = strings.NewReader(input)
	code := exitCode(t, cmd.Run())
	want := regexp.MustCompile(`(?s)^counter: line 2: counter w.broken in stream W is broken \(its stored value or sources record is not valid\), so every increment is refused: 'counter reset w.broken' recovers it \(it purges the subject, then publishes \+0; it asks first\)\n` +
		`3 lines, 3 increments to 2 counters in [0-9.]+s \([0-9,]+ lines/s\): 2 applied, 1 failed\n` +
		`counter: 1 increments failed \(not applied\)\n$`)
	if code != 1 || stdout.Len() != 0 || !want.MatchString(stderr.String()) {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if got := counterValue(t, c, "w.ok"); got != 2 {
		t.Fatalf("w.ok = %d, want 2", got)
	}
	cmd, stdout, stderr = bulkCmd(t, bin, s.ClientURL(), "incr", "-", "--json")
	cmd.Stdin = strings.NewReader(input)
	code = exitCode(t, cmd.Run())
	if code != 1 || !strings.Contains(stdout.String(), `"applied":2,"duplicates":0,"failed":1,"unknown":0`) ||
		!strings.Contains(stdout.String(), `"failures":[{"line":2,"error":"counter w.broken in stream W is broken`) {
		t.Fatalf("exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
}

// TestBulkServerGone: the server stops mid-run: exit 4 at once, with
// what was applied, what is unknown and what was not sent.
func TestBulkServerGone(t *testing.T) {
	bin, s, c := watchFixture(t)
	const n = 50_000 // far more than one window: some are never sent
	cmd, _, stderr := bulkCmd(t, bin, s.ClientURL(), "incr", "-")
	cmd.Stdin = strings.NewReader(strings.Repeat("w.gone\n", n))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitCounterAbove(t, c, "w.gone", 500)
	s.Shutdown()
	start := time.Now()
	code := exitCode(t, cmd.Wait())
	out := stderr.String()
	m := regexp.MustCompile(`lines/s\): (\d+) applied(, (\d+) unknown)?, (\d+) not sent\ncounter: .*connection (lost|closed).*(continue from line|--id-prefix makes re-running safe)`).FindStringSubmatch(out)
	if code != 4 || m == nil {
		t.Fatalf("exit %d, stderr:\n%s", code, out)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %s to stop", time.Since(start))
	}
	applied, _ := strconv.Atoi(m[1])
	unknown, _ := strconv.Atoi(m[3])
	notSent, _ := strconv.Atoi(m[4])
	if applied+unknown+notSent != n {
		t.Fatalf("%d applied + %d unknown + %d not sent != %d", applied, unknown, notSent, n)
	}
}

// TestBulkFollowFile: --file with --follow reads on as the file grows,
// like tail -f, until Ctrl-C (exit 0: everything read was applied).
func TestBulkFollowFile(t *testing.T) {
	bin, s, c := watchFixture(t)
	file := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(file, []byte("w.tail 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, _, stderr := bulkCmd(t, bin, s.ClientURL(), "incr", "--file", file, "--follow")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitCounterAbove(t, c, "w.tail", 0)
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "w.tail 10")
	f.Close()
	waitCounterAbove(t, c, "w.tail", 1)
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd.Wait()); code != 0 || !strings.Contains(stderr.String(), "2 lines, 2 increments to 1 counter") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if got := counterValue(t, c, "w.tail"); got != 11 {
		t.Fatalf("w.tail = %d, want 11", got)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"events.txt":       "events.txt",
		"/var/log/a-b_c.1": "/var/log/a-b_c.1",
		"my events.txt":    "'my events.txt'",
		"it's":             `'it'\''s'`,
		"$(rm -rf x)":      "'$(rm -rf x)'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestBulkInterruptWhileReading: Ctrl-C while the input is still open
// (a slow producer, a terminal) ends the run at once; nothing is sent.
func TestBulkInterruptWhileReading(t *testing.T) {
	bin, s, c := watchFixture(t)
	cmd, _, stderr := bulkCmd(t, bin, s.ClientURL(), "incr", "-")
	pw, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	fmt.Fprintln(pw, "w.reading") // the pipe holds it until counter reads
	// Once it has listed the streams (one JetStream API request) it reads
	// its input, which stays open. (Interrupted while listing, it says
	// the same.)
	apiTotal := func() uint64 {
		jsz, err := s.Jsz(nil)
		if err != nil {
			t.Fatal(err)
		}
		return jsz.API.Total
	}
	before := apiTotal()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 10*time.Second, "counter to list the streams", func() error {
		if apiTotal() == before {
			return errors.New("no JetStream API request yet")
		}
		return nil
	})
	cmd.Process.Signal(syscall.SIGINT)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if code := exitCode(t, err); code != 1 || !strings.Contains(stderr.String(), "interrupted before anything was sent") {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("Ctrl-C did not end a run waiting for its input")
	}
	if got := counterValue(t, c, "w.reading"); got != 0 {
		t.Fatalf("w.reading = %d: something was sent", got)
	}
}
