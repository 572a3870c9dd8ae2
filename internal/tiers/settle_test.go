package tiers_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
	"github.com/jetcounter/counter/internal/tiers"
)

// TestSettleAcrossDomains: an aggregate in the hub that sources a leaf
// domain's stream, read right after it was created and right after an
// increment at the leaf: Settle waits until the hub has the leaf's values,
// for a literal subject and for a pattern.
func TestSettleAcrossDomains(t *testing.T) {
	hub, leaf := testserver.HubAndLeaf(t, "hub", "leaf")
	leafClient := countertest.NewClient(t, leaf)
	hubClient := countertest.NewClient(t, hub)
	countertest.MustCreate(t, leafClient, streams.StreamSpec{Name: "L", Subjects: []string{"edge.>"}})
	for subj, v := range map[string]int64{"edge.hits": 7, "edge.errors": 2} {
		if _, err := leafClient.Incr(ctx, subj, big.NewInt(v), ""); err != nil {
			t.Fatal(err)
		}
	}
	countertest.MustCreate(t, hubClient, streams.StreamSpec{Name: "AGG", Subjects: []string{"all.>"}, Sources: countertest.Sources(t, "L@leaf:edge.>:all.>")})

	read := func(pattern string) map[string]string {
		t.Helper()
		g, err := hubClient.Topology(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tiers.Settle(ctx, hubClient, g, "AGG", []string{pattern}, 20*time.Second); err != nil {
			t.Fatalf("settle %s: %v", pattern, err)
		}
		list, err := hubClient.Get(ctx, []string{pattern}, counters.GetOptions{Stream: "AGG"})
		if err != nil {
			t.Fatalf("get %s right after settling: %v", pattern, err)
		}
		out := map[string]string{}
		for _, c := range list {
			out[c.Subject] = c.Value.String()
		}
		return out
	}
	if got := read("all.hits"); got["all.hits"] != "7" {
		t.Fatalf("all.hits right after creating AGG: %v, want 7", got)
	}
	if _, err := leafClient.Incr(ctx, "edge.hits", big.NewInt(3), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := leafClient.Incr(ctx, "edge.new", big.NewInt(5), ""); err != nil {
		t.Fatal(err)
	}
	if got := read("all.>"); got["all.hits"] != "10" || got["all.errors"] != "2" || got["all.new"] != "5" {
		t.Fatalf("all.> right after increments at the leaf: %v", got)
	}
	// A counter no tier holds: nothing to wait for (else: a timeout error).
	g, err := hubClient.Topology(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tiers.Settle(ctx, hubClient, g, "AGG", []string{"all.none"}, 5*time.Second); err != nil {
		t.Fatalf("settle of a counter nobody has: %v", err)
	}
}

var ctx = context.Background()
