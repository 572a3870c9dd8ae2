// Package render writes every byte counter sends to stdout: bare values,
// tables, tab-separated rows and JSON. It never talks to NATS.
package render

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/jetcounter/counter/internal/terminal"
)

// Printer writes results in the form the reader wants: a table for a person
// at a terminal, tab-separated rows for a pipe, JSON when asked.
type Printer struct {
	W    io.Writer
	TTY  bool
	JSON bool
	// Width is the terminal's width in columns (0: unknown): tables are
	// narrowed to fit it.
	Width int
}

// NewPrinter writes results to the terminal's stdout (which, on a
// terminal, shows any control character it is given): a table at a
// terminal of the terminal's width, tab-separated rows in a pipe, JSON
// when asked.
func NewPrinter(t *terminal.IO, json bool) Printer {
	p := Printer{W: t.Out(), TTY: t.StdoutTTY() && !json, JSON: json}
	if p.TTY {
		p.Width = t.Width()
	}
	return p
}

// NewErrPrinter writes a table for a person to the terminal's stderr: a
// plan shown before its question.
func NewErrPrinter(t *terminal.IO) Printer {
	return Printer{W: t.ErrOut(), TTY: true}
}

// WriteJSON writes v as JSON: indented for a person, one line for a pipe.
func (p Printer) WriteJSON(v any) error {
	return newJSONEncoder(p.TTY).encode(p.W, v)
}

// jsonEncoder is how counter writes all its JSON: no HTML escaping (a
// subject's '>' stays '>'), and DEL and C1 characters escaped as well as
// C0, since a terminal would obey them (terminal.EscapeJSON): still valid
// JSON with the same meaning, in a pipe too.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newJSONEncoder(indent bool) *jsonEncoder {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	if indent {
		e.enc.SetIndent("", "  ")
	}
	return e
}

// encode writes v and a newline to w in one write.
func (e *jsonEncoder) encode(w io.Writer, v any) error {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(terminal.EscapeJSON(e.buf.Bytes()))
	return err
}

// Line writes one line of text; on a terminal control characters are
// shown, not obeyed (see terminal.Visible).
func (p Printer) Line(s string) error {
	if p.TTY {
		s = terminal.Visible(s)
	}
	_, err := io.WriteString(p.W, s+"\n")
	return err
}

// visibleLines applies Visible to each line of s, keeping the newlines.
func visibleLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		body, nl := strings.CutSuffix(l, "\n")
		lines[i] = terminal.Visible(body)
		if nl {
			lines[i] += "\n"
		}
	}
	return strings.Join(lines, "")
}

// Table writes rows under header: a bordered table on a terminal, or
// header-less tab-separated lines for scripts (cut -f2, awk).
func (p Printer) Table(header []string, rows [][]string, rightAligned ...int) error {
	if !p.TTY {
		bw := bufio.NewWriterSize(p.W, 64<<10)
		for _, row := range rows {
			bw.WriteString(strings.Join(row, "\t"))
			bw.WriteByte('\n')
		}
		return bw.Flush()
	}
	// A person reads this: server-supplied text shows its control
	// characters instead of obeying them.
	// Counter values are grouped in thousands for the eye.
	visible := make([][]string, len(rows))
	for i, row := range rows {
		visible[i] = make([]string, len(row))
		for j, c := range row {
			c = terminal.Visible(c)
			if j < len(header) && groupedHeaders[header[j]] && slices.Contains(rightAligned, j) {
				c = groupDigits(c)
			}
			visible[i][j] = c
		}
	}
	l := layoutTable(header, visible, rightAligned, p.Width)
	align := make([]tw.Align, len(l.header))
	for i, right := range l.align {
		align[i] = tw.AlignLeft
		if right {
			align[i] = tw.AlignRight
		}
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off), // subjects print verbatim
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	}
	if l.stretch >= 0 {
		// The width tablewriter takes includes the cell's padding.
		opts = append(opts, tablewriter.WithColumnWidths(tw.NewMapper[int, int]().Set(l.stretch, l.widths[l.stretch]+2)))
	}
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf, opts...)
	t.Header(l.header)
	if err := t.Bulk(l.rows); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := p.W.Write(withLinesBelow(buf.Bytes(), l))
	return err
}

// withLinesBelow puts under each row of a rendered table the lines that
// moved out of it, across the table's width:
//
//	│ count.big │    ↓ │
//	│   VALUE: 1234567890123456789012345678901 │
//	│   234567890                              │
func withLinesBelow(table []byte, l tableLayout) []byte {
	if !slices.ContainsFunc(l.below, func(b []string) bool { return len(b) > 0 }) {
		return table
	}
	lines := strings.SplitAfter(string(table), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	// A top rule, the header and its rule, the rows, a bottom rule.
	count := 4
	for _, r := range l.rows {
		count += rowHeight(r)
	}
	inner := DisplayWidth(strings.TrimRight(lines[0], "\n")) - 4
	if count != len(lines) || inner < 10 {
		// Not the table this was made for: the lines go after it.
		var b strings.Builder
		b.Write(table)
		for _, items := range l.below {
			for _, item := range items {
				b.WriteString("  " + item + "\n")
			}
		}
		return []byte(b.String())
	}
	var b strings.Builder
	b.WriteString(lines[0] + lines[1] + lines[2])
	at := 3
	for i, r := range l.rows {
		for range rowHeight(r) {
			b.WriteString(lines[at])
			at++
		}
		for _, item := range l.below[i] {
			if DisplayWidth(item) > inner-4 && groupedItem.MatchString(item) {
				// One line of plain digits reads better than grouped
				// ones broken over two.
				item = strings.ReplaceAll(item, ",", "")
			}
			for k, text := range strings.Split(wrapProse(item, inner-4), "\n") {
				indent := "  "
				if k > 0 {
					indent = "    "
				}
				text = indent + text
				b.WriteString("│ " + text + strings.Repeat(" ", max(inner-DisplayWidth(text), 0)) + " │\n")
			}
		}
	}
	for ; at < len(lines); at++ {
		b.WriteString(lines[at])
	}
	return []byte(b.String())
}

// groupedItem is a number moved under its row: "VALUE: 1,234,567".
var groupedItem = regexp.MustCompile(`^[A-Z ]+: [+-]?[0-9,]+$`)

func rowHeight(row []string) int {
	h := 1
	for _, c := range row {
		h = max(h, strings.Count(c, "\n")+1)
	}
	return h
}

// Visible is terminal.Visible.
//
// Deprecated: use terminal.Visible, the one definition.
func Visible(s string) string { return terminal.Visible(s) }
