package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/render"
)

func addCreate(a *app) {
	var (
		spec    streams.StreamSpec
		sources []string
		mirror  string
		dryRun  bool
		force   bool
		update  bool
		asJSON  bool
		domains []string
	)
	c := a.fisk.Command("create", "Create a counter stream, an aggregate tier that sums others, or a mirror; --update changes a live one safely")
	c.Arg("name", "Stream name").Required().StringVar(&spec.Name)
	c.Flag("subjects", "Subjects the stream holds counters for (repeatable)").PlaceHolder("SUBJECT").StringsVar(&spec.Subjects)
	c.Flag("source", "Source STREAM[@DOMAIN][:FROM[:TO]]: FROM filters, FROM:TO renames into this tier (repeatable)").PlaceHolder("SPEC").StringsVar(&sources)
	c.Flag("replicas", "Number of replicas").Default("1").SetValue(wholeNumber{"--replicas", &spec.Replicas})
	c.Flag("storage", "Storage type").Default("file").EnumVar(&spec.Storage, "file", "memory")
	c.Flag("cluster", "Place the stream in this cluster").PlaceHolder("CLUSTER").StringVar(&spec.Cluster)
	c.Flag("tag", "Place the stream on servers with this tag (repeatable)").PlaceHolder("TAG").StringsVar(&spec.Tags)
	c.Flag("description", "Stream description").PlaceHolder("TEXT").StringVar(&spec.Description)
	c.Flag("history", "Messages kept per counter (default unlimited; 1 keeps only the total)").PlaceHolder("N").Int64Var(&spec.History)
	c.Flag("mirror", "Make a read replica of counter stream STREAM[@DOMAIN] (an aggregate elsewhere may source it)").PlaceHolder("STREAM").StringVar(&mirror)
	c.Flag("update", "Change an existing stream to this configuration: prints the plan and its effect on values at every tier").UnNegatableBoolVar(&update)
	c.Flag("dry-run", "Print the configuration (with --update: the whole plan) and change nothing").UnNegatableBoolVar(&dryRun)
	c.Flag("force", "Create or update despite hazards, and without asking when values change").UnNegatableBoolVar(&force)
	c.Flag("json", "Print the result as JSON (values are strings)").UnNegatableBoolVar(&asJSON)
	c.Flag("domains", "Also look for aggregates above in these JetStream domains (comma separated)").PlaceHolder("A,B").StringsVar(&domains)
	c.Cheat("create", `# a counter stream for two regions
counter create DE --subjects 'count.de.>'
counter create PL --subjects 'count.pl.>'
# an aggregate that sums both into count.eu.> (its own --subjects let it take
# direct increments and resets)
counter create EU --subjects 'count.eu.>' --source 'DE:count.de.>:count.eu.>' --source 'PL:count.pl.>:count.eu.>'
# add a region to the live aggregate: see the plan, then apply it
counter create EU --subjects 'count.eu.>' --source 'DE:count.de.>:count.eu.>' --source 'PL:count.pl.>:count.eu.>' --source 'FR:count.fr.>:count.eu.>' --update --dry-run
counter create EU --subjects 'count.eu.>' --source 'DE:count.de.>:count.eu.>' --source 'PL:count.pl.>:count.eu.>' --source 'FR:count.fr.>:count.eu.>' --update
# a read replica of DE from the leaf domain, summed by an aggregate here
counter create DE_COPY --mirror DE@leaf
counter create EU --subjects 'count.eu.>' --source 'DE_COPY:count.de.>:count.eu.>'`)

	a.verbs["create"] = func(ctx context.Context) error {
		spec.Sources = spec.Sources[:0]
		for _, s := range sources {
			src, err := streams.ParseSourceSpec(s)
			if err != nil {
				return err
			}
			spec.Sources = append(spec.Sources, src)
		}
		spec.Mirror = nil
		if mirror != "" {
			m, err := streams.ParseMirrorSpec(mirror)
			if err != nil {
				return err
			}
			spec.Mirror = &m
		}
		if _, err := spec.Config(); err != nil {
			return err
		}
		client, err := a.conn.connect(ctx, false)
		if err != nil {
			return err
		}
		defer client.Conn().Close()
		opts := streams.CreateOptions{DryRun: dryRun, Force: force, Domains: splitList(domains)}
		if update {
			plan, err := streams.PlanUpdate(ctx, client, spec, opts)
			if err != nil {
				return err
			}
			if plan.Exists {
				return a.update(ctx, client, plan, dryRun, force, asJSON)
			}
			// No such stream yet: the same command creates it, so CI converges.
		}
		res, err := streams.Create(ctx, client, spec, opts)
		if err != nil {
			return err
		}
		for _, w := range res.Warnings {
			a.term.Warnf("%s", w)
		}
		return a.printer(asJSON).Create(res, dryRun)
	}
}

// shownCounters is how many changed counters a plan shows before counting
// the rest (a person reads the first ones; --dry-run shows all).
const shownCounters = 20

// update shows the plan, asks at a terminal when values change (elsewhere
// that needs --force), and applies it.
func (a *app) update(ctx context.Context, client *counters.Client, plan *streams.UpdatePlan, dryRun, force, asJSON bool) error {
	out := a.printer(asJSON)
	refused := func() error {
		return errkind.Invalidf("update of stream %s refused: %s; or pass --force to update anyway; nothing changed", plan.Stream, strings.Join(plan.Refusals, "; "))
	}
	switch {
	case plan.Unchanged():
		if asJSON {
			return out.UpdatePlan(plan, "unchanged", 0)
		}
		if plan.Have.Sealed {
			// Say why it will stay so, whatever is asked.
			return out.Line("stream " + plan.Stream + " unchanged (sealed: it takes no more changes, increments or resets)")
		}
		return out.Line("stream " + plan.Stream + " unchanged")
	case dryRun:
		if err := out.UpdatePlan(plan, "would update", 0); err != nil {
			return err
		}
		if len(plan.Refusals) > 0 && !force {
			return refused()
		}
		return nil
	case len(plan.Refusals) > 0 && !force:
		return refused()
	}
	for _, r := range plan.Refusals {
		a.term.Warnf("%s (updated anyway: --force)", r)
	}
	asked := false
	if plan.ValuesChange() && !force {
		if !a.term.CanPrompt() {
			return errkind.Refusedf("the update of stream %s changes counter values: pass --force (see the plan with --dry-run); nothing changed", plan.Stream)
		}
		if err := render.NewErrPrinter(a.term).UpdatePlan(plan, "", shownCounters); err != nil {
			return err
		}
		switch yes, interrupted := a.term.Confirm(ctx, fmt.Sprintf("Update stream %s? Counter values change as shown, at every tier above too.", plan.Stream)); {
		case interrupted:
			return errkind.Refusedf("update cancelled (interrupted): nothing changed")
		case !yes:
			return errkind.Refusedf("update cancelled: nothing changed")
		}
		asked = true
	}
	if err := streams.ApplyUpdate(ctx, client, plan); err != nil {
		return err
	}
	// Increments kept reaching a removed source's aggregate until the
	// update: report what it kept, not what the plan read.
	planned := map[int]string{}
	for i, c := range plan.Changes {
		planned[i] = c.Effect
	}
	if err := streams.RecountKept(ctx, client, plan); err != nil {
		a.term.Warnf("what stream %s keeps from the removed sources could not be read again (%v): the figures are the planned ones", plan.Stream, err)
	}
	if asJSON {
		return out.UpdatePlan(plan, "updated", 0)
	}
	if !asked {
		if err := out.UpdatePlan(plan, "updated", shownCounters); err != nil {
			return err
		}
	}
	for i, c := range plan.Changes {
		if asked && c.Effect != planned[i] {
			if err := out.Line("source " + c.Item + " removed: " + c.Effect); err != nil {
				return err
			}
		}
	}
	if err := out.Line("stream " + plan.Stream + " updated"); err != nil {
		return err
	}
	if len(plan.Counters) > 0 {
		// Sourcing is asynchronous: a read right now shows the old values.
		get := "counter get " + shellJoin([]string{plan.Counters[0].Subject})
		if len(plan.Want.Subjects) == 0 {
			get += " --stream " + plan.Stream
		}
		a.term.Notef("%s takes a moment to receive what its sources hold: '%s --settle' waits until it has", plan.Stream, get)
	}
	return nil
}
