package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/testserver"
)

// TestFaultCheckAfterLeaderChange: the server's record of when a source
// was last active starts again with each stream leader. After a leader
// change, --check says the source has not been active since the current
// leader took over, never "has never been active since EU was created"
// (which a source active minutes earlier could not be).
func TestFaultCheckAfterLeaderChange(t *testing.T) {
	t.Parallel()
	servers := testserver.Cluster(t, 3)
	url := servers[0].ClientURL()
	nc := testserver.Connect(t, servers[0])
	// A source in a domain nobody serves is never heard from, by any leader.
	cfg := `{"name":"EU","subjects":["count.eu.>"],"allow_msg_counter":true,"allow_direct":true,"num_replicas":3,
		"sources":[{"name":"DE","external":{"api":"$JS.nowhere.API"}}]}`
	if msg, err := nc.Request("$JS.API.STREAM.CREATE.EU", []byte(cfg), 10*time.Second); err != nil || strings.Contains(string(msg.Data), `"error"`) {
		t.Fatalf("create EU: %v %s", err, msg.Data)
	}
	created := time.Now()
	time.Sleep(3 * time.Second) // EU must be older than the new leader by more than a moment
	if msg, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.EU", nil, 10*time.Second); err != nil || !strings.Contains(string(msg.Data), `"success":true`) {
		t.Fatalf("step down: %v %s", err, msg.Data)
	}
	changed := time.Now()
	deadline := changed.Add(20 * time.Second)
	for {
		r := runIn(t, url, "topology", "--check", "--inactive-after", "1s")
		if strings.Contains(r.stdout, "never been active") || strings.Contains(r.stdout, "since EU was created") {
			t.Fatalf("%s after the leader change (EU is %s old):\n%s", time.Since(changed).Round(time.Millisecond), time.Since(created).Round(time.Second), r.stdout)
		}
		if strings.Contains(r.stdout, "source DE@nowhere of EU has not been active in the ") && strings.Contains(r.stdout, " since EU's current leader took over") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no source-inactive since the leader change: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
