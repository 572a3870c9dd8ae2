//go:build unix

package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/term"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

func watchTestClient(t *testing.T, url string) *counters.Client {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func incr(t *testing.T, c *counters.Client, subject, delta string) {
	t.Helper()
	d, err := counters.ParseDelta(delta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Incr(context.Background(), subject, d, ""); err != nil {
		t.Fatalf("incr %s %s: %v", subject, delta, err)
	}
}

// watchFixture: the counter binary (set up by testscript.Main), a server,
// and a client with counter stream W on w.>.
func watchFixture(t *testing.T) (string, *server.Server, *counters.Client) {
	t.Helper()
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.Single(t)
	c := watchTestClient(t, s.ClientURL())
	if _, err := streams.Create(context.Background(), c, streams.StreamSpec{Name: "W", Subjects: []string{"w.>"}}, streams.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return bin, s, c
}

// startOnTTY starts counter (bin) with tty as its controlling terminal, in
// its own session as a shell would, against the server at url. What it
// writes collects in out; exited receives its end.
func startOnTTY(t *testing.T, bin, url string, ptmx, tty *os.File, args ...string) (cmd *exec.Cmd, out *screen, exited <-chan error) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NATS_URL="+url, "NO_COLOR=1", "TERM=xterm",
		"XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out = &screen{copied: make(chan struct{})}
	go func() { io.Copy(out, ptmx); close(out.copied) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, out, done
}

// screen collects what a program writes to its terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// copied is closed when the pseudo-terminal reports EIO: the program
	// is gone and the test closed its own tty (startOnTTY only).
	copied chan struct{}
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *screen) waitFor(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	testserver.Eventually(t, 15*time.Second, what, func() error {
		if out := s.String(); !ok(out) {
			return fmt.Errorf("the terminal shows:\n%q", out)
		}
		return nil
	})
}

// TestWatchTerminal runs the real command on a pseudo-terminal: the live
// table shows values and follows increments, and q, Ctrl-C or SIGTERM
// exits 0 and leaves the terminal as it was (main screen, cursor, modes).
func TestWatchTerminal(t *testing.T) {
	bin, s, c := watchFixture(t)
	incr(t, c, "w.a", "42")
	a := 42
	incr(t, c, "w.big", "123456789012345678901234567890123")

	for _, key := range []struct {
		name  string
		bytes string
	}{{"q", "q"}, {"ctrl-c", "\x03"}, {"sigterm", ""}} {
		t.Run(key.name, func(t *testing.T) {
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal: %v", err)
			}
			defer ptmx.Close()
			defer tty.Close()
			if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 20, Cols: 100}); err != nil {
				t.Fatal(err)
			}
			before, err := term.GetState(int(tty.Fd()))
			if err != nil {
				t.Fatal(err)
			}
			cmd, out, exited := startOnTTY(t, bin, s.ClientURL(), ptmx, tty, "watch", "w.>", "--interval", "100ms", "--sort", "value")

			out.waitFor(t, "the table with both counters", func(s string) bool {
				return strings.Contains(s, "\x1b[?1049h") &&
					// grouped in thousands on a terminal
					strings.Contains(s, "123,456,789,012,345,678,901,234,567,890,123") &&
					strings.Contains(s, "counters 2/2")
			})
			a++
			incr(t, c, "w.a", "+1")
			out.waitFor(t, "w.a's new value and change", func(s string) bool {
				return regexp.MustCompile(`w\.a +` + strconv.Itoa(a) + ` +\+1 `).MatchString(s)
			})
			if key.bytes == "" {
				err = cmd.Process.Signal(syscall.SIGTERM)
			} else {
				_, err = ptmx.Write([]byte(key.bytes))
			}
			if err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("watch exited with %v, want 0\n%q", err, out.String())
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("watch did not exit on %s", key.name)
			}
			out.waitFor(t, "main screen and cursor restored", func(s string) bool {
				return strings.HasSuffix(s, "\x1b[?25h\x1b[?1049l")
			})
			after, err := term.GetState(int(tty.Fd()))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("terminal modes not restored")
			}
		})
	}
}

// TestWatchResumesAfterRestart: a JSON-lines watch survives its server
// restarting (file store, same port and directory), says so on stderr, and
// prints the values written after.
func TestWatchResumesAfterRestart(t *testing.T) {
	srv := testserver.StartRestartable(t, testserver.Options{})
	url := srv.URL()
	c := watchTestClient(t, url)
	if _, err := streams.Create(context.Background(), c, streams.StreamSpec{Name: "W", Subjects: []string{"w.>"}}, streams.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	incr(t, c, "w.a", "10")

	outR, outW := io.Pipe()
	var stderr screen
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(t.TempDir(), "config"))
	code := make(chan int, 1)
	go func() {
		code <- Main([]string{"watch", "w.>", "-s", url, "--count", "3", "--duration", "60s"}, testIO(strings.NewReader(""), outW, &stderr, false, false))
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	next := func(want string) {
		t.Helper()
		got := make(chan string, 1)
		go func() {
			if lines.Scan() {
				got <- lines.Text()
			}
			close(got)
		}()
		select {
		case l := <-got:
			if !strings.Contains(l, want) {
				t.Fatalf("line %q, want %s", l, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no line with %s; stderr: %s", want, stderr.String())
		}
	}
	next(`"subject":"w.a","stream":"W","value":"10","seq":1`)

	srv.Stop()
	stderr.waitFor(t, "disconnected", func(s string) bool { return strings.Contains(s, "counter: watch: disconnected") })
	srv.Start()
	stderr.waitFor(t, "resumed", func(s string) bool { return strings.Contains(s, "counter: watch: stream W resumed at") })
	incr(t, c, "w.a", "5")
	next(`"subject":"w.a","stream":"W","value":"15","delta":"+5","seq":2`)
	incr(t, c, "w.b", "1")
	next(`"subject":"w.b","stream":"W","value":"1","seq":3`)
	select {
	case got := <-code:
		if got != 0 {
			t.Fatalf("exit %d, stderr: %s", got, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop after --count 3")
	}
	if strings.Contains(stderr.String(), "retrying") {
		t.Errorf("a file stream should resume without problems; stderr: %s", stderr.String())
	}
}

// TestWatchIntervalCoalesces: with --interval, a counter gets at most one
// line per interval, carrying its latest value and the change since its
// previous line.
func TestWatchIntervalCoalesces(t *testing.T) {
	s := testserver.Single(t)
	url := s.ClientURL()
	c := watchTestClient(t, url)
	if _, err := streams.Create(context.Background(), c, streams.StreamSpec{Name: "W", Subjects: []string{"w.>"}}, streams.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	incr(t, c, "w.n", "3")
	const interval = 300 * time.Millisecond
	const increments = 20
	outR, outW := io.Pipe()
	var stderr screen
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(t.TempDir(), "config"))
	code := make(chan int, 1)
	started := time.Now()
	go func() {
		code <- Main([]string{"watch", "w.n", "-s", url, "--json", "--interval", interval.String(), "--duration", "60s"}, testIO(strings.NewReader(""), outW, &stderr, false, false))
		outW.Close()
	}()
	type line struct {
		Value string  `json:"value"`
		Delta *string `json:"delta"`
	}
	lines := make(chan line, 100)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("not JSON: %q", sc.Text())
			}
			lines <- l
		}
		close(lines)
	}()
	first := <-lines
	if first.Value != "3" || first.Delta != nil {
		t.Fatalf("first line %+v, want value 3 and no delta", first)
	}
	for range increments {
		incr(t, c, "w.n", "+1")
	}
	var got []line
	prev := 3
	for prev != 3+increments {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("watch ended at value %d; stderr: %s", prev, stderr.String())
			}
			v, _ := strconv.Atoi(l.Value)
			if l.Delta == nil || *l.Delta != counters.Signed(big.NewInt(int64(v-prev))) {
				t.Fatalf("line %+v after value %d: delta should be %d", l, prev, v-prev)
			}
			prev = v
			got = append(got, l)
		case <-time.After(20 * time.Second):
			t.Fatalf("value stuck at %d; stderr: %s", prev, stderr.String())
		}
	}
	elapsed := time.Since(started)
	if max := int(elapsed/interval) + 1; len(got)+1 > max {
		t.Fatalf("%d lines in %s, at most %d allowed at one per %s", len(got)+1, elapsed, max, interval)
	}
	// Stop it: the next line it writes meets a closed pipe.
	outR.Close()
	incr(t, c, "w.n", "+1")
	select {
	case <-code:
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not stop on a closed pipe")
	}
}

// TestWatchPipeStopsOnSignals: in a pipe, SIGTERM and SIGHUP end watch like
// Ctrl-C does, with exit 0 and every line already printed flushed.
func TestWatchPipeStopsOnSignals(t *testing.T) {
	bin, s, c := watchFixture(t)
	incr(t, c, "w.a", "7")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "watch", "w.>")
			cmd.Env = append(os.Environ(), "NATS_URL="+s.ClientURL(), "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			first, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || !strings.Contains(first, `"value":"7"`) {
				t.Fatalf("first line %q, %v", first, err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("watch exited with %v on %s, want 0", err, sig)
			}
		})
	}
}

// TestWatchLeavesLastView: a watch ended by --duration (as counter demo's
// is) leaves its last view on the main screen; the alternate screen would
// take it away with it.
func TestWatchLeavesLastView(t *testing.T) {
	t.Parallel()
	bin, s, c := watchFixture(t)
	incr(t, c, "w.a", "42")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 20, Cols: 80}); err != nil {
		t.Fatal(err)
	}
	cmd, out, exited := startOnTTY(t, bin, s.ClientURL(), ptmx, tty, "watch", "w.>", "--duration", "1s", "--interval", "200ms")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("watch: %v\n%q", err, out.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("watch did not end\n%q", out.String())
	}
	tty.Close()
	<-out.copied
	screen := out.String()
	i := strings.LastIndex(screen, "\x1b[?1049l")
	if i < 0 {
		t.Fatalf("never left the alternate screen:\n%q", screen)
	}
	after := screen[i:]
	for _, want := range []string{"sorted by subject  (ended)", "SUBJECT", "w.a", "42"} {
		if !strings.Contains(after, want) {
			t.Errorf("no %q on the main screen after watch:\n%q", want, after)
		}
	}
	if strings.Contains(after, "q quits") {
		t.Errorf("the last view still says q quits:\n%q", after)
	}
}

// TestWatchRateInDigits: a counter that moves by hundreds of millions a
// second shows its RATE/s in plain digits grouped in thousands, never as
// 3.99e+08.
func TestWatchRateInDigits(t *testing.T) {
	t.Parallel()
	bin, s, c := watchFixture(t)
	incr(t, c, "w.a", "1")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 20, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	cmd, out, exited := startOnTTY(t, bin, s.ClientURL(), ptmx, tty, "watch", "w.>", "--interval", "100ms")
	defer cmd.Process.Kill()
	out.waitFor(t, "the table", func(s string) bool { return strings.Contains(s, "counters 1/1") })
	incr(t, c, "w.a", "4000000000")
	// RATE/s: three groups of digits or more, right before LAST UPDATE.
	rate := regexp.MustCompile(`w\.a +4,000,000,001 +\+4,000,000,000 +[0-9]{1,3}(,[0-9]{3}){2,} `)
	out.waitFor(t, "the rate in grouped digits", func(s string) bool { return rate.MatchString(s) })
	if strings.Contains(out.String(), "e+") {
		t.Fatalf("a rate in scientific notation:\n%q", out.String())
	}
	if _, err := ptmx.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("q did not end watch")
	}
}
