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
// from the stream's duplicate window: re-run before it, it applies nothing
// twice, also for lines that carry their own ids (never "not exact without
// ids"). On a stream with a 2s window the deadline passes: the advised
// command is then refused and sends nothing, where re-running with ids used
// to apply every line again.
func TestFaultRerunPastDuplicateWindow(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	nc := testserver.Connect(t, s)
	for _, cfg := range []string{
		`{"name":"DW","subjects":["dw.>"],"allow_msg_counter":true,"allow_direct":true,"duplicate_window":60000000000}`,
		`{"name":"SHORT","subjects":["short.>"],"allow_msg_counter":true,"allow_direct":true,"duplicate_window":2000000000}`,
	} {
		name := strings.Split(cfg, `"`)[3]
		if msg, err := nc.Request("$JS.API.STREAM.CREATE."+name, []byte(cfg), 5*time.Second); err != nil || strings.Contains(string(msg.Data), `"error"`) {
			t.Fatalf("create %s: %v %s", name, err, msg.Data)
		}
	}
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counterBin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	dir := t.TempDir()
	input := func(name, line string, ids bool) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.WriteString(line)
			if ids {
				b.WriteString(" 1 ev-" + strconv.Itoa(i))
			}
			b.WriteString("\n")
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	prefixed, own, short := input("prefixed.txt", "dw.prefixed", false), input("own.txt", "dw.own", true), input("short.txt", "short.x", false)
	target := strings.TrimPrefix(s.ClientURL(), "nats://")

	// Once the marker has gone out, nothing the server answers reaches
	// the client; every line is applied all the same.
	interrupted := func(file, subject, marker string, args ...string) string {
		t.Helper()
		cmd, _, stderr := bulkCmd(t, counterBin, blackholeProxy(t, target, marker), append([]string{"--timeout", "1s", "incr", "--file", file}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitCounterAbove(t, c, subject, n-1)
		cmd.Process.Signal(syscall.SIGINT)
		code := exitCode(t, cmd.Wait())
		if out := stderr.String(); code != 1 || !strings.Contains(out, "interrupted: ") || strings.Contains(out, "not exact without ids") {
			t.Fatalf("%s: exit %d, stderr:\n%s", file, code, out)
		}
		return stderr.String()
	}
	rerun := func(file string, args ...string) binResult {
		return runBinary(t, []string{"NATS_URL=" + s.ClientURL()}, "", append([]string{"incr", "--file", file}, args...)...)
	}
	advice := func(window string) *regexp.Regexp {
		return regexp.MustCompile(`: run the same input again with (--id-prefix dw1 )?--from-line (\d+) --until (\S+): lines already applied are skipped as duplicates until (\d\d:\d\d:\d\d) UTC \(the stream's ` + window + ` duplicate window\); after that a re-run would apply them again`)
	}

	// Within the window: the advised re-run is exact.
	for _, run := range []struct {
		file, subject, marker string
		args                  []string
	}{
		{prefixed, "dw.prefixed", "dw1:500\r", []string{"--id-prefix", "dw1"}},
		{own, "dw.own", "ev-500\r", nil},
	} {
		out := interrupted(run.file, run.subject, run.marker, run.args...)
		m := advice("1m").FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no re-run advice with its deadline:\n%s", run.file, out)
		}
		if until, err := time.Parse(time.RFC3339, m[3]); err != nil || until.UTC().Format(time.TimeOnly) != m[4] || time.Until(until) > time.Minute {
			t.Fatalf("--until %s and %s UTC disagree, or lie beyond the 1m window: %v", m[3], m[4], err)
		}
		r := rerun(run.file, append(run.args, "--from-line", m[2], "--until", m[3])...)
		if r.code != 0 || !strings.Contains(r.stderr, " 0 applied, ") {
			t.Fatalf("%s: re-run within the window: exit %d, stderr %q", run.file, r.code, r.stderr)
		}
		if got := counterValue(t, c, run.subject); got != n {
			t.Fatalf("%s = %d after the re-run, want %d", run.subject, got, n)
		}
	}

	// Past the window: the advised command is refused, and sends nothing.
	out := interrupted(short, "short.x", "dw1:500\r", "--id-prefix", "dw1")
	time.Sleep(2 * time.Second) // the 2s window has passed, whenever the lines were sent
	if m := advice("2s").FindStringSubmatch(out); m != nil {
		t.Logf("short window: advised --until %s", m[3])
		r := rerun(short, "--id-prefix", "dw1", "--from-line", m[2], "--until", m[3])
		if r.code != ExitRefused || !strings.Contains(r.stderr, "--until "+m[3]+" has passed") || !strings.Contains(r.stderr, "nothing was sent") {
			t.Fatalf("re-run past the window: exit %d, stderr %q", r.code, r.stderr)
		}
	} else if !regexp.MustCompile(`their ids are no longer remembered \(the stream's 2s duplicate window ended at \d\d:\d\d:\d\d UTC\), so a re-run would apply some of them again`).MatchString(out) {
		// (A slow run reaches the deadline before it stops: then it says so.)
		t.Fatalf("short window: neither a deadline nor that it passed:\n%s", out)
	}
	if got := counterValue(t, c, "short.x"); got != n {
		t.Fatalf("short.x = %d, want %d: nothing applied twice", got, n)
	}
}
