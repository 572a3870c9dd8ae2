package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/testserver"
)

// The partition suite: regions are leaf nodes with their own JetStream
// domains, below a hub that aggregates them; a partition is a cut leafnode
// link (the leaf keeps running and taking increments). Every verb must say
// what it could not see, with exit 4, instead of a stale answer.

// region is one leaf node below the hub, and the link a test can cut.
type region struct {
	url  string
	leaf *server.Server
	link *testserver.Link
}

// regions starts a hub (domain hub) and a leaf per domain, each linked to
// the hub through a link the test can cut.
func regions(t *testing.T, domains ...string) (hub string, leaves map[string]region) {
	t.Helper()
	h := testserver.Hub(t, "hub")
	leaves = map[string]region{}
	for _, d := range domains {
		leaf, link := testserver.Leaf(t, h, "leaf-"+d, d)
		leaves[d] = region{url: leaf.ClientURL(), leaf: leaf, link: link}
	}
	return h.ClientURL(), leaves
}

// runIn runs the built binary against url.
func runIn(t *testing.T, url string, args ...string) binResult {
	t.Helper()
	return runBinary(t, []string{"NATS_URL=" + url}, "", args...)
}

func mustRunIn(t *testing.T, url string, args ...string) string {
	t.Helper()
	r := runIn(t, url, args...)
	if r.code != 0 {
		t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

// TestFaultPartitionedRegion: region DE is cut off from the hub while it
// keeps counting. Reading the hub's aggregate EU with --settle, following a
// counter through its tiers, and checking the topology each say that DE
// could not be reached (exit 4), never a stale total as settled (exit 0) or
// "stream not found" (exit 3); a reset at EU warns that DE's late
// increments will count after it, and they do.
func TestFaultPartitionedRegion(t *testing.T) {
	t.Parallel()
	hub, leaves := regions(t, "de")
	de := leaves["de"]
	mustRunIn(t, de.url, "create", "DE", "--subjects", "count.de.>")
	mustRunIn(t, hub, "create", "EU", "--subjects", "count.eu.>", "--source", "DE@de:count.de.>:count.eu.>")
	mustRunIn(t, de.url, "incr", "count.de.c1", "5")
	if got := mustRunIn(t, hub, "get", "count.eu.c1", "--settle"); got != "5\n" {
		t.Fatalf("before the partition: %q", got)
	}

	de.link.Cut()
	mustRunIn(t, de.url, "incr", "count.de.c1", "3") // EU cannot see it

	r := runIn(t, hub, "get", "count.eu.c1", "--settle=2s")
	if r.code != ExitUnavailable || r.stdout != "" || !strings.Contains(r.stderr, "stream EU cannot be settled: its source DE@de could not be reached") ||
		!strings.Contains(r.stderr, "domain de did not answer") {
		t.Errorf("get --settle: exit %d, stdout %q, stderr %q: want 4 naming DE@de", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, hub, "get", "count.eu.c1", "--tiers", "--settle=2s")
	if r.code != ExitUnavailable || !strings.Contains(r.stderr, "DE@de") {
		t.Errorf("get --tiers --settle: exit %d, stderr %q: want 4 naming DE@de", r.code, r.stderr)
	}
	for _, args := range [][]string{{"topology", "--subject", "count.eu.c1"}, {"get", "count.eu.c1", "--tiers"}} {
		r = runIn(t, hub, args...)
		if r.code != ExitUnavailable || !strings.Contains(r.stdout, "EU\tcount.eu.c1\t5") || !strings.Contains(r.stderr, "domain de did not answer") ||
			strings.Contains(r.stderr, "not found") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q: want EU's row, then 4 (unreachable, not 'not found')", args, r.code, r.stdout, r.stderr)
		}
	}
	r = runIn(t, hub, "topology", "--check")
	if r.code != ExitUnavailable || !strings.Contains(r.stdout, "source-unreachable\tEU\tsource DE@de of EU could not be reached") ||
		strings.Contains(r.stdout+r.stderr, "enable JetStream") || !strings.Contains(r.stderr, "not everything could be checked: stream DE@de could not be reached (domain de did not answer") {
		t.Errorf("topology --check: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}

	// A reset at EU now: DE's 3 arrive after the heal and count as made
	// after the reset. The plan says so, naming DE@de.
	r = runIn(t, hub, "reset", "count.eu.c1", "--stream", "EU", "--force")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: source DE@de of EU could not be reached") ||
		!strings.Contains(r.stderr, "count after the reset") {
		t.Errorf("reset at EU: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	de.link.Heal()
	// A source retries with a growing pause: on a loaded machine it may take
	// more than the default 10s to resume after the heal.
	if r := runBinaryWithin(t, 45*time.Second, []string{"NATS_URL=" + hub}, "", "get", "count.eu.c1", "--settle=30s"); r.code != 0 || r.stdout != "3\n" {
		t.Errorf("after the heal EU = %q (exit %d, %s), want the 3 DE counted during the partition", r.stdout, r.code, r.stderr)
	}
}

// TestFaultCheckWithADomainDown: with one of the domains --check walks cut
// off, the check still reports every hazard it can see, plus the domain it
// could not walk: exit 5 when an error-level hazard was found, else 4
// (something could not be checked), never a bare exit 4 with no rows.
func TestFaultCheckWithADomainDown(t *testing.T) {
	t.Parallel()
	hub, leaves := regions(t, "de", "pl", "us")
	for d, r := range leaves {
		up := strings.ToUpper(d)
		mustRunIn(t, r.url, "create", up, "--subjects", "count."+d+".>")
	}
	mustRunIn(t, hub, "create", "WORLD", "--subjects", "count.all.>", "--source", "DE@de:count.de.>:count.all.>",
		"--source", "PL@pl:count.pl.>:count.all.>", "--source", "US@us:count.us.>:count.all.>")
	// A hazard in region PL: a counter stream whose counters age out.
	nc, err := nats.Connect(leaves["pl"].url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if msg, err := nc.Request("$JS.API.STREAM.CREATE.AGED", []byte(`{"name":"AGED","subjects":["aged.>"],"allow_msg_counter":true,"allow_direct":true,"max_age":3600000000000}`), 5*time.Second); err != nil || strings.Contains(string(msg.Data), `"error"`) {
		t.Fatalf("create AGED: %v %s", err, msg.Data)
	}
	leaves["us"].link.Cut()

	r := runIn(t, hub, "topology", "--check", "--domains", "de,pl,us")
	if r.code != ExitProblems || !strings.Contains(r.stdout, "error\tcounter-max-age\tAGED@pl\t") ||
		!strings.Contains(r.stdout, "warning\tdomain-unreachable\t@us\tdomain us did not answer") ||
		!strings.Contains(r.stdout, "warning\tsource-unreachable\tWORLD\tsource US@us of WORLD could not be reached") {
		t.Errorf("--check --domains de,pl,us: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	// Without the hazard's domain: nothing wrong was seen, but not
	// everything could be looked at.
	r = runIn(t, hub, "topology", "--check", "--domains", "de,us")
	if r.code != ExitUnavailable || !strings.Contains(r.stdout, "domain-unreachable\t@us") || strings.Contains(r.stdout, "error\t") ||
		!strings.Contains(r.stderr, "not everything could be checked: domain us did not answer") {
		t.Errorf("--check --domains de,us: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	// The tree shows what it could read, then exit 4.
	r = runIn(t, hub, "topology", "--domains", "de,pl,us")
	if r.code != ExitUnavailable || !strings.Contains(r.stdout, "DE@de") || !strings.Contains(r.stdout, "AGED@pl") ||
		!strings.Contains(r.stdout, "US@us\tunreachable\t") || strings.Contains(r.stdout, "not found") {
		t.Errorf("topology --domains de,pl,us: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}
