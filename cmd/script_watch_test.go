package cmd

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
)

// consumers STREAM N: poll until STREAM has N consumers, e.g. a
// background `counter watch` is following it, so that increments made next
// reach it as live updates.
func cmdConsumers(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: consumers STREAM N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	nc := scriptConn(ts)
	defer nc.Close()
	c, err := counters.New(nc, counters.Options{})
	ts.Check(err)
	got := -1
	testserver.Eventually(scriptT(ts), 10*time.Second, fmt.Sprintf("%d consumers of stream %s", want, args[0]), func() error {
		if info, err := c.StreamInfo(context.Background(), args[0]); err == nil {
			got = info.State.Consumers
			if got == want {
				return nil
			}
		}
		return fmt.Errorf("stream %s has %d consumers, want %d", args[0], got, want)
	})
}
