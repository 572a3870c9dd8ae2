// Package render writes every byte counter sends to stdout: bare values,
// tables, tab-separated rows and JSON. It never talks to NATS.
package render

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
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

// ColorEnabled reports whether colour may be used on a terminal: never
// when NO_COLOR is set to a non-empty value (https://no-color.org: an empty
// NO_COLOR does not count) or TERM is dumb.
func ColorEnabled(tty bool) bool {
	if !tty {
		return false
	}
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	return os.Getenv("TERM") != "dumb"
}

// WriteJSON writes v as JSON: indented for a person, one line for a pipe.
func (p Printer) WriteJSON(v any) error {
	enc := json.NewEncoder(p.W)
	enc.SetEscapeHTML(false)
	if p.TTY {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// Line writes one line of text; on a terminal control characters are
// shown, not obeyed (see Visible).
func (p Printer) Line(s string) error {
	if p.TTY {
		s = Visible(s)
	}
	_, err := io.WriteString(p.W, s+"\n")
	return err
}

// visibleLines applies Visible to each line of s, keeping the newlines.
func visibleLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		body, nl := strings.CutSuffix(l, "\n")
		lines[i] = Visible(body)
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
			visible[i][j] = Visible(c)
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

// Visible makes text from the server safe to show on a terminal: subjects
// are bytes, and one written by another client may hold ESC or BEL, which a
// terminal would obey. Control characters and invalid UTF-8 are shown as
// Go escapes (\x1b); everything else is unchanged. Pipes and JSON keep the
// exact bytes: use Visible only for what a person reads.
func Visible(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || isControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case isControl(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
