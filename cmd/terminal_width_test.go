//go:build unix

package cmd

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/jetcounter/counter/render"
)

// onTerminal runs the counter binary on a pseudo-terminal of cols columns
// with extra environment, and returns what it wrote once it exits.
func onTerminal(t *testing.T, url string, cols uint16, env []string, args ...string) string {
	t.Helper()
	out, code := onTerminalExit(t, url, cols, env, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d\n%q", args, code, out)
	}
	return out
}

// onTerminalExit is onTerminal for a command that may exit with any code:
// it returns what it wrote and its exit code.
func onTerminalExit(t *testing.T, url string, cols uint16, env []string, args ...string) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NATS_URL="+url, "NO_COLOR=1", "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var out screen
	copied := make(chan struct{})
	go func() { io.Copy(&out, ptmx); close(copied) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	code := 0
	select {
	case err := <-exited:
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("%v: %v\n%q", args, err, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%v did not exit:\n%q", args, out.String())
	}
	select {
	case <-copied: // the pty reports EIO once the last writer is gone
	case <-time.After(2 * time.Second):
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), code
}

// TestGetTableFitsTerminal: at 60 columns no line of `get` is wider than
// 60: the subject column narrows (keeping its end) and values stay whole;
// rows sort naturally (c2 before c10).
func TestGetTableFitsTerminal(t *testing.T) {
	_, s, c := watchFixture(t)
	long := "w.europe.central.region.frankfurt.datacenter.c"
	value := "123456789012345678901234"
	incr(t, c, long+"10", value)
	incr(t, c, long+"2", "2")
	incr(t, c, long+"1", "1")

	out := onTerminal(t, s.ClientURL(), 60, []string{"TERM=xterm"}, "get", "w.>")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, l := range lines {
		if w := render.DisplayWidth(l); w > 60 {
			t.Errorf("a line of %d columns: %q", w, l)
		}
	}
	// Whole, grouped in thousands on a terminal, or on a line of its own.
	if !strings.Contains(out, value) && !strings.Contains(out, "123,456,789,012,345,678,901,234") {
		t.Fatalf("value cut:\n%s", out)
	}
	order := regexp.MustCompile(`datacenter\.c(\d+)`).FindAllStringSubmatch(out, -1)
	var got []string
	for _, m := range order {
		got = append(got, m[1])
	}
	if strings.Join(got, ",") != "1,2,10" {
		t.Fatalf("rows in order %v, want 1,2,10:\n%s", got, out)
	}

	// Wide enough: nothing is cut.
	out = onTerminal(t, s.ClientURL(), 200, []string{"TERM=xterm"}, "get", "w.>")
	if !strings.Contains(out, long+"10") || strings.Contains(out, "…") {
		t.Fatalf("at 200 columns:\n%s", out)
	}
}

// TestWatchDumbTerminal: TERM=dumb gets plain frames one after another,
// without a single escape sequence (no alternate screen, no cursor moves).
func TestWatchDumbTerminal(t *testing.T) {
	_, s, c := watchFixture(t)
	incr(t, c, "w.a", "42")
	out := onTerminal(t, s.ClientURL(), 80, []string{"TERM=dumb"}, "watch", "w.>", "--interval", "200ms", "--duration", "1s")
	if strings.Contains(out, "\x1b") {
		t.Fatalf("escape sequences on a dumb terminal:\n%q", out)
	}
	if n := strings.Count(out, "SUBJECT"); n < 2 {
		t.Fatalf("%d frames, want several:\n%s", n, out)
	}
	if !regexp.MustCompile(`(?m)^w\.a +42 `).MatchString(out) {
		t.Fatalf("no row for w.a:\n%s", out)
	}
}
