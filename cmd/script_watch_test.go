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

// sourceok STREAM SOURCE: wait until the stream's source SOURCE reports no
// error (a source created before its stream shows "not found" until the
// server retries it).
func cmdSourceOK(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sourceok STREAM SOURCE")
	}
	nc := scriptConn(ts)
	defer nc.Close()
	c, err := counters.New(nc, counters.Options{})
	ts.Check(err)
	testserver.Eventually(scriptT(ts), 20*time.Second, fmt.Sprintf("source %s of stream %s without an error", args[1], args[0]), func() error {
		info, err := c.StreamInfo(context.Background(), args[0])
		if err != nil {
			return err
		}
		for _, s := range info.Sources {
			if s.Name == args[1] {
				if s.Error != nil {
					return fmt.Errorf("source %s: %s", s.Name, s.Error.Description)
				}
				return nil
			}
		}
		return fmt.Errorf("stream %s has no source %s yet", args[0], args[1])
	})
}
