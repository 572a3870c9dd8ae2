package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/render"
)

func addAudit(a *app) {
	var (
		patterns []string
		opts     history.AuditOptions
		asJSON   bool
	)
	c := a.fisk.Command("audit", "Recount counters from their retained history and prove each total (exit 5 on any problem)")
	c.Arg("subject", "Counter subjects or wildcard patterns").Required().StringsVar(&patterns)
	c.Flag("stream", "Audit at this stream (tier) instead of the streams that own the subjects").PlaceHolder("NAME").StringVar(&opts.Stream)
	c.Flag("json", "Print one JSON object per counter (values are strings)").UnNegatableBoolVar(&asJSON)
	c.Cheat("audit", `# after an incident: do the totals hold?
counter audit 'orders.>'
# an aggregate tier: also checks each region's contribution
counter audit 'count.eu.>' --stream EU
# CI or a test after fault injection: exit 5 when anything does not hold
counter audit 'count.>' --json > audit.jsonl || echo "audit failed: $?"`)

	a.verbs["audit"] = func(ctx context.Context) error {
		for _, p := range patterns {
			if err := counters.ValidSubject(p, true); err != nil {
				return err
			}
		}
		if err := validStreamFlag(opts.Stream); err != nil {
			return err
		}
		client, err := a.conn.connect(ctx, false)
		if err != nil {
			return err
		}
		defer client.Conn().Close()
		report, err := history.Audit(ctx, client, patterns, opts)
		if err != nil {
			return err
		}
		if err := a.printer(asJSON).Audit(report.Counters); err != nil {
			return err
		}
		summary := auditSummary(report)
		if len(report.Unmatched) > 0 {
			summary += "; no counter matches " + strings.Join(report.Unmatched, ", ")
		}
		switch {
		case report.Problems() > 0:
			return fmt.Errorf("%w: %s", errkind.ErrProblems, summary)
		case len(report.Unmatched) > 0:
			return errkind.NotFoundf("%s", summary)
		}
		a.term.Notef("%s", summary)
		return nil
	}
}

// auditSummary is the one line on stderr: what was read and what holds.
func auditSummary(r *history.AuditReport) string {
	failed := 0
	for i := range r.Counters {
		if !r.Counters[i].OK() {
			failed++
		}
	}
	read := fmt.Sprintf("%s in %s", render.Count(int(r.Messages), "message"), render.Count(r.Streams, "stream"))
	all := render.Count(len(r.Counters), "counter")
	var s string
	switch {
	case failed == 0 && len(r.Counters) == 1:
		s = fmt.Sprintf("audit: 1 counter holds (%s)", read)
	case failed == 0:
		s = fmt.Sprintf("audit: all %s hold (%s)", all, read)
	case failed == 1:
		s = fmt.Sprintf("audit: 1 of %s does not hold: %s (%s)", all, render.Count(r.Problems(), "problem"), read)
	default:
		s = fmt.Sprintf("audit: %d of %s do not hold: %s (%s)", failed, all, render.Count(r.Problems(), "problem"), read)
	}
	if w := r.Warnings(); w > 0 {
		s += ", " + render.Count(w, "warning")
	}
	return s
}
