package render

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/reset"
)

// TestUndoPlanAndResults: the plan's rows (the counter with the reset it
// undoes, then each tier above with what it gains), every RESULT value,
// and the JSON of a refused undo.
func TestUndoPlanAndResults(t *testing.T) {
	r := &reset.ResetRecord{Stream: "DE", Seq: 4, Time: time.Unix(0, 0), Run: "R1", Reason: "bad\tday", Total: big.NewInt(-5)}
	plan := &reset.UndoPlan{Targets: []reset.PlannedUndo{{
		ResetTarget: reset.ResetTarget{Subject: "count.de.hits", Stream: "DE"}, Reset: r,
		Value: big.NewInt(2), Delta: big.NewInt(5), After: big.NewInt(7),
		Above: []counters.PlannedTier{{Stream: "EU", Subject: "count.eu.hits", Depth: 1, Now: big.NewInt(6), After: big.NewInt(11)}, {Stream: "W", Subject: "count.w.hits", Depth: 2, After: big.NewInt(5)}},
	}}}
	var out bytes.Buffer
	if err := (Printer{W: &out}).UndoPlan(plan); err != nil {
		t.Fatal(err)
	}
	want := "count.de.hits\tDE\t0\t2\t+5\t7\treset seq 4 run R1 (bad day)\n" +
		"count.eu.hits\tEU\t1\t6\t+5\t11\t\n" +
		"count.w.hits\tW\t2\t-\t+5\t5\t\n"
	if out.String() != want {
		t.Fatalf("plan\n%q\nwant\n%q", out.String(), want)
	}

	results := []reset.UndoResult{
		{Subject: "a", Stream: "S", Reset: *r, Outcome: reset.UndoDone, Before: big.NewInt(2), Delta: big.NewInt(5), After: big.NewInt(7), Seq: 9},
		{Subject: "b", Stream: "S", Reset: *r, Outcome: reset.UndoRefused, UndoneAt: 8, Err: errors.New("already undone at seq 8")},
		{Subject: "c", Stream: "S", Reset: *r, Outcome: reset.UndoFailed, Err: errors.New("denied")},
		{Subject: "d", Stream: "S", Reset: *r, Outcome: reset.UndoUnknown, Unacked: big.NewInt(5), Err: errors.New("no ack")},
		{Subject: "e", Stream: "S", Reset: *r, Outcome: reset.UndoSkipped, Err: errors.New("interrupted")},
	}
	out.Reset()
	if err := (Printer{W: &out}).UndoResults(results); err != nil {
		t.Fatal(err)
	}
	want = "a\tS\t2\t+5\t7\t9\tundone\n" +
		"b\tS\t\t\t\t8\talready-undone\n" +
		"c\tS\t\t\t\t\tFAILED\n" +
		"d\tS\t\t\t\t\tUNKNOWN\n" +
		"e\tS\t\t\t\t\tSKIPPED\n"
	if out.String() != want {
		t.Fatalf("results\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	if err := (Printer{W: &out, JSON: true}).UndoResults(results[1:2]); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `{"results":[{"subject":"b","stream":"S","outcome":"already-undone","undoes":{"stream":"DE","seq":4,"time":"1970-01-01T00:00:00Z","run":"R1","reason":"bad\tday","total":"-5"},"undone_at":8,"error":"already undone at seq 8"}]}`+"\n" {
		t.Fatalf("JSON %s", got)
	}
}

// TestPastCounters: a bare value for one literal, rows with the message
// each value was read from, and the JSON of a value that is not known.
func TestPastCounters(t *testing.T) {
	at := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	known := history.PastCounter{Counter: counters.Counter{Subject: "c2", Stream: "S", Value: big.NewInt(5), Seq: 3, Updated: at.Add(-time.Minute)}}
	gone := history.PastCounter{Counter: counters.Counter{Subject: "c10", Stream: "S"}, Missing: history.MissingPurged, FirstSeq: 9, FirstTime: at.Add(time.Hour)}
	var out bytes.Buffer
	if err := (Printer{W: &out}).PastCounters([]history.PastCounter{known}, at, GetOptions{Single: true}); err != nil || out.String() != "5\n" {
		t.Fatalf("single: %v %q", err, out.String())
	}
	out.Reset()
	if err := (Printer{W: &out}).PastCounters([]history.PastCounter{gone, known}, at, GetOptions{}); err != nil || out.String() != "c2\t5\tS\t3\t2026-11-23T01:59:00Z\n" {
		t.Fatalf("rows: %v %q", err, out.String())
	}
	out.Reset()
	if err := (Printer{W: &out, JSON: true}).PastCounters([]history.PastCounter{gone, known}, at, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	want := `[{"subject":"c2","stream":"S","at":"2026-11-23T02:00:00Z","value":"5","seq":3,"updated":"2026-11-23T01:59:00Z"},` +
		`{"subject":"c10","stream":"S","at":"2026-11-23T02:00:00Z","value":null,"missing":"purged","first_seq":9,"first_time":"2026-11-23T03:00:00Z"}]` + "\n"
	if out.String() != want {
		t.Fatalf("JSON\n%s\nwant\n%s", out.String(), want)
	}
}

// TestHistoryUndoNotes: a reset message names its run; an undo names the
// reset it reverses, in the NOTE column and in the JSON.
func TestHistoryUndoNotes(t *testing.T) {
	rst := history.HistoryMsg{Subject: "x", Stream: "DE", Seq: 4, Value: new(big.Int), Delta: big.NewInt(-5),
		ResetReason: "INC-7", ResetBy: "ops@vm", ResetRun: "R1", ResetTotal: big.NewInt(-5)}
	undo := history.HistoryMsg{Subject: "x", Stream: "DE", Seq: 6, Value: big.NewInt(7), Delta: big.NewInt(5), MsgID: "counter-undo-DE-4",
		Undo: &history.UndoRef{Stream: "DE", Seq: 4, Run: "R1", ResetReason: "INC-7", By: "me@vm", Reason: "wrong region"}}
	if got := historyNotes(rst); len(got) != 1 || got[0] != "reset: INC-7 (by ops@vm, run R1)" {
		t.Fatalf("reset notes %q", got)
	}
	if got := historyNotes(undo); len(got) != 2 || got[0] != "undo of reset DE seq 4 (INC-7), run R1, by me@vm: wrong region" {
		t.Fatalf("undo notes %q", got)
	}
	j := historyJSON(undo)
	if j.UndoStream != "DE" || j.UndoSeq != 4 || j.UndoRun != "R1" || j.UndoResetReason != "INC-7" || j.UndoBy != "me@vm" || j.UndoReason != "wrong region" {
		t.Fatalf("undo JSON %+v", j)
	}
	if j := historyJSON(rst); j.ResetRun != "R1" || j.ResetTotal != "-5" {
		t.Fatalf("reset JSON %+v", j)
	}
}
