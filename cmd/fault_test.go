package cmd

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/testserver"
)

// TestFaultIncrLeaderKilled: the stream leader is killed while a script
// increments with `--id` and retries every failure. Exit codes stay in the
// contract (0, or 4 "unavailable or no leader yet, retry": never 3, which a
// script takes as "no such stream" and so drops the increment), and with
// --id the total is exact.
func TestFaultIncrLeaderKilled(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	servers := testserver.Cluster(t, 3)
	url := testserver.URL(servers[0])
	if code, _, errs := runAt(t, url, "", false, "create", "K", "--subjects", "k.>", "--replicas", "3"); code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	testserver.WaitInterest(t, servers, "k.x")
	leader := -1
	for i, s := range servers {
		if s.JetStreamIsStreamLeader("$G", "K") {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no leader for K")
	}
	var survivors []string
	for i, s := range servers {
		if i != leader {
			survivors = append(survivors, testserver.URL(s))
		}
	}
	urls := strings.Join(survivors, ",")

	const n = 40
	codes := map[int]int{}
	for i := 1; i <= n; i++ {
		if i == 10 {
			go servers[leader].Shutdown()
		}
		// The script's retries: again after every exit 4.
		testserver.Eventually(t, 30*time.Second, fmt.Sprintf("incr %d to succeed", i), func() error {
			code, _, errs := runAt(t, urls, "", false, "incr", "k.x", "1", "--id", "op-"+strconv.Itoa(i), "--timeout", "2s")
			codes[code]++
			if code != 0 && code != ExitUnavailable {
				t.Fatalf("incr %d: exit %d: %s", i, code, errs)
			}
			if code != 0 {
				return fmt.Errorf("exit %d: %s", code, errs)
			}
			return nil
		})
	}
	t.Logf("exit codes %v", codes)
	code, out, errs := runAt(t, urls, "", false, "get", "k.x")
	if code != 0 || out != strconv.Itoa(n)+"\n" {
		t.Fatalf("k.x = %q (exit %d, %s), want exactly %d", out, code, errs, n)
	}
}
