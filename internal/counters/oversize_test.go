package counters_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/bulk"
	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

func digits(n int) *big.Int {
	v, _ := new(big.Int).SetString("1"+strings.Repeat("0", n-1), 10)
	return v
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

	_, err := c.Incr(ctx, "count.de.big", digits(limit+1), "")
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
	if _, err := c.Incr(ctx, "count.de.sum", new(big.Int).Mul(half, big.NewInt(9)), ""); !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("increment to %d digits: %v", limit+1, err)
	}

	// With nothing above, the stream takes it; below the bound, every tier does.
	if _, err := c.Incr(ctx, "solo.big", digits(limit+1), ""); err != nil {
		t.Fatal(err)
	}
	ok := digits(limit - 10)
	resetIncrBig(t, c, "count.de.ok", ok)
	countertest.WaitValue(t, c, "EU", "count.eu.ok", ok.String())
	countertest.WaitValue(t, c, "WORLD", "count.world.ok", ok.String())
}

func resetIncrBig(t *testing.T, c *counters.Client, subject string, delta *big.Int) {
	t.Helper()
	if _, err := c.Incr(ctx, subject, delta, ""); err != nil {
		t.Fatalf("incr %s: %v", subject, err)
	}
}

// TestIncrAtStreamSizeLimit: the stream's max_msg_size covers the whole
// stored message, so a counter can grow into it, after which even +1 is
// refused. That is the counter at its stream's limit (exit 1, naming the
// limit and the counter), not a delta too large (exit 2).
func TestIncrAtStreamSizeLimit(t *testing.T) {
	t.Parallel()
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "LIM", Subjects: []string{"lim.>"}})
	nines := new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(150), nil), big.NewInt(1))
	if _, err := c.Incr(ctx, "lim.a", nines, ""); err != nil {
		t.Fatal(err)
	}
	info, err := c.StreamInfo(ctx, "LIM")
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.MaxMsgSize = 170 // the next value's message (151 digits) passes it
	if _, err := c.JetStream().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	_, err = c.Incr(ctx, "lim.a", big.NewInt(1), "")
	if err == nil || errkind.Of(err) != nil {
		t.Fatalf("+1 at the limit: %v (kind %v); want an error of no kind (exit 1)", err, errkind.Of(err))
	}
	for _, want := range []string{"lim.a", "max_msg_size of 170 bytes", "nothing was applied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("+1 at the limit: %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "delta is too large") {
		t.Errorf("+1 at the limit blames the delta: %v", err)
	}
	res, err := bulk.Bulk(ctx, c, strings.NewReader("lim.a 1\n"), bulk.BulkOptions{})
	if err != nil || res.Failed != 1 || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Error(), "max_msg_size of 170 bytes") {
		t.Fatalf("the same line through bulk: %+v, %v", res, err)
	}
}
