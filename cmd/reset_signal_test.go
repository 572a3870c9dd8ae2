//go:build unix

package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestResetPromptCtrlC: Ctrl-C at the [y/N] question ends it at once (not
// at the next Enter), exit 6, nothing written, also with text typed.
func TestResetPromptCtrlC(t *testing.T) {
	bin, s, c := watchFixture(t)
	incr(t, c, "w.a", "42")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	cmd, out, exited := startOnTTY(t, bin, s.ClientURL(), ptmx, tty, "reset", "w.a")
	out.waitFor(t, "the question", func(s string) bool { return strings.Contains(s, "[y/N]") })
	// Typed text without Enter, then Ctrl-C (the terminal sends SIGINT).
	if _, err := ptmx.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	// The terminal has it (echoed it) before the Ctrl-C: the test is that
	// it is not taken.
	out.waitFor(t, "the y echoed", func(s string) bool { return strings.Contains(s, "[y/N] y") })
	if _, err := ptmx.Write([]byte("\x03")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != ExitRefused {
			t.Fatalf("exit %v, want %d\n%q", err, ExitRefused, out.String())
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("Ctrl-C did not end the question\n%q", out.String())
	}
	out.waitFor(t, "the cancellation", func(s string) bool { return strings.Contains(s, "reset cancelled (interrupted): nothing was reset") })
	if strings.Contains(out.String(), "context canceled") {
		t.Fatalf("raw error shown: %q", out.String())
	}
	got, err := c.Get(context.Background(), []string{"w.a"}, counters.GetOptions{})
	if err != nil || got[0].Value.String() != "42" || got[0].Seq != 1 {
		t.Fatalf("w.a after Ctrl-C: %v %v, want 42 untouched", got, err)
	}
}

// TestResetInterrupted: SIGINT in the middle of a reset of thousands of
// counters. Counters not started are left alone; those in flight finish.
// Each row's outcome matches the counter's value after, the summary counts
// them exactly, and no raw "context canceled" is shown.
func TestResetInterrupted(t *testing.T) {
	bin, s, c := watchFixture(t)
	const n = 2000
	nc := testserver.Connect(t, s)
	if err := seedCounters(nc, "w", n); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the resets have started: at the first reset message,
	// which is the first message on w.> from now on.
	started := make(chan struct{}, 1)
	sub, err := nc.Subscribe("w.>", func(*nats.Msg) {
		select {
		case started <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil { // the server has the subscription
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "reset", "w.>", "--force", "--json")
	cmd.Env = append(os.Environ(), "NATS_URL="+s.ClientURL(), "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-started:
		sub.Unsubscribe()
	case err := <-exited:
		t.Fatalf("reset ended before it was interrupted: %v\nstderr: %s", err, stderr.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the reset never started")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = <-exited
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	var out struct {
		Results []struct {
			Subject, Stream, Outcome, Before, Delta, After, Unacked, Error string
			Rounds                                                         int
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out.Results) != n {
		t.Fatalf("exit %d, %d results, %v\nstderr: %s", code, len(out.Results), err, stderr.String())
	}
	values := map[string]string{}
	got, err := c.Get(context.Background(), []string{"w.>"}, counters.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ctr := range got {
		values[ctr.Subject] = ctr.Value.String()
	}
	count := map[string]int{}
	for _, r := range out.Results {
		count[r.Outcome]++
		orig := strings.TrimPrefix(r.Subject, "w.")
		now := values[r.Subject]
		switch r.Outcome {
		case "reset":
			if now != "0" || r.After != "0" || r.Delta != "-"+orig {
				t.Fatalf("%+v: now %s", r, now)
			}
		case "skipped":
			if now != orig || r.After != "" || r.Delta != "" {
				t.Fatalf("%+v: now %s, want untouched %s", r, now, orig)
			}
		case "unknown":
			if (now != orig && now != "0") || r.After != "" || r.Unacked != "-"+orig {
				t.Fatalf("%+v: now %s", r, now)
			}
		default:
			t.Fatalf("outcome %q: %+v", r.Outcome, r)
		}
	}
	t.Logf("exit %d, outcomes %v; stderr %s", code, count, stderr.String())
	if strings.Contains(stdout.String()+stderr.String(), "context canceled") {
		t.Fatalf("raw error shown: %s", stderr.String())
	}
	if count["skipped"] == 0 {
		if code != 0 {
			t.Fatalf("finished before the interrupt, yet exit %d", code)
		}
		return
	}
	want := "interrupted: " + strconv.Itoa(count["reset"]) + " of " + strconv.Itoa(n) + " counters were reset, " + strconv.Itoa(count["skipped"]) + " not started"
	if code != ExitError || !strings.Contains(stderr.String(), want) {
		t.Fatalf("exit %d, stderr %q, want %q", code, stderr.String(), want)
	}
	// Running it again finishes the job.
	rerun := exec.Command(bin, "reset", "w.>", "--force")
	rerun.Env = cmd.Env
	if b, err := rerun.CombinedOutput(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, b)
	}
	got, err = c.Get(context.Background(), []string{"w.>"}, counters.GetOptions{})
	if err != nil || len(got) != n {
		t.Fatalf("after the re-run: %d counters, %v", len(got), err)
	}
	for _, ctr := range got {
		if ctr.Value.Sign() != 0 {
			t.Fatalf("after the re-run %s = %s", ctr.Subject, ctr.Value)
		}
	}
}

// TestResetPromptSaysHistoryIsPurged: the [y/N] question at a terminal says
// that the history before the reset is purged, and how to see it first.
func TestResetPromptSaysHistoryIsPurged(t *testing.T) {
	t.Parallel()
	bin, s, c := watchFixture(t)
	incr(t, c, "w.a", "42")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	cmd, out, exited := startOnTTY(t, bin, s.ClientURL(), ptmx, tty, "reset", "w.a")
	out.waitFor(t, "the question", func(s string) bool { return strings.Contains(s, "[y/N]") })
	if _, err := ptmx.Write([]byte("n\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no answer taken\n%q", out.String())
	}
	screen := strings.Join(strings.Fields(out.String()), " ") // as one line, however it wrapped
	for _, want := range []string{
		"Reset 1 counter to 0? Every aggregate above drops by the same amount, and the history before the reset is purged",
		"run 'counter history w.a' first",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("no %q in the question:\n%s", want, out.String())
		}
	}
}
