package cmd

import (
	"context"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// leakedPart is the first part of secret longer than 4 bytes that text
// holds, or "".
func leakedPart(text, secret string) string {
	for n := len(secret); n > 4; n-- {
		for i := 0; i+n <= len(secret); i++ {
			if strings.Contains(text, secret[i:i+n]) {
				return secret[i : i+n]
			}
		}
	}
	return ""
}

// checkNoLeak: one line on stderr, nothing on stdout, exit code, what the
// line says, and no part of any secret longer than 4 bytes.
func checkNoLeak(t *testing.T, r binResult, code int, says string, secrets ...string) {
	t.Helper()
	checkRefusal(t, r, code, says, nil)
	for _, s := range secrets {
		if part := leakedPart(r.stdout+r.stderr, s); part != "" {
			t.Errorf("output shows %q of secret %q: %q", part, s, r.stderr)
		}
	}
}

// TestReferencesNeverPrinted: credential references counter cannot
// resolve, and embedded credentials it cannot use, are refused (exit 2)
// naming the field and the context (or flag), never the value.
func TestReferencesNeverPrinted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	embedded := "data:;base64," + base64.StdEncoding.EncodeToString([]byte("SUAMYSECRETSEEDNOTACREDSFILE"))
	ctx := func(name, body string) string {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(`{"url":"nats://127.0.0.1:1",`+body+`}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     []string
		says    string
		secrets []string
	}{
		{name: "op password", args: []string{"--context", ctx("op", `"user":"alice","password":"op://Private/nats-prod/pa55w0rd"`)},
			says: "password is a 1Password reference (op://…), which counter cannot resolve: give --user and --password", secrets: []string{"Private/nats-prod/pa55w0rd"}},
		{name: "op token", args: []string{"--context", ctx("optoken", `"token":"op://Private/nats-prod/t0ken"`)},
			says: "token is a 1Password reference", secrets: []string{"Private/nats-prod/t0ken"}},
		{name: "nsc creds", args: []string{"--context", ctx("nsc", `"creds":"nsc://oper8/acct9/user7"`)},
			says: "creds is an nsc reference (nsc://…)", secrets: []string{"oper8/acct9/user7"}},
		{name: "embedded creds that are not creds", args: []string{"--context", ctx("embedded", `"creds":"`+embedded+`"`)},
			says: "creds (a data: URL) holds no user", secrets: []string{embedded[len("data:;base64,"):], "SUAMYSECRETSEEDNOTACREDSFILE"}},
		{name: "embedded creds not base64", args: []string{"--context", ctx("notb64", `"creds":"data:;base64,U0VD*UkVUU0VDUkVU"`)},
			says: "creds is a data: URL whose data is not valid base64", secrets: []string{"UkVUU0VDUkVU"}},
		{name: "embedded key", args: []string{"--context", ctx("key", `"cert":"/nonexistent/cert.pem","key":"data:;base64,S0VZU0VDUkVUS0VZ"`)},
			says: "key is not a file path", secrets: []string{"S0VZU0VDUkVUS0VZ"}},
		{name: "env token unset", args: []string{"--context", ctx("env", `"token":"env://COUNTER_TEST_UNSET_TOKEN"`)},
			says: `token names environment variable "COUNTER_TEST_UNSET_TOKEN", which is not set`},
		{name: "creds flag as a data: URL", args: []string{"-s", "nats://127.0.0.1:1", "--creds", embedded},
			says: "--creds (a data: URL) holds no user", secrets: []string{embedded[len("data:;base64,"):]}},
		{name: "password flag op://", args: []string{"-s", "nats://127.0.0.1:1", "--user", "alice", "--password", "op://Private/x/pa55w0rd"},
			says: "--password (or NATS_PASSWORD) is a 1Password reference", secrets: []string{"Private/x/pa55w0rd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, tc.env, "", append(tc.args, "get", "c.x")...)
			checkNoLeak(t, r, ExitUsage, tc.says, tc.secrets...)
		})
	}
}

// TestAmbiguousURLNotDialed (issue 19): a server URL whose user info
// cannot be placed (a password with '/', '?' or '#' not percent-encoded)
// is refused with exit 2, shows no part of the password, and dials
// nothing. Before, nats://127.0.0.1:P/pa55@host dialed 127.0.0.1:P and
// printed "127.0.0.1:P".
func TestAmbiguousURLNotDialed(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var dialed atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialed.Add(1)
			c.Close()
		}
	}()
	// What url.Parse takes for a host is the listener.
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	for i, sep := range []string{"/", "#", "?"} {
		password := port + sep + "Pa55w0rd"
		url := "nats://127.0.0.1:" + password + "@127.0.0.1:1"
		ctxFile := filepath.Join(dir, "ctx"+strconv.Itoa(i)+".json")
		if err := os.WriteFile(ctxFile, []byte(`{"url":"`+url+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, run := range []struct {
			how  string
			env  []string
			args []string
			says string
		}{
			{"flag", nil, []string{"-s", url}, "-s/--server (or NATS_URL) is not a valid NATS URL"},
			{"variable", []string{"NATS_URL=" + url}, nil, "-s/--server (or NATS_URL) is not a valid NATS URL"},
			{"list", nil, []string{"-s", "nats://127.0.0.1:1," + url}, "server URL 2 of 2 is not a valid NATS URL"},
			{"context", nil, []string{"--context", ctxFile}, `": url is not a valid NATS URL`},
		} {
			t.Run(run.how+" "+sep, func(t *testing.T) {
				r := runBinary(t, run.env, "", append(run.args, "get", "c.x")...)
				checkNoLeak(t, r, ExitUsage, run.says, password, "Pa55w0rd")
				if !strings.Contains(r.stderr, "percent-encode") {
					t.Errorf("no advice: %q", r.stderr)
				}
			})
		}
	}
	ln.Close()
	if n := dialed.Load(); n != 0 {
		t.Errorf("%d connections reached what the parser took for a host", n)
	}
}

// TestEmbeddedContext: a context saved with `nats context save --embed`
// (creds and nkeys inlined as data: URLs) connects as natscli would.
func TestEmbeddedContext(t *testing.T) {
	t.Parallel()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	s := startServer(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := t.TempDir()
	nctx, err := natscontext.New("emb", false, natscontext.WithServerURL(s.ClientURL()), natscontext.WithNKey(seedFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := natscontext.NewRegistry(natscontext.NewFileBackendAt(cfg), natscontext.WithEmbedding()).Save(context.Background(), nctx, "emb"); err != nil {
		t.Fatal(err)
	}
	// The seed file is gone: only the embedded copy can connect.
	os.Remove(seedFile)
	env := []string{"XDG_CONFIG_HOME=" + cfg}
	mustRun(t, env, "stream E created", "--context", "emb", "create", "E", "--subjects", "e.>")
	mustRun(t, env, "1", "--context", "emb", "incr", "e.x")
	// Without the context, the server refuses: the nkey did the work.
	r := runBinary(t, []string{"NATS_URL=" + s.ClientURL()}, "", "incr", "e.x")
	checkNoLeak(t, r, ExitUnavailable, "authorization failed", string(seed))
}
