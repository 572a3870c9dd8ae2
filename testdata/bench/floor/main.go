// Command floor is the yardstick for `counter get PATTERN` in a pipe: the
// least a program can do to print every counter of a stream. One ordered
// consumer delivering the last message per subject, each body parsed, one
// "subject<TAB>value" line per counter through a buffered writer, stop when
// nothing is pending. No checks, no order, no consumer placement.
//
//	floor STREAM PATTERN   (server from NATS_URL)
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(stream, pattern string) error {
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{pattern},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return err
	}
	defer it.Stop()
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	defer w.Flush()
	v := new(big.Int)
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		body := bytes.TrimSuffix(bytes.TrimPrefix(msg.Data(), []byte(`{"val":"`)), []byte(`"}`))
		if _, ok := v.SetString(string(body), 10); !ok {
			return fmt.Errorf("%s: not a counter value: %q", msg.Subject(), msg.Data())
		}
		w.WriteString(msg.Subject())
		w.WriteByte('\t')
		w.Write(v.Append(nil, 10))
		w.WriteByte('\n')
		if meta.NumPending == 0 {
			return nil
		}
	}
}
