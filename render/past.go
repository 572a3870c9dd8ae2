package render

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/natsort"
)

// PastCounterJSON is one counter of `counter get --at TIME --json`: its
// value at TIME and the message it was read from (seq, and updated: when
// that message was stored). A counter whose retained history starts after
// TIME has no value; missing says why ("purged": older messages were
// removed, so its value then is unknown; "not-yet": it did not exist yet)
// and first_seq/first_time where its retained history starts.
type PastCounterJSON struct {
	Subject   string                       `json:"subject"`
	Stream    string                       `json:"stream"`
	At        string                       `json:"at"`
	Value     *string                      `json:"value"`
	Seq       uint64                       `json:"seq,omitempty"`
	Updated   string                       `json:"updated,omitempty"`
	Sources   map[string]map[string]string `json:"sources,omitempty"`
	Missing   string                       `json:"missing,omitempty"`
	FirstSeq  uint64                       `json:"first_seq,omitempty"`
	FirstTime string                       `json:"first_time,omitempty"`
}

func pastCounterJSON(pc history.PastCounter, at time.Time, withSources bool) PastCounterJSON {
	out := PastCounterJSON{Subject: pc.Subject, Stream: pc.Stream, At: at.UTC().Format(time.RFC3339Nano)}
	if pc.Value == nil {
		out.Missing, out.FirstSeq, out.Seq = pc.Missing, pc.FirstSeq, pc.Seq
		out.FirstTime = pc.FirstTime.UTC().Format(time.RFC3339Nano)
		return out
	}
	cj := counterJSON(pc.Counter, withSources)
	out.Value, out.Seq, out.Updated, out.Sources = &cj.Value, cj.Seq, cj.Updated, cj.Sources
	return out
}

// PastCounters prints the result of `counter get --at`: like Counters, but
// a table (or the rows of a pipe) always has SUBJECT, VALUE, STREAM, SEQ and
// UPDATED (the message each value was read from). Counters without a value
// at the moment are only in the JSON (the caller says why on stderr).
func (p Printer) PastCounters(list []history.PastCounter, at time.Time, opts GetOptions) error {
	if p.JSON {
		if opts.Single && len(list) == 1 {
			return p.WriteJSON(pastCounterJSON(list[0], at, opts.Sources))
		}
		out := make([]PastCounterJSON, 0, len(list))
		for _, pc := range naturalPast(list) {
			out = append(out, pastCounterJSON(pc, at, opts.Sources))
		}
		return p.WriteJSON(out)
	}
	var known []counters.Counter
	for _, pc := range list {
		if pc.Value != nil {
			known = append(known, pc.Counter)
		}
	}
	known = naturalOrder(known)
	if opts.Sources {
		return p.sourcesTable(known)
	}
	if opts.Single && len(list) == 1 && len(known) == 1 {
		return p.Line(known[0].Value.String())
	}
	rows := make([][]string, len(known))
	for i, c := range known {
		rows[i] = []string{c.Subject, c.Value.String(), c.Stream, strconv.FormatUint(c.Seq, 10), c.Updated.UTC().Format(time.RFC3339Nano)}
		if p.TTY {
			rows[i][4] = c.Updated.UTC().Format("2006-01-02T15:04:05.000Z")
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return p.Table([]string{"SUBJECT", "VALUE", "STREAM", "SEQ", "UPDATED"}, rows, 1, 3)
}

// naturalPast sorts a copy of list in natural subject order, then stream.
func naturalPast(list []history.PastCounter) []history.PastCounter {
	out := slices.Clone(list)
	slices.SortStableFunc(out, func(a, b history.PastCounter) int {
		return cmp.Or(natsort.Compare(a.Subject, b.Subject), strings.Compare(a.Stream, b.Stream))
	})
	return out
}
