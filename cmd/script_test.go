package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/terminal"
	"github.com/jetcounter/counter/internal/testserver"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"counter": func() { os.Exit(Main(os.Args[1:], terminal.System())) },
		// A cluster node in a process of its own, for tests that kill -9.
		"counter-test-node": func() { os.Exit(clusterNode(os.Args[1:])) },
	})
}

// TestScripts runs testdata/script/*.txtar, each against its own real
// nats-server with JetStream ($NATS_URL).
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams("../testdata/script"))
}

// scriptParams runs the scripts in dir, each against its own real
// nats-server with JetStream ($NATS_URL), with the commands below.
func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("NATS_URL", testserver.URL(testserver.Single(envT(env))))
			// No nats context of the machine may leak into a test.
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".config"))
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: scriptCmds,
	}
}

// scriptCmds are the commands scripts may use besides testscript's own.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"exits":        cmdExits,
	"jsreq":        cmdJSReq,
	"waitget":      cmdWaitGet,
	"mkcontext":    cmdMkContext,
	"server-auth":  cmdServerAuth,
	"server-no-js": cmdServerNoJS,
	"seed":         cmdSeed,
	"streamseq":    cmdStreamSeq,
	"golden":       cmdGolden,
	"hubleaf":      cmdHubLeaf,
	"consumers":    cmdConsumers,
	"pubhdr":       cmdPubHdr,
	"sourceok":     cmdSourceOK,
}

// exits CODE PROG ARGS...: run PROG, require exit code CODE; stdout and
// stderr stay available to the next commands.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("run %s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d\nstdout: %s\nstderr: %s", args[1], got, want, ts.ReadFile("stdout"), ts.ReadFile("stderr"))
	}
}

func scriptConn(ts *testscript.TestScript) *nats.Conn {
	nc, err := nats.Connect(ts.Getenv("NATS_URL"))
	ts.Check(err)
	return nc
}

// jsreq SUBJECT JSON: a raw JetStream API request (to make what `counter`
// refuses to make); fails on an API error unless negated.
func cmdJSReq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsreq SUBJECT JSON")
	}
	nc := scriptConn(ts)
	defer nc.Close()
	msg, err := nc.Request(args[0], []byte(args[1]), 5*time.Second)
	ts.Check(err)
	var resp struct {
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	ts.Check(json.Unmarshal(msg.Data, &resp))
	if (resp.Error != nil) != neg {
		ts.Fatalf("jsreq %s: %s", args[0], msg.Data)
	}
}

// waitget [STREAM] SUBJECT VALUE: poll until the counter holds VALUE
// (sourcing into aggregates is asynchronous).
func cmdWaitGet(ts *testscript.TestScript, neg bool, args []string) {
	var stream string
	if len(args) == 3 {
		stream, args = args[0], args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: waitget [STREAM] SUBJECT VALUE")
	}
	nc := scriptConn(ts)
	defer nc.Close()
	c, err := counters.New(nc, counters.Options{})
	ts.Check(err)
	last := "(none)"
	testserver.Eventually(scriptT(ts), 10*time.Second, "counter "+args[0]+" to be "+args[1], func() error {
		list, err := c.Get(context.Background(), []string{args[0]}, counters.GetOptions{Stream: stream})
		if err == nil && len(list) == 1 {
			last = list[0].Value.String()
			if last == args[1] {
				return nil
			}
		}
		return fmt.Errorf("counter %s is %s, want %s", args[0], last, args[1])
	})
}

// mkcontext NAME [select] [embed] [FIELD=VALUE...]: save a nats context
// pointing at $NATS_URL with jsm.go's natscontext, exactly as `nats context
// save` would (embed: as `nats context save --embed`, creds and nkey files
// inlined). FIELD is url, domain, user, password, token, creds or nkey.
func cmdMkContext(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: mkcontext NAME [select] [embed] [FIELD=VALUE...]")
	}
	with := map[string]func(string) natscontext.Option{
		"url": natscontext.WithServerURL, "domain": natscontext.WithJSDomain,
		"user": natscontext.WithUser, "password": natscontext.WithPassword, "token": natscontext.WithToken,
		"creds": natscontext.WithCreds, "nkey": natscontext.WithNKey,
	}
	opts := []natscontext.Option{natscontext.WithServerURL(ts.Getenv("NATS_URL"))}
	selected, embed := false, false
	for _, a := range args[1:] {
		field, value, _ := strings.Cut(a, "=")
		switch {
		case a == "select":
			selected = true
		case a == "embed":
			embed = true
		case with[field] != nil:
			if (field == "creds" || field == "nkey") && !strings.Contains(value, ":") {
				value = ts.MkAbs(value)
			}
			opts = append(opts, with[field](value))
		default:
			ts.Fatalf("mkcontext: unknown %q", a)
		}
	}
	nctx, err := natscontext.New(args[0], false, opts...)
	ts.Check(err)
	root := ts.Getenv("XDG_CONFIG_HOME")
	var ropts []natscontext.RegistryOption
	if embed {
		ropts = append(ropts, natscontext.WithEmbedding())
	}
	reg := natscontext.NewRegistry(natscontext.NewFileBackendAt(root), ropts...)
	ts.Check(reg.Save(context.Background(), nctx, args[0]))
	if selected {
		_, err := reg.Select(context.Background(), args[0])
		ts.Check(err)
	}
}

// server-no-js: start a server without JetStream; its URL is $NOJS_URL.
func cmdServerNoJS(ts *testscript.TestScript, neg bool, args []string) {
	ts.Setenv("NOJS_URL", testserver.URL(testserver.Start(scriptT(ts), testserver.Options{NoJetStream: true})))
}

// seed PREFIX N: add 1..N to counters PREFIX.1 .. PREFIX.N (counter i gets i).
func cmdSeed(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: seed PREFIX N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	nc := scriptConn(ts)
	defer nc.Close()
	ts.Check(seedCounters(nc, args[0], n))
}

// server-auth: start a JetStream server where user alice (password
// s3cret) may not publish to denied.>; its address (no credentials) is
// $AUTH_URL.
func cmdServerAuth(ts *testscript.TestScript, neg bool, args []string) {
	s := testserver.Start(scriptT(ts), testserver.Options{Configure: func(o *server.Options) {
		o.Users = []*server.User{{
			Username: "alice", Password: "s3cret",
			Permissions: &server.Permissions{Publish: &server.SubjectPermission{Deny: []string{"denied.>"}}},
		}}
	}})
	ts.Setenv("AUTH_URL", testserver.URL(s))
}

// scriptTB lets a script's commands (scriptT) and its Setup (envT) start
// servers and wait through testserver as a test does. Cleanups run when
// the script ends, temporary directories are in its $WORK.
type scriptTB struct {
	name    string
	work    string
	fatal   func(msg string)
	log     func(msg string)
	cleanup func(func())
}

func scriptT(ts *testscript.TestScript) testserver.TB {
	return &scriptTB{
		name:    ts.Name(),
		work:    ts.Getenv("WORK"),
		fatal:   func(msg string) { ts.Fatalf("%s", msg) },
		log:     func(msg string) { ts.Logf("%s", msg) },
		cleanup: ts.Defer,
	}
}

func envT(env *testscript.Env) testserver.TB {
	return &scriptTB{
		name:    filepath.Base(env.WorkDir),
		work:    env.WorkDir,
		fatal:   func(msg string) { env.T().Fatal(msg) },
		log:     func(msg string) { env.T().Log(msg) },
		cleanup: env.Defer,
	}
}

func (s *scriptTB) Helper()                           {}
func (s *scriptTB) Name() string                      { return s.name }
func (s *scriptTB) Cleanup(f func())                  { s.cleanup(f) }
func (s *scriptTB) Fatalf(format string, args ...any) { s.fatal(fmt.Sprintf(format, args...)) }
func (s *scriptTB) Logf(format string, args ...any)   { s.log(fmt.Sprintf(format, args...)) }

func (s *scriptTB) TempDir() string {
	dir, err := os.MkdirTemp(s.work, ".tmp")
	if err != nil {
		s.Fatalf("%v", err)
	}
	return dir
}
