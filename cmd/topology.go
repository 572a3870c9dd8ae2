package cmd

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/tiers"
	"github.com/jetcounter/counter/internal/topology"
	"github.com/jetcounter/counter/render"
)

func addTopology(a *app) {
	var (
		format        string
		asJSON        bool
		subject       string
		subjectSet    bool
		check         bool
		domains       []string
		inactiveAfter = topology.DefaultInactiveAfter
		settle        settleFlag
	)
	c := a.fisk.Command("topology", "Show how counter streams aggregate through sources, follow a counter through its tiers, or check for hazards")
	c.Flag("format", "Output: tree (default on a terminal), table (default when piped), json, dot, mermaid").PlaceHolder("FORMAT").EnumVar(&format, render.FormatTree, render.FormatTable, render.FormatJSON, render.FormatDot, render.FormatMermaid)
	c.Flag("json", "Same as --format json (values are strings)").UnNegatableBoolVar(&asJSON)
	c.Flag("subject", "Follow this counter subject through every tier: its value at each stream and what each source contributes").PlaceHolder("SUBJECT").IsSetByUser(&subjectSet).StringVar(&subject)
	c.Flag("check", "Find hazards (diamonds, cycles, plain sources, limits on counters, failing or lagging sources); exit 5 on any error").UnNegatableBoolVar(&check)
	c.Flag("domains", "Also walk these JetStream domains (comma separated)").PlaceHolder("A,B").StringsVar(&domains)
	durationVar(c.Flag("inactive-after", "With --check: warn about a source silent for longer than this").Default(topology.DefaultInactiveAfter.String()), "--inactive-after", &inactiveAfter)
	addSettleFlag(c, &settle, "the tiers of --subject")
	c.Cheat("topology", `# the aggregation tree
counter topology
# a runbook diagram
counter topology --format mermaid > topology.mmd
counter topology --format dot | dot -Tsvg > topology.svg
# one counter at every tier, and what each region contributed
counter topology --subject count.pl.hits
# CI gate: exit 5 when the deployment has an error-level hazard
counter topology --check --domains hub,leaf`)

	a.verbs["topology"] = func(ctx context.Context) error {
		if asJSON {
			if format != "" && format != render.FormatJSON {
				return errkind.Invalidf("--json and --format %s disagree: use one", format)
			}
			format = render.FormatJSON
		}
		if subject != "" && check {
			return errkind.Invalidf("--subject and --check cannot be used together")
		}
		if (subject != "" || check) && format != "" && format != render.FormatJSON {
			return errkind.Invalidf("--format %s only applies to the tree: with --subject or --check use --json or nothing", format)
		}
		if subjectSet {
			if err := counters.ValidSubject(subject, false); err != nil {
				return err
			}
		} else if settle.on {
			return errkind.Invalidf("--settle waits for the tiers of one counter: give --subject SUBJECT")
		}
		doms := splitList(domains)
		if format == "" {
			format = render.FormatTable
			if a.term.StdoutTTY() {
				format = render.FormatTree
			}
		}
		client, err := a.conn.connect(ctx, false)
		if err != nil {
			return err
		}
		defer client.Conn().Close()
		if err := settle.wait(ctx, a.term, client, []string{subject}, "", true); err != nil {
			return err
		}
		g, err := client.Topology(ctx, doms)
		if err != nil {
			return err
		}
		g.InactiveAfter = inactiveAfter
		out := a.printer(format == render.FormatJSON)
		switch {
		case subject != "":
			return printTiers(ctx, client, out, subject, g)
		case check:
			// A lagging source is looked at again a moment later: one
			// that has not moved is stalled (an error, with its fix).
			problems := tiers.StalledSources(ctx, client, g, g.Check(), stalledAfter)
			problems = tiers.SizeLimits(ctx, client, g, problems)
			if err := out.Problems(problems, len(g.Nodes())); err != nil {
				return err
			}
			if errs := countErrors(problems); errs > 0 {
				return fmt.Errorf("%w: %s and %s in %s (each row names its fix)", errkind.ErrProblems,
					render.Count(errs, "error"), render.Count(len(problems)-errs, "warning"), render.Count(len(g.Nodes()), "stream"))
			}
			return unchecked(g, "not everything could be checked")
		default:
			problems := g.Check()
			if err := out.Topology(g, problems, format); err != nil {
				return err
			}
			return unchecked(g, "not every stream could be listed")
		}
	}
}

// unchecked is exit 4 when part of the graph did not answer (an
// unreachable domain or source): what was shown is what could be read.
func unchecked(g *topology.Graph, what string) error {
	var why []string
	for _, dom := range slices.Sorted(maps.Keys(g.Unreachable)) {
		why = append(why, g.Unreachable[dom])
	}
	for _, n := range g.Nodes() {
		if _, listed := g.Unreachable[n.Domain]; n.Unreachable && !listed {
			why = append(why, fmt.Sprintf("stream %s could not be reached (%s)", n.ID, n.Unreached()))
		}
	}
	if len(why) == 0 {
		return nil
	}
	return errkind.Unreachablef("%s: %s; the rest is shown", what, strings.Join(why, "; "))
}

func countErrors(problems []topology.Problem) int {
	n := 0
	for _, p := range problems {
		if p.Severity == topology.SeverityError {
			n++
		}
	}
	return n
}

// printTiers prints subject at every tier of g (discovered when nil).
func printTiers(ctx context.Context, client *counters.Client, out render.Printer, subject string, g *topology.Graph) error {
	if g == nil {
		var err error
		if g, err = client.Topology(ctx, nil); err != nil {
			return err
		}
	}
	tiers, err := tiers.Tiers(ctx, client, g, subject)
	if err != nil {
		return err
	}
	valued, failed := false, false
	for _, t := range tiers {
		valued = valued || t.Value != nil
		failed = failed || t.Error != ""
	}
	if !valued && !failed {
		// Like get: a counter with no value at any tier is "not found"
		// (exit 3), with nothing on stdout.
		return errkind.NotFoundf("counter %s has no value at any tier", subject)
	}
	if err := out.Tiers(subject, tiers); err != nil {
		return err
	}
	// The readable tiers are printed; an unreadable one still fails the run.
	for _, t := range tiers {
		if t.Err != nil {
			return fmt.Errorf("stream %s: %w", t.Stream, t.Err)
		}
		if t.Error != "" {
			return fmt.Errorf("stream %s: %s", t.Stream, t.Error)
		}
	}
	return nil
}

// splitList flattens repeatable, comma-separated flag values ("a,b" "c").
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// stalledAfter is how long `topology --check` watches a lagging source
// before calling it stalled.
const stalledAfter = time.Second
