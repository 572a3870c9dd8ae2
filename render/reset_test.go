package render

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/jetcounter/counter/internal/reset"
)

// TestResetResultsOutcomes: every PURGED value the table can show, and the
// JSON leaves out what is not known (after of an unknown outcome).
func TestResetResultsOutcomes(t *testing.T) {
	results := []reset.ResetResult{
		{Subject: "a", Stream: "S", Outcome: reset.ResetDone, Before: big.NewInt(5), Delta: big.NewInt(-5), After: new(big.Int), Rounds: 1, Purged: true},
		{Subject: "b", Stream: "S", Outcome: reset.ResetDone, Before: big.NewInt(5), Delta: big.NewInt(-5), After: new(big.Int), Rounds: 1, PurgeError: errors.New("denied")},
		{Subject: "c", Stream: "S", Outcome: reset.ResetUnchanged, Before: new(big.Int), Delta: new(big.Int), After: new(big.Int)},
		{Subject: "d", Stream: "S", Outcome: reset.ResetFailed, Before: big.NewInt(5), Err: errors.New("denied")},
		{Subject: "e", Stream: "S", Outcome: reset.ResetUnknown, Before: big.NewInt(5), Unacked: big.NewInt(-5), Err: errors.New("no ack")},
		{Subject: "f", Stream: "S", Outcome: reset.ResetSkipped, Err: errors.New("interrupted")},
		{Subject: "g", Stream: "EU", Outcome: reset.ResetDone, Before: big.NewInt(5), Delta: big.NewInt(-5), After: new(big.Int), Rounds: 1,
			PurgeError: fmt.Errorf("%w: source PL has not delivered anything to aggregate EU yet", reset.ErrPurgeSkipped)},
	}
	var out bytes.Buffer
	if err := (Printer{W: &out}).ResetResults(results); err != nil {
		t.Fatal(err)
	}
	want := "a\tS\t5\t-5\t0\t1\tyes\n" +
		"b\tS\t5\t-5\t0\t1\tno\n" +
		"c\tS\t0\t+0\t0\t0\t-\n" +
		"d\tS\t5\t\t\t0\tFAILED\n" +
		"e\tS\t5\t\t\t0\tUNKNOWN\n" +
		"f\tS\t\t\t\t0\tSKIPPED\n" +
		"g\tEU\t5\t-5\t0\t1\tkept\n"
	if out.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	if err := (Printer{W: &out, JSON: true}).ResetResults(results[4:5]); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `{"results":[{"subject":"e","stream":"S","outcome":"unknown","before":"5","unacked":"-5","rounds":0,"purged":false,"error":"no ack"}]}`+"\n" {
		t.Fatalf("JSON %s", got)
	}
}

// TestResetResultsKeptJSON: a purge skipped at an aggregate is purged:false
// with its reason, and the outcome is still reset.
func TestResetResultsKeptJSON(t *testing.T) {
	var out bytes.Buffer
	r := reset.ResetResult{Subject: "g", Stream: "EU", Outcome: reset.ResetDone, Before: big.NewInt(5), Delta: big.NewInt(-5), After: new(big.Int), Rounds: 1,
		PurgeError: fmt.Errorf("%w: source PL has not delivered anything to aggregate EU yet", reset.ErrPurgeSkipped)}
	if err := (Printer{W: &out, JSON: true}).ResetResults([]reset.ResetResult{r}); err != nil {
		t.Fatal(err)
	}
	want := `{"results":[{"subject":"g","stream":"EU","outcome":"reset","before":"5","delta":"-5","after":"0","rounds":1,"purged":false,"purge_error":"purge skipped: source PL has not delivered anything to aggregate EU yet"}]}` + "\n"
	if got := out.String(); got != want {
		t.Fatalf("JSON %s", got)
	}
}
