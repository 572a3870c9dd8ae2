package cmd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/testserver"
)

// TestPublishConditionsOneExitCode drives every verb that publishes an
// increment (incr, decr, incr -, reset) through the built binary for each
// condition of the one publish-target check, and wants one exit code per
// condition whichever verb met it: the rule lives in one place.
func TestPublishConditionsOneExitCode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	create := func(js jetstream.JetStream, cfg jetstream.StreamConfig) {
		t.Helper()
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			t.Fatalf("create %s: %v", cfg.Name, err)
		}
	}
	incr := func(url, subject string) {
		t.Helper()
		if r := runBinary(t, []string{url}, "", "incr", subject, "5"); r.code != 0 {
			t.Fatalf("incr %s: exit %d: %s", subject, r.code, r.stderr)
		}
	}

	// One server for the streams that are there but do not count. (A
	// counter stream is sealed on a single server: a clustered update
	// applies the seal's discard:new before checking it, and refuses.)
	single := testserver.Single(t)
	singleURL := "NATS_URL=" + testserver.URL(single)
	js, err := jetstream.New(testserver.Connect(t, single))
	if err != nil {
		t.Fatal(err)
	}
	create(js, jetstream.StreamConfig{Name: "PLAIN", Subjects: []string{"plain.>"}})
	create(js, jetstream.StreamConfig{Name: "SEALED", Subjects: []string{"sealed.>"}, AllowMsgCounter: true, AllowDirect: true})
	incr(singleURL, "sealed.x")
	if _, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: "SEALED", Subjects: []string{"sealed.>"}, AllowMsgCounter: true, AllowDirect: true, Sealed: true}); err != nil {
		t.Fatalf("seal: %v", err)
	}

	servers := testserver.Cluster(t, 3)
	cjs, err := jetstream.New(testserver.Connect(t, servers[0]))
	if err != nil {
		t.Fatal(err)
	}
	create(cjs, jetstream.StreamConfig{Name: "NL", Subjects: []string{"nl.>"}, AllowMsgCounter: true, AllowDirect: true})
	testserver.WaitInterest(t, servers, "nl.x")
	incr("NATS_URL="+testserver.URL(servers[0]), "nl.x")

	// NL has one replica: stopping its node leaves it with no leader while
	// the other two keep the cluster (and its stream list) going.
	info, err := cjs.Stream(ctx, "NL")
	if err != nil {
		t.Fatal(err)
	}
	var alive *server.Server
	for _, s := range servers {
		if s.Name() == info.CachedInfo().Cluster.Leader {
			s.Shutdown()
			s.WaitForShutdown()
		} else {
			alive = s
		}
	}
	clusterURL := "NATS_URL=" + testserver.URL(alive)

	conditions := []struct {
		name, subject, url string
		code               int
	}{
		{"reserved subject", "$JS.API.STREAM.DELETE.PLAIN", singleURL, ExitUsage},
		{"no capturing stream", "nowhere.x", singleURL, ExitNotFound},
		{"not a counter stream", "plain.x", singleURL, ExitUsage},
		{"sealed stream", "sealed.x", singleURL, ExitUsage},
		{"no leader", "nl.x", clusterURL, ExitUnavailable},
	}
	verbs := []struct {
		name  string
		stdin func(subject string) string
		args  func(subject string) []string
	}{
		{"incr", nil, func(s string) []string { return []string{"incr", s, "1"} }},
		{"decr", nil, func(s string) []string { return []string{"decr", s, "1"} }},
		{"incr -", func(s string) string { return s + " 1\n" }, func(string) []string { return []string{"incr", "-"} }},
		{"reset", nil, func(s string) []string { return []string{"reset", s, "--force"} }},
	}
	for _, c := range conditions {
		for _, v := range verbs {
			t.Run(fmt.Sprintf("%s/%s", c.name, v.name), func(t *testing.T) {
				stdin := ""
				if v.stdin != nil {
					stdin = v.stdin(c.subject)
				}
				// incr - resends what nobody received for up to 20 s (a
				// leader election), then gives up with the same code.
				bound := 2 * hostileBound
				if v.name == "incr -" && c.code == ExitUnavailable {
					bound = 40 * time.Second
				}
				r := runBinaryWithin(t, bound, []string{c.url, "NATS_TIMEOUT=2s"}, stdin, v.args(c.subject)...)
				if r.code != c.code {
					t.Errorf("%s %s: exit %d, want %d; stderr %q", v.name, c.subject, r.code, c.code, r.stderr)
				}
			})
		}
	}
}
