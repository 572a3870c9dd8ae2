package render

import (
	"strings"

	"github.com/clipperhouse/displaywidth"
)

// DisplayWidth is how many terminal columns s takes: East Asian wide
// characters take two, combining marks none (the measure tablewriter uses).
func DisplayWidth(s string) int { return displaywidth.String(s) }

// cutRight cuts s to at most n columns, marking the cut with "…".
func cutRight(s string, n int) string {
	if n <= 0 || DisplayWidth(s) <= n {
		return s
	}
	return displaywidth.TruncateString(s, n, "…")
}

// cutLeft keeps the end of s in at most n columns, marking the cut with
// "…": subjects differ at their end.
func cutLeft(s string, n int) string {
	if n <= 0 || DisplayWidth(s) <= n {
		return s
	}
	if n == 1 {
		return "…"
	}
	var kept []string
	w := 0
	g := displaywidth.StringGraphemes(s)
	var all []string
	for g.Next() {
		all = append(all, g.Value())
	}
	for i := len(all) - 1; i >= 0; i-- {
		cw := DisplayWidth(all[i])
		if w+cw > n-1 {
			break
		}
		w += cw
		kept = append(kept, all[i])
	}
	var b strings.Builder
	b.WriteString("…")
	for i := len(kept) - 1; i >= 0; i-- {
		b.WriteString(kept[i])
	}
	return b.String()
}

// fitTable narrows the columns of a bordered table ("│ a │ b │": each
// column costs its width plus 3, plus 1) until it fits width: always the
// widest column that may be cut, keeping each cell's end. Columns in keep
// (values) are never cut: a cut number is a wrong number. Cells are
// measured in display columns.
func fitTable(header []string, rows [][]string, keep []int, width int) [][]string {
	if width <= 0 || len(header) == 0 {
		return rows
	}
	widths := make([]int, len(header))
	for j, h := range header {
		widths[j] = DisplayWidth(h)
	}
	for _, row := range rows {
		for j, c := range row {
			if j < len(widths) {
				widths[j] = max(widths[j], DisplayWidth(c))
			}
		}
	}
	const minCut = 6 // "…" and a few characters still say something
	total := func() int {
		t := 1
		for _, w := range widths {
			t += w + 3
		}
		return t
	}
	cut := false
	for total() > width {
		widest := -1
		for j, w := range widths {
			if w > minCut && !contains(keep, j) && DisplayWidth(header[j]) < w && (widest < 0 || w > widths[widest]) {
				widest = j
			}
		}
		if widest < 0 {
			break // nothing left to narrow: better too wide than wrong
		}
		// Down to the next widest column's width (or just enough) at once.
		next := minCut
		for j, w := range widths {
			if j != widest && !contains(keep, j) && w < widths[widest] {
				next = max(next, w)
			}
		}
		widths[widest] = max(next, widths[widest]-(total()-width), minCut, DisplayWidth(header[widest]))
		cut = true
	}
	if !cut {
		return rows
	}
	out := make([][]string, len(rows))
	for i, row := range rows {
		out[i] = make([]string, len(row))
		for j, c := range row {
			if j < len(widths) && !contains(keep, j) {
				c = fitCell(c, widths[j])
			}
			out[i][j] = c
		}
	}
	return out
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// fitCell fits a cell into n columns: prose (text with blanks) is wrapped
// onto several lines at blanks, a name (a subject) keeps its end.
func fitCell(s string, n int) string {
	if DisplayWidth(s) <= n {
		return s
	}
	if !strings.Contains(s, " ") {
		return cutLeft(s, n)
	}
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		word = cutLeft(word, n)
		switch {
		case line == "":
			line = word
		case DisplayWidth(line)+1+DisplayWidth(word) <= n:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	return strings.Join(append(lines, line), "\n")
}
