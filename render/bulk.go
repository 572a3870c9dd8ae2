package render

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/bulk"
)

// BulkJSON is the summary of `counter incr -` / `--file` with --json.
// Counts are numbers; counter values are strings, as everywhere.
type BulkJSON struct {
	Lines       int               `json:"lines"`
	Increments  int               `json:"increments"`
	Counters    int               `json:"counters"`
	Applied     int               `json:"applied"`
	Duplicates  int               `json:"duplicates"`
	Failed      int               `json:"failed"`
	Unknown     int               `json:"unknown"`
	Skipped     int               `json:"skipped"`
	NotSent     int               `json:"not_sent"`
	Retries     int               `json:"retries"`
	Seconds     float64           `json:"seconds"`
	PerSecond   float64           `json:"per_second"`
	Interrupted bool              `json:"interrupted,omitempty"`
	ResumeLine  int               `json:"resume_line,omitempty"`
	ResumeExact bool              `json:"resume_exact,omitempty"`
	ResumeUntil string            `json:"resume_until,omitempty"`
	Failures    []BulkFailureJSON `json:"failures,omitempty"`
	Values      []BulkValueJSON   `json:"values,omitempty"`
}

// BulkValueJSON is one counter's value after the run (--values).
type BulkValueJSON struct {
	Subject string `json:"subject"`
	Stream  string `json:"stream"`
	Value   string `json:"value"`
}

// BulkFailureJSON is one failed or unknown increment, by input line.
type BulkFailureJSON struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

func perSecond(res *bulk.BulkResult) float64 {
	s := res.Elapsed.Seconds()
	if s <= 0 {
		return 0
	}
	// Lines dealt with: a run that stopped early did not send the rest.
	return math.Round(float64(max(res.Lines-res.NotSent, 0)) / s)
}

// BulkJSON writes the summary as one JSON object.
func (p Printer) BulkJSON(res *bulk.BulkResult) error {
	out := BulkJSON{
		Lines: res.Lines, Increments: res.Sent, Counters: res.Counters,
		Applied: res.Applied, Duplicates: res.Duplicates, Failed: res.Failed,
		Unknown: res.Unknown, Skipped: res.Skipped, NotSent: res.NotSent, Retries: res.Retries,
		Seconds:     math.Round(res.Elapsed.Seconds()*1e6) / 1e6,
		PerSecond:   perSecond(res),
		Interrupted: res.Interrupted, ResumeLine: res.ResumeLine, ResumeExact: res.ResumeExact,
	}
	if !res.ExactUntil.IsZero() {
		out.ResumeUntil = res.ExactUntil.UTC().Format(time.RFC3339)
	}
	for _, f := range res.Failures {
		out.Failures = append(out.Failures, BulkFailureJSON{Line: f.Line, Error: f.Err.Error()})
	}
	if res.Values != nil {
		out.Values = make([]BulkValueJSON, len(res.Values))
		for i, c := range res.Values {
			out.Values[i] = BulkValueJSON{Subject: c.Subject, Stream: c.Stream, Value: c.Value.String()}
		}
	}
	return p.WriteJSON(out)
}

// BulkSummary is the one-line summary written to stderr after a run.
func BulkSummary(res *bulk.BulkResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s to %s in %.2fs (%s lines/s): %d applied",
		Count(res.Lines, "line"), Count(res.Sent, "increment"), Count(res.Counters, "counter"),
		res.Elapsed.Seconds(), thousands(int64(perSecond(res))), res.Applied)
	if res.Duplicates > 0 {
		fmt.Fprintf(&b, ", %d duplicates (already applied, not applied again)", res.Duplicates)
	}
	for _, x := range []struct {
		n    int
		what string
	}{{res.Failed, "failed"}, {res.Unknown, "unknown"}, {res.NotSent, "not sent"}, {res.Skipped, "bad lines skipped"}} {
		if x.n > 0 {
			fmt.Fprintf(&b, ", %d %s", x.n, x.what)
		}
	}
	return b.String()
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
