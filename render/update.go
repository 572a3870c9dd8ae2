package render

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/terminal"
)

// UpdateJSON is `counter create … --update --json`: the plan, and what was
// done with it ("would update" with --dry-run, "updated", "unchanged").
type UpdateJSON struct {
	Stream   string              `json:"stream"`
	Result   string              `json:"result"`
	Changes  []ConfigChangeJSON  `json:"changes"`
	Counters []CounterEffectJSON `json:"counters"`
	Unknown  []string            `json:"unknown,omitempty"`
	Refusals []string            `json:"needs_force,omitempty"`
}

// ConfigChangeJSON is one configuration change. Delta and Kept are strings
// (values), absent when the change moves no value.
type ConfigChangeJSON struct {
	Field   string `json:"field"`
	Op      string `json:"op"`
	Item    string `json:"item,omitempty"`
	Have    string `json:"have,omitempty"`
	Want    string `json:"want,omitempty"`
	Effect  string `json:"effect"`
	Delta   string `json:"delta,omitempty"`
	Kept    string `json:"kept,omitempty"`
	Counted int    `json:"counters,omitempty"`
	Refusal string `json:"needs_force,omitempty"`
}

// CounterEffectJSON is one counter whose value changes, with the tiers
// above. Value is null when it has none yet.
type CounterEffectJSON struct {
	Subject string           `json:"subject"`
	Stream  string           `json:"stream"`
	Value   *string          `json:"value"`
	Delta   string           `json:"delta"`
	After   string           `json:"after"`
	Above   []TierEffectJSON `json:"above"`
}

// TierEffectJSON is one tier above a changed counter.
type TierEffectJSON struct {
	Stream  string  `json:"stream"`
	Subject string  `json:"subject"`
	Depth   int     `json:"depth"`
	Value   *string `json:"value"`
	After   string  `json:"after"`
}

func optional(v *big.Int) *string {
	if v == nil {
		return nil
	}
	s := v.String()
	return &s
}

// UpdatePlan prints an update plan and its result: each configuration
// change with its effect on values, then every counter whose value changes
// with the tiers above it. limit > 0 shows that many counters and counts
// the rest (JSON is always whole).
func (p Printer) UpdatePlan(plan *streams.UpdatePlan, result string, limit int) error {
	if p.JSON {
		out := UpdateJSON{Stream: plan.Stream, Result: result, Changes: []ConfigChangeJSON{}, Counters: []CounterEffectJSON{}, Unknown: plan.Unknown, Refusals: plan.Refusals}
		for _, c := range plan.Changes {
			cj := ConfigChangeJSON{Field: c.Field, Op: c.Op, Item: c.Item, Have: c.Have, Want: c.Want, Effect: c.Effect, Counted: c.Counted, Refusal: c.Refusal}
			if c.Delta != nil {
				cj.Delta = counters.Signed(c.Delta)
			}
			if c.Kept != nil {
				cj.Kept = c.Kept.String()
			}
			out.Changes = append(out.Changes, cj)
		}
		for _, ce := range plan.Counters {
			cj := CounterEffectJSON{Subject: ce.Subject, Stream: plan.Stream, Value: optional(ce.Now), Delta: counters.Signed(ce.Delta), After: ce.After.String(), Above: []TierEffectJSON{}}
			for _, t := range ce.Above {
				cj.Above = append(cj.Above, TierEffectJSON{Stream: t.Stream, Subject: t.Subject, Depth: t.Depth, Value: optional(t.Now), After: str(t.After)})
			}
			out.Counters = append(out.Counters, cj)
		}
		return p.WriteJSON(out)
	}
	show := p.visible
	if err := p.Line(fmt.Sprintf("stream %s: %s", show(plan.Stream), Count(len(plan.Changes), "change"))); err != nil {
		return err
	}
	for _, c := range plan.Changes {
		mark := map[string]string{"add": "+", "remove": "-", "change": "~"}[c.Op]
		what := c.Field
		switch {
		case c.Item != "" && c.Have != "":
			what += " " + c.Item + ": " + c.Have + " → " + c.Want
		case c.Item != "":
			what += " " + c.Item
		default:
			what += ": " + c.Have + " → " + c.Want
		}
		line := fmt.Sprintf("  %s %s: %s", mark, show(what), show(c.Effect))
		if c.Refusal != "" {
			line += " [needs --force]"
		}
		if err := p.Line(line); err != nil {
			return err
		}
	}
	for _, u := range plan.Unknown {
		if err := p.Line("  ! " + show(u)); err != nil {
			return err
		}
	}
	for _, r := range plan.Refusals {
		if err := p.Line("  needs --force: " + show(r)); err != nil {
			return err
		}
	}
	if len(plan.Counters) == 0 {
		return p.Line("Counter values: unchanged at every tier.")
	}
	shown := plan.Counters
	if limit > 0 && len(shown) > limit {
		shown = shown[:limit]
	}
	if err := p.Line(fmt.Sprintf("Counter values that change (%s, and every tier above):", Count(len(plan.Counters), "counter"))); err != nil {
		return err
	}
	var rows [][]string
	for _, ce := range shown {
		rows = append(rows, []string{show(ce.Subject), show(plan.Stream), "0", orDash(ce.Now), counters.Signed(ce.Delta), ce.After.String()})
		for _, t := range ce.Above {
			subject := show(t.Subject)
			if p.TTY {
				subject = "  ↑ " + subject
			}
			// A tier that sums several changed counters moves by their sum.
			moved := new(big.Int).Set(t.After)
			if t.Now != nil {
				moved.Sub(moved, t.Now)
			}
			rows = append(rows, []string{subject, show(t.Stream), strconv.Itoa(t.Depth), orDash(t.Now), counters.Signed(moved), str(t.After)})
		}
	}
	if err := p.Table([]string{"SUBJECT", "STREAM", "DEPTH", "NOW", "DELTA", "AFTER"}, rows, 2, 3, 4, 5); err != nil {
		return err
	}
	if more := len(plan.Counters) - len(shown); more > 0 {
		return p.Line(fmt.Sprintf("... and %d more counters (the whole plan: --dry-run)", more))
	}
	return nil
}

func (p Printer) visible(s string) string {
	if p.TTY {
		return terminal.Visible(s)
	}
	return s
}

func orDash(v *big.Int) string {
	if v == nil {
		return "-"
	}
	return v.String()
}
