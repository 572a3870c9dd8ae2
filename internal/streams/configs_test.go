package streams_test

import (
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/countertest"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestSameUpstreamSourcedTwice: the server accepts one stream sourced twice
// with other filters (its sources record keys it by stream, then upstream
// subject), so create takes it, an update that drops one of the two drops
// that one (not "unchanged"), and each removal keeps what that source
// carried, not the whole stream's.
func TestSameUpstreamSourcedTwice(t *testing.T) {
	t.Parallel()
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "DS", Subjects: []string{"ds.>"}})
	countertest.Incr(t, c, "ds.a", 3)
	countertest.Incr(t, c, "ds.b", 14)
	spec := func(sources ...string) streams.StreamSpec {
		return streams.StreamSpec{Name: "DSA", Sources: countertest.Sources(t, sources...)}
	}
	countertest.MustCreate(t, c, spec("DS:ds.a:dsa.t", "DS:ds.b:dsa.t"))
	countertest.WaitValue(t, c, "DSA", "dsa.t", "17")

	for _, twice := range [][]string{{"DS:ds.a:dsa.t", "DS:ds.a:dsa.t"}, {"DS", "DS:ds.a"}, {"DS:ds.*:dsa.t", "DS:ds.a:dsa.u"}} {
		if _, err := spec(twice...).Config(); !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "counted twice") {
			t.Fatalf("overlapping sources %q: %v, want refused (a counter would count twice)", twice, err)
		}
	}

	// Removing both: each keeps its own.
	plan, err := streams.PlanUpdate(ctx, c, streams.StreamSpec{Name: "DSA", Subjects: []string{"dsa.>"}}, streams.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, ch := range plan.Changes {
		if ch.Field == "source" && ch.Op == "remove" {
			kept = append(kept, ch.Item+"="+ch.Kept.String())
		}
	}
	slices.Sort(kept)
	if want := []string{"DS:ds.a:dsa.t=3", "DS:ds.b:dsa.t=14"}; !slices.Equal(kept, want) {
		t.Fatalf("removing both keeps %v, want %v", kept, want)
	}

	// Dropping one of the two is a change, and applied it leaves the other.
	plan = planAndApply(t, c, spec("DS:ds.a:dsa.t"))
	if ch := findChange(plan, "source", "remove"); ch == nil || ch.Item != "DS:ds.b:dsa.t" || ch.Kept.Cmp(big.NewInt(14)) != 0 {
		t.Fatalf("dropping ds.b: %+v", plan.Changes)
	}
	info, err := c.StreamInfo(ctx, "DSA")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Config.Sources) != 1 || info.Config.Sources[0].SubjectTransforms[0].Source != "ds.a" {
		t.Fatalf("sources after the update: %+v", info.Config.Sources)
	}
	if plan, err := streams.PlanUpdate(ctx, c, spec("DS:ds.a:dsa.t"), streams.CreateOptions{}); err != nil || !plan.Unchanged() {
		t.Fatalf("the same update again: %+v, %v; want unchanged", plan, err)
	}
}

// TestSealedStreamUpdate: sealing a counter stream forces discard:new,
// which the server then keeps whatever an update asks. create --update on
// a sealed stream says it is sealed and what cannot change, and converges:
// asking for what it is gives "unchanged", asking for more is refused.
func TestSealedStreamUpdate(t *testing.T) {
	t.Parallel()
	s := testserver.Single(t)
	c := countertest.NewClient(t, s)
	want := streams.StreamSpec{Name: "SE", Subjects: []string{"se.>"}}
	countertest.MustCreate(t, c, want)
	countertest.Incr(t, c, "se.a", 2)
	js := c.JetStream()
	info, err := c.StreamInfo(ctx, "SE")
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.Sealed = true
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("seal: %v", err)
	}
	if info, _ := c.StreamInfo(ctx, "SE"); info.Config.Discard != jetstream.DiscardNew {
		t.Fatalf("sealing left discard %v: the server fact this test is about changed", info.Config.Discard)
	}

	for range 2 {
		plan, err := streams.PlanUpdate(ctx, c, want, streams.CreateOptions{})
		if err != nil || !plan.Unchanged() {
			t.Fatalf("update of a sealed stream to what it is: %+v, %v; want unchanged", plan, err)
		}
	}
	more := want
	more.Subjects = []string{"se.>", "more.>"}
	_, err = streams.PlanUpdate(ctx, c, more, streams.CreateOptions{})
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "sealed") || !strings.Contains(err.Error(), "subjects") {
		t.Fatalf("update of a sealed stream: %v; want refused, naming the seal and what would change", err)
	}
	if _, err := streams.Create(ctx, c, want, streams.CreateOptions{}); err != nil {
		t.Fatalf("create of what the sealed stream is: %v; want unchanged", err)
	}
}

// TestUpdateComparesMaxMsgSize: create sets no message size limit, and
// --update puts it back when another client set one (a counter grows into
// it and then refuses every increment), instead of saying "unchanged".
func TestUpdateComparesMaxMsgSize(t *testing.T) {
	t.Parallel()
	c := countertest.NewClient(t, testserver.Single(t))
	spec := streams.StreamSpec{Name: "MS", Subjects: []string{"ms.>"}}
	countertest.MustCreate(t, c, spec)
	info, err := c.StreamInfo(ctx, "MS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.MaxMsgSize = 170
	if _, err := c.JetStream().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	plan := planAndApply(t, c, spec)
	if ch := findChange(plan, "max_msg_size", "change"); ch == nil || ch.Have != "170" || ch.Want != "unlimited" {
		t.Fatalf("plan: %+v; want max_msg_size 170 -> unlimited", plan.Changes)
	}
	if info, err := c.StreamInfo(ctx, "MS"); err != nil || info.Config.MaxMsgSize > 0 {
		t.Fatalf("after the update: max_msg_size %d, %v", info.Config.MaxMsgSize, err)
	}
}

// TestAggregateOverValuesItCannotCarry: a source holding a counter too
// large for an aggregate to carry would block that source forever (lag 0,
// no error), so no counter would ever reach the aggregate. create refuses
// it, naming the counter, and --update's plan needs --force for it.
func TestAggregateOverValuesItCannotCarry(t *testing.T) {
	t.Parallel()
	c := countertest.NewClient(t, testserver.Single(t))
	countertest.MustCreate(t, c, streams.StreamSpec{Name: "BIGL", Subjects: []string{"bigl.>"}})
	huge := new(big.Int).Exp(big.NewInt(10), big.NewInt(40_000), nil)
	if _, err := c.Incr(ctx, "bigl.h", huge, ""); err != nil {
		t.Fatal(err)
	}
	countertest.Incr(t, c, "bigl.small", 1)
	spec := streams.StreamSpec{Name: "BIGA", Subjects: []string{"biga.>"}, Sources: countertest.Sources(t, "BIGL:bigl.>:biga.>")}
	_, err := streams.Create(ctx, c, spec, streams.CreateOptions{})
	if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "bigl.h has 40001 digits") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("create over a 40,001-digit value: %v; want refused naming bigl.h", err)
	}
	if _, err := c.StreamInfo(ctx, "BIGA"); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("BIGA exists after the refusal: %v", err)
	}

	countertest.MustCreate(t, c, streams.StreamSpec{Name: "BIGA", Subjects: []string{"biga.>"}})
	plan, err := streams.PlanUpdate(ctx, c, spec, streams.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Refusals) != 1 || !strings.Contains(plan.Refusals[0], "bigl.h has 40001 digits") {
		t.Fatalf("--update adding the source: refusals %q; want one naming bigl.h", plan.Refusals)
	}
}
