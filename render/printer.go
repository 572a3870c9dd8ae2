// Package render writes every byte counter sends to stdout: bare values,
// tables, tab-separated rows and JSON. It never talks to NATS.
package render

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
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
	align := make([]tw.Align, len(header))
	for i := range align {
		align[i] = tw.AlignLeft
	}
	for _, i := range rightAligned {
		align[i] = tw.AlignRight
	}
	// A person reads this: server-supplied text shows its control
	// characters instead of obeying them.
	visible := make([][]string, len(rows))
	for i, row := range rows {
		visible[i] = make([]string, len(row))
		for j, c := range row {
			visible[i][j] = terminal.Visible(c)
		}
	}
	rows = fitTable(header, visible, rightAligned, p.Width)
	t := tablewriter.NewTable(p.W,
		tablewriter.WithHeaderAutoFormat(tw.Off), // subjects print verbatim
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
	t.Header(header)
	if err := t.Bulk(rows); err != nil {
		return err
	}
	return t.Render()
}

// Visible is terminal.Visible.
//
// Deprecated: use terminal.Visible, the one definition.
func Visible(s string) string { return terminal.Visible(s) }
