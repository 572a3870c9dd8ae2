package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/streams"
)

func bigPlan(n int) *streams.UpdatePlan {
	plan := &streams.UpdatePlan{Stream: "EU", Exists: true, Changes: []streams.ConfigChange{{
		Field: "source", Op: "add", Item: "FR:count.fr.>:count.eu.>", Effect: "adds", Delta: big.NewInt(int64(n)), Counted: n,
	}}}
	for i := range n {
		plan.Counters = append(plan.Counters, streams.CounterEffect{
			Subject: fmt.Sprintf("count.eu.%02d", i), Delta: big.NewInt(1), After: big.NewInt(1),
			Above: []counters.PlannedTier{{Stream: "GLOBAL", Subject: fmt.Sprintf("count.all.%02d", i), Depth: 1, Now: big.NewInt(5), After: big.NewInt(6)}},
		})
	}
	return plan
}

// TestUpdatePlanSummarised: a person sees 20 counters and a count of the
// rest; --dry-run (limit 0) and JSON show every counter, values as strings.
func TestUpdatePlanSummarised(t *testing.T) {
	var b bytes.Buffer
	if err := (Printer{W: &b}).UpdatePlan(bigPlan(25), "", 20); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "count.eu.19\tEU\t0\t-\t+1\t1\n") || strings.Contains(out, "count.eu.20") ||
		!strings.Contains(out, "count.all.19\tGLOBAL\t1\t5\t+1\t6\n") ||
		!strings.HasSuffix(out, "... and 5 more counters (the whole plan: --dry-run)\n") {
		t.Fatalf("summarised plan:\n%s", out)
	}
	b.Reset()
	if err := (Printer{W: &b}).UpdatePlan(bigPlan(25), "would update", 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "count.eu.24") || strings.Contains(b.String(), "more counters") {
		t.Fatalf("whole plan:\n%s", b.String())
	}
	b.Reset()
	if err := (Printer{W: &b, JSON: true}).UpdatePlan(bigPlan(25), "would update", 20); err != nil {
		t.Fatal(err)
	}
	var got UpdateJSON
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Counters) != 25 || got.Counters[0].Value != nil || got.Counters[0].Delta != "+1" ||
		*got.Counters[0].Above[0].Value != "5" || got.Counters[0].Above[0].After != "6" || got.Changes[0].Delta != "+25" {
		t.Fatalf("JSON plan: %s", b.String())
	}
}

// TestUpdatePlanVisible: subjects from the server cannot drive a terminal.
func TestUpdatePlanVisible(t *testing.T) {
	plan := bigPlan(1)
	plan.Counters[0].Subject = "count.eu.\x1b]0;pwned\x07"
	var b bytes.Buffer
	if err := (Printer{W: &b, TTY: true}).UpdatePlan(plan, "", 20); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b.String(), "\x1b\x07") || !strings.Contains(b.String(), `count.eu.\x1b]0;pwned\x07`) {
		t.Fatalf("terminal output:\n%q", b.String())
	}
}
