package cmd

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/jetcounter/counter/internal/embedded"
)

// volatile is what differs run to run in topology output: time since a
// source was last heard from.
var volatile = regexp.MustCompile(`active [0-9][^,\t\n]* ago`)

// golden NAME: stdout, with source activity times normalized, must equal
// testdata/topology/NAME. UPDATE_GOLDEN=1 rewrites the file instead.
func cmdGolden(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: golden NAME")
	}
	got := volatile.ReplaceAllString(ts.ReadFile("stdout"), "active 1s ago")
	path := filepath.Join("..", "testdata", "topology", args[0])
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		ts.Check(os.MkdirAll(filepath.Dir(path), 0o755))
		ts.Check(os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	ts.Check(err)
	if got != string(want) {
		ts.Fatalf("stdout differs from %s (UPDATE_GOLDEN=1 rewrites it)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// hubleaf: start a hub (JetStream domain "hub") and a leaf (domain "leaf")
// joined by a leafnode connection; their URLs are $HUB_URL and $LEAF_URL.
// Returns once a hub client reaches the leaf's JetStream API.
func cmdHubLeaf(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: hubleaf")
	}
	start := func(o embedded.Options) string {
		o.Port = -1
		o.StoreDir = filepath.Join(ts.Getenv("WORK"), ".js-"+o.ServerName)
		s, err := embedded.Start(o)
		ts.Check(err)
		ts.Defer(func() { s.Shutdown(); s.WaitForShutdown() })
		if o.LeafNodePort != 0 {
			vz, err := s.Varz(nil)
			ts.Check(err)
			ts.Setenv("HUB_LEAF_PORT", strconv.Itoa(vz.LeafNode.Port))
		}
		return s.ClientURL()
	}
	ts.Setenv("HUB_URL", start(embedded.Options{ServerName: "hub", Domain: "hub", LeafNodePort: -1}))
	remote := "nats-leaf://" + net.JoinHostPort("127.0.0.1", ts.Getenv("HUB_LEAF_PORT"))
	ts.Setenv("LEAF_URL", start(embedded.Options{ServerName: "leaf", Domain: "leaf", LeafRemotes: []string{remote}}))

	nc, err := nats.Connect(ts.Getenv("HUB_URL"))
	ts.Check(err)
	defer nc.Close()
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		msg, err := nc.Request("$JS.leaf.API.INFO", nil, time.Second)
		if err != nil {
			last = err
			continue
		}
		var resp struct {
			Domain string `json:"domain"`
		}
		if json.Unmarshal(msg.Data, &resp) == nil && resp.Domain == "leaf" {
			return
		}
		last = fmt.Errorf("answered %s", msg.Data)
	}
	ts.Fatalf("leaf JetStream API not reachable from the hub: %v", last)
}
