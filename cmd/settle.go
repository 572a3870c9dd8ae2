package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/choria-io/fisk"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/terminal"
	"github.com/jetcounter/counter/internal/tiers"
)

// defaultSettle is how long --settle waits without a TIMEOUT: a new source
// takes about a second to start, an idle one milliseconds.
const defaultSettle = 10 * time.Second

// settleFlag is --settle[=TIMEOUT]: fisk has no flag with an optional
// value, so --settle is a bool and expandOptionalValues turns
// --settle=TIMEOUT into --settle --settle-timeout TIMEOUT before parsing.
type settleFlag struct {
	on      bool
	timeout time.Duration
}

func addSettleFlag(c *fisk.CmdClause, s *settleFlag, what string) {
	c.Flag("settle", "Before reading "+what+", wait until the aggregate's sources have delivered every value they held when the command started (--settle=30s: at most 30s, default 10s); exit 4 naming the source if not").UnNegatableBoolVar(&s.on)
	durationVar(c.Flag("settle-timeout", "How long --settle waits").Hidden().Default(defaultSettle.String()), "--settle", &s.timeout)
}

// optionalValueFlags may be given as --flag or --flag=VALUE.
var optionalValueFlags = []string{"settle"}

// expandOptionalValues rewrites --settle=TIMEOUT as --settle
// --settle-timeout=TIMEOUT (up to a "--").
func expandOptionalValues(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		expanded := false
		for _, name := range optionalValueFlags {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				out = append(out, "--"+name, "--"+name+"-timeout="+v)
				expanded = true
			}
		}
		if !expanded {
			out = append(out, a)
		}
	}
	return out
}

// settle waits, for each tier a read of patterns is answered by, until its
// sources have delivered what they held now.
// With aboveToo, the aggregates above are waited for too (get --tiers,
// topology --subject).
func (s *settleFlag) wait(ctx context.Context, term *terminal.IO, client *counters.Client, patterns []string, stream string, aboveToo bool) error {
	if !s.on {
		return nil
	}
	if s.timeout <= 0 {
		return errkind.Invalidf("--settle=%s: want a positive duration such as 30s", s.timeout)
	}
	g, err := client.Topology(ctx, nil)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(s.timeout)
	for _, tier := range tiers.SettleTiers(g, patterns, stream) {
		notes, err := tiers.Settle(ctx, client, g, tier, patterns, time.Until(deadline))
		for _, n := range notes {
			term.Warnf("%s", n)
		}
		if err != nil {
			return err
		}
		if !aboveToo {
			continue
		}
		for _, h := range g.Up(tier, patterns[0]) {
			notes, err := tiers.Settle(ctx, client, g, h.Stream, []string{h.Subject}, time.Until(deadline))
			for _, n := range notes {
				term.Warnf("%s", n)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// catchingUp explains a "has no value" for one literal subject at an
// aggregate whose sources already hold a value: it is still catching up.
func catchingUp(ctx context.Context, client *counters.Client, err error, patterns []string, stream string) error {
	if !errors.Is(err, errkind.ErrNotFound) || len(patterns) != 1 || !counters.IsLiteral(patterns[0]) {
		return err
	}
	g, gerr := client.Topology(ctx, nil)
	if gerr != nil {
		return err
	}
	for _, tier := range tiers.SettleTiers(g, patterns, stream) {
		if src := tiers.CatchingUp(ctx, client, g, tier, patterns[0]); src != "" {
			return fmt.Errorf("%w: stream %s is still catching up with the streams it reads from (%s below it has a value): wait for it with --settle", err, tier, src)
		}
	}
	return err
}
