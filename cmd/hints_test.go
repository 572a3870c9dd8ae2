package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
)

// TestCompletionHints: completing a subject or a --stream asks the server
// (as bash, zsh and fish do, through --completion-bash); an unreachable
// server gives nothing, at once, and never an error in the shell.
func TestCompletionHints(t *testing.T) {
	// Its own server and binary processes: runs beside the other tests.
	t.Parallel()
	bin, s, c := watchFixture(t)
	incr(t, c, "w.c2", "1")
	incr(t, c, "w.c10", "1")
	// Written by another client: never offered (raw, it would reach the
	// shell's line and the terminal).
	m := nats.NewMsg("w.\x1b[2Jevil")
	m.Header.Set(counters.HeaderIncr, "+1")
	if _, err := c.Conn().RequestMsg(m, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	complete := func(url string, words ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--completion-bash"}, words...)...)
		cmd.Env = append(os.Environ(), "NATS_URL="+url, "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", words, err)
		}
		return string(out)
	}
	for _, words := range [][]string{{"get", ""}, {"watch", "w."}, {"decr", ""}, {"topology", "--subject", ""}} {
		out := complete(s.ClientURL(), words...)
		for _, want := range []string{"w.c2", "w.c10", "w.>"} {
			if !slices.Contains(strings.Fields(out), want) {
				t.Errorf("%v: %q not offered:\n%s", words, want, out)
			}
		}
		if strings.Contains(out, "\x1b") {
			t.Errorf("%v: a subject with control characters offered: %q", words, out)
		}
	}
	if out := complete(s.ClientURL(), "cheat", ""); !slices.Contains(strings.Fields(out), "decr") || slices.Contains(strings.Fields(out), "man") {
		t.Errorf("cheat: offered %q", out)
	}
	if out := complete(s.ClientURL(), "get", "--stream", ""); strings.TrimSpace(out) != "W" {
		t.Errorf("get --stream: offered %q, want W", out)
	}
	start := time.Now()
	if out := complete("nats://127.0.0.1:1", "get", ""); strings.TrimSpace(out) != "" {
		t.Errorf("no server: offered %q", out)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("no server: completion took %s", took)
	}
}

// TestCompletionScriptsAskTheServer: the zsh and fish scripts ask
// `counter --completion-bash` for argument and flag values (bash's script
// always does), so they offer what TestCompletionHints shows.
func TestCompletionScriptsAskTheServer(t *testing.T) {
	for _, shell := range []string{"zsh", "fish"} {
		var out strings.Builder
		a := newApp(testIO(nil, &out, &out, false, false))
		if err := a.writeCompletion(shell, &out); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out.String(), "--completion-bash"); n < 2 && shell == "zsh" || n < 1 {
			t.Errorf("%s script: --completion-bash used %d times:\n%s", shell, n, out.String())
		}
	}
}
