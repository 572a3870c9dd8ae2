package cmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
)

// hostileBound is how long any refused invocation may take: every case
// below must end well inside it (the slowest waits for a 1s --timeout).
const hostileBound = 8 * time.Second

// binResult is one run of the built binary.
type binResult struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runBinary runs the counter binary (built by testscript.Main) with env on
// top of a clean environment: no nats context of the machine leaks in.
func runBinary(t *testing.T, env []string, stdin string, args ...string) binResult {
	t.Helper()
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*hostileBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1",
		"XDG_CONFIG_HOME=" + filepath.Join(t.TempDir(), "config"),
	}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(stdin)
	start := time.Now()
	err = cmd.Run()
	res := binResult{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run counter %q: %v", args, err)
		}
		res.code = ee.ExitCode()
	}
	return res
}

// streamSeqs is every stream's last sequence and message count: a refused
// invocation must leave all of them (and every stream) where they were.
func streamSeqs(t *testing.T, js jetstream.JetStream) map[string][2]uint64 {
	t.Helper()
	out := map[string][2]uint64{}
	l := js.ListStreams(context.Background())
	for info := range l.Info() {
		out[info.Config.Name] = [2]uint64{info.State.LastSeq, info.State.Msgs}
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostileCase is one invocation that must be refused.
type hostileCase struct {
	name    string
	args    []string
	env     []string
	code    int
	stderr  string   // a substring the one stderr line must hold
	secrets []string // must appear nowhere in the output
}

// TestHostileInvocations drives the built binary with hostile and mistaken
// command lines. Each must exit with the documented code, print exactly one
// line on stderr and nothing on stdout, never show a secret, write nothing
// to any stream, and end within hostileBound.
func TestHostileInvocations(t *testing.T) {
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
	ctx := context.Background()
	for _, spec := range []counters.StreamSpec{
		{Name: "VICTIM", Subjects: []string{"victim.>"}},
		{Name: "AGG", Subjects: []string{"agg.>"}},
	} {
		if _, err := c.Create(ctx, spec, counters.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PLAIN", Subjects: []string{"plain.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"victim.a", "victim.b", "plain.x"} {
		m := nats.NewMsg(subj)
		if strings.HasPrefix(subj, "victim") {
			m.Header.Set(counters.HeaderIncr, "+7")
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	url := "NATS_URL=" + s.ClientURL()

	cases := []hostileCase{
		// The publish gate: API, system and inbox subjects are refused
		// locally (exit 2); a subject no stream captures is exit 3.
		{name: "js-api-delete", args: []string{"incr", "$JS.API.STREAM.DELETE.VICTIM"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "js-api-purge", args: []string{"incr", "$JS.API.STREAM.PURGE.VICTIM"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "js-api-msg-delete", args: []string{"incr", "$JS.API.STREAM.MSG.DELETE.VICTIM", "-5"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "js-api-domain", args: []string{"incr", "$JS.hub.API.STREAM.DELETE.VICTIM"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "sys", args: []string{"incr", "$SYS.REQ.SERVER.PING"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "kv", args: []string{"incr", "$KV.b.k"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "objects", args: []string{"incr", "$O.b.c"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "inbox", args: []string{"incr", "_INBOX.abc"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "uncaptured", args: []string{"incr", "nowhere.x"}, env: []string{url}, code: 3, stderr: "no stream captures subject nowhere.x"},
		{name: "plain-stream", args: []string{"incr", "plain.x"}, env: []string{url}, code: 1, stderr: "stream PLAIN is not a counter stream"},
		{name: "reset-js-api", args: []string{"reset", "$JS.API.STREAM.DELETE.VICTIM", "--force"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "control-char", args: []string{"incr", "victim.\x1b[2J"}, env: []string{url}, code: 2, stderr: `\x1b`},
		{name: "long-subject", args: []string{"incr", "victim." + strings.Repeat("x", 100000)}, env: []string{url}, code: 2, stderr: "subjects are at most"},
	}
	runHostile(t, js, cases)
}

func runHostile(t *testing.T, js jetstream.JetStream, cases []hostileCase) {
	t.Helper()
	before := streamSeqs(t, js)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, tc.env, "", tc.args...)
			checkRefusal(t, r, tc.code, tc.stderr, tc.secrets)
		})
	}
	if after := streamSeqs(t, js); !mapsEqual(before, after) {
		t.Errorf("streams changed: before %v, after %v", before, after)
	}
}

// checkRefusal asserts the shape of every refusal.
func checkRefusal(t *testing.T, r binResult, code int, stderr string, secrets []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d; stderr: %q", r.code, code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if n := strings.Count(r.stderr, "\n"); n != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr has %d lines, want exactly one: %q", n, r.stderr)
	}
	if !strings.Contains(r.stderr, stderr) {
		t.Errorf("stderr %q does not say %q", r.stderr, stderr)
	}
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("secret %q printed: %q", s, r.stderr)
		}
	}
	if r.took > hostileBound {
		t.Errorf("took %s, want under %s", r.took, hostileBound)
	}
}

func mapsEqual(a, b map[string][2]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
