package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/testserver"
)

// TestResetAggregateKeptHistory: a reset at an aggregate whose source has
// not delivered anything yet resets the value, keeps the history (PURGED
// "kept", exit 0) and says on stderr which source and why, once per stream.
// The source PL exists only after EU's first attempt to source it failed,
// so the server sets PL's source up again only seconds later.
func TestResetAggregateKeptHistory(t *testing.T) {
	url := cliServer(t)
	must := func(args ...string) string { t.Helper(); return mustRunAt(t, url, args...) }
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must("create", "DE", "--subjects", "count.de.>")
	eu, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EU", Subjects: []string{"count.eu.>"},
		AllowMsgCounter: true, AllowDirect: true, Storage: jetstream.FileStorage,
		Sources: []*jetstream.StreamSource{
			{Name: "DE", SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "count.de.>", Destination: "count.eu.>"}}},
			{Name: "PL", SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "count.pl.>", Destination: "count.eu.>"}}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 20*time.Second, "EU's first attempt to source PL to fail", func() error {
		info, err := eu.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, si := range info.Sources {
			if si.Name == "PL" && si.Error != nil {
				return nil
			}
		}
		return errors.New("no error for source PL yet")
	})
	must("create", "PL", "--subjects", "count.pl.>")
	must("incr", "count.pl.a", "5")
	must("incr", "count.de.a", "2")
	testserver.Eventually(t, 20*time.Second, "EU to count DE", func() error {
		if code, out, errs := runAt(t, url, "", false, "get", "count.eu.a", "--stream", "EU"); code != 0 || out != "2\n" {
			return fmt.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
		return nil
	})

	code, out, errs := runAt(t, url, "", false, "--timeout", "1s", "reset", "count.eu.a", "--stream", "EU", "--force")
	if code != 0 || out != "count.eu.a\tEU\t2\t-2\t0\t1\tkept\n" {
		t.Fatalf("reset: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if !strings.Contains(errs, "warning: 1 counter reset, history kept: purge skipped: source PL has not delivered anything to aggregate EU yet (waited 1s)") {
		t.Fatalf("stderr %q", errs)
	}
	// Nothing was purged at EU: its first message is still there.
	info, err := eu.Info(ctx)
	if err != nil || info.State.FirstSeq != 1 {
		t.Fatalf("EU first seq %d (%v), want 1: history kept", info.State.FirstSeq, err)
	}
	// And PL's value reaches EU once its source runs.
	testserver.Eventually(t, 20*time.Second, "PL's count.pl.a to reach EU", func() error {
		if code, out, errs := runAt(t, url, "", false, "get", "count.eu.a", "--stream", "EU"); code != 0 || out != "5\n" {
			return fmt.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
		return nil
	})
}
