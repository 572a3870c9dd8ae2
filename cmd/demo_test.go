//go:build unix

package cmd

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoProcess starts the counter binary's demo with args, its stdout read
// line by line.
func demoProcess(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner, *strings.Builder) {
	t.Helper()
	cmd, lines, stderr, _ := demoProcessPipe(t, args...)
	return cmd, lines, stderr
}

// demoProcessPipe is demoProcess that also returns the read end of its
// stdout, to close as a reader that goes away would.
func demoProcessPipe(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner, *strings.Builder, io.Closer) {
	t.Helper()
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"demo"}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"), "TMPDIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, bufio.NewScanner(stdout), stderr, stdout
}

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo exited with %v, want 0", err)
		}
	case <-time.After(within):
		t.Fatalf("demo still running after %s", within)
	}
}

var demoStore = regexp.MustCompile(`store (\S+) \(removed at the end\)`)

// TestDemoKeep: with --keep the walkthrough ends with the server still up
// and says how to reach it; counter works against it; Ctrl-C stops it,
// exit 0, and its store is gone.
func TestDemoKeep(t *testing.T) {
	// Its own server and binary processes: runs beside the other tests.
	t.Parallel()
	cmd, lines, stderr := demoProcess(t, "--keep")
	start := time.Now()
	var url, store string
	for lines.Scan() {
		l := lines.Text()
		if m := demoStore.FindStringSubmatch(l); m != nil {
			store = m[1]
		}
		if u, ok := strings.CutPrefix(l, "export NATS_URL="); ok {
			url = u
			break
		}
	}
	if url == "" || store == "" {
		t.Fatalf("no NATS_URL or store printed; stderr: %s", stderr)
	}
	// A guard against a hang, far above the usual few seconds.
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the walkthrough took %s, want < 30s", took)
	}
	code, out, errs := runAt(t, url, "", false, "get", "count.all.hits")
	if code != 0 || !regexp.MustCompile(`^[0-9]+\n$`).MatchString(out) {
		t.Fatalf("get against the kept server: exit %d, %q, %s", code, out, errs)
	}
	if _, err := os.Stat(store); err != nil {
		t.Fatalf("store %s while running: %v", store, err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd, 10*time.Second)
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("store %s left behind: %v", store, err)
	}
	if code, _, _ := runAt(t, url, "", false, "get", "count.all.hits"); code != ExitUnavailable {
		t.Fatalf("the server still answers after Ctrl-C (exit %d)", code)
	}
}

// TestDemoInterrupted: Ctrl-C in the middle of the walkthrough stops it
// cleanly: exit 0, the store removed.
func TestDemoInterrupted(t *testing.T) {
	cmd, lines, stderr := demoProcess(t)
	var store string
	for lines.Scan() {
		if m := demoStore.FindStringSubmatch(lines.Text()); m != nil {
			store = m[1]
		}
		if strings.HasPrefix(lines.Text(), "$ counter watch") {
			break
		}
	}
	if store == "" {
		t.Fatalf("the demo did not reach watch; stderr: %s", stderr)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go func() {
		for lines.Scan() {
		}
	}()
	waitExit(t, cmd, 10*time.Second)
	if !strings.Contains(stderr.String(), "demo interrupted") {
		t.Fatalf("stderr: %q", stderr)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("store %s left behind: %v", store, err)
	}
}

// TestDemoWriterAddsToEach: at every tick the demo's writer adds 1 to each
// region's counter, as the demo says ("adds 1 to count.de.hits and 1 to
// count.pl.hits every 100ms"), so each shows 10 a second.
func TestDemoWriterAddsToEach(t *testing.T) {
	t.Parallel()
	_, s, c := watchFixture(t)
	for _, args := range [][]string{{"create", "DE", "--subjects", "count.de.>"}, {"create", "PL", "--subjects", "count.pl.>"}} {
		counterAt(t, s.ClientURL(), args...)
	}
	tick := make(chan time.Time)
	w, err := startDemoWriter(s.ClientURL(), tick)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		tick <- time.Now()
	}
	w.stop()
	for _, subject := range demoSubjects {
		waitValue(t, c, "", subject, "3")
	}
	if w.count() != 6 {
		t.Fatalf("the writer counted %d increments, want 6", w.count())
	}
}

// TestDemoReaderGoes: 'counter demo | head -3' ends the demo when head has
// read its lines: the server stops and the store is removed (a write to a
// closed pipe no longer kills the process before it cleans up).
func TestDemoReaderGoes(t *testing.T) {
	t.Parallel()
	cmd, lines, stderr, pipe := demoProcessPipe(t)
	var store string
	for n := 0; n < 3 && lines.Scan(); n++ {
		if m := demoStore.FindStringSubmatch(lines.Text()); m != nil {
			store = m[1]
		}
	}
	if store == "" {
		t.Fatalf("no store printed; stderr: %s", stderr)
	}
	// head exits: the read end of the pipe closes.
	pipe.Close()
	waitExit(t, cmd, 15*time.Second)
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("store %s left behind: %v", store, err)
	}
}

// TestDemoKeepPipeCtrlC: 'counter demo --keep | tail -5', then Ctrl-C
// before the walkthrough ends (tail shows nothing until then): Ctrl-C ends
// tail and the demo together, and the demo still removes its store.
func TestDemoKeepPipeCtrlC(t *testing.T) {
	t.Parallel()
	cmd, lines, stderr, pipe := demoProcessPipe(t, "--keep")
	var store string
	for lines.Scan() {
		if m := demoStore.FindStringSubmatch(lines.Text()); m != nil {
			store = m[1]
		}
		if strings.HasPrefix(lines.Text(), "$ counter get count.de.hits --tiers") {
			break
		}
	}
	if store == "" {
		t.Fatalf("the demo did not get far; stderr: %s", stderr)
	}
	// Ctrl-C reaches both: tail ends (the pipe closes) and the demo gets
	// SIGINT.
	pipe.Close()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd, 15*time.Second)
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("store %s left behind: %v", store, err)
	}
}
