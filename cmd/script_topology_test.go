package cmd

import (
	"os"
	"path/filepath"
	"regexp"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/jetcounter/counter/internal/testserver"
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
	hub, leaf := testserver.HubAndLeaf(scriptT(ts), "hub", "leaf")
	ts.Setenv("HUB_URL", testserver.URL(hub))
	ts.Setenv("LEAF_URL", testserver.URL(leaf))
}
