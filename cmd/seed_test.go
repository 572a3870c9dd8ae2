package cmd

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// seedCounters sets PREFIX.i to i for i in 1..n with pipelined increments.
func seedCounters(nc *nats.Conn, prefix string, n int) error {
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(512))
	if err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		msg := nats.NewMsg(fmt.Sprintf("%s.%d", prefix, i))
		msg.Header.Set("Nats-Incr", "+"+strconv.Itoa(i))
		// A generous stall wait: on a busy 2-core machine the default 200ms
		// failed seeding with "too many outstanding async published messages".
		if _, err := js.PublishMsgAsync(msg, nats.StallWait(10*time.Second)); err != nil {
			return err
		}
	}
	<-js.PublishAsyncComplete()
	return nil
}
