package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestGetPipeFailsPartWay: get streams a pipe as it reads, so a read that
// fails part way has printed some counters already. It must fail the run,
// say so, and leave --json an unclosed array that no parser takes for the
// whole list. Here the stream is deleted once the first rows reached
// stdout.
func TestGetPipeFailsPartWay(t *testing.T) {
	url := cliServer(t)
	mustRunAt(t, url, "create", "S", "--subjects", "s.>")
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// More than one pull (4,096) and many times one buffered write.
	const n = 10_000
	if err := seedCounters(nc, "s", n); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	out := &deleteOnWrite{del: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, "S"); err != nil {
			t.Errorf("delete stream: %v", err)
		}
	}}
	var errb bytes.Buffer
	code := Main([]string{"--server", url, "--timeout", "2s", "get", "s.>", "--json"}, testIO(nil, out, &errb, false, false))
	got := out.buf.String()
	if code == 0 || !strings.Contains(errb.String(), "stream S") {
		t.Fatalf("exit %d after %d bytes, stderr %q", code, len(got), errb.String())
	}
	if !strings.HasPrefix(got, `[{"subject":"s.1","stream":"S","value":"1"`) || strings.HasSuffix(got, "]\n") {
		t.Fatalf("stdout %.80q … %q", got, got[max(0, len(got)-40):])
	}
	var v any
	if err := json.Unmarshal([]byte(got), &v); err == nil {
		t.Fatal("a part of the list parses as a whole JSON array")
	}
	t.Logf("exit %d after %d bytes: %s", code, len(got), strings.TrimSpace(errb.String()))
}

// deleteOnWrite keeps what is written and calls del once, at the first
// write.
type deleteOnWrite struct {
	once sync.Once
	del  func()
	buf  bytes.Buffer
}

func (w *deleteOnWrite) Write(p []byte) (int, error) {
	w.once.Do(w.del)
	return w.buf.Write(p)
}
