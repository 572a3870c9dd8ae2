package cmd

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestTopologyCheckSourceStalled: an increment too large for the aggregate's
// headers (written by another client: counter refuses it) stops the source
// for every later counter, and stream info shows only lag. `topology
// --check` reports it as an error (exit 5) with the fix.
func TestTopologyCheckSourceStalled(t *testing.T) {
	url := cliServer(t)
	for _, args := range [][]string{
		{"create", "DE", "--subjects", "count.de.>"},
		{"create", "EU", "--subjects", "count.eu.>", "--source", "DE:count.de.>:count.eu.>"},
		{"incr", "count.de.a", "1"},
	} {
		if code, _, errs := runAt(t, url, "", false, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg := nats.NewMsg("count.de.big")
	msg.Header.Set(counters.HeaderIncr, "+"+strings.Repeat("9", 40000))
	if _, err := nc.RequestMsg(msg, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// A later counter of DE never reaches EU.
	if code, _, errs := runAt(t, url, "", false, "incr", "count.de.a", "1"); code != 0 {
		t.Fatalf("incr: %d %s", code, errs)
	}
	// The source has had its chance: it delivered DE's first message and
	// stands at the one EU cannot store. (--check then watches it for a
	// second; the later count.de.a would reach EU in that time if it could.)
	testserver.Eventually(t, 20*time.Second, "EU to hold DE's first count.de.a", func() error {
		if code, out, errs := runAt(t, url, "", false, "get", "count.eu.a", "--stream", "EU"); code != 0 || out != "1\n" {
			return fmt.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
		return nil
	})
	code, out, errs := runAt(t, url, "", false, "topology", "--check")
	if code != ExitProblems || !strings.Contains(out, "source-stalled") || !strings.Contains(out, "source DE of EU is stalled") ||
		!strings.Contains(out, "reset count.de.big in DE") || strings.Contains(out, "source-lagging") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	if code, out, _ := runAt(t, url, "", false, "get", "count.eu.a", "--stream", "EU"); code != 0 || out != "1\n" {
		t.Fatalf("EU count.eu.a: exit %d %q, want the stale 1", code, out)
	}
}

// TestFaultStalledSourceBusyUpstream: region DE (a leaf node, domain de)
// holds a value too large for the hub's aggregate EU to carry, so EU's
// source of DE stops there, while writers keep DE busy. The upstream's
// last sequence and the source's lag keep moving; the source's own
// position does not. `topology --check` says source-stalled (exit 5) every
// time, naming the counter to reset, never source-lagging (exit 0).
func TestFaultStalledSourceBusyUpstream(t *testing.T) {
	t.Parallel()
	hub, leaves := regions(t, "de")
	de := leaves["de"].url
	mustRunIn(t, de, "create", "DE", "--subjects", "count.de.>")
	mustRunIn(t, hub, "create", "EU", "--subjects", "count.eu.>", "--source", "DE@de:count.de.>:count.eu.>")
	mustRunIn(t, de, "incr", "count.de.a", "1")
	mustRunIn(t, hub, "get", "count.eu.a", "--settle")
	nc, err := nats.Connect(de)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Written by another client: counter refuses a value this large.
	msg := nats.NewMsg("count.de.big")
	msg.Header.Set(counters.HeaderIncr, "+"+strings.Repeat("9", 40000))
	if _, err := nc.RequestMsg(msg, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := nats.NewMsg(fmt.Sprintf("count.de.w%d", (w+i)%5))
				m.Header.Set(counters.HeaderIncr, "+1")
				if _, err := nc.RequestMsg(m, 5*time.Second); err != nil {
					t.Errorf("writer: %v", err)
					return
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for range 3 {
		r := runIn(t, hub, "topology", "--check")
		if r.code != ExitProblems || !strings.Contains(r.stdout, "error\tsource-stalled\tEU\tsource DE@de of EU is stalled") ||
			!strings.Contains(r.stdout, "count.de.big") || strings.Contains(r.stdout, "source-lagging") {
			t.Fatalf("with writers busy upstream: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
		}
	}
}
