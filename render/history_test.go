package render

import (
	"bytes"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/history"
)

func historyFixture() []history.HistoryMsg {
	at := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	return []history.HistoryMsg{
		{Stream: "EU", Seq: 8, Time: at, Subject: "count.eu.hits", Value: big.NewInt(0), Delta: big.NewInt(-12),
			Sources: counters.Sources{"DE": {"count.de.hits": big.NewInt(12)}}, FirstRetained: true,
			ResetReason: "double count\x1b[2J", ResetBy: "ops@host"},
		{Stream: "EU", Seq: 9, Time: at.Add(1500 * time.Millisecond), Subject: "count.eu.hits", Value: big.NewInt(5), Delta: big.NewInt(5),
			Sources: counters.Sources{"DE": {"count.de.hits": big.NewInt(17)}},
			Origin:  history.Origin{Key: "DE:Ab3dEf9h", Stream: "DE@leaf", Subject: "count.de.hits", Seq: 31}, MsgID: "a\tb"},
		{Stream: "EU", Seq: 10, Time: at.Add(2 * time.Second), Subject: "count.eu.hits", Err: errors.New("message is not a counter value")},
	}
}

func writeHistory(t *testing.T, p Printer) string {
	t.Helper()
	var buf bytes.Buffer
	p.W = &buf
	w := p.NewHistory()
	for _, m := range historyFixture() {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestHistoryTable(t *testing.T) {
	out := writeHistory(t, Printer{TTY: true})
	golden(t, "history-tty.golden", []byte(out))
	if strings.Contains(out, "\x1b") {
		t.Fatal("an escape sequence from a header reached the terminal")
	}
}

func TestHistoryTSVAndJSON(t *testing.T) {
	tsv := writeHistory(t, Printer{})
	want := "8\t2026-11-23T03:00:00Z\t-12\t0\tdirect\tretained history starts here (older messages were purged); reset: double count\x1b[2J (by ops@host)\n" +
		"9\t2026-11-23T03:00:01.5Z\t+5\t5\tDE@leaf:count.de.hits\tid a b\n" +
		"10\t2026-11-23T03:00:02Z\t?\t?\tdirect\tunreadable: message is not a counter value\n"
	if tsv != want {
		t.Fatalf("TSV:\n%q\nwant\n%q", tsv, want)
	}
	js := writeHistory(t, Printer{JSON: true})
	lines := strings.Split(strings.TrimSuffix(js, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d JSON lines", len(lines))
	}
	for _, want := range []string{
		`{"subject":"count.eu.hits","stream":"EU","seq":8,"time":"2026-11-23T03:00:00Z","delta":"-12","value":"0","origin":"direct","sources":{"DE":{"count.de.hits":"12"}},"reset_reason":"double count\u001b[2J","reset_by":"ops@host","first_retained":true,"purged_before":true}`,
		`{"subject":"count.eu.hits","stream":"EU","seq":9,"time":"2026-11-23T03:00:01.5Z","delta":"+5","value":"5","origin":"source","source":"DE@leaf","source_key":"DE:Ab3dEf9h","source_subject":"count.de.hits","source_seq":31,"sources":{"DE":{"count.de.hits":"17"}},"msg_id":"a\tb"}`,
		`{"subject":"count.eu.hits","stream":"EU","seq":10,"time":"2026-11-23T03:00:02Z","delta":"","value":"","origin":"direct","error":"message is not a counter value"}`,
	} {
		if !strings.Contains(js, want+"\n") {
			t.Errorf("JSON lacks\n%s\nin\n%s", want, js)
		}
	}
}

func TestAuditOutput(t *testing.T) {
	list := []history.CounterAudit{
		{Subject: "count.eu.hits", Stream: "EU", Messages: 3, FirstSeq: 8, LastSeq: 10, Value: big.NewInt(5), Direct: big.NewInt(-12),
			Sources:  counters.Sources{"DE": {"count.de.hits": big.NewInt(17)}},
			Warnings: []history.AuditProblem{{Check: history.CheckUpstream, Message: "behind: source DE count.de.hits is 18, last seen 17", Expected: "18", Found: "17"}}},
		{Subject: "x\x1b", Stream: "C", Messages: 2, FirstSeq: 1, LastSeq: 2, Complete: true, Value: big.NewInt(9), Direct: big.NewInt(9),
			Problems: []history.AuditProblem{{Seq: 2, Check: history.CheckChain, Message: "value 9 is not ...", Expected: "3", Found: "9"}}, MoreProblems: 4},
	}
	var buf bytes.Buffer
	if err := (Printer{W: &buf, TTY: true}).Audit(list); err != nil {
		t.Fatal(err)
	}
	golden(t, "audit-tty.golden", buf.Bytes())
	buf.Reset()
	if err := (Printer{W: &buf}).Audit(list); err != nil {
		t.Fatal(err)
	}
	want := "count.eu.hits\tEU\tok\t\t\t5 = direct -12 + sources 17; 3 messages from seq 8 (older history purged)\n" +
		"count.eu.hits\tEU\twarning\tupstream\t\tbehind: source DE count.de.hits is 18, last seen 17 (expected 18, found 17)\n" +
		"x\x1b\tC\terror\tchain\t2\tvalue 9 is not ... (expected 3, found 9)\n" +
		"x\x1b\tC\terror\t\t\tand 4 more problems\n"
	if buf.String() != want {
		t.Fatalf("TSV:\n%q\nwant\n%q", buf.String(), want)
	}
	buf.Reset()
	if err := (Printer{W: &buf, JSON: true}).Audit(list); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 || !strings.Contains(buf.String(), `"ok":false,"messages":2,`) ||
		!strings.Contains(buf.String(), `"problems":[{"seq":2,"check":"chain","message":"value 9 is not ...","expected":"3","found":"9"}],"more_problems":4,"warnings":[]}`) {
		t.Fatalf("JSON:\n%s", buf.String())
	}
}

func TestAuditTableCollapsesWhatHolds(t *testing.T) {
	var list []history.CounterAudit
	for i := range 60 {
		list = append(list, history.CounterAudit{Subject: "c." + strings.Repeat("x", i%3+1), Stream: "C", Messages: 1, FirstSeq: 1, Complete: true, Value: big.NewInt(1), Direct: big.NewInt(1)})
	}
	list[7].Problems = []history.AuditProblem{{Seq: 3, Check: history.CheckChain, Message: "broken"}}
	var buf bytes.Buffer
	if err := (Printer{W: &buf, TTY: true}).Audit(list); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\n") != 6 || !strings.Contains(out, "broken") || !strings.Contains(out, "59 counters hold (a pipe or --json lists each)") {
		t.Fatalf("terminal table:\n%s", out)
	}
	buf.Reset()
	if err := (Printer{W: &buf}).Audit(list); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\tok\t"); n != 59 {
		t.Fatalf("pipe lists %d counters that hold, want 59", n)
	}
}
