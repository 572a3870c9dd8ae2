package counters_test

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// The cluster fault suite: a stream leader is killed in the middle of a
// read and of a reset. Each test is bounded by the client timeout and the
// election (about a second or two).

// leaderOf returns the server leading stream, and one that is not.
func leaderOf(t *testing.T, c *counters.Client, servers []*server.Server, stream string) (leader, other *server.Server) {
	t.Helper()
	info, err := c.StreamInfo(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if s.Name() == info.Cluster.Leader {
			leader = s
		} else if other == nil {
			other = s
		}
	}
	if leader == nil {
		t.Fatalf("stream %s has no leader (%q)", stream, info.Cluster.Leader)
	}
	return leader, other
}

// faultClient connects to s and reconnects to the other nodes. Its 5 s
// timeout bounds each request through a leader change; 2 s was too short for
// reads of thousands of counters on a loaded machine before any fault.
func faultClient(t *testing.T, servers []*server.Server, s *server.Server) *counters.Client {
	t.Helper()
	urls := testserver.URL(s)
	for _, o := range servers {
		if o != s {
			urls += "," + testserver.URL(o)
		}
	}
	nc, err := nats.Connect(urls, nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := counters.New(nc, counters.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFaultWildcardGetLeaderKilled: wildcard reads while the stream leader
// is killed either return every counter or fail; never a shorter list.
func TestFaultWildcardGetLeaderKilled(t *testing.T) {
	servers := testserver.Cluster(t, 3)
	setup := countertest.NewClient(t, servers[0])
	countertest.MustCreate(t, setup, streams.StreamSpec{Name: "F", Subjects: []string{"f.>"}, Replicas: 3})
	testserver.WaitInterest(t, servers, "f.1")
	const n = 2000
	countertest.Seed(t, setup.Conn(), "f", n)
	leader, other := leaderOf(t, setup, servers, "F")
	c := faultClient(t, servers, other)

	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		full, failed int
		stop         = make(chan struct{})
		partial      []int
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := c.Get(ctx, []string{"f.>"}, counters.GetOptions{})
				mu.Lock()
				switch {
				case err != nil:
					failed++
				case len(got) == n:
					full++
				default:
					partial = append(partial, len(got))
				}
				mu.Unlock()
			}
		}()
	}
	stopReaders := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopReaders()
	reads := func() string {
		return fmt.Sprintf("%d full reads, %d failed, shorter lists %v", full, failed, partial)
	}
	// The leader dies in the middle of the reads: once they are going.
	testserver.Eventually(t, 20*time.Second, "a full read before the leader is killed", func() error {
		mu.Lock()
		defer mu.Unlock()
		if full == 0 {
			return errors.New(reads())
		}
		return nil
	})
	leader.Shutdown()
	// Reads go on until some succeed again after the election.
	mu.Lock()
	before := full
	mu.Unlock()
	testserver.Eventually(t, 20*time.Second, fmt.Sprintf("full reads after the leader was killed (%d before)", before), func() error {
		mu.Lock()
		defer mu.Unlock()
		if full <= before+2 {
			return errors.New(reads())
		}
		return nil
	})
	stopReaders()
	t.Logf("full reads %d, failed %d", full, failed)
	if len(partial) > 0 {
		t.Fatalf("reads returned a shorter list without an error: %v counters of %d", partial, n)
	}
}

// TestFaultResetLeaderKilled: the leaf's stream leader is killed during a
// reset of 2,000 counters. Every counter is either untouched or 0, each
// result's outcome says which (or unknown), the aggregate equals the sum of
// the leaves, and running the reset again finishes it.
func TestFaultResetLeaderKilled(t *testing.T) {
	servers := testserver.Cluster(t, 3)
	setup := countertest.NewClient(t, servers[0])
	countertest.MustCreate(t, setup, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}, Replicas: 3})
	countertest.MustCreate(t, setup, streams.StreamSpec{Name: "EU", Subjects: []string{"count.eu.>"}, Replicas: 3,
		Sources: countertest.Sources(t, "DE:count.de.>:count.eu.>")})
	testserver.WaitInterest(t, servers, "count.de.1", "count.eu.1")
	const n = 2000
	countertest.Seed(t, setup.Conn(), "count.de", n)
	total := big.NewInt(n * (n + 1) / 2)
	waitSum(t, setup, "EU", "count.eu.>", total)

	leader, other := leaderOf(t, setup, servers, "DE")
	c := faultClient(t, servers, other)
	plan, err := reset.PlanReset(ctx, c, []string{"count.de.>"}, reset.ResetOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kill sync.Once
	res, err := reset.Reset(ctx, c, plan, reset.ResetOptions{Progress: func(p reset.ResetProgress) {
		if p.Reset == n/4 {
			kill.Do(func() { go leader.Shutdown() })
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[reset.ResetOutcome]int{}
	for _, r := range res {
		outcomes[r.Outcome]++
	}
	t.Logf("outcomes %v", outcomes)

	// Each counter is its old value or 0, as its result says.
	values := map[string]*big.Int{}
	err = c.ReadLast(ctx, "DE", []string{"count.de.>"}, func(ctr counters.Counter) error {
		values[ctr.Subject] = ctr.Value
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	leaves := new(big.Int)
	for _, r := range res {
		i, _ := strconv.Atoi(r.Subject[len("count.de."):])
		v := values[r.Subject]
		old := big.NewInt(int64(i))
		switch {
		case v == nil:
			t.Fatalf("%s has no value", r.Subject)
		case r.Outcome == reset.ResetDone && v.Sign() != 0,
			(r.Outcome == reset.ResetFailed || r.Outcome == reset.ResetSkipped) && v.Cmp(old) != 0,
			r.Outcome == reset.ResetUnknown && v.Sign() != 0 && v.Cmp(old) != 0:
			t.Fatalf("%s = %s, outcome %s (%v)", r.Subject, v, r.Outcome, r.Err)
		}
		leaves.Add(leaves, v)
	}
	waitSum(t, c, "EU", "count.eu.>", leaves)

	// A re-run finishes the job.
	testserver.Eventually(t, 30*time.Second, "a re-run that finishes the reset", func() error {
		plan, err := reset.PlanReset(ctx, c, []string{"count.de.>"}, reset.ResetOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := reset.Reset(ctx, c, plan, reset.ResetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Outcome != reset.ResetDone && r.Outcome != reset.ResetUnchanged {
				return fmt.Errorf("re-runs do not finish: %+v", r)
			}
		}
		return nil
	})
	waitSum(t, c, "DE", "count.de.>", new(big.Int))
	waitSum(t, c, "EU", "count.eu.>", new(big.Int))
}

// waitSum polls until the counters matching pattern in stream add up to want.
func waitSum(t *testing.T, c *counters.Client, stream, pattern string, want *big.Int) {
	t.Helper()
	testserver.Eventually(t, 30*time.Second, fmt.Sprintf("%s in %s to add up to %s", pattern, stream, want), func() error {
		sum := new(big.Int)
		err := c.ReadLast(ctx, stream, []string{pattern}, func(ctr counters.Counter) error {
			sum.Add(sum, ctr.Value)
			return nil
		})
		if err != nil || sum.Cmp(want) != 0 {
			return fmt.Errorf("they add up to %s (%v)", sum, err)
		}
		return nil
	})
}
