package history

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/nats-io/nats.go"
)

// history is a model of one counter stream as nats-server stores it
// (stream.go, processJetStreamMsg): a direct increment adds its delta and
// carries the sources record forward; a sourced message sets the record
// entry of its source and subject and stores the difference as Nats-Incr.
// Messages go through the wire form and parseHistoryMsg, like real reads.
type history struct {
	seq    uint64
	values map[string]*big.Int
	recs   map[string]map[string]map[string]string
	msgs   []HistoryMsg
}

func newHistory() *history {
	return &history{values: map[string]*big.Int{}, recs: map[string]map[string]map[string]string{}}
}

func (h *history) store(subject string, hdr nats.Header, value *big.Int) HistoryMsg {
	h.seq++
	if rec := h.recs[subject]; len(rec) > 0 {
		b, _ := json.Marshal(rec)
		hdr.Set(counters.HeaderSources, string(b))
	}
	body := fmt.Sprintf(`{"val":%q}`, value.String())
	m := parseHistoryMsg(subject, h.seq, time.Unix(int64(h.seq), 0), hdr, []byte(body))
	h.msgs = append(h.msgs, m)
	return m
}

func (h *history) value(subject string) *big.Int {
	if h.values[subject] == nil {
		h.values[subject] = new(big.Int)
	}
	return h.values[subject]
}

// direct is an increment made on this stream.
func (h *history) direct(subject string, delta int64) HistoryMsg {
	d := big.NewInt(delta)
	v := h.value(subject).Add(h.value(subject), d)
	return h.store(subject, nats.Header{counters.HeaderIncr: {counters.Signed(d)}}, new(big.Int).Set(v))
}

// sourced is a message from source key whose upstream subject up now holds
// upValue (stored here under subject, after any transform).
func (h *history) sourced(subject, key, up string, upValue int64) HistoryMsg {
	if h.recs[subject] == nil {
		h.recs[subject] = map[string]map[string]string{}
	}
	if h.recs[subject][key] == nil {
		h.recs[subject][key] = map[string]string{}
	}
	prev := new(big.Int)
	if s := h.recs[subject][key][up]; s != "" {
		prev.SetString(s, 10)
	}
	sv := big.NewInt(upValue)
	h.recs[subject][key][up] = sv.String()
	d := new(big.Int).Sub(sv, prev)
	v := h.value(subject).Add(h.value(subject), d)
	hdr := nats.Header{
		counters.HeaderIncr: {counters.Signed(d)},
		headerStreamSource:  {fmt.Sprintf("%s %d %s > %s", key, h.seq+100, up, up)},
	}
	return h.store(subject, hdr, new(big.Int).Set(v))
}

// purge removes the messages of subject below seq, as a reset does.
func (h *history) purge(subject string, below uint64) {
	h.msgs = slices.DeleteFunc(h.msgs, func(m HistoryMsg) bool { return m.Subject == subject && m.Seq < below })
}

func auditOne(t *testing.T, msgs []HistoryMsg) CounterAudit {
	t.Helper()
	res := AuditHistory("C", msgs)
	if len(res) != 1 {
		t.Fatalf("%d results, want 1: %+v", len(res), res)
	}
	return res[0]
}

func wantOK(t *testing.T, a CounterAudit, value string) {
	t.Helper()
	if !a.OK() {
		t.Fatalf("%s: problems %+v", a.Subject, a.Problems)
	}
	if a.Value == nil || a.Value.String() != value {
		t.Fatalf("%s: value %v, want %s", a.Subject, a.Value, value)
	}
}

func wantProblem(t *testing.T, a CounterAudit, seq uint64, check, expected, found string) {
	t.Helper()
	for _, p := range a.Problems {
		if p.Seq == seq && p.Check == check {
			if p.Expected != expected || p.Found != found {
				t.Fatalf("%s at seq %d: expected %q found %q, want %q and %q (%s)", check, seq, p.Expected, p.Found, expected, found, p.Message)
			}
			return
		}
	}
	t.Fatalf("no %s problem at seq %d; problems: %+v", check, seq, a.Problems)
}

func TestAuditLeafHolds(t *testing.T) {
	h := newHistory()
	h.direct("hits", 5)
	h.direct("hits", -2)
	h.direct("hits", 10)
	a := auditOne(t, h.msgs)
	wantOK(t, a, "13")
	if !a.Complete || a.Messages != 3 || a.FirstSeq != 1 || a.LastSeq != 3 || a.Direct.String() != "13" {
		t.Fatalf("got %+v", a)
	}
}

func TestAuditAggregateHolds(t *testing.T) {
	h := newHistory()
	h.sourced("eu", "DE", "de", 5)
	h.sourced("eu", "PL:abcdefgh", "pl", 10)
	h.direct("eu", 3)
	h.sourced("eu", "DE", "de", 7)
	h.sourced("eu", "DE", "de", 2) // a reset below flowed up
	a := auditOne(t, h.msgs)
	wantOK(t, a, "15")
	if a.Direct.String() != "3" || a.Sources.Total().String() != "12" || !a.Complete {
		t.Fatalf("got direct %s sources %s complete %v", a.Direct, a.Sources.Total(), a.Complete)
	}
}

// A reset keeps its message and purges below it: the retained history
// starts there, and is checked from there.
func TestAuditPurgedPrefix(t *testing.T) {
	h := newHistory()
	h.sourced("eu", "DE", "de", 5)
	h.direct("eu", 4)
	r := h.direct("eu", -9) // reset at the aggregate
	h.sourced("eu", "DE", "de", 6)
	h.purge("eu", r.Seq)
	a := auditOne(t, h.msgs)
	wantOK(t, a, "1")
	if a.Complete || a.FirstSeq != r.Seq || a.Messages != 2 {
		t.Fatalf("got %+v", a)
	}
	// The direct share counts the reset's -9 and what the first message
	// held beyond its sources (0 - 5).
	if a.Direct.String() != "-5" {
		t.Fatalf("direct %s, want -5", a.Direct)
	}
}

func TestAuditChainBreak(t *testing.T) {
	h := newHistory()
	h.direct("hits", 5)
	h.direct("hits", -2)
	lost := h.direct("hits", 10)
	h.direct("hits", 1)
	// The message at seq 3 is gone (a lost or deleted increment): 3 + 1
	// is not 14, and the total is off by the missing 10.
	h.msgs = slices.DeleteFunc(h.msgs, func(m HistoryMsg) bool { return m.Seq == lost.Seq })
	a := auditOne(t, h.msgs)
	wantProblem(t, a, 4, CheckChain, "4", "14")
	wantProblem(t, a, 4, CheckTotal, "4", "14")
	if len(a.Problems) != 2 {
		t.Fatalf("problems %+v", a.Problems)
	}
}

func TestAuditSourcedDeltaMismatch(t *testing.T) {
	h := newHistory()
	h.sourced("eu", "DE", "de", 5)
	bad := h.sourced("eu", "DE", "de", 8)
	// The server would store +3; a stored +4 (and value 9) is wrong.
	h.msgs[1].Delta = big.NewInt(4)
	h.msgs[1].Value = big.NewInt(9)
	a := auditOne(t, h.msgs)
	wantProblem(t, a, bad.Seq, CheckSourceDelta, "+3", "+4")
	if len(a.Problems) != 2 { // and the total is off by the extra 1
		t.Fatalf("problems %+v", a.Problems)
	}
	wantProblem(t, a, bad.Seq, CheckTotal, "8", "9")
}

func TestAuditTotalMismatch(t *testing.T) {
	h := newHistory()
	h.direct("eu", 5)
	h.sourced("eu", "DE", "de", 10)
	// A record entry that moved without its delta: 15 != 5 + 12.
	h.msgs[1].Sources = counters.Sources{"DE": {"de": big.NewInt(12)}}
	a := auditOne(t, h.msgs)
	wantProblem(t, a, 2, CheckTotal, "17", "15")
	wantProblem(t, a, 2, CheckSourceDelta, "+12", "+10")
}

func TestAuditRecordMovesForOtherSource(t *testing.T) {
	h := newHistory()
	h.sourced("eu", "DE", "de", 5)
	h.sourced("eu", "PL", "pl", 1)
	h.sourced("eu", "DE", "de", 6)
	h.msgs[2].Sources["PL"]["pl"] = big.NewInt(2)
	a := auditOne(t, h.msgs)
	wantProblem(t, a, 3, CheckSourcesRecord, "{DE de=5, PL pl=1}", "{DE de=6, PL pl=2}")
	// A direct increment that changes the record.
	h = newHistory()
	h.sourced("eu", "DE", "de", 5)
	h.direct("eu", 1)
	h.msgs[1].Sources = counters.Sources{}
	a = auditOne(t, h.msgs)
	wantProblem(t, a, 2, CheckSourcesRecord, "{DE de=5}", "{}")
}

func TestAuditUnreadableMessages(t *testing.T) {
	h := newHistory()
	h.direct("hits", 5)
	h.direct("hits", 1)
	h.direct("hits", 1)
	h.msgs[1].Delta = nil
	a := auditOne(t, h.msgs)
	if len(a.Problems) != 1 || a.Problems[0].Check != CheckMessage || a.Problems[0].Seq != 2 {
		t.Fatalf("problems %+v", a.Problems)
	}
	if a.Value.String() != "7" {
		t.Fatalf("value %s", a.Value)
	}
	m := parseHistoryMsg("x", 1, time.Time{}, nats.Header{counters.HeaderIncr: {"+1"}, counters.HeaderSources: {"{nope"}}, []byte(`{"val":"1"}`))
	if m.Err == nil {
		t.Fatal("broken sources record not reported")
	}
	m = parseHistoryMsg("x", 1, time.Time{}, nats.Header{counters.HeaderIncr: {"+1"}}, []byte(`hello`))
	if m.Err == nil || m.Value != nil {
		t.Fatal("a body that is no counter value was accepted")
	}
}

func TestAuditBoundsProblems(t *testing.T) {
	var msgs []HistoryMsg
	for i := range uint64(100) {
		msgs = append(msgs, HistoryMsg{Seq: i + 1, Subject: "x", Value: big.NewInt(int64(i * 3)), Delta: big.NewInt(1)})
	}
	a := auditOne(t, msgs)
	if len(a.Problems) != maxProblemsPerCounter || a.ProblemCount() != 100 { // 99 chain breaks and the total
		t.Fatalf("%d kept, %d in all", len(a.Problems), a.ProblemCount())
	}
}

func TestParseStreamSource(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Origin
	}{
		{"DE 12 count.de.> count.eu.> count.de.hits", Origin{Key: "DE", Seq: 12, Subject: "count.de.hits"}},
		{"PL:Ab3dEf9h 7 > > count.pl.hits 2Zx", Origin{Key: "PL:Ab3dEf9h", Seq: 7, Subject: "count.pl.hits"}},
		{"OLD 3", Origin{Key: "OLD", Seq: 3, Subject: "local.subject"}},
	} {
		if got := parseStreamSource(tc.in, "local.subject"); got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// FuzzAudit drives the model with random operations (direct increments,
// sourced updates from two sources, resets with their purge) on two
// counters: every history the server could write must pass, and changing
// one retained message's delta must be reported at that message.
func FuzzAudit(f *testing.F) {
	f.Add([]byte{0, 5, 1, 3, 2, 9, 3, 0, 0, 250}, uint8(3))
	f.Add([]byte{2, 1, 2, 7, 6, 0, 1, 1, 4, 2}, uint8(5))
	f.Add([]byte{1, 200, 3, 1, 5, 9, 0, 0}, uint8(0))
	f.Fuzz(func(t *testing.T, ops []byte, mutate uint8) {
		if len(ops) > 400 {
			return
		}
		h := newHistory()
		subjects := []string{"a", "b"}
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i], int64(int8(ops[i+1]))
			subj := subjects[op&1]
			switch (op >> 1) % 4 {
			case 0:
				h.direct(subj, arg)
			case 1:
				h.sourced(subj, "DE", "de."+subj, arg)
			case 2:
				h.sourced(subj, "PL:xYz12345", "pl", arg*1000)
			case 3: // the reset recipe: -V, then purge below it
				r := h.direct(subj, -h.value(subj).Int64())
				h.purge(subj, r.Seq)
			}
		}
		if len(h.msgs) == 0 {
			return
		}
		for _, a := range AuditHistory("C", h.msgs) {
			if !a.OK() {
				t.Fatalf("a valid history fails: %s %+v", a.Subject, a.Problems)
			}
			if a.Value.Cmp(h.value(a.Subject)) != 0 {
				t.Fatalf("%s: value %s, model %s", a.Subject, a.Value, h.value(a.Subject))
			}
		}
		// Change one message's delta; skip a counter's first retained
		// message (taken as given) and the case the change is invisible.
		i := int(mutate) % len(h.msgs)
		m := h.msgs[i]
		if !slices.ContainsFunc(h.msgs[:i], func(p HistoryMsg) bool { return p.Subject == m.Subject }) {
			return
		}
		msgs := slices.Clone(h.msgs)
		msgs[i].Delta = new(big.Int).Add(m.Delta, big.NewInt(1))
		for _, a := range AuditHistory("C", msgs) {
			if a.Subject != m.Subject {
				continue
			}
			if !slices.ContainsFunc(a.Problems, func(p AuditProblem) bool { return p.Seq == m.Seq }) {
				t.Fatalf("changed delta at seq %d not reported: %+v", m.Seq, a.Problems)
			}
		}
	})
}
