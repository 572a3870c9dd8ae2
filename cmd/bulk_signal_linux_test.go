package cmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// signalBound is how soon after SIGINT, SIGTERM or SIGHUP any run of
// counter incr - / --file must have ended, whatever it is waiting on.
const signalBound = 2 * time.Second

// TestBulkEndsOnSignal: a bulk run ends within signalBound of each signal
// in every stage that waits: a FIFO with no writer (it sat in open(2),
// deaf to signals), an open pipe with no data, a producer that never
// stops (the whole input is checked first), a server that stopped
// answering mid-send (acknowledgements outstanding), and the stream
// listing nobody answers.
func TestBulkEndsOnSignal(t *testing.T) {
	t.Parallel()
	bin, s, c := watchFixture(t)
	dir := t.TempDir()
	apiTotal := func() uint64 {
		jsz, err := s.Jsz(nil)
		if err != nil {
			t.Fatal(err)
		}
		return jsz.API.Total
	}
	host := strings.TrimPrefix(s.ClientURL(), "nats://")
	// Each run against the silent server has a counter of its own: the
	// publishes of an earlier run may still be landing when it starts.
	var runs atomic.Int64
	silent := func(t *testing.T) (subject, file string) {
		subject = fmt.Sprintf("w.silent%d", runs.Add(1))
		file = filepath.Join(t.TempDir(), "silent.txt")
		if err := os.WriteFile(file, []byte(strings.Repeat(subject+"\n", 20000)), 0o600); err != nil {
			t.Fatal(err)
		}
		return subject, file
	}
	lines := filepath.Join(dir, "lines.txt")
	if err := os.WriteFile(lines, []byte(strings.Repeat("w.listed\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	type stage struct {
		name string
		// start prepares the command; ready returns once the run waits
		// where the stage says.
		start func(t *testing.T, cmd *exec.Cmd) (ready func(), cleanup func())
		args  []string
		url   func(t *testing.T) string // nil: start sets NATS_URL
		want  string                    // on stderr
		code  int
	}
	stdinPipe := func(t *testing.T, cmd *exec.Cmd) io.WriteCloser {
		pw, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		return pw
	}
	listed := func(t *testing.T, before uint64) func() {
		return func() {
			deadline := time.Now().Add(10 * time.Second)
			for apiTotal() == before {
				if time.Now().After(deadline) {
					t.Fatal("counter never listed the streams")
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	local := func(*testing.T) string { return s.ClientURL() }
	stages := []stage{
		{name: "fifo-no-writer", args: []string{"incr", "--file"}, url: local, want: "interrupted before anything was sent", code: 1,
			start: func(t *testing.T, cmd *exec.Cmd) (func(), func()) {
				fifo := filepath.Join(t.TempDir(), "fifo")
				if err := syscall.Mkfifo(fifo, 0o600); err != nil {
					t.Skipf("no FIFO: %v", err)
				}
				cmd.Args = append(cmd.Args, fifo)
				wait := listed(t, apiTotal())
				return func() { waitOpen(t, cmd, fifo); wait() }, func() {}
			}},
		{name: "fifo-follow", args: []string{"incr", "--follow", "--file"}, url: local, want: "0 lines", code: 0,
			start: func(t *testing.T, cmd *exec.Cmd) (func(), func()) {
				fifo := filepath.Join(t.TempDir(), "fifo")
				if err := syscall.Mkfifo(fifo, 0o600); err != nil {
					t.Skipf("no FIFO: %v", err)
				}
				cmd.Args = append(cmd.Args, fifo)
				wait := listed(t, apiTotal())
				return func() { waitOpen(t, cmd, fifo); wait() }, func() {}
			}},
		{name: "pipe-no-data", args: []string{"incr", "-"}, url: local, want: "interrupted before anything was sent", code: 1,
			start: func(t *testing.T, cmd *exec.Cmd) (func(), func()) {
				pw := stdinPipe(t, cmd)
				return listed(t, apiTotal()), func() { pw.Close() }
			}},
		{name: "follow-no-data", args: []string{"incr", "-", "--follow"}, url: local, want: "0 lines", code: 0,
			start: func(t *testing.T, cmd *exec.Cmd) (func(), func()) {
				pw := stdinPipe(t, cmd)
				return listed(t, apiTotal()), func() { pw.Close() }
			}},
		{name: "endless-producer", args: []string{"incr", "-"}, url: local, want: "interrupted before anything was sent", code: 1,
			start: func(t *testing.T, cmd *exec.Cmd) (func(), func()) {
				pw := stdinPipe(t, cmd)
				var written atomic.Int64
				go func() {
					chunk := []byte(strings.Repeat("w.endless 1\n", 4096))
					for {
						n, err := pw.Write(chunk)
						written.Add(int64(n))
						if err != nil {
							return
						}
					}
				}()
				return func() {
					deadline := time.Now().Add(20 * time.Second)
					for written.Load() < 8<<20 { // read and checked: a pipe holds 64 KiB
						if time.Now().After(deadline) {
							t.Fatalf("counter read only %d bytes", written.Load())
						}
						time.Sleep(5 * time.Millisecond)
					}
				}, func() { pw.Close() }
			}},
		{name: "server-silent-mid-send", args: []string{"--timeout", "60s", "incr", "--file"}, want: "interrupted", code: 1,
			start: func(t *testing.T, cmd *exec.Cmd) (func(), func()) {
				subject, file := silent(t)
				cmd.Args = append(cmd.Args, file)
				cmd.Env = append(cmd.Env, "NATS_URL="+blackholeProxy(t, host, "HPUB "+subject+" "))
				return func() { waitCounterAbove(t, c, subject, 0) }, func() {}
			}},
		{name: "server-silent-values", args: []string{"--timeout", "60s", "incr", "--values", "--file"}, want: "interrupted", code: 1,
			start: func(t *testing.T, cmd *exec.Cmd) (func(), func()) {
				subject, file := silent(t)
				cmd.Args = append(cmd.Args, file)
				cmd.Env = append(cmd.Env, "NATS_URL="+blackholeProxy(t, host, "HPUB "+subject+" "))
				return func() { waitCounterAbove(t, c, subject, 0) }, func() {}
			}},
		{name: "listing-unanswered", args: []string{"--timeout", "60s", "incr", "--file", lines}, want: "interrupted before anything was sent", code: 1,
			url: func(t *testing.T) string { return blackholeProxy(t, host, "STREAM.LIST") },
			start: func(t *testing.T, cmd *exec.Cmd) (func(), func()) {
				return listed(t, apiTotal()), func() {}
			}},
	}
	for _, st := range stages {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
			// One at a time: readiness is read off the server's API count.
			t.Run(st.name+"/"+sig.String(), func(t *testing.T) {
				cmd := exec.Command(bin, st.args...)
				cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "NO_COLOR=1", "TMPDIR="+t.TempDir())
				if st.url != nil {
					cmd.Env = append(cmd.Env, "NATS_URL="+st.url(t))
				}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				ready, cleanup := st.start(t, cmd)
				defer cleanup()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				defer cmd.Process.Kill()
				ready()
				start := time.Now()
				cmd.Process.Signal(sig)
				select {
				case err := <-exited:
					took := time.Since(start)
					if code := exitCode(t, err); code != st.code || !strings.Contains(stderr.String(), st.want) {
						t.Errorf("exit %d, stderr %q: want %d and %q", code, stderr.String(), st.code, st.want)
					}
					if took > signalBound {
						t.Errorf("ended %s after %s, want within %s", took, sig, signalBound)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("still running 10s after %s; stderr %q", sig, stderr.String())
				}
			})
		}
	}
}

// waitOpen returns once the process has path open.
func waitOpen(t *testing.T, cmd *exec.Cmd, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
		for _, fd := range fds {
			if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", cmd.Process.Pid, fd.Name())); err == nil && target == path {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter never opened %s", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBulkFollowInterruptedMidLine: a --follow run interrupted in the
// middle of a line (an over-long one, still growing) said "skipped line 1"
// while its JSON said "skipped":0 and it exited 0. A line cut short by the
// interruption is neither reported nor counted: stderr, JSON and the exit
// status agree.
func TestBulkFollowInterruptedMidLine(t *testing.T) {
	t.Parallel()
	bin, s, c := watchFixture(t)
	file := filepath.Join(t.TempDir(), "log")
	body := "w.mid 1\n" + strings.Repeat("x", 200<<10)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, stdout, stderr := bulkCmd(t, bin, s.ClientURL(), "incr", "--file", file, "--follow", "--json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitCounterAbove(t, c, "w.mid", 0)
	waitReadAll(t, cmd, file, int64(len(body)))
	cmd.Process.Signal(syscall.SIGINT)
	code := exitCode(t, cmd.Wait())
	if code != 0 || strings.Contains(stderr.String(), "skipped") || !strings.Contains(stdout.String(), `"applied":1,`) || !strings.Contains(stdout.String(), `"skipped":0,`) {
		t.Fatalf("exit %d, stdout %s, stderr %q: want exit 0, one applied, nothing skipped or said skipped", code, stdout, stderr)
	}
}

// waitReadAll returns once the process has read path up to size bytes.
func waitReadAll(t *testing.T, cmd *exec.Cmd, path string, size int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
		for _, fd := range fds {
			if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", cmd.Process.Pid, fd.Name())); err != nil || target != path {
				continue
			}
			info, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", cmd.Process.Pid, fd.Name()))
			var pos int64
			fmt.Sscanf(string(info), "pos:\t%d", &pos)
			if pos >= size {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter never read %s to its end", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
