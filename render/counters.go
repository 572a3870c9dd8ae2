package render

import (
	"cmp"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/natsort"
	"github.com/jetcounter/counter/internal/streams"
)

// CounterJSON is one counter in --json output. Values are strings: they
// can exceed every JSON number type.
type CounterJSON struct {
	Subject string                       `json:"subject"`
	Stream  string                       `json:"stream"`
	Value   string                       `json:"value"`
	Seq     uint64                       `json:"seq"`
	Updated string                       `json:"updated"`
	Sources map[string]map[string]string `json:"sources,omitempty"`
}

func counterJSON(c counters.Counter, withSources bool) CounterJSON {
	out := CounterJSON{
		Subject: c.Subject,
		Stream:  c.Stream,
		Value:   c.Value.String(),
		Seq:     c.Seq,
		Updated: c.Updated.UTC().Format(time.RFC3339Nano),
	}
	if withSources {
		out.Sources = map[string]map[string]string{}
		for key, subjects := range c.Sources {
			m := map[string]string{}
			for subj, v := range subjects {
				m[subj] = v.String()
			}
			out.Sources[key] = m
		}
	}
	return out
}

// GetOptions say how `counter get` results are shown.
type GetOptions struct {
	// Single: one literal subject was asked for; print the bare value.
	Single  bool
	Sources bool
}

// Counters prints the result of `counter get`, in natural subject order
// (c2 before c10), then by stream.
func (p Printer) Counters(list []counters.Counter, opts GetOptions) error {
	list = naturalOrder(list)
	if p.JSON {
		if opts.Single && len(list) == 1 {
			return p.WriteJSON(counterJSON(list[0], opts.Sources))
		}
		out := make([]CounterJSON, len(list))
		for i, c := range list {
			out[i] = counterJSON(c, opts.Sources)
		}
		return p.WriteJSON(out)
	}
	if opts.Sources {
		return p.sourcesTable(list)
	}
	if opts.Single && len(list) == 1 {
		return p.Line(list[0].Value.String())
	}
	multiStream := false
	for _, c := range list {
		if c.Stream != list[0].Stream {
			multiStream = true
			break
		}
	}
	header := []string{"SUBJECT", "VALUE"}
	if multiStream {
		header = append(header, "STREAM")
	}
	rows := make([][]string, len(list))
	for i, c := range list {
		rows[i] = []string{c.Subject, c.Value.String()}
		if multiStream {
			rows[i] = append(rows[i], c.Stream)
		}
	}
	return p.Table(header, rows, 1)
}

// sourcesTable shows, per counter, what each source contributes and what
// came from increments made directly on this stream.
func (p Printer) sourcesTable(list []counters.Counter) error {
	var rows [][]string
	for _, c := range list {
		if c.SourcesError != nil {
			// Unknown contributions (a warning on stderr says why).
			rows = append(rows, []string{c.Subject, c.Stream, c.Value.String(), "(unreadable)", "-", "-"})
			continue
		}
		direct := new(big.Int).Sub(c.Value, c.Sources.Total())
		for _, key := range slices.Sorted(maps.Keys(c.Sources)) {
			for _, subj := range slices.Sorted(maps.Keys(c.Sources[key])) {
				rows = append(rows, []string{c.Subject, c.Stream, c.Value.String(), key, subj, c.Sources[key][subj].String()})
			}
		}
		if direct.Sign() != 0 || len(c.Sources) == 0 {
			rows = append(rows, []string{c.Subject, c.Stream, c.Value.String(), "(direct)", c.Subject, direct.String()})
		}
	}
	return p.Table([]string{"SUBJECT", "STREAM", "VALUE", "SOURCE", "SOURCE SUBJECT", "CONTRIBUTES"}, rows, 2, 5)
}

// IncrJSON is `counter incr --json`.
type IncrJSON struct {
	Subject   string `json:"subject"`
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Delta     string `json:"delta"`
	Value     string `json:"value,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Incr prints the new total of an increment.
func (p Printer) Incr(r *counters.IncrResult) error {
	value := ""
	if r.Value != nil {
		value = r.Value.String()
	}
	if p.JSON {
		return p.WriteJSON(IncrJSON{
			Subject: r.Subject, Stream: r.Stream, Seq: r.Seq,
			Delta: counters.Signed(r.Delta), Value: value, Duplicate: r.Duplicate,
		})
	}
	if value == "" {
		return nil
	}
	return p.Line(value)
}

// CreateJSON is `counter create --json`.
type CreateJSON struct {
	Stream   string   `json:"stream"`
	Result   string   `json:"result"`
	Config   any      `json:"config"`
	Warnings []string `json:"warnings,omitempty"`
}

// Create prints what create did; a dry run prints the configuration.
func (p Printer) Create(r *streams.CreateResult, dryRun bool) error {
	if p.JSON {
		return p.WriteJSON(CreateJSON{Stream: r.Stream, Result: r.Action, Config: r.Config, Warnings: r.Warnings})
	}
	if dryRun {
		return Printer{W: p.W, TTY: true}.WriteJSON(r.Config)
	}
	return p.Line("stream " + r.Stream + " " + r.Action)
}

// naturalOrder sorts a copy of list by subject as people read them (c2
// before c10), then by stream; an already ordered list is not copied.
func naturalOrder(list []counters.Counter) []counters.Counter {
	cmpCounters := func(a, b counters.Counter) int {
		return cmp.Or(natsort.Compare(a.Subject, b.Subject), strings.Compare(a.Stream, b.Stream))
	}
	if slices.IsSortedFunc(list, cmpCounters) {
		return list
	}
	out := slices.Clone(list)
	slices.SortStableFunc(out, cmpCounters)
	return out
}
