package cmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestHardenedRefusals: invocations that got through before (issue 19:
// invalid UTF-8 in subjects, create with reserved subjects, an over-long
// --reason, --last past an int, --file naming a directory). Each is
// refused with exit 2 and one line, writes nothing, and is refused before
// connecting where no server is needed to know.
func TestHardenedRefusals(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	nc := testserver.Connect(t, s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Create(context.Background(), c, streams.StreamSpec{Name: "VICTIM", Subjects: []string{"victim.>"}}, streams.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	url := "NATS_URL=" + s.ClientURL()
	down := "NATS_URL=nats://127.0.0.1:1" // nothing listens: a refusal must come first
	dir := t.TempDir()
	cases := []refusalCase{
		// Invalid UTF-8 is refused where control characters are.
		{hostileCase{name: "incr-invalid-utf8", args: []string{"incr", "victim.\xff"}, env: []string{down}, code: 2, stderr: `"victim.\xff" is not valid UTF-8`}, ""},
		{hostileCase{name: "incr-c1-byte", args: []string{"incr", "victim.\x9bx"}, env: []string{down}, code: 2, stderr: `is not valid UTF-8`}, ""},
		{hostileCase{name: "decr-invalid-utf8", args: []string{"decr", "victim.\xfe"}, env: []string{down}, code: 2, stderr: `is not valid UTF-8`}, ""},
		{hostileCase{name: "get-invalid-utf8", args: []string{"get", "victim.\xff"}, env: []string{down}, code: 2, stderr: `is not valid UTF-8`}, ""},
		{hostileCase{name: "reset-invalid-utf8", args: []string{"reset", "victim.\xff", "--force"}, env: []string{down}, code: 2, stderr: `is not valid UTF-8`}, ""},
		{hostileCase{name: "history-invalid-utf8", args: []string{"history", "victim.\xff"}, env: []string{down}, code: 2, stderr: `is not valid UTF-8`}, ""},
		{hostileCase{name: "watch-invalid-utf8", args: []string{"watch", "victim.\xff"}, env: []string{down}, code: 2, stderr: `is not valid UTF-8`}, ""},
		{hostileCase{name: "bulk-invalid-utf8", args: []string{"incr", "-"}, env: []string{url}, code: 2, stderr: `line 2: subject "victim.\xff" is not valid UTF-8`}, "victim.a\nvictim.\xff 1\n"},
		// Colliding ids would drop an increment: refused, nothing sent.
		{hostileCase{name: "bulk-id-collision", args: []string{"incr", "-"}, env: []string{url}, code: 2, stderr: "line 2: its id is also the id of line 1, which is another increment"}, "victim.dup 1 X\nvictim.dup 10 X\n"},
		{hostileCase{name: "bulk-id-prefix-collision", args: []string{"incr", "-", "--id-prefix", "imp"}, env: []string{url}, code: 2, stderr: `line 1: id "imp:2" has the form --id-prefix imp gives`}, "victim.a 1 imp:2\nvictim.b 5\n"},
		// create holds subjects to incr's reserved-subject rule.
		{hostileCase{name: "create-inbox", args: []string{"create", "BAD", "--subjects", "_INBOX.>"}, env: []string{down}, code: 2, stderr: "reserved"}, ""},
		{hostileCase{name: "create-star", args: []string{"create", "BAD", "--subjects", "*"}, env: []string{down}, code: 2, stderr: "starts with a wildcard"}, ""},
		{hostileCase{name: "create-gt", args: []string{"create", "BAD", "--subjects", ">"}, env: []string{down}, code: 2, stderr: "starts with a wildcard"}, ""},
		{hostileCase{name: "create-sys", args: []string{"create", "BAD", "--subjects", "$SYS.>"}, env: []string{down}, code: 2, stderr: "reserved"}, ""},
		{hostileCase{name: "create-transform-inbox", args: []string{"create", "BAD", "--source", "VICTIM:victim.>:_INBOX.>"}, env: []string{down}, code: 2, stderr: "reserved"}, ""},
		{hostileCase{name: "create-update-star", args: []string{"create", "VICTIM", "--subjects", "*", "--update", "--force"}, env: []string{url}, code: 2, stderr: "starts with a wildcard"}, ""},
		// Misleading messages.
		{hostileCase{name: "reset-long-reason", args: []string{"reset", "victim.a", "--force", "--reason", strings.Repeat("r", 70000)}, env: []string{down}, code: 2, stderr: "--reason is 70000 bytes long: at most 1024"}, ""},
		{hostileCase{name: "reset-reason-escape", args: []string{"reset", "victim.a", "--force", "--reason", "a\x1b]0;x\x07"}, env: []string{down}, code: 2, stderr: "--reason"}, ""},
		{hostileCase{name: "history-last-huge", args: []string{"history", "victim.a", "--last", "99999999999999999999"}, env: []string{down}, code: 2, stderr: `--last "99999999999999999999" is too large`}, ""},
		{hostileCase{name: "history-last-float", args: []string{"history", "victim.a", "--last", "1e3"}, env: []string{down}, code: 2, stderr: `--last "1e3" is not a whole number`}, ""},
		{hostileCase{name: "watch-count-float", args: []string{"watch", "victim.a", "--count", "1.5"}, env: []string{down}, code: 2, stderr: `--count "1.5" is not a whole number`}, ""},
		{hostileCase{name: "create-replicas-float", args: []string{"create", "R", "--subjects", "r.>", "--replicas", "1.5"}, env: []string{down}, code: 2, stderr: `--replicas "1.5"`}, ""},
		{hostileCase{name: "file-dir", args: []string{"incr", "--file", dir}, env: []string{down}, code: 2, stderr: "is a directory"}, ""},
		{hostileCase{name: "file-missing", args: []string{"incr", "--file", dir + "/missing"}, env: []string{down}, code: 2, stderr: "no such file"}, ""},
	}
	before := streamSeqs(t, js)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, tc.env, tc.stdin, tc.args...)
			checkRefusal(t, r, tc.code, tc.stderr, tc.secrets)
		})
	}
	if after := streamSeqs(t, js); !mapsEqual(before, after) {
		t.Errorf("streams changed: before %v, after %v", before, after)
	}
}

// refusalCase is a hostileCase with its standard input.
type refusalCase struct {
	hostileCase
	stdin string
}

// TestBulkCarryCheckBinary: 40,000 nines are refused by incr (EU above
// could not carry them) and, now, by the same line through --file and
// incr -: exit 2, nothing sent. Applied, it stopped EU's source for every
// later counter of DE, silently.
func TestBulkCarryCheckBinary(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	line := "count.de.big " + strings.Repeat("9", 40000) + "\n"
	file := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(file, []byte("count.de.ok 1\n"+line), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "NATS_URL=" + s.ClientURL()
	for _, tc := range []struct {
		name, stdin string
		args        []string
	}{
		{"incr", "", []string{"incr", "count.de.big", strings.Repeat("9", 40000)}},
		{"file", "", []string{"incr", "--file", file}},
		{"stdin", "count.de.ok 1\n" + line, []string{"incr", "-"}},
		{"coalesce", line, []string{"incr", "-", "--coalesce"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, []string{url}, tc.stdin, tc.args...)
			checkRefusal(t, r, ExitUsage, "more than aggregate EU above could carry", nil)
		})
	}
	for _, subject := range []string{"count.de.big", "count.de.ok"} {
		if n := countertest.SubjectMsgs(t, c.Conn(), "DE", subject); n != 0 {
			t.Errorf("DE holds %d messages of %s: something was sent", n, subject)
		}
	}
}

// TestCompletionSkipsInvalidUTF8: a subject another client wrote with
// invalid UTF-8 is never offered: shown, its bad bytes become U+FFFD, and
// what the shell would complete is not the counter (and is refused).
func TestCompletionSkipsInvalidUTF8(t *testing.T) {
	t.Parallel()
	bin, s, c := watchFixture(t)
	for _, subj := range []string{"w.good", "w.\xffbad", "w.\x9bx"} {
		m := nats.NewMsg(subj)
		m.Header.Set(counters.HeaderIncr, "+1")
		if _, err := c.Conn().RequestMsg(m, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "--completion-bash", "get", "")
	cmd.Env = append(os.Environ(), "NATS_URL="+s.ClientURL(), "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "w.good") || !utf8.Valid(out) {
		t.Errorf("offered %q: want w.good and no invalid UTF-8", out)
	}
}
