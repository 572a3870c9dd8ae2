package cmd

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetcounter/counter/internal/testserver"
)

// startServer starts a JetStream server with the options opts sets.
func startServer(t *testing.T, opts func(*server.Options)) *server.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{Configure: opts})
}

// mustRun runs the binary and requires exit 0 and stdout want.
func mustRun(t *testing.T, env []string, want string, args ...string) {
	t.Helper()
	r := runBinary(t, env, "", args...)
	if r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Fatalf("counter %q: exit %d, stdout %q, want 0 and %q; stderr %q", args, r.code, r.stdout, want, r.stderr)
	}
}

// TestNatscliParity: natscli's users bring their habits and context files.
func TestNatscliParity(t *testing.T) {
	// Its own server and binary processes: runs beside the other tests.
	t.Parallel()
	t.Run("user is a token without a password", func(t *testing.T) {
		s := startServer(t, func(o *server.Options) { o.Authorization = "t0ken-Secret" })
		env := []string{"NATS_URL=" + s.ClientURL()}
		mustRun(t, env, "stream T created", "--user", "t0ken-Secret", "create", "T", "--subjects", "t.>")
		mustRun(t, env, "1", "--user", "t0ken-Secret", "incr", "t.x")
		r := runBinary(t, env, "", "--user", "wr0ng-token", "incr", "t.x")
		checkRefusal(t, r, ExitUnavailable, "authorization failed", []string{"wr0ng-token"})
	})

	t.Run("contexts by path, no-context, auth failure names the context", func(t *testing.T) {
		s := startServer(t, func(o *server.Options) { o.Users = []*server.User{{Username: "alice", Password: "s3cret-pw"}} })
		dir := t.TempDir()
		good := filepath.Join(dir, "good.json")
		bad := filepath.Join(dir, "bad.json")
		os.WriteFile(good, []byte(`{"url":"`+s.ClientURL()+`","user":"alice","password":"s3cret-pw"}`), 0o600)
		os.WriteFile(bad, []byte(`{"url":"`+s.ClientURL()+`","user":"alice","password":"wr0ng-pw"}`), 0o600)
		mustRun(t, nil, "stream C created", "--context", good, "create", "C", "--subjects", "c.>")
		mustRun(t, nil, "2", "--context", good, "incr", "c.x", "2")

		r := runBinary(t, nil, "", "--context", bad, "get", "c.x")
		checkRefusal(t, r, ExitUnavailable, `authorization failed with the credentials of nats context "`+bad+`"`, []string{"wr0ng-pw"})

		// The selected context (context.txt) points at the bad one;
		// --no-context ignores it.
		cfg := t.TempDir()
		os.MkdirAll(filepath.Join(cfg, "nats", "context"), 0o700)
		os.WriteFile(filepath.Join(cfg, "nats", "context.txt"), []byte("sel\n"), 0o600)
		data, _ := os.ReadFile(bad)
		os.WriteFile(filepath.Join(cfg, "nats", "context", "sel.json"), data, 0o600)
		env := []string{"XDG_CONFIG_HOME=" + cfg}
		r = runBinary(t, env, "", "get", "c.x")
		checkRefusal(t, r, ExitUnavailable, `nats context "sel"`, []string{"wr0ng-pw"})
		mustRun(t, append(env, "NATS_URL="+s.ClientURL()), "2", "--no-context", "--user", "alice", "--password", "s3cret-pw", "get", "c.x")
	})

	t.Run("tls handshake first", func(t *testing.T) {
		dir := t.TempDir()
		cert, key, _ := testCertFiles(t, dir)
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		s := startServer(t, func(o *server.Options) {
			o.TLS, o.TLSTimeout, o.TLSHandshakeFirst = true, 2, true
			o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		})
		url := s.ClientURL() // tls://…
		env := []string{"NATS_URL=" + url}
		mustRun(t, env, "stream TF created", "--tlsfirst", "--tlsca", cert, "create", "TF", "--subjects", "tf.>")
		mustRun(t, env, "1", "--tlsfirst", "--tlsca", cert, "--inbox-prefix", "my.inbox", "--connection-name", "parity", "incr", "tf.x")
		// Without the CA: local advice about the CA, not 'start a server'.
		r := runBinary(t, env, "", "--tlsfirst", "--timeout", "2s", "incr", "tf.x")
		checkRefusal(t, r, ExitUnavailable, "--tlsca", nil)
		if strings.Contains(r.stderr, "counter server") {
			t.Errorf("a TLS problem is not solved by starting a server: %q", r.stderr)
		}
	})

	t.Run("tls client certificates", func(t *testing.T) {
		dir := t.TempDir()
		cert, key, _ := testCertFiles(t, dir)
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pem, _ := os.ReadFile(cert)
		pool.AppendCertsFromPEM(pem)
		s := startServer(t, func(o *server.Options) {
			o.TLS, o.TLSVerify, o.TLSTimeout = true, true, 2
			o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool,
				ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
		})
		env := []string{"NATS_URL=" + s.ClientURL()}
		mustRun(t, env, "stream CC created", "--tlsca", cert, "--tlscert", cert, "--tlskey", key, "create", "CC", "--subjects", "cc.>")
		r := runBinary(t, env, "", "--tlsca", cert, "--timeout", "2s", "incr", "cc.x")
		checkRefusal(t, r, ExitUnavailable, "--tlscert and --tlskey", nil)
		if strings.Contains(r.stderr, "counter server") {
			t.Errorf("a TLS problem is not solved by starting a server: %q", r.stderr)
		}
	})

	t.Run("inbox prefix must be a subject", func(t *testing.T) {
		r := runBinary(t, []string{"NATS_URL=nats://127.0.0.1:1"}, "", "--inbox-prefix", "a b", "incr", "x")
		checkRefusal(t, r, ExitUsage, "--inbox-prefix", nil)
	})
}

// TestCreateAtMaxStreams: an account at its stream limit is exit 4 with the
// limit named, not "invalid input".
func TestCreateAtMaxStreams(t *testing.T) {
	s := testserver.Start(t, testserver.Options{Config: `accounts { A: { jetstream: { max_streams: 1 }, users: [{user: a, password: a}] } }
no_auth_user: a
`})
	env := []string{"NATS_URL=" + s.ClientURL()}
	mustRun(t, env, "stream S1 created", "create", "S1", "--subjects", "s1.>")
	r := runBinary(t, env, "", "create", "S2", "--subjects", "s2.>")
	checkRefusal(t, r, ExitUnavailable, "max_streams", nil)
}

// TestTiersPermissionDenied: a tier that may not be read is exit 4
// (permission), not 1.
func TestTiersPermissionDenied(t *testing.T) {
	s := startServer(t, func(o *server.Options) {
		o.Users = []*server.User{{Username: "alice", Password: "pw-alice",
			Permissions: &server.Permissions{Publish: &server.SubjectPermission{
				Allow: []string{">"},
				Deny:  []string{"$JS.API.DIRECT.GET.>", "$JS.API.STREAM.MSG.GET.>", "$JS.API.CONSUMER.>", "t.denied"}}}}}
	})
	env := []string{"NATS_URL=" + s.ClientURL(), "NATS_USER=alice", "NATS_PASSWORD=pw-alice"}
	mustRun(t, env, "stream T created", "create", "T", "--subjects", "t.>")
	mustRun(t, env, "1", "incr", "t.x")
	// One error, one line: nats.go's own report of the violation is not
	// printed a second time.
	r := runBinary(t, env, "", "incr", "t.denied")
	checkRefusal(t, r, ExitUnavailable, "permission denied", []string{"pw-alice"})
	r = runBinary(t, env, "", "get", "t.x", "--tiers")
	if r.code != ExitUnavailable || !strings.Contains(r.stderr, "permission") {
		t.Fatalf("get --tiers without read permission: exit %d, stderr %q; want 4 naming the permission", r.code, r.stderr)
	}
}
