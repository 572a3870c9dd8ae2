package render

import (
	"bytes"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jetcounter/counter/internal/live"
)

var watchNow = time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)

func watchNum(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

func watchRows() []live.Row {
	return []live.Row{
		{Subject: "count.eu.hits", Stream: "EU", Value: watchNum("1234567890123456789012345678901234"), Change: watchNum("1500"), Rate: 250.25, Updated: watchNow.Add(-300 * time.Millisecond)},
		{Subject: "count.eu.orders", Stream: "EU", Value: watchNum("42"), Change: watchNum("-3"), Rate: -0.5, Updated: watchNow.Add(-12 * time.Second)},
		{Subject: "count.eu.signups", Stream: "EU", Value: watchNum("7"), Change: watchNum("0"), Rate: 0, Updated: watchNow.Add(-3 * time.Hour)},
		{Subject: "count.eu.errors", Stream: "EU", Value: watchNum("0"), Change: watchNum("0"), Rate: 0, Updated: watchNow.Add(-72 * time.Hour)},
	}
}

func TestWatchFrameGolden(t *testing.T) {
	base := WatchView{
		Patterns: []string{"count.eu.>"}, Streams: []string{"EU"}, Total: 4, Rows: watchRows(),
		Sort: live.BySubject, UpdateRate: 1234.5, Now: watchNow, Width: 100, Height: 20,
	}
	cases := map[string]func(v *WatchView){
		"wide":    func(v *WatchView) {},
		"loading": func(v *WatchView) { v.Loading = true; v.Rows = v.Rows[:1]; v.UpdateRate = 0 },
		"disconnected": func(v *WatchView) {
			v.Status = "disconnected (EOF), reconnecting…"
		},
		// Too narrow: the subject column gives way, then lines are cut.
		"narrow": func(v *WatchView) { v.Width = 60 },
		// Too short: rows that do not fit are left out.
		"short": func(v *WatchView) { v.Height = 5 },
		"streams": func(v *WatchView) {
			v.Streams = []string{"DE", "EU"}
			v.Rows = append(v.Rows[:1], live.Row{Subject: "count.eu.hits", Stream: "DE", Value: watchNum("9"), Change: watchNum("9"), Rate: 1e9, Updated: watchNow})
			v.Total = 100000
			v.Sort = live.ByRate
		},
		"empty": func(v *WatchView) { v.Rows = nil; v.Total = 0 },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			v := base
			v.Rows = watchRows()
			change(&v)
			got := WatchFrame(v)
			for i, line := range strings.Split(got, "\n") {
				if n := utf8.RuneCountInString(line); n > v.Width {
					t.Errorf("line %d is %d wide, terminal %d: %q", i, n, v.Width, line)
				}
				if i >= v.Height {
					t.Errorf("line %d beyond terminal height %d", i, v.Height)
				}
			}
			goldenWatch(t, filepath.Join("..", "testdata", "watch", name+".golden"), got+"\n")
		})
	}
}

func TestWatchFrameColor(t *testing.T) {
	v := WatchView{Patterns: []string{"a.>"}, Streams: []string{"A"}, Rows: watchRows()[:1], Total: 1,
		Sort: live.BySubject, Status: "disconnected, reconnecting…", Now: watchNow, Width: 30, Height: 10, Color: true}
	got := WatchFrame(v)
	lines := strings.Split(got, "\n")
	if !strings.HasPrefix(lines[1], "\x1b[31m") || !strings.HasSuffix(lines[1], "\x1b[0m") {
		t.Errorf("status not red: %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "\x1b[1m") || !strings.HasSuffix(lines[2], "\x1b[0m") {
		t.Errorf("column header not bold: %q", lines[2])
	}
}

// goldenWatch compares with (or, with -update, rewrites) a frame in
// testdata/watch.
func goldenWatch(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./render -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("frame differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestWatchLines(t *testing.T) {
	var buf bytes.Buffer
	w := Printer{W: &buf}.NewWatchLines()
	ts := time.Date(2026, 11, 23, 7, 0, 0, 123456789, time.FixedZone("X", 3600))
	lines := []live.Line{
		{Subject: "count.a", Stream: "C", Value: watchNum("123456789012345678901234567890123"), Seq: 7, Time: ts},
		{Subject: "count.<a&b>", Stream: "C", Value: watchNum("-5"), Delta: watchNum("-10"), Seq: 8, Time: ts},
		{Subject: "count.a", Stream: "C", Value: watchNum("123456789012345678901234567890123"), Delta: watchNum("0"), Seq: 9, Time: ts},
	}
	for _, l := range lines {
		if err := w.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len() != 0 {
		t.Fatalf("written before Flush: %q", buf.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"subject":"count.a","stream":"C","value":"123456789012345678901234567890123","seq":7,"time":"2026-11-23T06:00:00.123456789Z"}
{"subject":"count.<a&b>","stream":"C","value":"-5","delta":"-10","seq":8,"time":"2026-11-23T06:00:00.123456789Z"}
{"subject":"count.a","stream":"C","value":"123456789012345678901234567890123","delta":"+0","seq":9,"time":"2026-11-23T06:00:00.123456789Z"}
`
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestWatchFrameVisible: a subject or stream name holding ESC or BEL is
// drawn with visible escapes, never sent to the terminal raw.
func TestWatchFrameVisible(t *testing.T) {
	rows := watchRows()[:1]
	rows[0].Subject = "count.\x1b]0;owned\x07.\x1b[2J"
	rows[0].Stream = "E\x1bU"
	v := WatchView{Patterns: []string{"count.>"}, Streams: []string{"E\x1bU", "PL"}, Total: 1, Rows: rows,
		Sort: live.BySubject, Now: watchNow, Width: 200, Height: 20}
	got := WatchFrame(v)
	if strings.ContainsAny(got, "\x07") || strings.Contains(got, "\x1b]") || strings.Contains(got, "\x1b[2J") || strings.Contains(got, "E\x1bU") {
		t.Fatalf("control characters reached the frame: %q", got)
	}
	if !strings.Contains(got, `count.\x1b]0;owned\x07.\x1b[2J`) || !strings.Contains(got, `E\x1bU`) {
		t.Fatalf("subject and stream not shown with escapes: %q", got)
	}
}
