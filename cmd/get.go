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
		if err := settle.wait(ctx, a.term, client, patterns, stream, tiers); err != nil {
			return err
		}
		if tiers {
			return printTiers(ctx, client, a.printer(asJSON), patterns[0], nil)
		}
		list, err := client.Get(ctx, patterns, counters.GetOptions{Stream: stream, Direct: direct, Sources: sources})
		if err != nil && !(errors.Is(err, errkind.ErrNotFound) && len(list) > 0) {
			return catchingUp(ctx, client, err, patterns, stream)
		}
		single := len(patterns) == 1 && counters.IsLiteral(patterns[0])
		if perr := a.printer(asJSON).Counters(list, render.GetOptions{Single: single, Sources: sources}); perr != nil {
			return perr
		}
		if sources {
			a.sourcesWarnings(list)
		}
		// Partial results are printed, and the missing ones still fail the run.
		return err
	}
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
