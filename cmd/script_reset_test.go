package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rogpeppe/go-internal/testscript"
)

// streamseq STREAM...: print "STREAM LASTSEQ" per stream, to compare before
// and after something that must write nothing.
func cmdStreamSeq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: streamseq STREAM...")
	}
	nc := scriptConn(ts)
	defer nc.Close()
	js, err := jetstream.New(nc)
	ts.Check(err)
	for _, name := range args {
		s, err := js.Stream(context.Background(), name)
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "%s %d\n", name, s.CachedInfo().State.LastSeq)
	}
}

// pubhdr SUBJECT NAME=VALUE...: publish an empty message with these headers
// and wait for the acknowledgement (another client's writes: headers
// counter never sends itself). Negated, the publish must be refused.
func cmdPubHdr(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: pubhdr SUBJECT NAME=VALUE...")
	}
	nc := scriptConn(ts)
	defer nc.Close()
	msg := nats.NewMsg(args[0])
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("pubhdr: %q is not NAME=VALUE", kv)
		}
		msg.Header.Set(k, v)
	}
	reply, err := nc.RequestMsg(msg, 5*time.Second)
	ts.Check(err)
	refused := strings.Contains(string(reply.Data), `"error"`)
	if refused != neg {
		ts.Fatalf("pubhdr %s: %s", args[0], reply.Data)
	}
	fmt.Fprintf(ts.Stdout(), "%s\n", reply.Data)
}
