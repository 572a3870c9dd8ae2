package render

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/live"
)

// TestCounterWriterAsCounters: what CounterWriter streams is, byte for
// byte, what Counters prints for the same counters in the same order, in
// a pipe and as JSON: rows with and without a STREAM column, --sources
// rows, and JSON whose text needs escaping (the fast path and the
// encoder's meet in one array).
func TestCounterWriterAsCounters(t *testing.T) {
	at := time.Date(2026, 11, 23, 3, 0, 0, 123456000, time.FixedZone("X", 3600))
	// Already in natural order, so that Counters keeps this order too.
	list := []counters.Counter{
		{Subject: "c.1", Stream: "A", Value: bigOf("-7"), Seq: 3, Updated: at},
		{Subject: "c.2", Stream: "A", Value: bigOf("1234567890123456789012345678901234567890"), Seq: 9, Updated: at,
			Sources: counters.Sources{"DE": {"de.c": big.NewInt(5)}, "PL": {"pl.c": big.NewInt(10)}}},
		{Subject: "c.3.é\"\\<>&", Stream: "A", Value: bigOf("0"), Seq: 10, Updated: at.Add(time.Second)},
		{Subject: "c.4." + hostile, Stream: "B" + hostile, Value: bigOf("4"), Seq: 1, Updated: at,
			Sources: counters.Sources{"DE": {"de.c": big.NewInt(5)}}},
	}
	for _, tc := range []struct {
		name    string
		json    bool
		sources bool
		streams int
	}{
		{"rows", false, false, 1},
		{"rows with streams", false, false, 2},
		{"sources", false, true, 2},
		{"json", true, false, 2},
		{"json sources", true, true, 2},
	} {
		for _, n := range []int{len(list), 1, 0} {
			part := list[:n]
			switch {
			case !tc.json && tc.streams == 1:
				part = part[:min(n, 3)] // one stream: the rows of stream A
			case !tc.json && n == 1:
				// Counters shows a STREAM column only when the counters
				// it holds are of several streams; the writer, which
				// holds none, when the read spans several.
				continue
			}
			var want, got bytes.Buffer
			if err := (Printer{W: &want, JSON: tc.json}).Counters(part, GetOptions{Sources: tc.sources}); err != nil {
				t.Fatal(err)
			}
			w := Printer{W: &got, JSON: tc.json}.NewCounterWriter(GetOptions{Sources: tc.sources}, tc.streams)
			for _, c := range part {
				if err := w.Write(c); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%s, %d counters:\nstreamed %q\nCounters %q", tc.name, n, got.String(), want.String())
			}
			if w.Count() != len(part) {
				t.Errorf("%s: Count %d, want %d", tc.name, w.Count(), len(part))
			}
		}
	}
}

// TestCounterWriterAbort: a read that fails part way prints nothing when
// it fails within its first buffer, and leaves its JSON array open after,
// so that no parser takes the rows so far for the whole list.
func TestCounterWriterAbort(t *testing.T) {
	var out bytes.Buffer
	w := Printer{W: &out, JSON: true}.NewCounterWriter(GetOptions{}, 1)
	write := func(n int) {
		for i := range n {
			if err := w.Write(counters.Counter{Subject: "c." + strconv.Itoa(i), Stream: "A", Value: big.NewInt(1)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Within the first buffer: nothing is printed.
	write(2)
	w.Abort()
	if out.Len() != 0 {
		t.Fatalf("a read failed within its first buffer printed %q", out.String())
	}
	// Past it: what was written stays, and is no whole JSON array.
	w = Printer{W: &out, JSON: true}.NewCounterWriter(GetOptions{}, 1)
	write(2000)
	w.Abort()
	var v any
	if err := json.Unmarshal(out.Bytes(), &v); err == nil || !strings.HasPrefix(out.String(), `[{"subject":"c.0"`) {
		t.Fatalf("aborted output of %d bytes parses (%v)", out.Len(), err)
	}
}

// TestAuditRowsPiped: audit in a pipe writes the table's rows, tab
// separated, one by one: a row per counter that holds, one per problem,
// per problem not kept, and per warning; a tab or newline in a detail
// does not split its row.
func TestAuditRowsPiped(t *testing.T) {
	list := []history.CounterAudit{
		{Subject: "c.2", Stream: "A", Value: big.NewInt(7), Direct: big.NewInt(7), Messages: 2, FirstSeq: 3},
		{Subject: "c.10", Stream: "A", Value: big.NewInt(17), Direct: big.NewInt(17), Messages: 1, FirstSeq: 1, Complete: true,
			Problems:     []history.AuditProblem{{Seq: 3, Check: history.CheckChain, Message: "lost\tor\ndoubled", Expected: "14", Found: "17"}},
			MoreProblems: 2,
			Warnings:     []history.AuditProblem{{Check: history.CheckUpstream, Message: "behind"}}},
	}
	var out bytes.Buffer
	if err := (Printer{W: &out}).Audit(list); err != nil {
		t.Fatal(err)
	}
	want := "c.2\tA\tok\t\t\t7 = direct 7; 2 messages from seq 3 (older history purged)\n" +
		"c.10\tA\terror\tchain\t3\tlost or doubled (expected 14, found 17)\n" +
		"c.10\tA\terror\t\t\tand 2 more problems\n" +
		"c.10\tA\twarning\tupstream\t\tbehind\n"
	if out.String() != want {
		t.Fatalf("rows:\n%q\nwant\n%q", out.String(), want)
	}
}

// TestWatchLineFastPath: a watch line written without reflection is the
// encoder's, byte for byte; text that needs escaping takes the encoder.
func TestWatchLineFastPath(t *testing.T) {
	at := time.Date(2026, 11, 23, 3, 0, 0, 120000000, time.FixedZone("X", -3600))
	for _, l := range []live.Line{
		{Subject: "c.1", Stream: "S", Value: big.NewInt(0), Seq: 1, Time: at},
		{Subject: "c.1", Stream: "S", Value: bigOf("-123456789012345678901234567890"), Delta: big.NewInt(0), Seq: 2, Time: at},
		{Subject: "c.<&>", Stream: "S", Value: big.NewInt(5), Delta: big.NewInt(-7), Seq: 1 << 40, Time: time.Time{}},
		{Subject: "c." + hostile, Stream: "S\"", Value: big.NewInt(5), Delta: big.NewInt(3), Seq: 3, Time: at},
	} {
		var fast, slow bytes.Buffer
		w := Printer{W: &fast, JSON: true}.NewWatchLines()
		if err := w.Write(l); err != nil || w.Flush() != nil {
			t.Fatal(err)
		}
		out := WatchLineJSON{Subject: l.Subject, Stream: l.Stream, Value: l.Value.String(), Seq: l.Seq, Time: l.Time.UTC().Format(time.RFC3339Nano)}
		if l.Delta != nil {
			out.Delta = counters.Signed(l.Delta)
		}
		if err := newJSONEncoder(false).encode(&slow, out); err != nil {
			t.Fatal(err)
		}
		if fast.String() != slow.String() {
			t.Errorf("line\n%q\nencoder\n%q", fast.String(), slow.String())
		}
	}
}
