package cmd

import (
	"context"
	"errors"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/history"
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
		at       string
	)
	c := a.fisk.Command("get", "Print counter values: one bare value, or a table for several or a wildcard").Alias("read")
	c.Arg("subject", "Counter subjects or wildcard patterns").Required().StringsVar(&patterns)
	c.Flag("stream", "Read at this stream (tier) instead of the stream that owns the subject").PlaceHolder("NAME").StringVar(&stream)
	c.Flag("sources", "Show what each source contributes (aggregate streams)").UnNegatableBoolVar(&sources)
	c.Flag("tiers", "Follow one counter through every tier (same as counter topology --subject)").UnNegatableBoolVar(&tiers)
	c.Flag("direct", "Read literal subjects from any replica (direct get) instead of the stream leader: may miss the latest increments on a replicated stream").UnNegatableBoolVar(&direct)
	c.Flag("json", "Print the result as JSON (values are strings)").UnNegatableBoolVar(&asJSON)
	addSettleFlag(c, &settle, "an aggregate")
	c.Flag("at", "Values as they were at WHEN, from the retained history: a time (2026-11-23T03:00:00Z, or 2026-11-23 03:00 local) or a duration ago (90m, 2h, 7d); exit 3 for counters whose retained history starts after it").PlaceHolder("WHEN").StringVar(&at)
	c.Cheat("get", `# one value, for scripts
v=$(counter get hits.home)
# every counter under a prefix, any number of them
counter get 'count.>'
# an aggregate tier, with what each region contributes
counter get count.eu.hits --stream EU --sources
# right after increments or creating a tier: wait until the aggregate has them
counter get count.eu.hits --settle
# what did they say before the deploy? (same forms as history --since)
counter get 'count.>' --at '2026-11-23 02:00'
counter get count.eu.hits --stream EU --at 2h --json`)

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
		if at != "" {
			if tiers || direct || settle.on {
				return errkind.Invalidf("--at reads the retained history: it does not combine with --tiers, --direct or --settle")
			}
			when, err := parseWhen("--at", at, time.Now())
			if err != nil {
				return err
			}
			return a.getAt(ctx, patterns, when, stream, sources, asJSON)
		}
		client, err := a.conn.connect(ctx, false)
		if err != nil {
			return err
		}
		defer client.Conn().Close()
		if err := settle.wait(ctx, a.term, client, patterns, stream, tiers); err != nil {
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

// getAt is `counter get --at`: each counter's value at a past moment.
// Counters whose retained history starts after it are named on stderr and
// make the run exit 3; the others are printed.
func (a *app) getAt(ctx context.Context, patterns []string, at time.Time, stream string, sources, asJSON bool) error {
	client, err := a.conn.connect(ctx, false)
	if err != nil {
		return err
	}
	defer client.Conn().Close()
	list, err := history.ValuesAt(ctx, client, patterns, at, history.AtOptions{Stream: stream})
	if err != nil && !(errors.Is(err, errkind.ErrNotFound) && len(list) > 0) {
		return err
	}
	single := len(patterns) == 1 && counters.IsLiteral(patterns[0])
	if perr := a.printer(asJSON).PastCounters(list, at, render.GetOptions{Single: single, Sources: sources}); perr != nil {
		return perr
	}
	if sources {
		var known []counters.Counter
		for _, pc := range list {
			if pc.Value != nil {
				known = append(known, pc.Counter)
			}
		}
		a.sourcesWarnings(known)
	}
	when := at.UTC().Format(time.RFC3339Nano)
	const most = 20
	unknown := 0
	for _, pc := range list {
		if pc.Value != nil {
			continue
		}
		unknown++
		if unknown > most {
			continue
		}
		first := pc.FirstTime.UTC().Format(time.RFC3339Nano)
		switch pc.Missing {
		case history.MissingNotYet:
			a.term.Errorf("%s in %s has no value at %s: it did not exist yet (its first message, seq %d, is from %s)", pc.Subject, pc.Stream, when, pc.FirstSeq, first)
		case history.MissingGap:
			a.term.Errorf("%s in %s has no known value at %s: a message right after seq %d, its last at or before then, was removed", pc.Subject, pc.Stream, when, pc.Seq)
		default:
			a.term.Errorf("%s in %s has no known value at %s: its retained history starts later, at seq %d (%s); older messages were purged", pc.Subject, pc.Stream, when, pc.FirstSeq, first)
		}
	}
	if unknown > most {
		a.term.Errorf("and %d more counters without a value at %s (--json lists each)", unknown-most, when)
	}
	switch {
	case err != nil:
		return err
	case unknown == 1 && len(list) == 1:
		return errkind.NotFoundf("no value at %s", when)
	case unknown > 0:
		return errkind.NotFoundf("%d of %d counters have no value at %s", unknown, len(list), when)
	}
	return nil
}
