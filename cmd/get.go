package cmd

import (
	"context"
	"errors"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/render"
)

func addGet(a *app) {
	var (
		patterns []string
		stream   string
		sources  bool
		tiers    bool
		direct   bool
		asJSON   bool
		settle   settleFlag
	)
	c := a.fisk.Command("get", "Print counter values: one bare value, or a table for several or a wildcard").Alias("read")
	c.Arg("subject", "Counter subjects or wildcard patterns").Required().StringsVar(&patterns)
	c.Flag("stream", "Read at this stream (tier) instead of the stream that owns the subject").PlaceHolder("NAME").StringVar(&stream)
	c.Flag("sources", "Show what each source contributes (aggregate streams)").UnNegatableBoolVar(&sources)
	c.Flag("tiers", "Follow one counter through every tier (same as counter topology --subject)").UnNegatableBoolVar(&tiers)
	c.Flag("direct", "Read literal subjects from any replica (direct get) instead of the stream leader: may miss the latest increments on a replicated stream").UnNegatableBoolVar(&direct)
	c.Flag("json", "Print the result as JSON (values are strings)").UnNegatableBoolVar(&asJSON)
	addSettleFlag(c, &settle, "an aggregate")
	c.Cheat("get", `# one value, for scripts
v=$(counter get hits.home)
# every counter under a prefix, any number of them
counter get 'count.>'
# an aggregate tier, with what each region contributes
counter get count.eu.hits --stream EU --sources
# right after increments or creating a tier: wait until the aggregate has them
counter get count.eu.hits --settle`)

	a.verbs["get"] = func(ctx context.Context) error {
		for _, p := range patterns {
			if err := counters.ValidSubject(p, true); err != nil {
				return err
			}
		}
		if err := validStreamFlag(stream); err != nil {
			return err
		}
		if tiers && (len(patterns) != 1 || !counters.IsLiteral(patterns[0]) || stream != "" || sources) {
			return errkind.Invalidf("--tiers follows one counter: give one subject without wildcards, and neither --stream nor --sources (it shows every tier and its sources)")
		}
		client, err := a.conn.connect(ctx, false)
		if err != nil {
			return err
		}
		defer client.Conn().Close()
		if err := settle.wait(ctx, client, patterns, stream, tiers); err != nil {
			return err
		}
		if tiers {
			return printTiers(ctx, client, a.printer(asJSON), patterns[0], nil)
		}
		opts := counters.GetOptions{Stream: stream, Direct: direct, Sources: sources}
		single := len(patterns) == 1 && counters.IsLiteral(patterns[0])
		p := a.printer(asJSON)
		if !p.TTY && !single {
			return a.streamCounters(ctx, client, p, patterns, opts)
		}
		list, err := client.Get(ctx, patterns, opts)
		if err != nil && !(errors.Is(err, errkind.ErrNotFound) && len(list) > 0) {
			return catchingUp(ctx, client, err, patterns, stream)
		}
		if perr := p.Counters(list, render.GetOptions{Single: single, Sources: sources}); perr != nil {
			return perr
		}
		if sources {
			a.sourcesWarnings(list)
		}
		// Partial results are printed, and the missing ones still fail the run.
		return err
	}
}

// streamCounters prints a read in a pipe or as JSON as it arrives, in the
// order the patterns name the counters (wildcards in the server's order):
// nothing is held, so any number of counters print in the memory of one.
// A read that fails part way fails the run; what it wrote already (in
// blocks of 64 KiB) stays, a JSON array unclosed.
func (a *app) streamCounters(ctx context.Context, client *counters.Client, p render.Printer, patterns []string, opts counters.GetOptions) error {
	r, err := client.Prepare(ctx, patterns, opts)
	if err != nil {
		return catchingUp(ctx, client, err, patterns, opts.Stream)
	}
	w := p.NewCounterWriter(render.GetOptions{Sources: opts.Sources}, len(r.Streams()))
	err = r.Each(ctx, func(c counters.Counter) error {
		if opts.Sources && c.SourcesError != nil {
			a.sourcesWarnings([]counters.Counter{c})
		}
		return w.Write(c)
	})
	switch {
	case err == nil || errors.Is(err, errkind.ErrNotFound) && w.Count() > 0:
		// Partial results are printed, and the missing ones still fail the run.
		if cerr := w.Close(); cerr != nil {
			return cerr
		}
		return err
	case w.Count() > 0:
		w.Abort()
		return err
	}
	return catchingUp(ctx, client, err, patterns, opts.Stream)
}

// sourcesWarnings names, on stderr, each counter whose sources record could
// not be parsed: its value is printed all the same.
func (a *app) sourcesWarnings(list []counters.Counter) {
	for _, c := range list {
		if c.SourcesError != nil {
			a.term.Warnf("%s in %s: %v (written by another client?); its value does not depend on it", c.Subject, c.Stream, c.SourcesError)
		}
	}
}
