package counters

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/nats-io/nats.go"
)

// TestPublishErrorOutcomes: a publish nobody answered, once the gate has
// found the stream, is "no leader yet" (exit 4, retry), never "no stream";
// one that timed out after sending has an unknown outcome (exit 4) and is
// never reported as failed.
func TestPublishErrorOutcomes(t *testing.T) {
	c := &Client{timeout: 1e9, denials: &denials{inFlight: map[*context.CancelFunc]struct{}{}}}
	ctx := context.Background()
	one := big.NewInt(1)

	err := c.publishError(ctx, "a.b", one, nil, nats.ErrNoResponders)
	var nl *noLeaderError
	if !errors.As(err, &nl) || !errors.Is(err, errkind.ErrUnavailable) || errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("no responders: %v, want a no-leader errkind.ErrUnavailable", err)
	}
	nl.stream = "A"
	if want := "stream A has no leader yet"; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--id") {
		t.Errorf("no responders: %q, want %q and --id advice", err, want)
	}

	for _, cause := range []error{context.DeadlineExceeded, nats.ErrTimeout, nats.ErrConnectionClosed} {
		for _, id := range []string{"", "order-1"} {
			hdr := nats.Header{}
			if id != "" {
				hdr.Set(HeaderMsgID, id)
			}
			err := c.publishError(ctx, "a.b", one, hdr, cause)
			if !errors.Is(err, errkind.ErrUnknownOutcome) || !errors.Is(err, errkind.ErrUnavailable) {
				t.Fatalf("%v: %v, want errkind.ErrUnknownOutcome and errkind.ErrUnavailable", cause, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "may have been applied") || strings.Contains(msg, "fail") {
				t.Errorf("%v: %q, want 'may have been applied' and no 'fail'", cause, msg)
			}
			if id != "" && !strings.Contains(msg, `same --id "order-1"`) {
				t.Errorf("%v with an id: %q, want the id named", cause, msg)
			}
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.publishError(cancelled, "a.b", one, nil, context.Canceled); !errors.Is(err, errkind.ErrUnknownOutcome) || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("interrupted: %v, want an unknown outcome", err)
	}
}
