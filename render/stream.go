package render

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/terminal"
)

// CounterWriter prints `counter get` in a pipe or with --json one counter
// at a time, as the counters are read, and holds none of them: a million
// counters print in the memory of one. Rows are tab-separated, as
// Counters prints them in a pipe; JSON is the same array, written as it
// grows. The order is the order Write is called in.
type CounterWriter struct {
	p       Printer
	sources bool
	// stream: a third column, STREAM, as when Counters lists several
	// streams. Rows are written before all are known, so it is decided
	// before the first: by the number of streams the read spans.
	stream bool
	bw     *bufio.Writer
	enc    *jsonEncoder
	n      int
	buf    []byte
}

// NewCounterWriter starts printing counters read from streams streams (a
// STREAM column when there are several). p must not be a terminal's
// table printer: a table needs every row first (Counters).
func (p Printer) NewCounterWriter(opts GetOptions, streams int) *CounterWriter {
	return &CounterWriter{
		p:       p,
		sources: opts.Sources,
		stream:  streams > 1,
		bw:      bufio.NewWriterSize(p.W, 64<<10),
		enc:     newJSONEncoder(false),
	}
}

// Count is how many counters were written.
func (w *CounterWriter) Count() int { return w.n }

// Write prints one counter: one row (one per contribution with sources),
// or the next element of the JSON array.
func (w *CounterWriter) Write(c counters.Counter) error {
	w.n++
	if w.p.JSON {
		sep := byte(',')
		if w.n == 1 {
			sep = '['
		}
		w.bw.WriteByte(sep)
		if b, ok := appendCounterJSON(w.buf[:0], c, w.sources); ok {
			w.buf = b
			_, err := w.bw.Write(b)
			return err
		}
		return w.element(counterJSON(c, w.sources))
	}
	if w.sources {
		for _, row := range sourcesRows(c) {
			w.bw.WriteString(strings.Join(row, "\t"))
			w.bw.WriteByte('\n')
		}
		return nil
	}
	b := append(w.buf[:0], c.Subject...)
	b = append(b, '\t')
	b = c.Value.Append(b, 10)
	if w.stream {
		b = append(b, '\t')
		b = append(b, c.Stream...)
	}
	b = append(b, '\n')
	w.buf = b
	_, err := w.bw.Write(b)
	return err
}

// element writes v as WriteJSON would, without the newline: the array
// goes on on the same line.
func (w *CounterWriter) element(v any) error {
	e := w.enc
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	_, err := w.bw.Write(terminal.EscapeJSON(bytes.TrimSuffix(e.buf.Bytes(), []byte("\n"))))
	return err
}

// Close ends the output (the JSON array's closing bracket, an empty array
// when nothing was written) and writes what is buffered.
func (w *CounterWriter) Close() error {
	if w.p.JSON {
		if w.n == 0 {
			w.bw.WriteByte('[')
		}
		w.bw.WriteString("]\n")
	}
	return w.bw.Flush()
}

// Abort ends the output of a read that failed part way: what is still
// buffered is dropped (a read that fails within its first 64 KiB prints
// nothing, as when the whole list was held), what was written stays, and
// a JSON array stays without its closing bracket, so that a parser fails
// instead of taking part of the list for the whole.
func (w *CounterWriter) Abort() {
	w.bw.Reset(io.Discard)
}

// sourcesRows are the --sources rows of one counter in a pipe: one per
// contribution, and (direct) for increments made on the stream itself.
func sourcesRows(c counters.Counter) [][]string {
	value := c.Value.String()
	if c.SourcesError != nil {
		return [][]string{{c.Subject, c.Stream, value, "(unreadable)", "-", "-"}}
	}
	var rows [][]string
	for _, key := range slices.Sorted(maps.Keys(c.Sources)) {
		for _, subj := range slices.Sorted(maps.Keys(c.Sources[key])) {
			rows = append(rows, []string{c.Subject, c.Stream, value, key, subj, c.Sources[key][subj].String()})
		}
	}
	direct := new(big.Int).Sub(c.Value, c.Sources.Total())
	if direct.Sign() != 0 || len(c.Sources) == 0 {
		rows = append(rows, []string{c.Subject, c.Stream, value, "(direct)", c.Subject, direct.String()})
	}
	return rows
}

// appendCounterJSON appends c as encoding/json and WriteJSON would write
// it, without reflection, when its text needs no escaping (the common
// case); ok is false otherwise, and for sources.
func appendCounterJSON(b []byte, c counters.Counter, withSources bool) (_ []byte, ok bool) {
	if withSources || !plainJSON(c.Subject) || !plainJSON(c.Stream) {
		return b, false
	}
	b = append(b, `{"subject":"`...)
	b = append(b, c.Subject...)
	b = append(b, `","stream":"`...)
	b = append(b, c.Stream...)
	b = append(b, `","value":"`...)
	b = c.Value.Append(b, 10)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, c.Seq, 10)
	b = append(b, `,"updated":"`...)
	b = c.Updated.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return b, true
}

// plainJSON: s is printable ASCII without a quote or backslash, which
// encoding/json writes as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
