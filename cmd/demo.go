package cmd

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/embedded"
)

// demoStep is one command of the walkthrough, with what it shows.
type demoStep struct {
	say  string   // a comment printed before the command
	args []string // the command line after "counter"
}

func addDemo(a *app) {
	var keep bool
	c := a.fisk.Command("demo", "Walk through counter on a temporary local server: regions, a continent and a global tier, live (ends by itself)")
	c.Flag("keep", "Leave the server running after the walkthrough and print how to connect (Ctrl-C stops it)").UnNegatableBoolVar(&keep)
	c.Cheat("demo", `# the whole tour in about ten seconds, on a temporary server
counter demo
# then keep the server to try commands on it yourself
counter demo --keep`)
	a.verbs["demo"] = func(ctx context.Context) error {
		// A reader that goes away (counter demo | head -3) ends the demo
		// as Ctrl-C does: by default a write to a closed pipe kills the
		// process, leaving the temporary store behind.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		closed := make(chan os.Signal, 1)
		signal.Notify(closed, syscall.SIGPIPE)
		defer signal.Stop(closed)
		go func() {
			select {
			case <-closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := a.runDemo(ctx, keep)
		if err != nil && ctx.Err() != nil {
			// Ctrl-C: as watch and server, a clean stop.
			a.term.Notef("demo interrupted; its server stopped and its store is removed")
			return nil
		}
		return err
	}
}

// runDemo starts a throw-away server, builds DE + PL → EU → GLOBAL, runs a
// writer in the background and runs the verbs against it, each printed
// before its output. It never reads from the terminal.
func (a *app) runDemo(ctx context.Context, keep bool) error {
	dir, err := os.MkdirTemp("", "counter-demo-")
	if err != nil {
		return fmt.Errorf("demo: cannot make a temporary store: %v", err)
	}
	defer os.RemoveAll(dir)
	s, err := embedded.Start(embedded.Options{Port: -1, StoreDir: dir})
	if err != nil {
		return fmt.Errorf("demo: cannot start the server: %w", err)
	}
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	url := s.ClientURL()
	out := a.term.Out()
	fmt.Fprintf(out, "# counter demo: a nats-server with JetStream on %s, store %s (removed at the end)\n", url, dir)

	steps := func(list ...demoStep) error {
		for _, st := range list {
			if err := a.demoRun(ctx, url, st); err != nil {
				return err
			}
		}
		return nil
	}
	err = steps(
		demoStep{"two regions, each a counter stream", []string{"create", "DE", "--subjects", "count.de.>"}},
		demoStep{"", []string{"create", "PL", "--subjects", "count.pl.>"}},
		demoStep{"a continent summing both regions into count.eu.*", []string{"create", "EU", "--subjects", "count.eu.>",
			"--source", "DE:count.de.>:count.eu.>", "--source", "PL:count.pl.>:count.eu.>"}},
		demoStep{"a global tier above the continent", []string{"create", "GLOBAL", "--subjects", "count.all.>",
			"--source", "EU:count.eu.>:count.all.>"}},
		demoStep{"count something in each region", []string{"incr", "count.de.hits", "5"}},
		demoStep{"", []string{"incr", "count.pl.hits", "10"}},
		demoStep{"the global total; --settle waits until the tiers below have delivered", []string{"get", "count.all.hits", "--settle"}},
	)
	if err != nil {
		return err
	}

	tick := time.NewTicker(demoWriteEvery)
	defer tick.Stop()
	writer, err := startDemoWriter(url, tick.C)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n# a writer now adds 1 to count.de.hits and 1 to count.pl.hits every %s in the background (%s a second each)\n", demoWriteEvery, strconv.Itoa(int(time.Second/demoWriteEvery)))
	watch := demoStep{"a live table for a few seconds (it closes by itself and leaves its last view; in a pipe, JSON lines)", []string{"watch", "count.>", "--duration", "4s"}}
	if !a.term.StdoutTTY() {
		watch = demoStep{"live updates for a few seconds: JSON lines in a pipe, a live table at a terminal", []string{"watch", "count.>", "--interval", "1s", "--duration", "3s"}}
	}
	err = steps(
		demoStep{"every counter at every tier (a table at a terminal, tab-separated in a pipe)", []string{"get", "count.>"}},
		demoStep{"one counter through every tier, and what each source contributed", []string{"get", "count.de.hits", "--tiers"}},
		demoStep{"the aggregation tree", []string{"topology"}},
		demoStep{"a CI gate: exit 5 on a diamond, a cycle, a plain source or a limit that zeroes counters (silent: nothing to fix)", []string{"topology", "--check"}},
		watch,
	)
	writer.stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n# the writer stopped after %d increments\n", writer.count())
	err = steps(
		demoStep{"what a reset of count.de.hits would do at every tier (changes nothing)", []string{"reset", "count.de.hits", "--dry-run"}},
		demoStep{"the reset itself (--force: no question asked)", []string{"reset", "count.de.hits", "--force", "--reason", "demo"}},
		demoStep{"count.de.hits is reset, and EU and GLOBAL dropped by the same amount (--settle: once they have seen it)", []string{"get", "count.de.hits", "--tiers", "--settle"}},
	)
	if err != nil {
		return err
	}
	if !keep {
		fmt.Fprintf(out, "\n# done: the server stopped and its store is gone. 'counter demo --keep' leaves it running to try more.\n")
		return nil
	}
	fmt.Fprintf(out, "\n# the server keeps running until Ctrl-C; in another terminal:\n")
	fmt.Fprintf(out, "export NATS_URL=%s\n", url)
	fmt.Fprintf(out, "counter get 'count.>'\n")
	<-ctx.Done()
	a.term.Notef("stopping the demo server; its store is removed")
	return nil
}

// demoRun prints a step's command as a user would type it, then runs it in
// this process against the demo server.
func (a *app) demoRun(ctx context.Context, url string, st demoStep) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	out := a.term.Out()
	if st.say != "" {
		fmt.Fprintf(out, "\n# %s\n", st.say)
	}
	fmt.Fprintf(out, "$ counter %s\n", shellJoin(st.args))
	// A child never asks: no question may stop a demo in a pipe or in CI.
	term := a.term.WithStdin(strings.NewReader(""), false)
	if code := Main(append([]string{"--server", url}, st.args...), term); code != ExitOK {
		return fmt.Errorf("demo: 'counter %s' exited %d", shellJoin(st.args), code)
	}
	return nil
}

// shellJoin quotes each argument that a shell would otherwise expand.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, s := range args {
		if s == "" || strings.ContainsAny(s, " \t\n*?>[]{}$'\"\\|&;<()#~!`") {
			s = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
		out[i] = s
	}
	return strings.Join(out, " ")
}

const demoWriteEvery = 100 * time.Millisecond

type demoWriter struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	n    int // increments acknowledged
	nc   *nats.Conn
}

// demoSubjects are what the writer adds 1 to, each, every demoWriteEvery.
var demoSubjects = []string{"count.de.hits", "count.pl.hits"}

// startDemoWriter adds 1 to each region's counter at every tick (every
// demoWriteEvery) until stopped.
func startDemoWriter(url string, tick <-chan time.Time) (*demoWriter, error) {
	nc, err := nats.Connect(url, nats.Name("counter demo writer"))
	if err != nil {
		return nil, fmt.Errorf("demo: writer cannot connect: %w", err)
	}
	client, err := counters.New(nc, counters.Options{})
	if err != nil {
		nc.Close()
		return nil, err
	}
	w := &demoWriter{done: make(chan struct{}), nc: nc}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.done:
				return
			case <-tick:
			}
			for _, subject := range demoSubjects {
				// Not cancelled by stop: an increment is counted once acked.
				if _, err := client.Incr(context.Background(), subject, big.NewInt(1), ""); err == nil {
					w.mu.Lock()
					w.n++
					w.mu.Unlock()
				}
			}
		}
	}()
	return w, nil
}

func (w *demoWriter) stop() {
	close(w.done)
	w.wg.Wait()
	w.nc.Close()
}

func (w *demoWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}
