//go:build unix

package cmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
	"github.com/jetcounter/counter/render"
)

// counterAt runs the counter binary against url in a pipe and fails the
// test unless it exits 0; it returns stdout.
func counterAt(t *testing.T, url string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NATS_URL="+url, "NO_COLOR=1", "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("counter %v: %v: %s", args, err, stderr.String())
	}
	return string(out)
}

// waitValue polls until subject (in stream, "" for its own) holds want.
func waitValue(t *testing.T, c *counters.Client, stream, subject, want string) {
	t.Helper()
	last := "(none)"
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		list, err := c.Get(context.Background(), []string{subject}, counters.GetOptions{Stream: stream})
		if err == nil && len(list) == 1 {
			if last = list[0].Value.String(); last == want {
				return
			}
		}
	}
	t.Fatalf("%s in %s is %s, want %s", subject, stream, last, want)
}

// TestTablesKeepWhatIdentifiesARow runs the verbs that print tables on
// terminals of 60 and 100 columns: no line is wider than the terminal;
// subjects, streams and times (to the second) stay whole on one line;
// free text wraps or moves under its row; a 40-digit value stays whole,
// on a line of its own when it does not fit its column.
func TestTablesKeepWhatIdentifiesARow(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	url := s.ClientURL()
	c := watchTestClient(t, url)
	for _, args := range [][]string{
		{"create", "DE", "--subjects", "count.de.>"},
		{"create", "PL", "--subjects", "count.pl.>"},
		{"create", "EU", "--subjects", "count.eu.>", "--source", "DE:count.de.>:count.eu.>", "--source", "PL:count.pl.>:count.eu.>"},
		{"create", "GLOBAL", "--subjects", "count.all.>", "--source", "EU:count.eu.>:count.all.>"},
		{"incr", "count.de.hits", "5"},
		{"incr", "count.de.hits", "-2", "--id", "order-7"},
		{"incr", "count.pl.hits", "10"},
		{"create", "W", "--subjects", "w.>"},
		{"incr", "w.europe.frankfurt.widths", "1234567890123456789012345678901234567890"},
		{"incr", "w.europe.warsaw.widths", "7"},
		{"incr", "w.europe.paris.widths", "12"},
	} {
		counterAt(t, url, args...)
	}
	waitValue(t, c, "GLOBAL", "count.all.hits", "13")
	// A diamond (GLOBAL2 reads PL directly and through EU), made as the
	// server allows it, for topology --check to report.
	if _, err := c.Conn().Request("$JS.API.STREAM.CREATE.GLOBAL2", []byte(`{"name":"GLOBAL2","allow_msg_counter":true,"allow_direct":true,"sources":[{"name":"EU"},{"name":"PL"}]}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}

	type check struct {
		what string
		ok   func(out string) bool
	}
	onOneLine := func(texts ...string) check {
		return check{"on one line each: " + strings.Join(texts, ", "), func(out string) bool {
			for _, s := range texts {
				// A number may be grouped in thousands on a terminal.
				if !strings.Contains(out, s) && !strings.Contains(out, groupedForTest(s)) {
					return false
				}
			}
			return true
		}}
	}
	matches := func(re string) check {
		return check{"matches " + re, regexp.MustCompile(re).MatchString}
	}
	none := func(s string) check {
		return check{"no " + s, func(out string) bool { return !strings.Contains(out, s) }}
	}
	cases := []struct {
		args   []string
		checks []check
	}{
		{[]string{"audit", "count.>"}, []check{
			onOneLine("count.all.hits", "count.pl.hits", "count.de.hits", "GLOBAL"), none("…"),
			matches(`13 = direct 0 \+ sources 13;`)}},
		{[]string{"history", "count.de.hits"}, []check{
			matches(`│ +1 │ 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z +│`), onOneLine("order-7"), none("…")}},
		{[]string{"get", "w.>"}, []check{
			onOneLine("w.europe.frankfurt.widths", "w.europe.warsaw.widths", "w.europe.paris.widths", "1234567890123456789012345678901234567890"),
			none("…")}},
		{[]string{"topology", "--check"}, []check{
			onOneLine("GLOBAL2", "diamond", "PL reaches counter stream"), none("…")}},
		{[]string{"get", "count.pl.hits", "--tiers"}, []check{
			onOneLine("count.all.hits", "PL count.pl.hits=10", "DE count.de.hits=3"), none("…")}},
	}
	for _, tc := range cases {
		for _, cols := range []uint16{60, 100} {
			t.Run(strings.Join(tc.args[:1], " ")+"/"+strings.Join(tc.args[1:], " ")+"/"+strconv.Itoa(int(cols)), func(t *testing.T) {
				t.Parallel()
				out, _ := onTerminalExit(t, url, cols, []string{"TERM=xterm"}, tc.args...)
				for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
					// A message on stderr is a line the terminal wraps.
					if w := render.DisplayWidth(l); w > int(cols) && !strings.HasPrefix(l, "counter: ") {
						t.Errorf("a line of %d columns: %q", w, l)
					}
				}
				for _, ch := range tc.checks {
					if !ch.ok(out) {
						t.Errorf("want %s:\n%s", ch.what, out)
					}
				}
			})
		}
	}
}

// groupedForTest is s grouped in thousands when it is a long number.
func groupedForTest(s string) string {
	if len(s) < 4 || strings.Trim(s, "0123456789") != "" {
		return s
	}
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}

// TestValuesGroupedOnTerminalOnly: a table on a terminal groups values in
// thousands (sequences stay as they are); a pipe, JSON and a single bare
// value get plain digits.
func TestValuesGroupedOnTerminalOnly(t *testing.T) {
	t.Parallel()
	_, s, c := watchFixture(t)
	incr(t, c, "w.a", "1234567")
	incr(t, c, "w.b", "-7654321")
	url := s.ClientURL()
	for _, cols := range []uint16{60, 100} {
		out := onTerminal(t, url, cols, []string{"TERM=xterm"}, "get", "w.>")
		if !strings.Contains(out, "│ w.a     │  1,234,567 │") || !strings.Contains(out, "-7,654,321 │") {
			t.Errorf("at %d columns, values not grouped:\n%s", cols, out)
		}
		// At 60 columns the separators are the first thing a number gives
		// up (before it would move under its row).
		out = onTerminal(t, url, cols, []string{"TERM=xterm"}, "history", "w.a")
		grouped := regexp.MustCompile(`│ +\+1,234,567 │ +1,234,567 │`).MatchString(out)
		plain := regexp.MustCompile(`│ +\+1234567 │ +1234567 │`).MatchString(out)
		if cols == 100 && !grouped || cols == 60 && !plain {
			t.Errorf("at %d columns, history:\n%s", cols, out)
		}
	}
	if out := onTerminal(t, url, 100, []string{"TERM=xterm"}, "get", "w.a"); strings.TrimSpace(out) != "1234567" {
		t.Errorf("a bare value on a terminal: %q", out)
	}
	if out := counterAt(t, url, "get", "w.>"); out != "w.a\t1234567\nw.b\t-7654321\n" {
		t.Errorf("piped: %q", out)
	}
	if out := counterAt(t, url, "get", "w.>", "--json"); !strings.Contains(out, `"value":"1234567"`) || strings.Contains(out, ",234") {
		t.Errorf("JSON: %q", out)
	}
}
