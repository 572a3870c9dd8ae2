//go:build unix

package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestFaultRerunPastDuplicateWindow: a run whose acknowledgements stop
// arriving (the server applied the increments; the answers were lost) is
// interrupted. Its advice names the exact re-run and its deadline, read
// from the stream's duplicate window (10s here): re-run before it, it
// applies nothing twice; after it, the same command is refused and sends
// nothing, where re-running with ids used to apply every line again. A run
// whose lines carry their own ids gets the same advice, never "not exact
// without ids".
func TestFaultRerunPastDuplicateWindow(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	nc := testserver.Connect(t, s)
	if msg, err := nc.Request("$JS.API.STREAM.CREATE.DW", []byte(`{"name":"DW","subjects":["dw.>"],"allow_msg_counter":true,"allow_direct":true,"duplicate_window":10000000000}`), 5*time.Second); err != nil || strings.Contains(string(msg.Data), `"error"`) {
		t.Fatalf("create DW: %v %s", err, msg.Data)
	}
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	dir := t.TempDir()
	prefixed, own := filepath.Join(dir, "prefixed.txt"), filepath.Join(dir, "own.txt")
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString("dw.own 1 ev-" + strconv.Itoa(i) + "\n")
	}
	if os.WriteFile(prefixed, []byte(strings.Repeat("dw.prefixed\n", n)), 0o644) != nil || os.WriteFile(own, []byte(b.String()), 0o644) != nil {
		t.Fatal("write inputs")
	}
	target := strings.TrimPrefix(s.ClientURL(), "nats://")
	counterBin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	advice := regexp.MustCompile(`interrupted: \d+ applied, \d+ unknown, \d+ not sent: run the same input again with (--id-prefix dw1 )?--from-line (\d+) --until (\S+): lines already applied are skipped as duplicates until (\d\d:\d\d:\d\d) UTC \(the stream's 10s duplicate window\); after that a re-run would apply them again`)

	// From line 500 on, nothing the server answers reaches the client.
	interrupted := func(file, subject, marker string, args ...string) (from, until string) {
		t.Helper()
		bin, _, stderr := bulkCmd(t, counterBin, blackholeProxy(t, target, marker), append([]string{"--timeout", "1s", "incr", "--file", file}, args...)...)
		if err := bin.Start(); err != nil {
			t.Fatal(err)
		}
		waitCounterAbove(t, c, subject, n-1) // every line applied, most unanswered
		bin.Process.Signal(syscall.SIGINT)
		code := exitCode(t, bin.Wait())
		m := advice.FindStringSubmatch(stderr.String())
		if code != 1 || m == nil || strings.Contains(stderr.String(), "not exact without ids") {
			t.Fatalf("%s: exit %d, stderr:\n%s", file, code, stderr)
		}
		if ut, err := time.Parse(time.RFC3339, m[3]); err != nil || ut.UTC().Format(time.TimeOnly) != m[4] || time.Until(ut) > 10*time.Second {
			t.Fatalf("--until %s and %s UTC disagree, or lie beyond the 10s window: %v", m[3], m[4], err)
		}
		return m[2], m[3]
	}
	rerun := func(file string, args ...string) binResult {
		return runBinary(t, []string{"NATS_URL=" + s.ClientURL()}, "", append([]string{"incr", "--file", file}, args...)...)
	}
	from, until := interrupted(prefixed, "dw.prefixed", "dw1:500\r", "--id-prefix", "dw1")
	ownFrom, ownUntil := interrupted(own, "dw.own", "ev-500\r")

	// Within the window: exact, every line applied once.
	for _, r := range []binResult{
		rerun(prefixed, "--id-prefix", "dw1", "--from-line", from, "--until", until),
		rerun(own, "--from-line", ownFrom, "--until", ownUntil),
	} {
		if r.code != 0 || !strings.Contains(r.stderr, " 0 applied, ") {
			t.Fatalf("re-run within the window: exit %d, stderr %q", r.code, r.stderr)
		}
	}
	for _, subject := range []string{"dw.prefixed", "dw.own"} {
		if got := counterValue(t, c, subject); got != n {
			t.Fatalf("%s = %d after the re-run, want %d", subject, got, n)
		}
	}

	// Past it: refused, nothing sent.
	ut, _ := time.Parse(time.RFC3339, until)
	time.Sleep(time.Until(ut) + 100*time.Millisecond) // the deadline is a time, not an event
	r := rerun(prefixed, "--id-prefix", "dw1", "--from-line", from, "--until", until)
	if r.code != ExitRefused || !strings.Contains(r.stderr, "--until "+until+" has passed") || !strings.Contains(r.stderr, "nothing was sent") {
		t.Fatalf("re-run past the window: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := counterValue(t, c, "dw.prefixed"); got != n {
		t.Fatalf("dw.prefixed = %d after a refused re-run, want %d", got, n)
	}
}
