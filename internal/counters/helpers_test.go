package counters_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// newClient connects a counters client to s with default options.
func newClient(t testing.TB, s *server.Server) *counters.Client {
	t.Helper()
	c, err := counters.New(testserver.Connect(t, s), counters.Options{})
	if err != nil {
		t.Fatalf("counters.New: %v", err)
	}
	return c
}

// mustCreate makes a counter stream through the code under test.
func mustCreate(t testing.TB, c *counters.Client, spec counters.StreamSpec) {
	t.Helper()
	res, err := c.Create(context.Background(), spec, counters.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", spec.Name, err)
	}
	if res.Action != "created" {
		t.Fatalf("create %s: action %q, want created", spec.Name, res.Action)
	}
}

// seed sets PREFIX.i to i for i in 1..n with pipelined increments and checks
// every acknowledgement. A long stall wait lets a slow (-race) server catch up
// instead of failing the publish.
func seed(t testing.TB, nc *nats.Conn, prefix string, n int) {
	t.Helper()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		t.Fatal(err)
	}
	acks := make([]jetstream.PubAckFuture, 0, n)
	for i := 1; i <= n; i++ {
		msg := nats.NewMsg(prefix + "." + strconv.Itoa(i))
		msg.Header.Set(counters.HeaderIncr, "+"+strconv.Itoa(i))
		f, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(30*time.Second))
		if err != nil {
			t.Fatalf("seed %s: publish %d: %v", prefix, i, err)
		}
		acks = append(acks, f)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		t.Fatalf("seed %s: %d acks still pending", prefix, js.PublishAsyncPending())
	}
	for i, f := range acks {
		select {
		case err := <-f.Err():
			t.Fatalf("seed %s.%d: %v", prefix, i+1, err)
		case <-f.Ok():
		}
	}
}

// waitValue polls a counter until it equals want.
func waitValue(t *testing.T, c *counters.Client, stream, subject, want string) counters.Counter {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for {
		got, err := c.Get(context.Background(), []string{subject}, counters.GetOptions{Stream: stream, Sources: true})
		if err == nil && len(got) == 1 {
			if got[0].Value.String() == want {
				return got[0]
			}
			last = got[0].Value.String()
		} else {
			last = fmt.Sprintf("%d results, err %v", len(got), err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s: still %s, want %s", subject, stream, last, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
