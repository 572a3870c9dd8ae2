package history_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/reset"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

func readHistory(t testing.TB, c *counters.Client, subject string, opts history.HistoryOptions) ([]history.HistoryMsg, *history.HistoryInfo) {
	t.Helper()
	var msgs []history.HistoryMsg
	info, err := history.History(ctx, c, subject, opts, func(m history.HistoryMsg) error {
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		t.Fatalf("history %s: %v", subject, err)
	}
	return msgs, info
}

// rows renders messages as "seq delta value origin" for comparisons.
func rows(msgs []history.HistoryMsg) []string {
	var out []string
	for _, m := range msgs {
		origin := "direct"
		if !m.Origin.Direct() {
			origin = m.Origin.Stream + ":" + m.Origin.Subject
		}
		out = append(out, fmt.Sprintf("%s %s %s", counters.Signed(m.Delta), m.Value, origin))
	}
	return out
}

func TestHistoryLeaf(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.Incr(t, c, "count.de.hits", 5)
	if _, err := c.Incr(ctx, "count.de.hits", big.NewInt(-2), "order-7"); err != nil {
		t.Fatal(err)
	}
	countertest.Incr(t, c, "count.de.hits", 10)
	countertest.Incr(t, c, "count.de.other", 1)

	msgs, info := readHistory(t, c, "count.de.hits", history.HistoryOptions{})
	if got, want := rows(msgs), []string{"+5 5 direct", "-2 3 direct", "+10 13 direct"}; !slices.Equal(got, want) {
		t.Fatalf("history %q, want %q", got, want)
	}
	if !msgs[0].FirstRetained || msgs[1].FirstRetained || !msgs[0].StartsCounter() || info.Purged() || info.Total != 3 || info.Shown != 3 {
		t.Fatalf("first retained %v/%v starts %v purged %v total %d shown %d", msgs[0].FirstRetained, msgs[1].FirstRetained, msgs[0].StartsCounter(), info.Purged(), info.Total, info.Shown)
	}
	if msgs[1].MsgID != "order-7" || msgs[0].Stream != "DE" || msgs[2].Seq != 3 {
		t.Fatalf("msg id %q stream %q seq %d", msgs[1].MsgID, msgs[0].Stream, msgs[2].Seq)
	}

	// --since the second message, and a window with nothing in it.
	since, _ := readHistory(t, c, "count.de.hits", history.HistoryOptions{Since: msgs[1].Time})
	if got := rows(since); !slices.Equal(got, []string{"-2 3 direct", "+10 13 direct"}) {
		t.Fatalf("--since: %q", got)
	}
	none, info := readHistory(t, c, "count.de.hits", history.HistoryOptions{Since: time.Now().Add(time.Hour)})
	if len(none) != 0 || info.Shown != 0 {
		t.Fatalf("--since the future: %q", rows(none))
	}
	if _, err := history.History(ctx, c, "count.de.nothing", history.HistoryOptions{}, func(history.HistoryMsg) error { return nil }); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("history of a counter without messages: %v, want errkind.ErrNotFound", err)
	}
	if _, err := history.History(ctx, c, "count.de.*", history.HistoryOptions{}, func(history.HistoryMsg) error { return nil }); !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("history of a wildcard: %v, want errkind.ErrInvalid", err)
	}
}

// --last N finds where the last N start by bisecting on counts, with other
// subjects interleaved; a stream without direct get keeps a ring instead.
func TestHistoryLast(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "C", Subjects: []string{"c.>"}})
	js, err := jetstream.New(c.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ND", Subjects: []string{"nd.>"}, AllowMsgCounter: true}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 150; i++ {
		countertest.Incr(t, c, "c.hits", int64(i))
		countertest.Incr(t, c, "nd.hits", int64(i))
		if i%3 == 0 {
			countertest.Incr(t, c, "c.noise", 1)
		}
	}
	for _, tc := range []struct {
		subject string
		last    int
		want    int
	}{{"c.hits", 1, 1}, {"c.hits", 7, 7}, {"c.hits", 150, 150}, {"c.hits", 500, 150}, {"nd.hits", 4, 4}} {
		msgs, info := readHistory(t, c, tc.subject, history.HistoryOptions{Last: tc.last})
		if len(msgs) != tc.want || info.Shown != tc.want {
			t.Fatalf("%s --last %d: %d messages", tc.subject, tc.last, len(msgs))
		}
		// The last one is +150, and they are consecutive.
		for i, m := range msgs {
			if want := int64(150 - tc.want + 1 + i); m.Delta.Int64() != want {
				t.Fatalf("%s --last %d: message %d has delta %s, want %d", tc.subject, tc.last, i, m.Delta, want)
			}
		}
	}
}

// An aggregate's history names the region each change came from; a reset
// below shows its reason where it flows up; a reset at the aggregate keeps
// its message, where the retained history then starts.
func TestHistoryAggregate(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	countertest.Incr(t, c, "count.de.hits", 5)
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "5")
	countertest.Incr(t, c, "count.pl.hits", 10)
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "15")
	countertest.ResetAll(t, c, reset.ResetOptions{Reason: "double count, INC-42", By: "ops@test"}, "count.de.hits")
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "10")

	msgs, info := readHistory(t, c, "count.eu.hits", history.HistoryOptions{Stream: "EU"})
	want := []string{"+5 5 DE:count.de.hits", "+10 15 PL:count.pl.hits", "-5 10 DE:count.de.hits"}
	if got := rows(msgs); !slices.Equal(got, want) {
		t.Fatalf("EU history %q, want %q", got, want)
	}
	if r := msgs[2]; r.ResetReason != "double count, INC-42" || r.ResetBy != "ops@test" || r.Origin.Seq == 0 || r.Sources == nil {
		t.Fatalf("reset flowed up as %+v", r)
	}
	if info.Purged() {
		t.Fatal("EU history reported as purged")
	}

	countertest.ResetAll(t, c, reset.ResetOptions{Stream: "EU", Reason: "recount"}, "count.eu.hits")
	countertest.Incr(t, c, "count.pl.hits", 1)
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "1")
	msgs, info = readHistory(t, c, "count.eu.hits", history.HistoryOptions{Stream: "EU"})
	if got := rows(msgs); !slices.Equal(got, []string{"-10 0 direct", "+1 1 PL:count.pl.hits"}) {
		t.Fatalf("EU history after its reset: %q", got)
	}
	if !info.Purged() || !msgs[0].FirstRetained || msgs[0].StartsCounter() || msgs[0].ResetReason != "recount" {
		t.Fatalf("purged %v first %+v", info.Purged(), msgs[0])
	}
}

func auditAt(t testing.TB, c *counters.Client, stream string, patterns ...string) *history.AuditReport {
	t.Helper()
	r, err := history.Audit(ctx, c, patterns, history.AuditOptions{Stream: stream})
	if err != nil {
		t.Fatalf("audit %v at %q: %v", patterns, stream, err)
	}
	return r
}

func mustHold(t testing.TB, c *counters.Client, r *history.AuditReport) {
	t.Helper()
	if len(r.Counters) == 0 {
		t.Fatal("audit found no counters")
	}
	for _, a := range r.Counters {
		if !a.OK() || len(a.Warnings) > 0 {
			t.Fatalf("%s in %s: problems %+v warnings %+v", a.Subject, a.Stream, a.Problems, a.Warnings)
		}
		if got := countertest.ValueOrZero(t, c, a.Stream, a.Subject); got.Cmp(a.Value) != 0 {
			t.Fatalf("%s in %s: audit recounted %s, get reads %s", a.Subject, a.Stream, a.Value, got)
		}
	}
}

// Three tiers, writers at two of them concurrently, then resets at a leaf
// and at the middle tier, then writers again: once the sources caught up,
// every counter at every tier holds and its sources match their upstreams.
func TestAuditThreeTiersAfterConcurrentWritersAndResets(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	subjects := []string{"count.de.a", "count.de.b", "count.pl.a", "count.eu.a"}
	write := func(n int) {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range n {
					if _, err := c.Incr(ctx, subjects[(w+i)%len(subjects)], big.NewInt(int64(i%7-2)), ""); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	caughtUp := func() {
		t.Helper()
		waitSources(t, c, "EU", "count.eu.a", "DE", "PL")
		waitSources(t, c, "EU", "count.eu.b", "DE")
		waitSources(t, c, "WORLD", "count.world.a", "EU")
		waitSources(t, c, "WORLD", "count.world.b", "EU")
	}
	write(100)
	caughtUp()
	countertest.ResetAll(t, c, reset.ResetOptions{Reason: "test"}, "count.de.a")
	countertest.ResetAll(t, c, reset.ResetOptions{Stream: "EU", Reason: "test"}, "count.eu.a")
	write(50)
	caughtUp()
	for _, tier := range []string{"DE", "PL", "EU", "WORLD"} {
		mustHold(t, c, auditAt(t, c, tier, "count.>"))
	}
	// Without --stream, each pattern is audited where its subjects live.
	r := auditAt(t, c, "", "count.de.>", "count.eu.>")
	mustHold(t, c, r)
	if r.Streams != 2 || len(r.Counters) != 4 || r.Messages == 0 {
		t.Fatalf("%d streams, %d counters, %d messages", r.Streams, len(r.Counters), r.Messages)
	}
}

// waitSources polls until the aggregate's sources record has an entry from
// each of the sources named and matches what each holds now.
func waitSources(t testing.TB, c *counters.Client, stream, subject string, from ...string) {
	t.Helper()
	testserver.Eventually(t, 20*time.Second, fmt.Sprintf("the sources record of %s in %s to hold %v", subject, stream, from), func() error {
		r, err := history.Audit(ctx, c, []string{subject}, history.AuditOptions{Stream: stream})
		if err == nil && len(r.Counters) == 1 && len(r.Counters[0].Warnings) == 0 &&
			!slices.ContainsFunc(from, func(k string) bool { return r.Counters[0].Sources[k] == nil }) {
			return nil
		}
		return fmt.Errorf("still %+v, %v", r, err)
	})
}

// Damage made on a real server is found where it is: a deleted message
// breaks the chain, and a sources record written by a client is not one a
// direct increment may carry.
func TestAuditFindsDamage(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "C", Subjects: []string{"c.>"}})
	countertest.Incr(t, c, "c.lost", 5)
	gone := countertest.Incr(t, c, "c.lost", 10)
	last := countertest.Incr(t, c, "c.lost", 1)
	js, err := jetstream.New(c.Conn())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "C")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, gone.Seq); err != nil {
		t.Fatal(err)
	}
	countertest.Incr(t, c, "c.forged", 2)
	msg := nats.NewMsg("c.forged")
	msg.Header.Set(counters.HeaderIncr, "+1")
	msg.Header.Set(counters.HeaderSources, `{"X":{"x":"100"}}`)
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	countertest.Incr(t, c, "c.fine", 3)

	r := auditAt(t, c, "", "c.>")
	if r.Problems() == 0 || r.Messages != 5 {
		t.Fatalf("%d problems in %d messages", r.Problems(), r.Messages)
	}
	byCounter := map[string]history.CounterAudit{}
	for _, a := range r.Counters {
		byCounter[a.Subject] = a
	}
	lost := byCounter["c.lost"]
	if len(lost.Problems) != 2 || lost.Problems[0].Check != history.CheckChain || lost.Problems[0].Seq != last.Seq ||
		lost.Problems[0].Expected != "6" || lost.Problems[0].Found != "16" || lost.Problems[1].Check != history.CheckTotal {
		t.Fatalf("c.lost: %+v", lost.Problems)
	}
	forged := byCounter["c.forged"]
	if forged.OK() || forged.Problems[0].Check != history.CheckSourcesRecord || !strings.Contains(forged.Problems[0].Message, "direct increment") {
		t.Fatalf("c.forged: %+v", forged.Problems)
	}
	// The forged record names a source the stream does not have.
	if len(forged.Warnings) != 1 || !strings.Contains(forged.Warnings[0].Message, "no longer a source") {
		t.Fatalf("c.forged warnings: %+v", forged.Warnings)
	}
	if fine := byCounter["c.fine"]; !fine.OK() || fine.Value.String() != "3" {
		t.Fatalf("c.fine: %+v", fine)
	}
	// Patterns that overlap in part need two consumers; the counter both
	// match is audited once.
	countertest.Incr(t, c, "c.p.q", 1)
	countertest.Incr(t, c, "c.p.r", 2)
	r = auditAt(t, c, "C", "c.p.*", "c.*.q")
	if len(r.Counters) != 2 || r.Problems() != 0 || r.Counters[0].Subject != "c.p.q" || r.Counters[1].Value.String() != "2" {
		t.Fatalf("overlapping patterns: %+v", r.Counters)
	}
	if _, err := history.Audit(ctx, c, []string{"nothing.>"}, history.AuditOptions{Stream: "C"}); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("audit of nothing: %v, want errkind.ErrNotFound", err)
	}
}

// A source in another domain is named NAME@DOMAIN, and audited there.
func TestHistoryAndAuditAcrossDomains(t *testing.T) {
	hub, leaf := testserver.HubAndLeaf(t, "hub", "leaf")
	leafClient := countertest.NewClient(t, leaf)
	hubClient := countertest.NewClient(t, hub)
	countertest.MustCreate(t, leafClient, streams.StreamSpec{Name: "L", Subjects: []string{"edge.>"}})
	countertest.MustCreate(t, hubClient, streams.StreamSpec{Name: "AGG", Sources: []streams.SourceSpec{{Stream: "L", Domain: "leaf"}}})
	countertest.Incr(t, leafClient, "edge.hits", 7)
	countertest.WaitValue(t, hubClient, "AGG", "edge.hits", "7")
	countertest.Incr(t, leafClient, "edge.hits", -2)
	countertest.WaitValue(t, hubClient, "AGG", "edge.hits", "5")

	msgs, _ := readHistory(t, hubClient, "edge.hits", history.HistoryOptions{Stream: "AGG"})
	if got := rows(msgs); !slices.Equal(got, []string{"+7 7 L@leaf:edge.hits", "-2 5 L@leaf:edge.hits"}) {
		t.Fatalf("AGG history %q", got)
	}
	if !strings.HasPrefix(msgs[0].Origin.Key, "L:") {
		t.Fatalf("source key %q", msgs[0].Origin.Key)
	}
	mustHold(t, hubClient, auditAt(t, hubClient, "AGG", "edge.>"))
}

// A slow reader is no stall; an error from fn ends the read as is; a
// stream deleted mid-read is an error, never a shorter history.
func TestHistoryReadErrors(t *testing.T) {
	s := testserver.Single(t)
	nc := testserver.Connect(t, s)
	c, err := counters.New(nc, counters.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "H", Subjects: []string{"h.>"}})
	const n = 6000 // more than one pull batch
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		msg := nats.NewMsg("h.x")
		msg.Header.Set(counters.HeaderIncr, "+1")
		if _, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	countertest.WaitValue(t, c, "", "h.x", fmt.Sprint(n))

	got := 0
	_, err = history.History(ctx, c, "h.x", history.HistoryOptions{}, func(history.HistoryMsg) error {
		if got == 0 {
			time.Sleep(700 * time.Millisecond) // a slow reader: time passes on purpose, over twice the timeout
		}
		got++
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("history with a slow reader: %d of %d, %v", got, n, err)
	}
	stop := errors.New("stop here")
	if _, err := history.History(ctx, c, "h.x", history.HistoryOptions{}, func(history.HistoryMsg) error { return stop }); err != stop {
		t.Fatalf("history with a failing fn: %v", err)
	}
	got = 0
	_, err = history.History(ctx, c, "h.x", history.HistoryOptions{}, func(history.HistoryMsg) error {
		got++
		if got == 1 {
			if err := c.JetStream().DeleteStream(ctx, "H"); err != nil {
				t.Errorf("delete stream: %v", err)
			}
		}
		return nil
	})
	if err == nil || got >= n {
		t.Fatalf("history of a stream deleted mid-read: %d of %d, %v", got, n, err)
	}
	t.Logf("deleted mid-read: %v (after %d of %d)", err, got, n)
}

// Past a few hundred counters per source, the sources' values are read in
// one pass; the result is the same as a request per counter.
func TestAuditManyCountersOfOneSource(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.EUTiers(t, c, 1)
	const n = 300
	countertest.Seed(t, testserver.Connect(t, s), "count.de", n)
	countertest.WaitValue(t, c, "EU", "count.eu."+fmt.Sprint(n), fmt.Sprint(n))
	testserver.Eventually(t, 20*time.Second, fmt.Sprintf("an audit of EU with %d counters and no warnings", n), func() error {
		r := auditAt(t, c, "EU", "count.eu.>")
		if len(r.Counters) != n || r.Warnings() != 0 {
			return fmt.Errorf("%d counters, %d warnings", len(r.Counters), r.Warnings())
		}
		mustHold(t, c, r)
		return nil
	})
	// A counter purged away at the source leaves its last value counted
	// above: a warning for that counter only.
	js, err := jetstream.New(c.Conn())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "DE")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject("count.de.7")); err != nil {
		t.Fatal(err)
	}
	r := auditAt(t, c, "EU", "count.eu.>")
	if r.Problems() != 0 || r.Warnings() != 1 {
		t.Fatalf("%d problems, %d warnings", r.Problems(), r.Warnings())
	}
	for _, a := range r.Counters {
		if len(a.Warnings) > 0 && (a.Subject != "count.eu.7" || !strings.Contains(a.Warnings[0].Message, "source DE has no value for count.de.7 any more")) {
			t.Fatalf("%s: %+v", a.Subject, a.Warnings)
		}
	}
}

// Resets at a leaf and at the aggregate while writers write (the books of
// concurrentResets), proven from history: every tier audits clean.
func TestAuditAfterResetsDuringWrites(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.EUTiers(t, c, 1)
	countertest.ConcurrentResets(t, c, 4, 6)
	waitSources(t, c, "EU", "count.eu.hits", "DE", "PL")
	waitSources(t, c, "WORLD", "count.world.hits", "EU")
	for _, tier := range []string{"DE", "PL", "EU", "WORLD"} {
		mustHold(t, c, auditAt(t, c, tier, "count.>"))
	}
}

// A source that skipped part of its backlog (seen when an aggregate was
// purged before a source had delivered: lag 0, no error) leaves a counter
// without that source's entry: audit finds it where the mapping says.
func TestAuditFindsCounterNeverSourced(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}})
	countertest.Incr(t, c, "count.de.a", 5) // seq 1: skipped below
	countertest.Incr(t, c, "count.de.b", 1)
	countertest.Incr(t, c, "count.pl.a", 3)
	cfg, err := streams.StreamSpec{Name: "EU", Sources: countertest.Sources(t, "DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>")}.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sources[0].OptStartSeq = 2
	if _, err := c.JetStream().CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	countertest.WaitValue(t, c, "EU", "count.eu.b", "1")
	countertest.WaitValue(t, c, "EU", "count.eu.a", "3")
	r := auditAt(t, c, "EU", "count.eu.>")
	if r.Problems() != 0 || r.Warnings() != 1 {
		t.Fatalf("%d problems, %d warnings: %+v", r.Problems(), r.Warnings(), r.Counters)
	}
	w := r.Counters[0].Warnings[0]
	if r.Counters[0].Subject != "count.eu.a" || w.Expected != "5" || !strings.Contains(w.Message, "source DE count.de.a is 5 and never arrived here") {
		t.Fatalf("warning %+v", w)
	}
	// The source's next change carries the whole value up.
	countertest.Incr(t, c, "count.de.a", 1)
	countertest.WaitValue(t, c, "EU", "count.eu.a", "9")
	mustHold(t, c, auditAt(t, c, "EU", "count.eu.>"))
}

// Fault injection, proven by audit: writers on an R3 stream retry with
// message ids through leader step-downs; afterwards the chain holds at
// every message and the total is exactly what was acknowledged.
func TestAuditAfterLeaderStepDowns(t *testing.T) {
	servers := testserver.Cluster(t, 3)
	c := countertest.NewClient(t, servers[0])
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "C", Subjects: []string{"c.>"}, Replicas: 3})
	const writers, each = 3, 60
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		want = map[string]int64{}
		done = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			subject := fmt.Sprintf("c.w%d", w)
			for i := range each {
				delta := int64(i%5 - 1)
				id := fmt.Sprintf("%s-%d", subject, i)
				for attempt := 0; ; attempt++ {
					// The same id makes a retry after an unknown outcome exact.
					if _, err := c.Incr(ctx, subject, big.NewInt(delta), id); err == nil {
						break
					} else if attempt > 200 {
						t.Errorf("%s: %v", id, err)
						return
					}
					// A writer's pause before its retry, as a client's
					// would be (it runs beside the test, not a wait of it).
					time.Sleep(20 * time.Millisecond)
				}
				mu.Lock()
				want[subject] += delta
				mu.Unlock()
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	stepDowns := 0
	for stop := false; !stop && stepDowns < 2; {
		select {
		case <-done:
			stop = true
		case <-time.After(150 * time.Millisecond): // on purpose: writes go on between step-downs
			if _, err := c.Conn().Request("$JS.API.STREAM.LEADER.STEPDOWN.C", nil, 5*time.Second); err == nil {
				stepDowns++
			}
		}
	}
	<-done
	if t.Failed() {
		return
	}
	r := auditAt(t, c, "", "c.>")
	if len(r.Counters) != writers || r.Messages != writers*each {
		t.Fatalf("%d counters, %d messages after %d step-downs", len(r.Counters), r.Messages, stepDowns)
	}
	for _, a := range r.Counters {
		if !a.OK() || !a.Complete || a.Value.Int64() != want[a.Subject] {
			t.Fatalf("%s: value %s, acknowledged %d, problems %+v", a.Subject, a.Value, want[a.Subject], a.Problems)
		}
	}
	t.Logf("%d step-downs", stepDowns)
}

var ctx = context.Background()

// TestForgedSourcesRecord: a client can write Nats-Counter-Sources on a
// counter's first message; the server stores it and counts on from it.
// On a stream that never removed a message that first message is the
// counter's first, so audit reports the record as a finding (not "ok,
// older history purged"), and history does not say anything was purged.
func TestForgedSourcesRecord(t *testing.T) {
	t.Parallel()
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "FG", Subjects: []string{"fg.>"}})
	m := nats.NewMsg("fg.a")
	m.Header.Set(counters.HeaderIncr, "+7")
	m.Header.Set(counters.HeaderSources, `{"DS":{"ds.a":"1000"}}`)
	if _, err := c.Conn().RequestMsg(m, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	countertest.Incr(t, c, "fg.a", 1)

	r := auditAt(t, c, "FG", "fg.>")
	if len(r.Counters) != 1 {
		t.Fatalf("audit: %+v", r.Counters)
	}
	a := r.Counters[0]
	if a.OK() || !a.Complete || a.Problems[0].Check != history.CheckSourcesRecord || a.Problems[0].Seq != 1 ||
		!strings.Contains(a.Problems[0].Message, "no source message explains") {
		t.Fatalf("audit of a forged record: complete %v, problems %+v; want a sources-record finding at seq 1", a.Complete, a.Problems)
	}

	msgs, info := readHistory(t, c, "fg.a", history.HistoryOptions{})
	if info.Purged() || !msgs[0].StartsCounter() || !msgs[0].UnexplainedRecord() {
		t.Fatalf("history: purged %v, starts %v, unexplained %v; want the first message, its record unexplained", info.Purged(), msgs[0].StartsCounter(), msgs[0].UnexplainedRecord())
	}
}

// TestAuditSaysDeletedNotBehind: deleting a counter's last message rolls
// it back upstream, and deletes never flow through sources; the aggregate
// keeps the newer value. audit says the message was deleted, not that the
// aggregate is behind.
func TestAuditSaysDeletedNotBehind(t *testing.T) {
	t.Parallel()
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DL", Subjects: []string{"dl.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DLA", Sources: countertest.Sources(t, "DL:dl.>:dla.>")})
	countertest.Incr(t, c, "dl.x", 5)
	last := countertest.Incr(t, c, "dl.x", 3)
	countertest.WaitValue(t, c, "DLA", "dla.x", "8")
	s, err := c.Stream(ctx, "DL")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(ctx, last.Seq); err != nil {
		t.Fatal(err)
	}
	r := auditAt(t, c, "DLA", "dla.>")
	if len(r.Counters) != 1 || len(r.Counters[0].Warnings) != 1 {
		t.Fatalf("audit: %+v", r.Counters)
	}
	w := r.Counters[0].Warnings[0]
	if !strings.HasPrefix(w.Message, "deleted: source DL dl.x is 5") || !strings.Contains(w.Message, "was deleted there") {
		t.Fatalf("warning %q: want it to say the message was deleted", w.Message)
	}
}
