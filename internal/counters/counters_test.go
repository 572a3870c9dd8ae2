package counters_test

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
	"github.com/nats-io/nats.go/jetstream"
)

var ctx = context.Background()

func isKinded(err error) bool {
	for _, k := range []error{errkind.ErrInvalid, errkind.ErrNotFound, errkind.ErrUnavailable, errkind.ErrRefused, errkind.ErrConflict} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

func TestIncrGetBigAndNegative(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "C", Subjects: []string{"big.>"}})

	forty := "1234567890123456789012345678901234567890"
	steps := []struct{ delta, want string }{
		{forty, forty},
		{forty, "2469135780246913578024691357802469135780"},
		{"-3703703670370370367037037036703703703670", "-" + forty},
	}
	var last *counters.IncrResult
	for i, s := range steps {
		r, err := c.Incr(ctx, "big.a", countertest.Big(t, s.delta), "")
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if r.Value.String() != s.want || r.Stream != "C" || r.Subject != "big.a" || r.Duplicate || r.Seq != uint64(i+1) {
			t.Fatalf("step %d: got %+v value %s, want value %s seq %d", i, r, r.Value, s.want, i+1)
		}
		if r.Delta.String() != countertest.Big(t, s.delta).String() {
			t.Fatalf("step %d: delta %s, want %s", i, r.Delta, s.delta)
		}
		last = r
	}
	if _, err := c.Incr(ctx, "big.neg", big.NewInt(-5), ""); err != nil {
		t.Fatal(err)
	}

	got, err := c.Get(ctx, []string{"big.a", "big.neg"}, counters.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"C:big.a=-" + forty, "C:big.neg=-5"}; !slices.Equal(countertest.Subjects(got), want) {
		t.Fatalf("Get = %v, want %v", countertest.Subjects(got), want)
	}
	a := got[0]
	if a.Seq != last.Seq || a.Sources != nil || time.Since(a.Updated) > time.Minute || a.Updated.After(time.Now().Add(time.Minute)) {
		t.Fatalf("big.a: seq %d (want %d), sources %v, updated %v", a.Seq, last.Seq, a.Sources, a.Updated)
	}

	// The wildcard path (consumer) must agree with the literal path (direct get).
	wild, err := c.Get(ctx, []string{"big.*"}, counters.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(countertest.Subjects(wild), countertest.Subjects(got)) || wild[0].Seq != a.Seq || !wild[0].Updated.Equal(a.Updated) {
		t.Fatalf("wildcard Get = %v (seq %d, %v), literal Get = %v (seq %d, %v)",
			countertest.Subjects(wild), wild[0].Seq, wild[0].Updated, countertest.Subjects(got), a.Seq, a.Updated)
	}

	if _, err := c.Incr(ctx, "big.*", big.NewInt(1), ""); !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("Incr on a wildcard: %v, want errkind.ErrInvalid", err)
	}
}

func TestIncrNoStream(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	_, err := c.Incr(ctx, "nowhere.x", big.NewInt(1), "")
	if !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("Incr with no stream: %v, want errkind.ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "no stream captures subject nowhere.x") {
		t.Fatalf("error %q does not name the subject", err)
	}
}

// An acknowledgement that cannot be read (nats-server 2.15.2 writes a control
// character in a stream name as an invalid JSON escape) leaves the outcome
// unknown, as a timeout does: the increment was applied, and the error must
// not read as "failed".
func TestIncrUnreadableAckIsUnknown(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	cfg := jetstream.StreamConfig{Name: "E\x1bSC", Subjects: []string{"esc.>"}, AllowMsgCounter: true, AllowDirect: true}
	if _, err := c.JetStream().CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	_, err := c.Incr(ctx, "esc.x", big.NewInt(1), "")
	if !errkind.OutcomeUnknown(err) || !errors.Is(err, errkind.ErrUnavailable) {
		t.Fatalf("Incr with an unreadable ack: %v, want an unknown outcome (exit 4)", err)
	}
	if !strings.Contains(err.Error(), "it may have been applied") {
		t.Fatalf("error %q does not say the increment may have been applied", err)
	}
}

func TestNotCounterStream(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	if _, err := c.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "PLAIN", Subjects: []string{"plain.>"}}); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "stream PLAIN is not a counter stream") {
			t.Fatalf("%s: %v, want 'stream PLAIN is not a counter stream'", what, err)
		}
		if !errors.Is(err, errkind.ErrInvalid) {
			t.Fatalf("%s: %v; want errkind.ErrInvalid (exit 2, as every verb says it)", what, err)
		}
	}
	_, err := c.Incr(ctx, "plain.x", big.NewInt(1), "")
	check("Incr", err)
	_, err = c.Get(ctx, []string{"plain.x"}, counters.GetOptions{})
	check("Get literal", err)
	_, err = c.Get(ctx, []string{"plain.x"}, counters.GetOptions{Stream: "PLAIN"})
	check("Get --stream", err)
	// The rejected increment must not have been stored.
	info, err := c.StreamInfo(ctx, "PLAIN")
	if err != nil || info.State.Msgs != 0 {
		t.Fatalf("PLAIN holds %d messages (err %v), want 0", info.State.Msgs, err)
	}
}

func TestIncrMsgIDDedupe(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "C", Subjects: []string{"d.>"}})

	first, err := c.Incr(ctx, "d.x", big.NewInt(5), "op-1")
	if err != nil || first.Duplicate || first.Value.String() != "5" {
		t.Fatalf("first: %+v, %v", first, err)
	}
	if _, err := c.Incr(ctx, "d.x", big.NewInt(2), ""); err != nil {
		t.Fatal(err)
	}
	dup, err := c.Incr(ctx, "d.x", big.NewInt(5), "op-1")
	if err != nil {
		t.Fatal(err)
	}
	// Value is the current total (7), not the value the first attempt got.
	if !dup.Duplicate || dup.Value == nil || dup.Value.String() != "7" || dup.Stream != "C" {
		t.Fatalf("duplicate: %+v value %v, want Duplicate with value 7", dup, dup.Value)
	}
	got, err := c.Get(ctx, []string{"d.x"}, counters.GetOptions{})
	if err != nil || len(got) != 1 || got[0].Value.String() != "7" {
		t.Fatalf("after duplicate: %v, %v; want 7 (applied once)", countertest.Subjects(got), err)
	}
	next, err := c.Incr(ctx, "d.x", big.NewInt(1), "op-2")
	if err != nil || next.Duplicate || next.Value.String() != "8" {
		t.Fatalf("new id: %+v, %v", next, err)
	}
}

func TestGetThousandsEveryValue(t *testing.T) {
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "MANY", Subjects: []string{"many.>"}})
	const n = 3000
	countertest.Seed(t, testserver.Connect(t, s), "many", n)

	checkAll := func(what string, got []counters.Counter, want int) {
		t.Helper()
		if len(got) != want {
			t.Fatalf("%s: %d counters, want %d", what, len(got), want)
		}
		seen := make([]bool, want+1)
		for _, ctr := range got {
			i, err := strconv.Atoi(strings.TrimPrefix(ctr.Subject, "many."))
			if err != nil || i < 1 || i > want || seen[i] {
				t.Fatalf("%s: unexpected or repeated subject %q", what, ctr.Subject)
			}
			seen[i] = true
			if ctr.Value.Cmp(big.NewInt(int64(i))) != 0 || ctr.Stream != "MANY" || ctr.Seq == 0 || ctr.Updated.IsZero() {
				t.Fatalf("%s: %s = %s (stream %q seq %d updated %v), want %d", what, ctr.Subject, ctr.Value, ctr.Stream, ctr.Seq, ctr.Updated, i)
			}
		}
	}

	got, err := c.Get(ctx, []string{"many.>"}, counters.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkAll("wildcard", got, n)
	if !slices.IsSortedFunc(got, func(a, b counters.Counter) int { return strings.Compare(a.Subject, b.Subject) }) {
		t.Fatal("wildcard result is not sorted by subject")
	}

	// More literals than one batch direct get may return (1024).
	const lits = 1100
	patterns := make([]string, lits)
	for i := range patterns {
		patterns[i] = "many." + strconv.Itoa(i+1)
	}
	got, err = c.Get(ctx, patterns, counters.GetOptions{Stream: "MANY"})
	if err != nil {
		t.Fatal(err)
	}
	checkAll("literals", got, lits)
}

func TestGetPatternsAcrossStreams(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "A", Subjects: []string{"a.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "B", Subjects: []string{"b.>"}})
	for subj, v := range map[string]int64{"a.1": 1, "a.2": 2, "a.x.y": 3, "b.1": 10, "b.2": -20} {
		if _, err := c.Incr(ctx, subj, big.NewInt(v), ""); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		patterns []string
		want     []string
	}{
		{[]string{"a.1", "a.*", "b.>", "b.1"}, []string{"A:a.1=1", "A:a.2=2", "B:b.1=10", "B:b.2=-20"}},
		{[]string{"b.2", "a.x.y"}, []string{"A:a.x.y=3", "B:b.2=-20"}},
		{[]string{"a.1", "a.1"}, []string{"A:a.1=1"}},
		{[]string{"*.1"}, []string{"A:a.1=1", "B:b.1=10"}},
		{[]string{">"}, []string{"A:a.1=1", "A:a.2=2", "A:a.x.y=3", "B:b.1=10", "B:b.2=-20"}},
		// Overlapping wildcards on one stream (a consumer refuses
		// overlapping filters), and a repeated wildcard.
		{[]string{"a.>", "a.*"}, []string{"A:a.1=1", "A:a.2=2", "A:a.x.y=3"}},
		{[]string{"a.*", "a.*"}, []string{"A:a.1=1", "A:a.2=2"}},
		{[]string{"a.*.y", "a.x.*"}, []string{"A:a.x.y=3"}},
	}
	for _, tc := range cases {
		got, err := c.Get(ctx, tc.patterns, counters.GetOptions{})
		if err != nil {
			t.Errorf("Get(%q): %v", tc.patterns, err)
			continue
		}
		if !slices.Equal(countertest.Subjects(got), tc.want) {
			t.Errorf("Get(%q) = %v, want %v", tc.patterns, countertest.Subjects(got), tc.want)
		}
	}
}

func TestGetNotFound(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "A", Subjects: []string{"a.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "B", Subjects: []string{"b.>"}})
	if _, err := c.Incr(ctx, "a.1", big.NewInt(1), ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		patterns []string
		stream   string
		want     []string // partial results
		msg      string
	}{
		{[]string{"a.1", "a.missing"}, "", []string{"A:a.1=1"}, "counter a.missing has no value in stream A"},
		{[]string{"a.none.>"}, "", nil, "no counter matches a.none.>"},
		{[]string{"a.1", "b.*"}, "", []string{"A:a.1=1"}, "no counter matches b.*"},
		{[]string{"a.1", "b.*", "a.2"}, "", []string{"A:a.1=1"}, "no counter matches b.*, a.2"},
		{[]string{"a.missing"}, "A", nil, "counter a.missing has no value in stream A"},
		{[]string{"zzz.1"}, "", nil, "no stream captures subject zzz.1: check the subject, or read an aggregate with --stream NAME"},
		// A subject no stream captures does not hide the others.
		{[]string{"a.1", "zzz.1"}, "", []string{"A:a.1=1"}, "no stream captures subject zzz.1"},
		{[]string{"zzz.>", "a.1", "a.missing", "zzz.>"}, "", []string{"A:a.1=1"},
			"no stream captures subject zzz.>: check the subject, or read an aggregate with --stream NAME; counter a.missing has no value in stream A"},
		{[]string{"a.1"}, "NOPE", nil, "stream NOPE not found"},
	}
	for _, tc := range cases {
		got, err := c.Get(ctx, tc.patterns, counters.GetOptions{Stream: tc.stream})
		if !errors.Is(err, errkind.ErrNotFound) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Get(%q, stream %q): err %v, want errkind.ErrNotFound with %q", tc.patterns, tc.stream, err, tc.msg)
		}
		if !slices.Equal(countertest.Subjects(got), tc.want) {
			t.Errorf("Get(%q, stream %q) = %v, want partial %v", tc.patterns, tc.stream, countertest.Subjects(got), tc.want)
		}
	}
	if _, err := c.Get(ctx, []string{"a..b"}, counters.GetOptions{}); !errors.Is(err, errkind.ErrInvalid) {
		t.Errorf("Get(a..b): %v, want errkind.ErrInvalid", err)
	}
}

func TestCreate(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	if _, err := c.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "PLAIN", Subjects: []string{"plain.>"}}); err != nil {
		t.Fatal(err)
	}
	spec := streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}, Description: "Germany"}

	res, err := streams.Create(ctx, c, spec, streams.CreateOptions{DryRun: true})
	if err != nil || res.Action != "would create" {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if _, err := c.StreamInfo(ctx, "DE"); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("dry run created the stream (StreamInfo: %v)", err)
	}

	res, err = streams.Create(ctx, c, spec, streams.CreateOptions{})
	if err != nil || res.Action != "created" || res.Stream != "DE" {
		t.Fatalf("create: %+v, %v", res, err)
	}
	info, err := c.StreamInfo(ctx, "DE")
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	if !cfg.AllowMsgCounter || !cfg.AllowDirect || cfg.Discard != jetstream.DiscardOld || cfg.Retention != jetstream.LimitsPolicy ||
		cfg.MaxAge != 0 || cfg.MaxMsgs > 0 || cfg.MaxBytes > 0 || cfg.Description != "Germany" {
		t.Fatalf("created config is not a safe counter stream: %+v", cfg)
	}

	for _, opts := range []streams.CreateOptions{{}, {DryRun: true}} {
		res, err = streams.Create(ctx, c, spec, opts)
		if err != nil || res.Action != "unchanged" {
			t.Fatalf("create again (%+v): %+v, %v", opts, res, err)
		}
	}

	differ := spec
	differ.Subjects = []string{"count.de.>", "count.at.>"}
	differ.Description = "DACH"
	differ.History = 2
	_, err = streams.Create(ctx, c, differ, streams.CreateOptions{})
	if !errors.Is(err, errkind.ErrConflict) {
		t.Fatalf("conflict: %v, want errkind.ErrConflict", err)
	}
	for _, field := range []string{"subjects: have [count.de.>], want [count.de.> count.at.>]", `description: have "Germany", want "DACH"`, "history: have unlimited, want 2", "nothing changed"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("conflict message %q does not list %q", err, field)
		}
	}
	if strings.Contains(err.Error(), "storage") || strings.Contains(err.Error(), "replicas") {
		t.Errorf("conflict message %q lists fields that do not differ", err)
	}
	if info, _ := c.StreamInfo(ctx, "DE"); info.Config.Description != "Germany" {
		t.Fatal("a conflicting create changed the stream")
	}

	// An aggregate with a filtered and a renamed source comes back from the
	// server as the same configuration ("unchanged", not a conflict).
	agg := streams.StreamSpec{Name: "EU", Sources: []streams.SourceSpec{
		{Stream: "DE", From: "count.de.>", To: "count.eu.>"},
		{Stream: "DE2", From: "count.de2.>"},
	}}
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE2", Subjects: []string{"count.de2.>"}})
	countertest.MustCreate(t, c, agg)
	if res, err := streams.Create(ctx, c, agg, streams.CreateOptions{}); err != nil || res.Action != "unchanged" {
		t.Fatalf("aggregate again: %+v, %v", res, err)
	}

	refused := []struct {
		src  streams.SourceSpec
		kind error
		msg  string
	}{
		{streams.SourceSpec{Stream: "PLAIN"}, errkind.ErrInvalid, "source stream PLAIN is not a counter stream"},
		{streams.SourceSpec{Stream: "GHOST"}, errkind.ErrNotFound, "source stream GHOST not found"},
	}
	for i, r := range refused {
		name := "AGG" + strconv.Itoa(i)
		spec := streams.StreamSpec{Name: name, Sources: []streams.SourceSpec{r.src}}
		_, err := streams.Create(ctx, c, spec, streams.CreateOptions{})
		if !errors.Is(err, r.kind) || !strings.Contains(err.Error(), r.msg) || !strings.Contains(err.Error(), "--force") {
			t.Errorf("source %s: %v, want %v with %q and a hint", r.src, err, r.kind, r.msg)
		}
		if _, err := c.StreamInfo(ctx, name); !errors.Is(err, errkind.ErrNotFound) {
			t.Errorf("source %s: refused create still made %s (%v)", r.src, name, err)
		}
		res, err := streams.Create(ctx, c, spec, streams.CreateOptions{Force: true})
		if err != nil || res.Action != "created" || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], r.msg) {
			t.Errorf("source %s with Force: %+v, %v", r.src, res, err)
		}
		if _, err := c.StreamInfo(ctx, name); err != nil {
			t.Errorf("source %s with Force: %v", r.src, err)
		}
	}

	invalid := []streams.StreamSpec{
		{Name: "X"},
		{Name: "X.Y", Subjects: []string{"x"}},
		{Name: "X", Subjects: []string{"x..y"}},
		{Name: "X", Subjects: []string{"x"}, Storage: "tape"},
		{Name: "X", Subjects: []string{"x"}, Replicas: 7},
		{Name: "X", Sources: []streams.SourceSpec{{Stream: "DE"}, {Stream: "DE", From: "count.de.a"}}},
	}
	for _, spec := range invalid {
		if _, err := streams.Create(ctx, c, spec, streams.CreateOptions{}); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("Create(%+v): %v, want errkind.ErrInvalid", spec, err)
		}
	}
}

func TestAggregateSumsRegions(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "PL", Subjects: []string{"count.pl.>"}})
	var srcs []streams.SourceSpec
	for _, s := range []string{"DE:count.de.>:count.eu.>", "PL:count.pl.>:count.eu.>"} {
		spec, err := streams.ParseSourceSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, spec)
	}
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "EU", Sources: srcs})

	for subj, v := range map[string]int64{"count.de.hits": 5, "count.pl.hits": 10} {
		if _, err := c.Incr(ctx, subj, big.NewInt(v), ""); err != nil {
			t.Fatal(err)
		}
	}
	eu := countertest.WaitValue(t, c, "EU", "count.eu.hits", "15")
	if eu.Stream != "EU" {
		t.Fatalf("stream %q, want EU", eu.Stream)
	}
	want := map[string]string{"DE/count.de.hits": "5", "PL/count.pl.hits": "10"}
	got := map[string]string{}
	for key, subjs := range eu.Sources {
		for subj, v := range subjs {
			got[key+"/"+subj] = v.String()
		}
	}
	if len(got) != len(want) || got["DE/count.de.hits"] != "5" || got["PL/count.pl.hits"] != "10" {
		t.Fatalf("Sources = %v, want %v", got, want)
	}
	if eu.Sources.Total().String() != "15" {
		t.Fatalf("Sources.Total() = %s", eu.Sources.Total())
	}

	if _, err := c.Incr(ctx, "count.pl.hits", big.NewInt(-3), ""); err != nil {
		t.Fatal(err)
	}
	countertest.WaitValue(t, c, "EU", "count.eu.hits", "12")

	// The wildcard path reads the aggregate too.
	list, err := c.Get(ctx, []string{"count.eu.>"}, counters.GetOptions{Stream: "EU", Sources: true})
	if err != nil || !slices.Equal(countertest.Subjects(list), []string{"EU:count.eu.hits=12"}) || list[0].Sources.Total().String() != "12" {
		t.Fatalf("wildcard read of EU: %v, %v", countertest.Subjects(list), err)
	}
	// EU has no subjects of its own: without --stream nothing captures it.
	if _, err := c.Get(ctx, []string{"count.eu.hits"}, counters.GetOptions{}); !errors.Is(err, errkind.ErrNotFound) || !strings.Contains(err.Error(), "--stream") {
		t.Fatalf("Get without --stream: %v, want errkind.ErrNotFound pointing at --stream", err)
	}
}

func TestCrossDomainSource(t *testing.T) {
	hub, leaf := testserver.HubAndLeaf(t, "hub", "leaf")
	leafClient := countertest.NewClient(t, leaf)
	hubClient := countertest.NewClient(t, hub)
	countertest.MustCreate(t, leafClient, streams.StreamSpec{Name: "L", Subjects: []string{"edge.>"}})

	// The source check looks in the leaf's domain, not the hub's.
	_, err := streams.Create(ctx, hubClient, streams.StreamSpec{Name: "AGG", Sources: []streams.SourceSpec{{Stream: "GHOST", Domain: "leaf"}}}, streams.CreateOptions{})
	if !errors.Is(err, errkind.ErrNotFound) || !strings.Contains(err.Error(), "at $JS.leaf.API") {
		t.Fatalf("missing leaf source: %v, want errkind.ErrNotFound naming $JS.leaf.API", err)
	}
	_, err = streams.Create(ctx, hubClient, streams.StreamSpec{Name: "AGG", Sources: []streams.SourceSpec{{Stream: "L"}}}, streams.CreateOptions{})
	if !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("leaf stream looked up in the hub domain: %v, want errkind.ErrNotFound", err)
	}

	spec := streams.StreamSpec{Name: "AGG", Sources: []streams.SourceSpec{{Stream: "L", Domain: "leaf"}}}
	countertest.MustCreate(t, hubClient, spec)
	info, err := hubClient.StreamInfo(ctx, "AGG")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Config.Sources) != 1 || info.Config.Sources[0].External == nil || info.Config.Sources[0].External.APIPrefix != "$JS.leaf.API" {
		t.Fatalf("AGG sources: %+v", info.Config.Sources)
	}
	if res, err := streams.Create(ctx, hubClient, spec, streams.CreateOptions{}); err != nil || res.Action != "unchanged" {
		t.Fatalf("create AGG again: %+v, %v", res, err)
	}

	if _, err := leafClient.Incr(ctx, "edge.hits", big.NewInt(7), ""); err != nil {
		t.Fatal(err)
	}
	agg := countertest.WaitValue(t, hubClient, "AGG", "edge.hits", "7")
	if len(agg.Sources) != 1 {
		t.Fatalf("Sources = %v, want one external key", agg.Sources)
	}
	for key, subjs := range agg.Sources {
		// External sources are keyed "stream:hash".
		if !strings.HasPrefix(key, "L:") || subjs["edge.hits"] == nil || subjs["edge.hits"].String() != "7" {
			t.Fatalf("Sources = %v, want L:<hash> -> edge.hits=7", agg.Sources)
		}
	}
	if _, err := leafClient.Incr(ctx, "edge.hits", big.NewInt(-2), ""); err != nil {
		t.Fatal(err)
	}
	countertest.WaitValue(t, hubClient, "AGG", "edge.hits", "5")

	// A hub client can also read the leaf directly through its domain.
	viaDomain, err := counters.New(hubClient.Conn(), counters.Options{Domain: "leaf"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := viaDomain.Get(ctx, []string{"edge.hits"}, counters.GetOptions{Stream: "L"})
	if err != nil || !slices.Equal(countertest.Subjects(got), []string{"L:edge.hits=5"}) {
		t.Fatalf("leaf read via domain: %v, %v", countertest.Subjects(got), err)
	}
}

func TestJetStreamDisabled(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoJetStream: true})
	c, err := counters.New(testserver.Connect(t, s), counters.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, errkind.ErrUnavailable) || !strings.Contains(err.Error(), "JetStream") {
			t.Errorf("%s: %v, want errkind.ErrUnavailable mentioning JetStream", what, err)
		}
	}
	_, err = c.APILevel(ctx)
	check("APILevel", err)
	_, err = c.Incr(ctx, "a.b", big.NewInt(1), "")
	check("Incr", err)
	_, err = c.Get(ctx, []string{"a.b"}, counters.GetOptions{})
	check("Get", err)
	_, err = c.Get(ctx, []string{"a.>"}, counters.GetOptions{Stream: "A"})
	check("Get --stream", err)
	_, err = streams.Create(ctx, c, streams.StreamSpec{Name: "A", Subjects: []string{"a.>"}}, streams.CreateOptions{})
	check("Create", err)
	err = c.ReadLast(ctx, "A", []string{"a.>"}, func(counters.Counter) error { return nil })
	check("ReadLast", err)
}

func TestReadLastErrors(t *testing.T) {
	s := testserver.Single(t)
	nc := testserver.Connect(t, s)
	c, err := counters.New(nc, counters.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	noop := func(counters.Counter) error { return nil }
	if err := c.ReadLast(ctx, "NOPE", []string{"x.>"}, noop); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("ReadLast of a missing stream: %v, want errkind.ErrNotFound", err)
	}

	countertest.MustCreate(t, c, streams.StreamSpec{Name: "R", Subjects: []string{"r.>"}})
	// An error from fn stops the read and is returned as is.
	stop := errors.New("stop here")
	calls := 0
	if err := c.ReadLast(ctx, "R", []string{"r.>"}, func(counters.Counter) error { calls++; return stop }); err != nil || calls != 0 {
		t.Fatalf("ReadLast of an empty stream: %v after %d calls", err, calls)
	}
	// More counters than one pull batch (4096), so the stream is deleted
	// while part of the snapshot is still on the server.
	const n = 6000
	countertest.Seed(t, nc, "r", n)
	if err := c.ReadLast(ctx, "R", []string{"r.>"}, func(counters.Counter) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("ReadLast with failing fn: %v after %d calls, want the fn's error after 1", err, calls)
	}

	got := 0
	err = c.ReadLast(ctx, "R", []string{"r.>"}, func(counters.Counter) error {
		got++
		if got == 1 {
			if err := c.JetStream().DeleteStream(ctx, "R"); err != nil {
				t.Errorf("delete stream: %v", err)
			}
		}
		return nil
	})
	if err == nil {
		t.Fatalf("ReadLast returned a short list (%d of %d) without an error", got, n)
	}
	if got >= n || !strings.Contains(err.Error(), "stream R") {
		t.Fatalf("ReadLast after delete: %v after %d counters", err, got)
	}
	t.Logf("stream deleted mid-read: %v (after %d of %d)", err, got, n)
}

// The read timeout bounds waiting for the server, not the time fn takes
// (a slow terminal or pipe must not turn into "timed out").
func TestReadLastSlowCallback(t *testing.T) {
	s := testserver.Single(t)
	nc := testserver.Connect(t, s)
	c, err := counters.New(nc, counters.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "S", Subjects: []string{"s.>"}})
	countertest.Seed(t, nc, "s", 3)
	var got []string
	err = c.ReadLast(ctx, "S", []string{"s.>"}, func(ctr counters.Counter) error {
		if len(got) == 0 {
			time.Sleep(600 * time.Millisecond) // a slow reader: time passes on purpose, twice the timeout
		}
		got = append(got, ctr.Subject+"="+ctr.Value.String())
		return nil
	})
	if err != nil || !slices.Equal(got, []string{"s.1=1", "s.2=2", "s.3=3"}) {
		t.Fatalf("ReadLast with a slow fn: %v, %v", got, err)
	}
}

// TestIncrTooLargeForHeader: a delta travels in a header; one the server
// cannot take is invalid input (exit 2), named as such, and not applied.
func TestIncrTooLargeForHeader(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "C", Subjects: []string{"big.>"}})
	huge := countertest.Big(t, "1"+strings.Repeat("0", 70000))
	_, err := c.Incr(ctx, "big.a", huge, "")
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "too large for the server") {
		t.Fatalf("70,001-digit delta: %v, want errkind.ErrInvalid naming the size", err)
	}
	if _, err := c.Get(ctx, []string{"big.a"}, counters.GetOptions{}); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("big.a after the refused delta: %v, want no value", err)
	}
}

// TestIncrIDOnAggregateRefused: aggregates have no duplicate window, so a
// message id would promise retry safety the server does not give.
func TestIncrIDOnAggregateRefused(t *testing.T) {
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DE", Subjects: []string{"count.de.>"}})
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "EU", Subjects: []string{"count.eu.>"},
		Sources: []streams.SourceSpec{{Stream: "DE", From: "count.de.>", To: "count.eu.>"}}})
	_, err := c.Incr(ctx, "count.eu.x", big.NewInt(1), "id-1")
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "no duplicate window") {
		t.Fatalf("--id on an aggregate: %v", err)
	}
	if _, err := c.Incr(ctx, "count.de.x", big.NewInt(1), "id-1"); err != nil {
		t.Fatalf("--id on a leaf: %v", err)
	}
}
