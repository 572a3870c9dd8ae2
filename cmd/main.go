// Package cmd is the counter command line: flags, verbs and exit codes.
package cmd

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"

	"github.com/choria-io/fisk"

	"github.com/jetcounter/counter/internal/terminal"
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

// exitRequest carries fisk's terminate(code) (help, completion) out of Parse.
type exitRequest int

// Main runs the command line on a terminal (terminal.System(), or a
// test's) and returns the process exit code.
func Main(args []string, term *terminal.IO) (code int) {
	defer term.Flush()
	app := newApp(term)
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
		app.fisk.UsageWriter(term.ErrOut())
		parsed.args = []string{"--help"}
	}
	if parsed.doubleDash {
		term.Errorf("a second '--' is not a valid subject or delta (see '%s --help')", app.helpFor(args))
		return ExitUsage
	}
	selected, err := app.fisk.Parse(parsed.args)
	if err != nil {
		err = app.withSuggestion(err, args)
		// fisk quotes what it could not place, which may be a URL with a
		// password typed where a verb belongs: scrubbed like every message.
		term.Errorf("%s (see '%s --help')", err, app.helpFor(args))
		return ExitUsage
	}
	// Ctrl-C, kill and a closed terminal all end a verb the same way: its
	// context is cancelled, so watch and server stop cleanly and exit 0.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	run, ok := app.verbs[selected]
	if !ok {
		term.Errorf("choose a command (see 'counter --help')")
		return ExitUsage
	}
	err = run(ctx)
	if err != nil {
		// The one line an error gets: credentials scrubbed, and control
		// characters (from a subject the server sent) shown, not obeyed.
		term.Errorf("%v", err)
	}
	return ExitCode(err)
}

type app struct {
	fisk *fisk.Application
	// term is the terminal: every byte to stdout and stderr goes
	// through it.
	term  *terminal.IO
	conn  *connFlags
	verbs map[string]func(context.Context) error
}

func newApp(term *terminal.IO) *app {
	a := &app{
		term:  term,
		verbs: map[string]func(context.Context) error{},
	}
	// "@file" arguments would read any file (even /dev/zero) as more
	// arguments: a subject is never a file name.
	fisk.EnableFileExpansion = false
	f := fisk.New("counter", "Create, increment, read, watch and reset NATS JetStream counters (nats-server 2.12+).")
	f.Version(version())
	f.UsageWriter(term.Out())
	f.ErrorWriter(term.ErrOut())
	f.Terminate(func(code int) { panic(exitRequest(code)) })
	f.HelpFlag.Short('h')
	a.fisk = f
	a.conn = addConnFlags(f)
	// Every message is scrubbed of the secrets this run was given (known
	// once the connection flags are read) and of URLs' user info.
	term.SetScrubber(a.conn.scrub)
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
func (a *app) printer(json bool) render.Printer { return render.NewPrinter(a.term, json) }
