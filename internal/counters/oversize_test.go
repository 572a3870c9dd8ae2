package counters_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/bulk"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

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
