package cmd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/streams"
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
	return runBinaryWithin(t, 2*hostileBound, env, stdin, args...)
}

// runBinaryWithin is runBinary for a run that may take up to bound.
func runBinaryWithin(t *testing.T, bound time.Duration, env []string, stdin string, args ...string) binResult {
	t.Helper()
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
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
	// Its own server and binary processes: runs beside the other tests.
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
	ctx := context.Background()
	for _, spec := range []streams.StreamSpec{
		{Name: "VICTIM", Subjects: []string{"victim.>"}},
		{Name: "AGG", Subjects: []string{"agg.>"}},
	} {
		if _, err := streams.Create(ctx, c, spec, streams.CreateOptions{}); err != nil {
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
	tlsURL := "NATS_URL=" + strings.Replace(s.ClientURL(), "nats://", "tls://", 1)

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
		{name: "plain-stream", args: []string{"incr", "plain.x"}, env: []string{url}, code: 2, stderr: "stream PLAIN is not a counter stream"},
		{name: "reset-js-api", args: []string{"reset", "$JS.API.STREAM.DELETE.VICTIM", "--force"}, env: []string{url}, code: 2, stderr: "reserved"},
		{name: "control-char", args: []string{"incr", "victim.\x1b[2J"}, env: []string{url}, code: 2, stderr: `\x1b`},
		// Exit codes that had drifted from the README.
		{name: "get-stream-dotted", args: []string{"get", "victim.a", "--stream", "a.b"}, env: []string{url}, code: 2, stderr: "--stream"},
		{name: "reset-stream-dotted", args: []string{"reset", "victim.a", "--stream", "a.b", "--force"}, env: []string{url}, code: 2, stderr: "--stream"},
		// TLS asked of a server without it: said so, not nats.go's "secure
		// connection not available" with advice to start a server.
		{name: "inbox-prefix-wildcard", args: []string{"--inbox-prefix", "_INBOX.*", "get", "victim.a"}, env: []string{url}, code: 2, stderr: `--inbox-prefix "_INBOX.*" has a wildcard: give the literal prefix`},
		{name: "tls-to-plain-server", args: []string{"get", "victim.a"}, env: []string{tlsURL}, code: 4, stderr: "the server does not offer TLS: use a nats:// URL"},
		// Every verb with --stream checks it the same way (watch, history and
		// audit passed the library's "nats: invalid stream name" on, exit 1).
		{name: "watch-stream-dotted", args: []string{"watch", "victim.a", "--stream", "a.b", "--duration", "1s"}, env: []string{url}, code: 2, stderr: `--stream "a.b" may not contain`},
		{name: "history-stream-dotted", args: []string{"history", "victim.a", "--stream", "a.b"}, env: []string{url}, code: 2, stderr: `--stream "a.b" may not contain`},
		{name: "audit-stream-dotted", args: []string{"audit", "victim.a", "--stream", "a.b"}, env: []string{url}, code: 2, stderr: `--stream "a.b" may not contain`},
		{name: "js-domain-space", args: []string{"--js-domain", "a b", "get", "victim.a"}, env: []string{url}, code: 2, stderr: "--js-domain"},
		{name: "js-api-prefix-space", args: []string{"--js-api-prefix", "a b", "get", "victim.a"}, env: []string{url}, code: 2, stderr: "--js-api-prefix"},
		{name: "source-double-at", args: []string{"create", "AGG2", "--source", "VICTIM@@d"}, env: []string{url}, code: 2, stderr: "invalid source"},
		{name: "source-two-domains", args: []string{"create", "AGG2", "--source", "VICTIM@d@e"}, env: []string{url}, code: 2, stderr: "invalid source"},
		{name: "get-long-subject", args: []string{"get", "victim." + strings.Repeat("x", 100000)}, env: []string{url}, code: 2, stderr: "subjects are at most"},
		{name: "topology-empty-subject", args: []string{"topology", "--subject", ""}, env: []string{url}, code: 2, stderr: "subject is empty"},
		{name: "topology-no-value", args: []string{"topology", "--subject", "victim.nonexistent"}, env: []string{url}, code: 3, stderr: "has no value at any tier"},
		{name: "long-subject", args: []string{"incr", "victim." + strings.Repeat("x", 100000)}, env: []string{url}, code: 2, stderr: "subjects are at most"},
	}
	cases = append(cases, argumentCases(url)...)
	cases = append(cases, secretCases(t, url)...)
	cases = append(cases, fileCases(t, url)...)
	runHostile(t, js, cases)
}

// argumentCases: only a positional DELTA may be negative, and "--" ends
// flags as in every Unix tool.
func argumentCases(url string) []hostileCase {
	return []hostileCase{
		{name: "negative-subject-position", args: []string{"incr", "-5", "victim.a"}, env: []string{url}, code: 2, stderr: "unknown short flag '-5'"},
		{name: "double-dash-twice", args: []string{"incr", "victim.a", "--", "--"}, env: []string{url}, code: 2, stderr: "'--'"},
		{name: "dash-delta", args: []string{"incr", "victim.a", "-"}, env: []string{url}, code: 2, stderr: `invalid delta "-"`},
		{name: "negative-flag-value", args: []string{"--password", "-12345", "--user", "u", "incr", "nowhere.x", "-5"}, env: []string{url}, code: 3, stderr: "no stream captures subject nowhere.x", secrets: []string{"-12345"}},
		{name: "flag-value-equals", args: []string{"--timeout=-1s", "incr", "victim.a"}, env: []string{url}, code: 2, stderr: "positive duration"},
		{name: "at-file", args: []string{"incr", "@/dev/zero"}, env: []string{url}, code: 3, stderr: "no stream captures subject @/dev/zero"},
		{name: "timeout-word", args: []string{"--timeout", "abc", "incr", "victim.a"}, env: []string{url}, code: 2, stderr: `--timeout (or NATS_TIMEOUT) "abc" is not a duration: give a number with a unit, such as 5s`},
		{name: "timeout-env-unitless", args: []string{"incr", "victim.a"}, env: []string{url, "NATS_TIMEOUT=1"}, code: 2, stderr: `"1" is not a duration`},
	}
}

// secretCases: credentials given in URLs (flag, variable or context),
// flags and contexts never appear in any output.
func secretCases(t *testing.T, url string) []hostileCase {
	dir := t.TempDir()
	ctxFile := filepath.Join(dir, "leaky.json")
	if err := os.WriteFile(ctxFile, []byte(`{"url":"nats://carol:ctxPa55word@127.0.0.1:1","password":"ctxPa55word"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	down := "nats://127.0.0.1:1"
	return []hostileCase{
		{name: "reserved-before-connecting", args: []string{"-s", "nats://127.0.0.1:1", "incr", "$JS.API.STREAM.DELETE.VICTIM"}, code: 2, stderr: "reserved"},
		{name: "reset-reserved-before-connecting", args: []string{"-s", "nats://127.0.0.1:1", "reset", "$SYS.>", "--force"}, code: 2, stderr: "reserved"},
		{name: "url-as-verb", args: []string{"nats://alice:verbS3cret@127.0.0.1:1", "incr", "x"}, code: 2, stderr: "expected command", secrets: []string{"verbS3cret"}},
		{name: "url-slash-password", args: []string{"-s", "nats://alice:pa/ss@127.0.0.1:1", "incr", "victim.a"}, code: 2, stderr: "is not a valid NATS URL", secrets: []string{"pa/ss", "alice:pa"}},
		{name: "url-no-scheme", args: []string{"-s", "alice:s3cret@127.0.0.1:1", "incr", "victim.a"}, code: 4, stderr: "cannot connect to " + down, secrets: []string{"s3cret"}},
		{name: "url-hash-query", args: []string{"-s", "nats://bob:p#w?d@127.0.0.1:1", "incr", "victim.a"}, code: 2, stderr: "is not a valid NATS URL", secrets: []string{"p#w?d", "bob:p", "w?d"}},
		{name: "url-token", args: []string{"-s", "nats://tok3nSecret@127.0.0.1:1", "incr", "victim.a"}, code: 4, stderr: "cannot connect to " + down, secrets: []string{"tok3nSecret"}},
		{name: "url-percent", args: []string{"-s", "nats://alice:p%40ss%23wd@127.0.0.1:1", "incr", "victim.a"}, code: 4, stderr: "cannot connect", secrets: []string{"p%40ss%23wd", "p@ss#wd"}},
		{name: "url-list", args: []string{"-s", "nats://127.0.0.1:1,nats://dave:li5tpass@127.0.0.1:2", "incr", "victim.a"}, code: 4, stderr: "cannot connect", secrets: []string{"li5tpass"}},
		{name: "url-list-unparsable", args: []string{"-s", "nats://127.0.0.1:1, nats://erin:x#y@h:1", "incr", "victim.a"}, code: 2, stderr: "server URL 2 of 2 is not a valid NATS URL", secrets: []string{"x#y", "erin"}},
		{name: "env-url", args: []string{"incr", "victim.a"}, env: []string{"NATS_URL=nats://alice:envSecret@127.0.0.1:1"}, code: 4, stderr: "cannot connect", secrets: []string{"envSecret"}},
		{name: "env-url-unparsable", args: []string{"incr", "victim.a"}, env: []string{"NATS_URL=nats://bob:p#w?d@127.0.0.1:1"}, code: 2, stderr: "is not a valid NATS URL", secrets: []string{"p#w?d"}},
		{name: "password-flag", args: []string{"-s", down, "--user", "alice", "--password", "hunter22", "incr", "victim.a"}, code: 4, stderr: "cannot connect", secrets: []string{"hunter22"}},
		{name: "context-url", args: []string{"--context", ctxFile, "incr", "victim.a"}, code: 4, stderr: "cannot connect", secrets: []string{"ctxPa55word"}},
		{name: "bad-port", args: []string{"-s", "nats://127.0.0.1:99999", "incr", "victim.a"}, code: 2, stderr: "port"},
		{name: "server-port-negative", args: []string{"server", "--port", "-1"}, env: []string{url}, code: 2, stderr: "--port"},
		{name: "server-port-huge", args: []string{"server", "--port", "99999"}, env: []string{url}, code: 2, stderr: "--port"},
	}
}

// fileCases: credential, key, certificate and context files are read only
// when they are regular files of a sane size; nothing blocks or grows.
func fileCases(t *testing.T, url string) []hostileCase {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Skipf("no FIFO: %v", err)
	}
	huge := filepath.Join(dir, "huge.creds")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(64 << 20)
	f.Close()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not a key\n"), 0o600)
	missing := filepath.Join(dir, "missing.creds")
	cert, key, otherKey := testCertFiles(t, dir)
	var cases []hostileCase
	for _, flag := range []string{"--creds", "--nkey", "--tlsca", "--context"} {
		for _, file := range []struct{ name, path, says string }{
			{"zero", "/dev/zero", "is not a regular file"},
			{"fifo", fifo, "is not a regular file"},
			{"dir", dir, "is not a regular file"},
			{"huge", huge, "such files are at most"},
			{"missing", missing, "no such file"},
		} {
			cases = append(cases, hostileCase{name: flag[2:] + "-" + file.name, args: []string{flag, file.path, "incr", "victim.a"}, env: []string{url}, code: 2, stderr: file.says})
		}
	}
	cases = append(cases,
		hostileCase{name: "tlscert-zero", args: []string{"--tlscert", "/dev/zero", "--tlskey", key, "incr", "victim.a"}, env: []string{url}, code: 2, stderr: "--tlscert \"/dev/zero\" is not a regular file"},
		hostileCase{name: "tlskey-fifo", args: []string{"--tlscert", cert, "--tlskey", fifo, "incr", "victim.a"}, env: []string{url}, code: 2, stderr: "--tlskey"},
		hostileCase{name: "tlscert-alone", args: []string{"--tlscert", cert, "incr", "victim.a"}, env: []string{url}, code: 2, stderr: "needs both --tlscert and --tlskey"},
		hostileCase{name: "tls-mismatch", args: []string{"--tlscert", cert, "--tlskey", otherKey, "incr", "victim.a"}, env: []string{url}, code: 2, stderr: "cannot be used together"},
		hostileCase{name: "creds-junk", args: []string{"--creds", junk, "incr", "victim.a"}, env: []string{url}, code: 2, stderr: "is it a credentials file"},
		hostileCase{name: "nkey-junk", args: []string{"--nkey", junk, "incr", "victim.a"}, env: []string{url}, code: 2, stderr: "holds no NKEY seed"},
		hostileCase{name: "tlsca-junk", args: []string{"--tlsca", junk, "incr", "victim.a"}, env: []string{url}, code: 2, stderr: "holds no PEM certificate"},
		hostileCase{name: "context-name-dots", args: []string{"--context", "..", "incr", "victim.a"}, env: []string{url}, code: 2, stderr: "cannot contain '..'"},
		hostileCase{name: "no-context-wins", args: []string{"--no-context", "incr", "nowhere.x"}, env: []string{url, "NATS_CONTEXT=/dev/zero"}, code: 3, stderr: "no stream captures"},
	)
	return cases
}

// testCertFiles writes a self-signed certificate, its key and an unrelated
// key as PEM files.
func testCertFiles(t *testing.T, dir string) (cert, key, otherKey string) {
	t.Helper()
	newKey := func() (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	k, keyPEM := newKey()
	_, otherPEM := newKey()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, otherKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "other.pem")
	for path, data := range map[string][]byte{cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key: keyPEM, otherKey: otherPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key, otherKey
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
