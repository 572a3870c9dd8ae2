package history

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestAnswersCheckedFindsGaps: the checked read (used when messages are
// removed while reading) gives no value where the message right after the
// one at or before the moment was deleted, and the value elsewhere; the
// same for a counter whose older messages were purged.
func TestAnswersCheckedFindsGaps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nc := testserver.Connect(t, testserver.Single(t))
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	js := c.JetStream()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "G", Subjects: []string{"g.>"}, AllowMsgCounter: true, AllowDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	incr := func(subject, delta string) *jetstream.PubAck {
		m := nats.NewMsg(subject)
		m.Header.Set(counters.HeaderIncr, delta)
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	incr("g.gap", "+1")
	incr("g.ok", "+1")
	mid := incr("g.gap", "+2") // deleted below: the last at the moment
	incr("g.old", "+5")
	time.Sleep(2 * time.Millisecond)
	at := time.Now()
	time.Sleep(2 * time.Millisecond)
	incr("g.gap", "+4")
	incr("g.ok", "+1")
	incr("g.old", "+1")
	if err := s.DeleteMsg(ctx, mid.Sequence); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject("g.old"), jetstream.WithPurgeSequence(7)); err != nil {
		t.Fatal(err)
	}
	got, err := answersChecked(ctx, c, "G", []string{"g.>"}, nil, []string{"g.gap", "g.ok", "g.old"}, [][]string{{"g.>"}}, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Missing != MissingGap || got[0].Seq != 1 ||
		got[1].Value == nil || got[1].Value.String() != "1" || got[2].Missing != MissingPurged || got[2].FirstSeq != 7 {
		t.Fatalf("checked answers %+v", got)
	}
}
