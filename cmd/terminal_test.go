package cmd

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestTerminalShowsControlCharacters: a subject written by another client
// with ESC and BEL in it reaches a terminal as visible escapes (\x1b) from
// get, topology and reset's plan; pipes keep the exact bytes and JSON
// escapes them.
func TestTerminalShowsControlCharacters(t *testing.T) {
	// Its own server and binary processes: runs beside the other tests.
	t.Parallel()
	s := testserver.Single(t)
	nc := testserver.Connect(t, s)
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Create(context.Background(), c, streams.StreamSpec{Name: "ESC", Subjects: []string{"esc.>"}}, streams.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostile := "esc.\x1b]0;owned\x07\x1b[2J"
	for _, subj := range []string{hostile, "esc.plain"} {
		m := nats.NewMsg(subj)
		m.Header.Set(counters.HeaderIncr, "+3")
		if _, err := nc.RequestMsg(m, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1", "TERM=xterm",
		"NATS_URL=" + s.ClientURL(), "XDG_CONFIG_HOME=" + filepath.Join(t.TempDir(), "c")}

	onTerminal := func(t *testing.T, args ...string) string {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		defer ptmx.Close()
		pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 200})
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		var out screen
		copied := make(chan struct{})
		go func() { io.Copy(&out, ptmx); close(copied) }()
		if err := cmd.Run(); err != nil {
			t.Logf("%v: %v", args, err)
		}
		tty.Close()
		select {
		case <-copied:
		case <-time.After(5 * time.Second):
		}
		return out.String()
	}
	for _, args := range [][]string{
		{"get", "esc.>"},
		{"get", "esc.>", "--sources"},
		{"topology", "--subject", "esc.plain"},
		{"reset", "esc.>", "--dry-run"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := onTerminal(t, args...)
			if strings.ContainsAny(out, "\x07") || strings.Contains(out, "\x1b]0;") || strings.Contains(out, "\x1b[2J") {
				t.Fatalf("control characters reached the terminal: %q", out)
			}
			if strings.Contains(strings.Join(args, " "), "esc.>") && !strings.Contains(out, `esc.\x1b]0;owned\x07\x1b[2J`) {
				t.Fatalf("the subject is not shown with visible escapes: %q", out)
			}
		})
	}

	t.Run("pipe keeps bytes", func(t *testing.T) {
		cmd := exec.Command(bin, "get", "esc.>")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), hostile+"\t") {
			t.Fatalf("a pipe must get the exact subject: %q", out)
		}
	})
	t.Run("json escapes", func(t *testing.T) {
		cmd := exec.Command(bin, "get", "esc.>", "--json")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(string(out), "\x1b\x07") || !strings.Contains(string(out), `esc.\u001b]0;owned\u0007\u001b[2J`) {
			t.Fatalf("JSON must escape control characters: %q", out)
		}
	})
}
