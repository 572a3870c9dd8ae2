//go:build unix

package cmd

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
)

// Names and text another client chose: ESC, BEL and a C1 character (CSI,
// U+009B, which xterm obeys UTF-8 encoded) in stream names, a subject, a
// subject pattern, a sources header and a reset note.
const (
	evilStream  = "EV\x1b[2J\x07\u009bIL"     // a counter stream
	plainStream = "PL\x1b]0;OWNED\x07\u009bX" // a plain stream: bulk lines to it are bad
	evilSubject = "ev.s\x1b[1m\u009bz"
	evilPattern = "evil\x1b[2J\u009b.>"
	evilSources = `{"SRC` + "\x1b[2J\x07\u009b" + `":{"ev.bad":"x"}}`
	evilNote    = "note\x1b]0;n\x07\u009b"
	evilReason  = "why\x1b]0;r\x07\u009b"
)

// TestHostileTextNeverReachesTheTerminal runs every verb against streams,
// subjects and headers written with control characters by another client
// (the server accepts them; made here through the raw JetStream API), and
// asserts that no C0 byte (but newline and tab; carriage return on a
// terminal), no DEL and no C1 character reaches a terminal: on a
// pseudo-terminal everything counter writes, in a pipe stderr and JSON.
// Tab-separated rows in a pipe keep the exact bytes: the README promises
// them to scripts (TestTerminalShowsControlCharacters checks that).
func TestHostileTextNeverReachesTheTerminal(t *testing.T) {
	// Its own server and binary processes: runs beside the other tests.
	t.Parallel()
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.Single(t)
	url := s.ClientURL()
	nc := testserver.Connect(t, s)

	jsCreate := func(cfg map[string]any) {
		t.Helper()
		body, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := nc.Request("$JS.API.STREAM.CREATE."+cfg["name"].(string), body, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			Error *struct{ Description string } `json:"error"`
		}
		if err := json.Unmarshal(msg.Data, &resp); err != nil || resp.Error != nil {
			t.Fatalf("create stream %q: %s", cfg["name"], msg.Data)
		}
	}
	counter := map[string]any{"allow_msg_counter": true, "allow_direct": true, "storage": "memory"}
	with := func(m map[string]any) map[string]any {
		for k, v := range counter {
			m[k] = v
		}
		return m
	}
	jsCreate(with(map[string]any{"name": evilStream, "subjects": []string{"ev.>", evilPattern}}))
	jsCreate(map[string]any{"name": plainStream, "subjects": []string{"plain.>"}, "storage": "memory"})
	// Two aggregates of the evil stream: an aggregate sourcing both is a
	// diamond whose warning names it.
	for _, name := range []string{"A", "B"} {
		jsCreate(with(map[string]any{"name": name, "sources": []map[string]any{{"name": evilStream}}}))
	}
	publish := func(subject string, hdr map[string]string) {
		t.Helper()
		m := nats.NewMsg(subject)
		for k, v := range hdr {
			m.Header.Set(k, v)
		}
		reply, err := nc.RequestMsg(m, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(reply.Data), `"error"`) {
			t.Fatalf("publish %q: %s", subject, reply.Data)
		}
	}
	publish("ev.x", map[string]string{counters.HeaderIncr: "+5"})
	publish("ev.bad", map[string]string{counters.HeaderIncr: "+1", counters.HeaderSources: evilSources})
	publish("ev.note", map[string]string{counters.HeaderIncr: "+1"})
	publish("ev.note", map[string]string{counters.HeaderIncr: "+1", counters.HeaderResetReason: evilNote, counters.HeaderResetBy: "by\x1b[31m"})
	publish("ev.r", map[string]string{counters.HeaderIncr: "+3"})
	publish(evilSubject, map[string]string{counters.HeaderIncr: "+2"})
	publish("plain.a", nil)

	type run struct {
		args  []string
		stdin string
		// shown is text, with visible escapes, that must be on stderr (or
		// the terminal): proof that the hostile text took this path.
		shown string
	}
	runs := func(mode string) []run {
		return []run{
			{args: []string{"get", "ev.>"}},
			{args: []string{"get", "ev.bad", "--sources"}, shown: `warning: ev.bad in EV\x1b[2J\x07\u009bIL: `},
			{args: []string{"get", "ev.>", "--sources", "--json"}, shown: `warning: ev.bad in EV\x1b[2J\x07\u009bIL: `},
			{args: []string{"get", "ev.bad", "--tiers"}},
			{args: []string{"get", "ev.x", "--tiers"}},
			{args: []string{"get", "ev.x", "--tiers", "--json"}},
			{args: []string{"get", "ev.>", "--json"}},
			{args: []string{"incr", "ev.x", "1"}},
			{args: []string{"incr", "ev.x", "1", "--json"}},
			{args: []string{"decr", "ev.x", "1"}},
			{args: []string{"incr", "-"}, stdin: "plain.a 1\nplain.b 2\n", shown: `stream PL\x1b]0;OWNED\x07\u009bX, which is not a counter stream`},
			{args: []string{"incr", "-", "--follow"}, stdin: "ev.x 1\nplain.a 1\n", shown: `skipped line 2: subject plain.a is in stream PL\x1b]0;OWNED\x07\u009bX`},
			{args: []string{"incr", "plain.a"}, shown: `PL\x1b]0;OWNED\x07\u009bX`},
			{args: []string{"history", "ev.note"}},
			{args: []string{"history", "ev.note", "--last", "1"}, shown: `in stream EV\x1b[2J\x07\u009bIL`},
			{args: []string{"history", "ev.note", "--json"}},
			{args: []string{"audit", "ev.>"}},
			{args: []string{"audit", "ev.>", "--json"}},
			{args: []string{"topology"}},
			{args: []string{"topology", "--check"}},
			{args: []string{"topology", "--check", "--json"}},
			{args: []string{"topology", "--subject", "ev.x"}},
			{args: []string{"reset", "ev.>", "--dry-run"}},
			{args: []string{"reset", "ev.>", "--dry-run", "--json"}},
			{args: []string{"reset", "ev.r", "--force", "--reason", evilReason}},
			{args: []string{"create", "TOP_" + mode, "--subjects", "top" + mode + ".>", "--source", "A", "--source", "B", "--force"},
				shown: `warning: EV\x1b[2J\x07\u009bIL reaches counter stream TOP_` + mode + ` by 2 paths`},
			{args: []string{"create", "UP_" + mode, "--source", "A", "--source", "B", "--update", "--force"},
				shown: `warning: EV\x1b[2J\x07\u009bIL reaches counter stream UP_` + mode + ` by 2 paths`},
			{args: []string{"watch", "ev.>", "--duration", "1500ms", "--interval", "200ms"}},
			{args: []string{"watch", "ev.>", "--json", "--count", "1"}},
		}
	}
	env := []string{"NATS_URL=" + url}

	t.Run("pipe", func(t *testing.T) {
		mustRun(t, env, "stream UP_pipe created", "create", "UP_pipe", "--source", "A")
		for _, r := range runs("pipe") {
			res := runBinary(t, env, r.stdin, r.args...)
			name := strings.Join(r.args, " ")
			if bad := rawControls(res.stderr, false); bad != "" {
				t.Errorf("%s: stderr carries %s: %q", name, bad, res.stderr)
			}
			if !strings.Contains(res.stderr, r.shown) {
				t.Errorf("%s: stderr does not show %q: %q", name, r.shown, res.stderr)
			}
			// JSON (asked for, or watch's lines in a pipe) is for a
			// person too (jq prints it raw); rows are the exact bytes.
			if strings.Contains(name, "--json") || r.args[0] == "watch" {
				if bad := rawControls(res.stdout, false); bad != "" {
					t.Errorf("%s: JSON carries %s: %q", name, bad, res.stdout)
				}
			}
		}
		// What the shell offers when completing: it shows the words.
		for _, words := range [][]string{{"get", ""}, {"get", "--stream", ""}, {"create", "X", "--source", ""}} {
			res := runBinary(t, env, "", append([]string{"--completion-bash"}, words...)...)
			if bad := rawControls(res.stdout+res.stderr, false); bad != "" || !strings.Contains(res.stdout, "A") && words[1] != "" {
				t.Errorf("completion %q carries %s: %q", words, bad, res.stdout)
			}
		}
	})

	t.Run("terminal", func(t *testing.T) {
		mustRun(t, env, "stream UP_tty created", "create", "UP_tty", "--source", "A")
		for _, r := range runs("tty") {
			name := strings.Join(r.args, " ")
			out := onTTY(t, bin, url, r.stdin, r.args...)
			if r.args[0] == "watch" && !slices.Contains(r.args, "--json") {
				// The live table's own escapes: alternate screen, cursor,
				// clearing. Nothing else may remain.
				out = stripWatchEscapes(out)
			}
			if bad := rawControls(out, true); bad != "" {
				t.Errorf("%s: the terminal got %s: %q", name, bad, out)
			}
			if !strings.Contains(out, r.shown) {
				t.Errorf("%s: the terminal does not show %q: %q", name, r.shown, out)
			}
		}
	})
}

// onTTY runs counter on a fresh pseudo-terminal (startOnTTY), types stdin
// and Ctrl-D when there is any, and returns all it showed once it exits.
func onTTY(t *testing.T, bin, url, stdin string, args ...string) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 200}); err != nil {
		t.Fatal(err)
	}
	cmd, out, exited := startOnTTY(t, bin, url, ptmx, tty, args...)
	tty.Close() // the program has its own: the pty reports EIO once it is gone
	if stdin != "" {
		if _, err := ptmx.Write([]byte(stdin + "\x04")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%v did not exit:\n%q", args, out.String())
	}
	select {
	case <-out.copied:
	case <-time.After(5 * time.Second):
	}
	return out.String()
}

// stripWatchEscapes removes the escape sequences watch's live table draws
// with (see watchTable).
func stripWatchEscapes(s string) string {
	for _, esc := range []string{"\x1b[?1049h", "\x1b[?1049l", "\x1b[?25l", "\x1b[?25h", "\x1b[H", "\x1b[K", "\x1b[J"} {
		s = strings.ReplaceAll(s, esc, "")
	}
	return s
}

// rawControls names the first character in s a terminal would obey: C0
// but newline and tab (and carriage return, which a terminal's line
// discipline adds), DEL, C1 (UTF-8 encoded) or invalid UTF-8; "" when there
// is none.
func rawControls(s string, cr bool) string {
	for i, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r' && cr:
		case r == utf8.RuneError:
			return fmt.Sprintf("invalid UTF-8 %q at %d", s[i], i)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return fmt.Sprintf("%U at %d", r, i)
		}
	}
	return ""
}
