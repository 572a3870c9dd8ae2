package render

import (
	"regexp"
	"slices"
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
	all := graphemes(s)
	var kept []string
	w := 0
	for i := len(all) - 1; i >= 0; i-- {
		cw := DisplayWidth(all[i])
		if w+cw > n-1 {
			break
		}
		w += cw
		kept = append(kept, all[i])
	}
	slices.Reverse(kept)
	return "…" + strings.Join(kept, "")
}

func graphemes(s string) []string {
	var all []string
	g := displaywidth.StringGraphemes(s)
	for g.Next() {
		all = append(all, g.Value())
	}
	return all
}

// columnKind is what a table's column holds, which decides how it gives
// way on a narrow terminal. It follows from the header, so a column
// behaves the same in every verb's table.
type columnKind int

const (
	// identifying: what a row is about (subject, stream, origin, check).
	// It keeps its width; only when nothing else can give way is it
	// wrapped, at its dots, and never cut: two subjects that differ only
	// at their start must not read the same.
	identifying columnKind = iota
	// number: a right-aligned number, never cut (a cut number is a wrong
	// number). A value too wide for the table moves to a line of its own
	// under its row.
	number
	// prose: free text (a detail, a problem, its fix, a note). It wraps
	// first, at clause ends and blanks, and when even that leaves it too
	// narrow to read it moves under its row, where it spans the table.
	prose
	// timestamp: keeps the date and the time to the second; only the
	// fraction of a second gives way.
	timestamp
)

var proseHeaders = map[string]bool{"DETAIL": true, "PROBLEM": true, "FIX": true, "NOTE": true, "FROM": true, "ERROR": true}

func kindOf(header string, numeric bool) columnKind {
	switch {
	case numeric:
		return number
	case proseHeaders[header]:
		return prose
	case header == "TIME":
		return timestamp
	}
	return identifying
}

const (
	// proseMin is the narrowest a prose column wraps to before it moves
	// under its row: narrower, a sentence becomes a column of words.
	proseMin = 24
	// nameMin is the narrowest an identifying column wraps to.
	nameMin = 8
)

// fraction is the fraction of a second in a timestamp.
var fraction = regexp.MustCompile(`(\d\d:\d\d:\d\d)\.\d+`)

// tableLayout is a table fitted to a terminal's width: the columns that
// stay, their cells (wrapped onto several lines where needed), and under
// each row the lines that moved out of it ("VALUE: 1234…", "DETAIL: …").
type tableLayout struct {
	header []string
	align  []bool // right-aligned (numbers)
	rows   [][]string
	below  [][]string // per row: "HEADER: text", one entry per cell moved
	widths []int      // of the columns that stay
	// stretch is the column widened so that the table spans the terminal
	// (for the lines under rows); -1 for none.
	stretch int
}

// layoutTable fits a bordered table ("│ a │ b │": each column costs its
// width plus 3, plus 1) into width columns. In order, until it fits:
// empty prose columns go; prose wraps down to proseMin; timestamps drop
// the fraction of a second; numbers lose their thousands separators; the
// widest numbers move under their rows; prose moves under its rows;
// identifying columns wrap at their dots. What is still too wide stays
// too wide: better than wrong. numeric lists the right-aligned columns.
// Cells are measured in display columns.
func layoutTable(header []string, rows [][]string, numeric []int, width int) tableLayout {
	n := len(header)
	kinds := make([]columnKind, n)
	for j, h := range header {
		kinds[j] = kindOf(h, slices.Contains(numeric, j))
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = make([]string, n)
		copy(cells[i], r)
	}
	// A number under its row has the width of the table: it keeps its
	// thousands separators even when its column gave them up.
	original := rows
	below := make([][]string, len(rows))
	moved := make([]bool, n) // a whole column under its rows
	headerW := func(j int) int { return DisplayWidth(header[j]) }
	natural := func(j int) int {
		w := headerW(j)
		for _, r := range cells {
			w = max(w, linesWidth(r[j]))
		}
		return w
	}
	widths := make([]int, n)
	for j := range widths {
		widths[j] = natural(j)
	}
	total := func() int {
		t := 1
		for j, w := range widths {
			if !moved[j] {
				t += w + 3
			}
		}
		return t
	}
	// narrow takes columns of kind k down to a common width (never below
	// least(j)), the widest first, until the table fits.
	narrow := func(k columnKind, least func(int) int) {
		if total() <= width {
			return
		}
		start := slices.Clone(widths)
		top := 0
		for j, w := range widths {
			if kinds[j] == k && !moved[j] {
				top = max(top, w)
			}
		}
		for level := top - 1; level >= 0 && total() > width; level-- {
			for j := range widths {
				if kinds[j] == k && !moved[j] {
					widths[j] = max(least(j), min(start[j], level))
				}
			}
		}
	}
	if width > 0 && total() > width {
		// A column of free text with nothing in it says nothing.
		for j := range kinds {
			if kinds[j] == prose && !slices.ContainsFunc(cells, func(r []string) bool { return r[j] != "" && r[j] != "-" }) {
				moved[j] = true
			}
		}
		narrow(prose, func(j int) int { return max(headerW(j), proseMin) })
		if total() > width {
			for j := range kinds {
				if kinds[j] == timestamp {
					for _, r := range cells {
						r[j] = fraction.ReplaceAllString(r[j], "$1")
					}
					widths[j] = natural(j)
				}
			}
		}
		// Grouping numbers in thousands is for the eye: it goes before a
		// number has to move.
		if total() > width {
			for j := range kinds {
				if kinds[j] == number {
					for _, r := range cells {
						r[j] = strings.ReplaceAll(r[j], ",", "")
					}
					widths[j] = natural(j)
				}
			}
		}
		// The widest numbers, one at a time, move under their rows.
		for total() > width {
			ri, cj := -1, -1
			for i, r := range cells {
				for j := range r {
					if kinds[j] == number && DisplayWidth(r[j]) > max(headerW(j), 1) &&
						(ri < 0 || DisplayWidth(r[j]) > DisplayWidth(cells[ri][cj])) {
						ri, cj = i, j
					}
				}
			}
			if ri < 0 {
				break
			}
			below[ri] = append(below[ri], header[cj]+": "+original[ri][cj])
			cells[ri][cj] = "↓"
			widths[cj] = natural(cj)
		}
		// Prose too narrow to read: under its rows, all of it (a row's
		// text in one place).
		if total() > width {
			for j := range kinds {
				moved[j] = moved[j] || kinds[j] == prose
			}
		}
		narrow(identifying, func(j int) int { return max(headerW(j), nameMin) })
	}
	out := tableLayout{stretch: -1}
	var keep []int
	for j := range header {
		if !moved[j] {
			keep = append(keep, j)
			out.header = append(out.header, header[j])
			out.align = append(out.align, kinds[j] == number)
			out.widths = append(out.widths, widths[j])
		}
	}
	for i, r := range cells {
		row := make([]string, 0, len(keep))
		for _, j := range keep {
			c := r[j]
			if linesWidth(c) > widths[j] {
				switch kinds[j] {
				case prose:
					c = wrapProse(c, widths[j])
				case identifying, timestamp:
					c = wrapName(c, widths[j])
				}
			}
			row = append(row, c)
		}
		out.rows = append(out.rows, row)
		// Moved prose after moved numbers, in the columns' order.
		for j := range header {
			if moved[j] && r[j] != "" && r[j] != "-" {
				below[i] = append(below[i], header[j]+": "+r[j])
			}
		}
	}
	out.below = below
	// Lines under rows span the table: as wide as the terminal, the widest
	// identifying column (or any other) taking the rest.
	if width > 0 && total() < width && slices.ContainsFunc(below, func(b []string) bool { return len(b) > 0 }) {
		widest := -1
		rank := func(i int) int { return map[columnKind]int{identifying: 2, timestamp: 1}[kinds[keep[i]]] }
		for i := range keep {
			if rank(i) > 0 && (widest < 0 || rank(i) > rank(widest) || rank(i) == rank(widest) && out.widths[i] > out.widths[widest]) {
				widest = i
			}
		}
		if widest >= 0 {
			out.widths[widest] += width - total()
			out.stretch = widest
		}
	}
	return out
}

// linesWidth is the width of the widest line of s.
func linesWidth(s string) int {
	w := 0
	for _, l := range strings.Split(s, "\n") {
		w = max(w, DisplayWidth(l))
	}
	return w
}

// wrapProse wraps text into lines of at most n columns: at the end of a
// clause ("; ") where one fits, else at blanks; a word longer than a line
// is broken, never cut.
func wrapProse(s string, n int) string {
	if n <= 0 || DisplayWidth(s) <= n {
		return s
	}
	var lines []string
	line := ""
	add := func(piece string) {
		switch {
		case line == "":
			line = piece
		case DisplayWidth(line)+1+DisplayWidth(piece) <= n:
			line += " " + piece
		default:
			lines = append(lines, line)
			line = piece
		}
		for DisplayWidth(line) > n {
			head, rest := breakAt(line, n)
			// A grouped number breaks after a comma.
			if i := strings.LastIndexByte(head, ','); i > 0 && !strings.Contains(head, " ") {
				head, rest = head[:i+1], head[i+1:]+rest
			}
			lines = append(lines, head)
			line = rest
		}
	}
	for _, clause := range strings.SplitAfter(s, "; ") {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			continue
		}
		if line != "" && DisplayWidth(line)+1+DisplayWidth(clause) > n && DisplayWidth(clause) <= n {
			// The clause fits a line of its own: start one.
			lines = append(lines, line)
			line = ""
		}
		for _, word := range strings.Fields(clause) {
			add(word)
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// wrapName wraps a name (a subject, a stream, an origin) into lines of at
// most n columns, after a dot, colon or blank where one is near, else
// anywhere: all of it stays.
func wrapName(s string, n int) string {
	if n <= 0 || DisplayWidth(s) <= n {
		return s
	}
	var lines []string
	for DisplayWidth(s) > n {
		head, rest := breakAt(s, n)
		// Back to the last separator in the line, if that keeps most of it.
		if i := strings.LastIndexAny(head, ".: /"); i >= 0 && DisplayWidth(head[:i+1]) > n/2 {
			head, rest = head[:i+1], head[i+1:]+rest
		}
		lines = append(lines, strings.TrimRight(head, " "))
		s = rest
	}
	return strings.Join(append(lines, s), "\n")
}

// breakAt splits s after its first n columns (at least one character).
func breakAt(s string, n int) (string, string) {
	w := 0
	i := 0
	g := displaywidth.StringGraphemes(s)
	for g.Next() {
		cw := DisplayWidth(g.Value())
		if w+cw > n && i > 0 {
			break
		}
		w += cw
		i += len(g.Value())
	}
	return s[:i], s[i:]
}

// groupedHeaders are the columns that hold counter values and deltas: on a
// terminal their numbers are grouped in thousands (1,234,567), as natscli's
// views do; sequences, depths and tiers are identifiers and stay as they
// are, and pipes and JSON get plain digits.
var groupedHeaders = map[string]bool{"VALUE": true, "NOW": true, "AFTER": true, "DELTA": true, "BEFORE": true, "CONTRIBUTES": true, "CHANGE": true}

// groupDigits groups the integer part of a decimal number in thousands:
// "1234567" is "1,234,567", "-1234.5" is "-1,234.5". Anything that is not
// such a number is returned as it is.
func groupDigits(s string) string {
	sign := ""
	digits := s
	if s != "" && (s[0] == '+' || s[0] == '-') {
		sign, digits = s[:1], s[1:]
	}
	frac := ""
	if i := strings.IndexByte(digits, '.'); i >= 0 {
		digits, frac = digits[:i], digits[i:]
		if strings.Trim(frac[1:], "0123456789") != "" {
			return s
		}
	}
	if len(digits) < 4 || strings.Trim(digits, "0123456789") != "" {
		return s
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	b.WriteString(frac)
	return b.String()
}
