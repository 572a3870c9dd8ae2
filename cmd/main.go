// Package cmd is the counter command line: flags, verbs and exit codes.
package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"

	"github.com/choria-io/fisk"
	"golang.org/x/term"

	"github.com/jetcounter/counter/render"
)

// Version is set at build time with -ldflags "-X ...cmd.Version=v1.2.3"
// (make build uses git describe); otherwise it comes from what the Go
// toolchain recorded (see buildVersion).
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		return buildVersion(info)
	}
	return "development"
}

// Env is what a run sees of its process: arguments aside, the streams and
// whether they are terminals. Tests supply their own.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	StdinTTY       bool
	StdoutTTY      bool
	StderrTTY      bool
}

// ProcessEnv is the Env of the running process.
func ProcessEnv() Env {
	return Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		StdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		StdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		StderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
}

// exitRequest carries fisk's terminate(code) (help, completion) out of Parse.
type exitRequest int

// Main runs the command line and returns the process exit code.
func Main(args []string, env Env) (code int) {
	app := newApp(env)
	args = expandOptionalValues(args)
	parsed := normalizeArgs(app.fisk, args)
	// No command is a usage error: help goes to stderr, exit 2.
	noCommand := parsed.verb == "" && !parsed.help && !parsed.words
	defer func() {
		if r := recover(); r != nil {
			req, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = int(req)
		}
		if noCommand {
			code = ExitUsage
		}
	}()
	if noCommand {
		app.fisk.UsageWriter(env.Stderr)
		parsed.args = []string{"--help"}
	}
	if parsed.doubleDash {
		fmt.Fprintf(env.Stderr, "counter: a second '--' is not a valid subject or delta (see '%s --help')\n", app.helpFor(args))
		return ExitUsage
	}
	selected, err := app.fisk.Parse(parsed.args)
	if err != nil {
		err = app.withSuggestion(err, args)
		// fisk quotes what it could not place, which may be a URL with a
		// password typed where a verb belongs.
		fmt.Fprintf(env.Stderr, "counter: %s (see '%s --help')\n", render.Visible(redact(err.Error())), app.helpFor(args))
		return ExitUsage
	}
	// Ctrl-C, kill and a closed terminal all end a verb the same way: its
	// context is cancelled, so watch and server stop cleanly and exit 0.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	run, ok := app.verbs[selected]
	if !ok {
		fmt.Fprintf(env.Stderr, "counter: choose a command (see 'counter --help')\n")
		return ExitUsage
	}
	err = run(ctx)
	if err != nil {
		app.printError(err)
	}
	return ExitCode(err)
}

// printError writes the one line an error gets: credentials scrubbed, and
// control characters (from a subject the server sent) shown, not obeyed.
func (a *app) printError(err error) {
	prefix := "counter: "
	if a.env.StderrTTY && render.ColorEnabled(true) {
		prefix = "\x1b[31mcounter:\x1b[0m "
	}
	fmt.Fprintln(a.env.Stderr, prefix+render.Visible(a.conn.scrub(err.Error())))
}

type app struct {
	fisk  *fisk.Application
	env   Env
	conn  *connFlags
	verbs map[string]func(context.Context) error
}

func newApp(env Env) *app {
	a := &app{
		env:   env,
		verbs: map[string]func(context.Context) error{},
	}
	// "@file" arguments would read any file (even /dev/zero) as more
	// arguments: a subject is never a file name.
	fisk.EnableFileExpansion = false
	f := fisk.New("counter", "Create, increment, read, watch and reset NATS JetStream counters (nats-server 2.12+).")
	f.Version(version())
	f.UsageWriter(env.Stdout)
	f.ErrorWriter(env.Stderr)
	f.Terminate(func(code int) { panic(exitRequest(code)) })
	f.HelpFlag.Short('h')
	a.fisk = f
	a.conn = addConnFlags(f)
	addCreate(a)
	addIncr(a)
	addDecr(a)
	addGet(a)
	addWatch(a)
	addServer(a)
	addReset(a)
	addTopology(a)
	addHistory(a)
	addAudit(a)
	addCompletion(a)
	addDemo(a)
	addCheat(a)
	addMan(a)
	addHints(a)
	return a
}

// helpFor names the help that fits a failed command line: the verb's own
// when one was given.
func (a *app) helpFor(args []string) string {
	for _, arg := range args {
		for _, c := range a.fisk.Model().Commands {
			if arg == c.Name || slices.Contains(c.Aliases, arg) {
				return "counter " + c.Name
			}
		}
	}
	return "counter"
}

// printer is where a verb writes its results.
func (a *app) printer(json bool) render.Printer {
	p := render.Printer{W: a.env.Stdout, TTY: a.env.StdoutTTY && !json, JSON: json}
	if p.TTY {
		p.Width = terminalWidth(a.env.Stdout)
	}
	return p
}
