package cmd

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/jetcounter/counter/internal/embedded"
	"github.com/jetcounter/counter/internal/terminal"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"counter": func() { os.Exit(Main(os.Args[1:], terminal.System())) },
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
			s, err := embedded.Start(embedded.Options{Port: -1, StoreDir: filepath.Join(env.WorkDir, ".jetstream")})
			if err != nil {
				return err
			}
			env.Defer(func() { s.Shutdown(); s.WaitForShutdown() })
			env.Setenv("NATS_URL", s.ClientURL())
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
	deadline := time.Now().Add(10 * time.Second)
	last := "(none)"
	for time.Now().Before(deadline) {
		list, err := c.Get(context.Background(), []string{args[0]}, counters.GetOptions{Stream: stream})
		if err == nil && len(list) == 1 {
			last = list[0].Value.String()
			if last == args[1] {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("counter %s is %s, want %s", args[0], last, args[1])
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
	s, err := embedded.Start(embedded.Options{Port: -1, NoJetStream: true})
	ts.Check(err)
	ts.Defer(func() { s.Shutdown(); s.WaitForShutdown() })
	ts.Setenv("NOJS_URL", s.ClientURL())
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
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, NoSigs: true, NoLog: true,
		StoreDir: ts.MkAbs(".jetstream-auth"),
		Users: []*server.User{{
			Username: "alice", Password: "s3cret",
			Permissions: &server.Permissions{Publish: &server.SubjectPermission{Deny: []string{"denied.>"}}},
		}},
	})
	ts.Check(err)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		ts.Fatalf("auth server not ready")
	}
	ts.Defer(func() { s.Shutdown(); s.WaitForShutdown() })
	ts.Setenv("AUTH_URL", s.ClientURL())
}
