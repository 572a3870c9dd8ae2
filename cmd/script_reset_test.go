package cmd

import (
	"context"
	"fmt"

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
