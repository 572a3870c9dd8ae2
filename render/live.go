package render

import (
	"bufio"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/live"
	"github.com/jetcounter/counter/internal/terminal"
)

// WatchLineJSON is one line of `counter watch --json`. Value and delta are
// strings; delta is absent on a counter's first line.
type WatchLineJSON struct {
	Subject string `json:"subject"`
	Stream  string `json:"stream"`
	Value   string `json:"value"`
	Delta   string `json:"delta,omitempty"`
	Seq     uint64 `json:"seq"`
	Time    string `json:"time"`
}

// WatchLines writes JSON lines to a buffer the caller flushes whenever it
// has nothing more to write right away: each line reaches the reader
// without delay, and a burst costs one write, not one per line.
type WatchLines struct {
	bw  *bufio.Writer
	enc *jsonEncoder
	buf []byte
}

// NewWatchLines writes JSON lines to p.W.
func (p Printer) NewWatchLines() *WatchLines {
	return &WatchLines{bw: bufio.NewWriterSize(p.W, 64<<10), enc: newJSONEncoder(false)}
}

// Write buffers one line.
func (w *WatchLines) Write(l live.Line) error {
	if b, ok := appendWatchLine(w.buf[:0], l); ok {
		w.buf = b
		_, err := w.bw.Write(b)
		return err
	}
	out := WatchLineJSON{
		Subject: l.Subject,
		Stream:  l.Stream,
		Value:   l.Value.String(),
		Seq:     l.Seq,
		Time:    l.Time.UTC().Format(time.RFC3339Nano),
	}
	if l.Delta != nil {
		out.Delta = counters.Signed(l.Delta) // signed like incr and reset: "+3", "-2"
	}
	return w.enc.encode(w.bw, out)
}

// Flush writes out the buffered lines.
func (w *WatchLines) Flush() error { return w.bw.Flush() }

// appendWatchLine appends l as Write's encoder writes it, without
// reflection (a million first lines of a watch), when its text needs no
// escaping; ok is false otherwise.
func appendWatchLine(b []byte, l live.Line) (_ []byte, ok bool) {
	if !plainJSON(l.Subject) || !plainJSON(l.Stream) {
		return b, false
	}
	b = append(b, `{"subject":"`...)
	b = append(b, l.Subject...)
	b = append(b, `","stream":"`...)
	b = append(b, l.Stream...)
	b = append(b, `","value":"`...)
	b = l.Value.Append(b, 10)
	if l.Delta != nil {
		b = append(b, `","delta":"`...)
		b = append(b, counters.Signed(l.Delta)...)
	}
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, l.Seq, 10)
	b = append(b, `,"time":"`...)
	b = l.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\"}\n"...)
	return b, true
}

// WatchView is everything one frame of the live table shows.
type WatchView struct {
	Patterns []string
	Streams  []string
	Total    int        // counters seen
	Rows     []live.Row // already sorted; cut to fit
	Sort     live.SortBy
	// UpdateRate is live updates per second, all counters together.
	UpdateRate float64
	// Loading: the initial values are still arriving.
	Loading bool
	// Status is the connection's state when not plainly connected
	// ("disconnected: …"); empty otherwise.
	Status string
	Now    time.Time
	Width  int
	Height int
	Color  bool
	// Ended: the last view, left on the screen when watch has ended
	// (--duration): no key quits it any more.
	Ended bool
}

// watchHeaderLines is how many lines precede the rows: title, status,
// column header.
const watchHeaderLines = 3

// WatchRowsFit is how many counter rows a terminal of height lines shows.
func WatchRowsFit(height int) int { return max(height-watchHeaderLines, 0) }

// WatchFrame renders one frame of the live table as lines separated by
// "\n", none wider than v.Width, at most v.Height of them.
func WatchFrame(v WatchView) string {
	if v.Height > 0 && len(v.Rows) > WatchRowsFit(v.Height) {
		v.Rows = v.Rows[:WatchRowsFit(v.Height)]
	}
	var lines []string
	title := "watch " + terminal.Visible(strings.Join(v.Patterns, " "))
	if len(v.Streams) == 1 {
		title += "  stream " + v.Streams[0]
	} else {
		title += "  streams " + strings.Join(v.Streams, ",")
	}
	title += fmt.Sprintf("  counters %d/%d  %s updates/s", len(v.Rows), v.Total, groupDigits(formatRate(v.UpdateRate)))
	lines = append(lines, title)

	status := "sorted by " + string(v.Sort) + "  q quits"
	switch {
	case v.Status != "":
		status = v.Status
	case v.Loading:
		status = "loading counters…  q quits"
	}
	if v.Ended {
		status = strings.TrimSuffix(status, "  q quits") + "  (ended)"
	}
	lines = append(lines, status)

	multiStream := len(v.Streams) > 1
	header := []string{"SUBJECT"}
	if multiStream {
		header = append(header, "STREAM")
	}
	header = append(header, "VALUE", "CHANGE", "RATE/s", "LAST UPDATE")
	// Numbers are grouped in thousands, unless that costs a column.
	rowsOf := func(group func(string) string) [][]string {
		cells := [][]string{header}
		for _, r := range v.Rows {
			row := []string{terminal.Visible(r.Subject)}
			if multiStream {
				row = append(row, terminal.Visible(r.Stream))
			}
			row = append(row, group(r.Value.String()), group(signedChange(r.Change)), group(formatRate(r.Rate)), age(v.Now, r.Updated))
			cells = append(cells, row)
		}
		return cells
	}
	cells := rowsOf(groupDigits)
	if w := columnWidths(cells); v.Width > 0 && sum(w)-w[0]+min(w[0], 10)+2*(len(w)-1) > v.Width {
		cells = rowsOf(func(s string) string { return strings.ReplaceAll(s, ",", "") })
	}
	rightAligned := map[int]bool{}
	for i := len(header) - 4; i < len(header)-1; i++ {
		rightAligned[i] = true
	}
	widths := columnWidths(cells)
	// On a narrow terminal the subject shrinks first, keeping its end
	// (where subjects differ); then LAST UPDATE, RATE/s and CHANGE go, so
	// that a value is never cut (a cut number is a wrong number).
	over := func() int { return sum(widths) + 2*(len(widths)-1) - v.Width }
	if v.Width > 0 {
		if o := over(); o > 0 {
			widths[0] = max(widths[0]-o, min(widths[0], 10))
		}
		valueCol := len(header) - 4
		for over() > 0 && len(widths) > valueCol+1 {
			widths = widths[:len(widths)-1]
			for i := range cells {
				cells[i] = cells[i][:len(widths)]
			}
		}
	}
	for _, row := range cells {
		var sb strings.Builder
		for j, cell := range row {
			if j > 0 {
				sb.WriteString("  ")
			}
			if j == 0 {
				cell = truncateLeft(cell, widths[j])
			} else {
				cell = truncate(cell, widths[j])
			}
			pad := strings.Repeat(" ", max(widths[j]-DisplayWidth(cell), 0))
			switch {
			case rightAligned[j]:
				sb.WriteString(pad + cell)
			case j == len(row)-1:
				sb.WriteString(cell) // no trailing blanks
			default:
				sb.WriteString(cell + pad)
			}
		}
		lines = append(lines, sb.String())
	}
	for i, l := range lines {
		lines[i] = truncate(terminal.Visible(l), v.Width)
	}
	if v.Color {
		// After cutting, so that escape sequences stay whole.
		if v.Status != "" {
			lines[1] = "\x1b[31m" + lines[1] + "\x1b[0m"
		}
		lines[2] = "\x1b[1m" + lines[2] + "\x1b[0m"
	}
	if v.Height > 0 && len(lines) > v.Height {
		lines = lines[:v.Height] // a terminal shorter than the header
	}
	return strings.Join(lines, "\n")
}

func columnWidths(cells [][]string) []int {
	widths := make([]int, len(cells[0]))
	for _, row := range cells {
		for j, c := range row {
			widths[j] = max(widths[j], DisplayWidth(c))
		}
	}
	return widths
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

// truncateLeft keeps the end of s in n display columns, marking the cut
// with "…".
func truncateLeft(s string, n int) string { return cutLeft(s, n) }

// truncate cuts s to n display columns, marking the cut with "…".
func truncate(s string, n int) string { return cutRight(s, n) }

func signedChange(d *big.Int) string {
	if d.Sign() > 0 {
		return "+" + d.String()
	}
	return d.String()
}

// formatRate shows a rate in plain digits, never in scientific notation:
// one decimal below ten million, none above ("250.2", "1234.5",
// "398765432"). A terminal groups them (groupDigits).
func formatRate(r float64) string {
	switch {
	case r == 0:
		return "0"
	case math.Abs(r) < 1e7:
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return strconv.FormatFloat(r, 'f', 0, 64)
}

// age says how long ago t was, coarsely: "now", "12s ago", "4m ago",
// "3h ago", "2d ago".
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return "-"
	case d < time.Second:
		return "now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d ago"
}
