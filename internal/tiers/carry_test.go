package tiers_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
	"github.com/jetcounter/counter/internal/tiers"
)

func digits(n int) *big.Int {
	v, _ := new(big.Int).SetString("1"+strings.Repeat("0", n-1), 10)
	return v
}

// checkedIncr is what counter incr does: the carry check, then the
// increment.
func checkedIncr(c *counters.Client, subject string, delta *big.Int) (*counters.IncrResult, error) {
	if err := tiers.CheckCarried(ctx, c, subject, delta); err != nil {
		return nil, err
	}
	return c.Incr(ctx, subject, delta, "")
}

// TestIncrRefusesWhatAggregatesCannotCarry: a delta (or the value it leads
// to) with more digits than an aggregate above can store in its sourced
// update's headers is refused before anything is written; it would stop
// that source for every later counter, silently.
func TestIncrRefusesWhatAggregatesCannotCarry(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.EUTiers(t, c, 1) // EU has 2 sources, WORLD 1
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "SOLO", Subjects: []string{"solo.>"}})
	limit := counters.MaxCarriedDigits(2, len("DE")+20, len("count.de.big"))
	if limit < 20000 || limit > 22000 {
		t.Fatalf("limit with 2 sources = %d digits", limit)
	}

	_, err := checkedIncr(c, "count.de.big", digits(limit+1))
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "more than aggregate EU above could carry") {
		t.Fatalf("incr of %d digits: %v", limit+1, err)
	}
	if n := countertest.SubjectMsgs(t, c.Conn(), "DE", "count.de.big"); n != 0 {
		t.Fatalf("DE holds %d messages after a refused increment", n)
	}
	// The resulting value counts too: two increments that each fit but
	// together do not.
	half := digits(limit) // times 9: limit digits; twice that: limit+1
	resetIncrBig(t, c, "count.de.sum", new(big.Int).Mul(half, big.NewInt(9)))
	if _, err := checkedIncr(c, "count.de.sum", new(big.Int).Mul(half, big.NewInt(9))); !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("increment to %d digits: %v", limit+1, err)
	}

	// With nothing above, the stream takes it; below the bound, every tier does.
	if _, err := checkedIncr(c, "solo.big", digits(limit+1)); err != nil {
		t.Fatal(err)
	}
	ok := digits(limit - 10)
	resetIncrBig(t, c, "count.de.ok", ok)
	countertest.WaitValue(t, c, "EU", "count.eu.ok", ok.String())
	countertest.WaitValue(t, c, "WORLD", "count.world.ok", ok.String())
}

func resetIncrBig(t *testing.T, c *counters.Client, subject string, delta *big.Int) {
	t.Helper()
	if _, err := checkedIncr(c, subject, delta); err != nil {
		t.Fatalf("incr %s: %v", subject, err)
	}
}
