package render

import (
	"bytes"
	"math/big"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/live"
)

func bigOf(s string) *big.Int { v, _ := new(big.Int).SetString(s, 10); return v }

// TestTableFitsWidth: at 60 columns no line of a get table is wider than
// 60; the widest column (the subject) is narrowed, keeping its end, and
// every value stays whole.
func TestTableFitsWidth(t *testing.T) {
	value := "12345678901234567890"
	list := []counters.Counter{
		{Subject: "count.europe.central.region.de.frankfurt.hits", Stream: "DE", Value: bigOf(value)},
		{Subject: "count.europe.central.region.pl.warsaw.hits", Stream: "PL", Value: bigOf("7")},
	}
	for width, wantSubject := range map[int]string{
		60: "frankfurt.hits", 50: "furt.hits", 0: "count.europe.central.region.de.frankfurt.hits",
		// Too narrow for the value and the headers: wider than asked,
		// never a cut value.
		30: "SUBJECT",
	} {
		var b bytes.Buffer
		p := Printer{W: &b, TTY: true, Width: width}
		if err := p.Counters(list, GetOptions{}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			if width >= 50 && DisplayWidth(line) > width {
				t.Errorf("width %d: line of %d columns: %q", width, DisplayWidth(line), line)
			}
		}
		// Whole, if on two lines under its row at 30 columns.
		if joined := strings.NewReplacer("│", "", " ", "", "\n", "", ",", "").Replace(out); !strings.Contains(joined, value) {
			t.Errorf("width %d: value cut:\n%s", width, out)
		}
		if !strings.Contains(out, wantSubject) {
			t.Errorf("width %d: the subject's end is gone:\n%s", width, out)
		}
	}
}

// TestTableWrapsProse: a column of prose (a problem's text) wraps at blanks
// instead of losing its start.
func TestTableWrapsProse(t *testing.T) {
	var b bytes.Buffer
	p := Printer{W: &b, TTY: true, Width: 50}
	rows := [][]string{{"error", "PL reaches counter stream GLOBAL by 2 paths (via EU, PL): its counts are added more than once"}}
	if err := p.Table([]string{"SEVERITY", "PROBLEM"}, rows); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if DisplayWidth(line) > 50 {
			t.Errorf("line of %d columns: %q", DisplayWidth(line), line)
		}
	}
	if !strings.Contains(b.String(), "PL reaches counter") || !strings.Contains(b.String(), "more than once") {
		t.Errorf("prose lost:\n%s", b.String())
	}
}

// TestTableVisible: a subject holding an escape sequence is shown, not
// obeyed, in a table.
func TestTableVisible(t *testing.T) {
	var b bytes.Buffer
	p := Printer{W: &b, TTY: true}
	list := []counters.Counter{{Subject: "evil\x1b[2J", Stream: "A", Value: bigOf("1")}, {Subject: "b", Stream: "A", Value: bigOf("2")}}
	if err := p.Counters(list, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\x1b") || !strings.Contains(b.String(), `evil\x1b[2J`) {
		t.Fatalf("table:\n%q", b.String())
	}
}

// TestCountersNaturalOrder: c2 before c10, in tables, rows and JSON.
func TestCountersNaturalOrder(t *testing.T) {
	list := []counters.Counter{
		{Subject: "c.1", Stream: "A", Value: bigOf("1")},
		{Subject: "c.10", Stream: "A", Value: bigOf("10")},
		{Subject: "c.2", Stream: "A", Value: bigOf("2")},
	}
	var b bytes.Buffer
	if err := (Printer{W: &b}).Counters(list, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "c.1\t1\nc.2\t2\nc.10\t10\n" {
		t.Fatalf("rows:\n%s", got)
	}
	if list[1].Subject != "c.10" {
		t.Fatal("the caller's list was reordered")
	}
}

// TestWatchFrameWideCharacters: East Asian wide characters take two
// columns; the VALUE column still lines up and no line is wider than the
// terminal.
func TestWatchFrameWideCharacters(t *testing.T) {
	rows := []live.Row{
		{Subject: "count.東京.hits", Stream: "JP", Value: bigOf("12345"), Change: bigOf("0"), Updated: watchNow},
		{Subject: "count.tokyo.hits", Stream: "JP", Value: bigOf("7"), Change: bigOf("0"), Updated: watchNow},
	}
	for _, width := range []int{100, 30} {
		frame := WatchFrame(WatchView{Patterns: []string{"count.>"}, Streams: []string{"JP"}, Total: 2, Rows: rows,
			Sort: live.BySubject, Now: watchNow, Width: width, Height: 20})
		lines := strings.Split(frame, "\n")
		var ends []int
		for _, l := range lines {
			if DisplayWidth(l) > width {
				t.Errorf("width %d: line of %d columns: %q", width, DisplayWidth(l), l)
			}
			for _, v := range []string{"12,345", "12345", " 7"} {
				if i := strings.Index(l, v); i >= 0 && strings.Contains(l, ".hits") {
					ends = append(ends, DisplayWidth(l[:i+len(v)]))
				}
			}
		}
		if len(ends) != 2 || ends[0] != ends[1] {
			t.Errorf("width %d: value columns end at %v:\n%s", width, ends, frame)
		}
	}
}

// TestTableGivesWayInOrder: on a narrowing terminal, prose wraps first (at
// clause ends), then timestamps lose the fraction of a second, then a wide
// value moves under its row, then prose does; subjects stay whole on one
// line throughout.
func TestTableGivesWayInOrder(t *testing.T) {
	header := []string{"SUBJECT", "TIME", "VALUE", "DETAIL"}
	// On a terminal a value is grouped in thousands.
	const big = "1,234,567,890,123,456,789,012,345,678,901,234,567,890"
	rows := [][]string{
		{"count.all.hits", "2026-11-23T02:57:32.486Z", "1234567890123456789012345678901234567890", "18 = direct 0 + sources 18; 3 messages from seq 1"},
		{"count.pl.hits", "2026-11-23T02:57:33.001Z", "10", "10 = direct 10; 1 message from seq 1"},
	}
	render := func(width int) string {
		var b bytes.Buffer
		if err := (Printer{W: &b, TTY: true, Width: width}).Table(header, rows, 2); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			if DisplayWidth(l) > width {
				t.Errorf("width %d: line of %d columns: %q", width, DisplayWidth(l), l)
			}
		}
		return b.String()
	}
	for _, tc := range []struct {
		width     int
		want, not []string
	}{
		// Everything fits on one line each.
		{220, []string{"02:57:32.486Z", "3 messages from seq 1 │", "│ " + big + " │"}, nil},
		// Prose wraps at its clause end; the rest stays.
		{138, []string{"│ 18 = direct 0 + sources 18;", "│ 3 messages from seq 1", "02:57:32.486Z"}, nil},
		// The fraction of a second goes before a value moves.
		{124, []string{"│ 2026-11-23T02:57:32Z │", big}, []string{".486Z"}},
		// The value has a line of its own under its row.
		{80, []string{" ↓ │", "│   VALUE: " + big}, nil},
		// Prose under its row, subjects and times still whole.
		{60, []string{"│ count.all.hits ", "│ 2026-11-23T02:57:32Z │", "DETAIL: 18 = direct 0 + sources 18;", "│ count.pl.hits "}, []string{"…"}},
	} {
		out := render(tc.width)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("width %d: no %q in\n%s", tc.width, w, out)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(out, w) {
				t.Errorf("width %d: %q in\n%s", tc.width, w, out)
			}
		}
	}
}

// TestWrapName: a subject wraps after a dot and keeps every character.
func TestWrapName(t *testing.T) {
	got := wrapName("w.europe.central.region.frankfurt.datacenter.widths", 30)
	if got != "w.europe.central.region.\nfrankfurt.datacenter.widths" {
		t.Fatalf("%q", got)
	}
	if got := wrapName("abcdefghij", 4); got != "abcd\nefgh\nij" {
		t.Fatalf("%q", got)
	}
}

func TestGroupDigits(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "999": "999", "1000": "1,000", "-1234567": "-1,234,567", "+1500": "+1,500",
		"1234.5": "1,234.5", "-": "-", "12a4": "12a4", "↓": "↓", "": "",
	} {
		if got := groupDigits(in); got != want {
			t.Errorf("groupDigits(%q) = %q, want %q", in, got, want)
		}
	}
	// Rates: plain digits, never an exponent.
	for in, want := range map[float64]string{0: "0", 250.25: "250.2", -0.5: "-0.5", 3.99e8: "399000000", 1e21: "1000000000000000000000"} {
		if got := formatRate(in); got != want {
			t.Errorf("formatRate(%g) = %q, want %q", in, got, want)
		}
	}
}
