//go:build unix

package cmd

import (
	"bufio"
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
	return cmd, bufio.NewScanner(stdout), stderr
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
