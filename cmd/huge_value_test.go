package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/streams"
)

// TestHugeValueRefused: a 7 MiB decimal held by a stream that reads as
// counters (here a mirror, whose origin was later re-made as a counter
// stream) is refused at once by every verb that reads values, naming the
// counter; parsing it took minutes (big.Int is quadratic) and no signal
// was heard meanwhile.
func TestHugeValueRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(o *server.Options) { o.MaxPayload = 8 << 20 })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}}); err != nil {
		t.Fatal(err)
	}
	body := `{"val":"` + strings.Repeat("9", 7<<20) + `"}`
	if _, err := js.Publish(ctx, "raw.big", []byte(body)); err != nil {
		t.Fatal(err)
	}
	mir, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "MIR", Mirror: &jetstream.StreamSource{Name: "RAW"}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		info, err := mir.Info(ctx)
		if err == nil && info.State.Msgs == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror never copied the message: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := js.DeleteStream(ctx, "RAW"); err != nil {
		t.Fatal(err)
	}
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Create(ctx, c, streams.StreamSpec{Name: "RAW", Subjects: []string{"raw.>"}}, streams.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	url := "NATS_URL=" + s.ClientURL()
	// get fails naming the counter; history shows the message as
	// unreadable, saying why (as for any message that is not a value);
	// audit reports it as the counter's problem (exit 5).
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"get", "raw.big", "--stream", "MIR"}, ExitUsage},
		{[]string{"get", "raw.>", "--stream", "MIR"}, ExitUsage},
		{[]string{"history", "raw.big", "--stream", "MIR"}, ExitOK},
		{[]string{"audit", "raw.big", "--stream", "MIR"}, ExitProblems},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runBinary(t, []string{url}, "", tc.args...)
			out := r.stdout + r.stderr
			if r.code != tc.code || !strings.Contains(out, "the stored value is 7340042 bytes long") || (tc.args[0] != "history" && !strings.Contains(out, "raw.big")) {
				t.Errorf("exit %d, stdout %.300q, stderr %.300q: want exit %d naming raw.big and the value's size", r.code, r.stdout, r.stderr, tc.code)
			}
			// Parsing 7 MiB of digits took minutes; reading the message
			// itself takes a few seconds under the race detector.
			if r.took > 14*time.Second {
				t.Errorf("took %s", r.took)
			}
		})
	}
}
