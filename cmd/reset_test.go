package cmd

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// runAt runs the command line against url with a chosen terminal setup and
// stdin, returning the exit code, stdout and stderr.
func runAt(t *testing.T, url string, stdin string, tty bool, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"--server", url}, args...), testIO(strings.NewReader(stdin), &out, &errb, tty, tty))
	return code, out.String(), errb.String()
}

// TestResetConfirmAtTerminal: at a terminal the plan goes to stderr with a
// y/N question; anything but yes writes nothing and exits 6.
func TestResetConfirmAtTerminal(t *testing.T) {
	url := cliServer(t)
	must := func(args ...string) string { t.Helper(); return mustRunAt(t, url, args...) }
	must("create", "DE", "--subjects", "count.de.>")
	for _, subj := range []string{"count.de.a", "count.de.b", "count.de.c"} {
		must("incr", subj, "5")
	}

	for _, answer := range []string{"n\n", "\n", "", "nope\n"} {
		code, out, errs := runAt(t, url, answer, true, "reset", "count.de.>")
		if code != ExitRefused || out != "" {
			t.Fatalf("answer %q: exit %d, stdout %q", answer, code, out)
		}
		if !strings.Contains(errs, "count.de.a") || !strings.Contains(errs, "Reset 3 counters to 0?") || !strings.Contains(errs, "[y/N]") || !strings.Contains(errs, "reset cancelled") {
			t.Fatalf("answer %q: stderr %q", answer, errs)
		}
	}
	if got := must("get", "count.de.b"); got != "5\n" {
		t.Fatalf("after refusals count.de.b = %q", got)
	}

	// Stdin a terminal but stderr not (or the reverse): no question, exit 6.
	var out, errb bytes.Buffer
	code := Main([]string{"--server", url, "reset", "count.de.a"}, testIO(strings.NewReader("y\n"), &out, &errb, true, false))
	if code != ExitRefused || !strings.Contains(errb.String(), "--force") {
		t.Fatalf("half a terminal: exit %d, stderr %q", code, errb.String())
	}

	code, stdout, errs := runAt(t, url, "y\n", true, "reset", "count.de.>", "--json")
	if code != 0 {
		t.Fatalf("yes: exit %d: %s", code, errs)
	}
	if !strings.Contains(stdout, `"subject":"count.de.c","stream":"DE","outcome":"reset","before":"5","delta":"-5","after":"0","rounds":1,"purged":true`) {
		t.Fatalf("yes: stdout %q", stdout)
	}
	// Progress went to stderr (a terminal), ending with everything purged.
	if !strings.Contains(errs, "reset 3/3, purged 3/3") {
		t.Fatalf("yes: no final progress on stderr: %q", errs)
	}
	// A pipe gets the order of reading (the resets' order): compare sorted.
	code, got, _ := runAt(t, url, "", false, "get", "count.de.>")
	rows := strings.SplitAfter(got, "\n")
	slices.Sort(rows)
	if code != 0 || strings.Join(rows, "") != "count.de.a\t0\ncount.de.b\t0\ncount.de.c\t0\n" {
		t.Fatalf("after reset get exits %d with %q, want 0 and every counter 0", code, got)
	}
}
