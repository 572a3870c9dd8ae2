package streams_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/topology"
	"github.com/nats-io/nats.go/jetstream"
)

func TestParseSourceSpec(t *testing.T) {
	cases := []struct {
		in   string
		want streams.SourceSpec
	}{
		{"DE", streams.SourceSpec{Stream: "DE"}},
		{"DE@leaf", streams.SourceSpec{Stream: "DE", Domain: "leaf"}},
		{"DE:count.de.>", streams.SourceSpec{Stream: "DE", From: "count.de.>"}},
		{"DE:count.de.>:count.eu.>", streams.SourceSpec{Stream: "DE", From: "count.de.>", To: "count.eu.>"}},
		{"DE@leaf:count.de.>:count.eu.>", streams.SourceSpec{Stream: "DE", Domain: "leaf", From: "count.de.>", To: "count.eu.>"}},
		{"DE@leaf:count.de.*", streams.SourceSpec{Stream: "DE", Domain: "leaf", From: "count.de.*"}},
		{"ORDERS_v2-x:a.*.b:x.{{wildcard(1)}}.b", streams.SourceSpec{Stream: "ORDERS_v2-x", From: "a.*.b", To: "x.{{wildcard(1)}}.b"}},
	}
	for _, c := range cases {
		got, err := streams.ParseSourceSpec(c.in)
		if err != nil {
			t.Errorf("ParseSourceSpec(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseSourceSpec(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if got.String() != c.in {
			t.Errorf("ParseSourceSpec(%q).String() = %q", c.in, got.String())
		}
	}

	bad := []struct{ in, why string }{
		{"", "empty stream name"},
		{"@leaf", "empty stream name"},
		{"DE@", "empty domain"},
		{"DE@le.af", "domain"},
		{"DE@le af", "domain"},
		{"D.E", "stream name"},
		{"D E", "stream name"},
		{"D*", "stream name"},
		{"D>", "stream name"},
		{"D/E", "stream name"},
		{`D\E`, "stream name"},
		{"DE:a:b:c", "too many ':'"},
		{"DE:::", "too many ':'"},
		{"DE:", "FROM"},
		{"DE::x", "FROM"},
		{"DE:a..b", "FROM"},
		{"DE:a.>.b", "FROM"},
		{"DE:a.b*", "FROM"},
		{"DE:a b", "FROM"},
		{"DE:a.>:", "TO"},
		{"DE:a.>:x..y", "TO"},
		{"DE:a.>:x.>.y", "TO"},
	}
	for _, c := range bad {
		got, err := streams.ParseSourceSpec(c.in)
		if err == nil {
			t.Errorf("ParseSourceSpec(%q) = %+v, want an error", c.in, got)
			continue
		}
		if !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("ParseSourceSpec(%q): %v is not errkind.ErrInvalid", c.in, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, c.why) || !strings.Contains(msg, "STREAM[@DOMAIN][:FROM[:TO]]") {
			t.Errorf("ParseSourceSpec(%q): error %q should mention %q and the expected form", c.in, msg, c.why)
		}
	}
}

func TestSourceSpecStreamSource(t *testing.T) {
	cases := []struct {
		spec streams.SourceSpec
		want jetstream.StreamSource
	}{
		{streams.SourceSpec{Stream: "DE"}, jetstream.StreamSource{Name: "DE"}},
		{
			streams.SourceSpec{Stream: "DE", From: "count.de.>"},
			jetstream.StreamSource{Name: "DE", FilterSubject: "count.de.>"},
		},
		{
			// A rename is a transform, never also a filter: the server
			// rejects a source with both.
			streams.SourceSpec{Stream: "DE", From: "count.de.>", To: "count.eu.>"},
			jetstream.StreamSource{Name: "DE", SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "count.de.>", Destination: "count.eu.>"}}},
		},
		{
			streams.SourceSpec{Stream: "DE", Domain: "leaf"},
			jetstream.StreamSource{Name: "DE", External: &jetstream.ExternalStream{APIPrefix: "$JS.leaf.API"}},
		},
		{
			streams.SourceSpec{Stream: "DE", Domain: "leaf", From: "a.>", To: "b.>"},
			jetstream.StreamSource{
				Name:              "DE",
				SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "a.>", Destination: "b.>"}},
				External:          &jetstream.ExternalStream{APIPrefix: "$JS.leaf.API"},
			},
		},
	}
	for _, c := range cases {
		got := c.spec.StreamSource()
		if got.Name != c.want.Name || got.FilterSubject != c.want.FilterSubject {
			t.Errorf("%s: name/filter = %q/%q, want %q/%q", c.spec, got.Name, got.FilterSubject, c.want.Name, c.want.FilterSubject)
		}
		if len(got.SubjectTransforms) != len(c.want.SubjectTransforms) ||
			(len(got.SubjectTransforms) == 1 && got.SubjectTransforms[0] != c.want.SubjectTransforms[0]) {
			t.Errorf("%s: transforms = %+v, want %+v", c.spec, got.SubjectTransforms, c.want.SubjectTransforms)
		}
		switch {
		case c.want.External == nil && got.External != nil:
			t.Errorf("%s: external = %+v, want none", c.spec, got.External)
		case c.want.External != nil && (got.External == nil || *got.External != *c.want.External):
			t.Errorf("%s: external = %+v, want %+v", c.spec, got.External, c.want.External)
		}
		if want := c.want.External; want != nil && c.spec.APIPrefix() != want.APIPrefix {
			t.Errorf("%s: APIPrefix() = %q, want %q", c.spec, c.spec.APIPrefix(), want.APIPrefix)
		}
		// An aggregate's source starts at sequence 1 (see StreamSource);
		// a mirror keeps the server's own start.
		if got.OptStartSeq != 1 || got.OptStartTime != nil {
			t.Errorf("%s: opt_start_seq %d, opt_start_time %v: want 1 and none", c.spec, got.OptStartSeq, got.OptStartTime)
		}
		if m := c.spec.MirrorSource(); m.OptStartSeq != 0 || m.Name != got.Name || m.FilterSubject != got.FilterSubject || len(m.SubjectTransforms) != len(got.SubjectTransforms) {
			t.Errorf("%s: MirrorSource() = %+v, want the mapping of %+v without a start", c.spec, m, got)
		}
	}
	if p := (streams.SourceSpec{Stream: "DE"}).APIPrefix(); p != "" {
		t.Errorf("local source APIPrefix() = %q, want empty", p)
	}
}

func TestValidSubject(t *testing.T) {
	for _, s := range []string{"a", "a.b", "count.de.hits", "a.*", "a.>", "*", ">", "a.*.c", "a-b_c.1"} {
		if err := counters.ValidSubject(s, true); err != nil {
			t.Errorf("ValidSubject(%q, wildcards): %v", s, err)
		}
	}
	for _, s := range []string{"", "a..b", ".a", "a.", "a b", "a.>.b", "a.b*", "a.>x", "a\tb"} {
		if err := counters.ValidSubject(s, true); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("ValidSubject(%q, wildcards) = %v, want errkind.ErrInvalid", s, err)
		}
	}
	for _, s := range []string{"a.*", "a.>", "*"} {
		if err := counters.ValidSubject(s, false); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("ValidSubject(%q, literal) = %v, want errkind.ErrInvalid", s, err)
		}
	}
}

func TestSubjectMatches(t *testing.T) {
	cases := []struct {
		subject, pattern string
		want             bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.c", false},
		{"a.b", "a.*", true},
		{"a.b.c", "a.*", false},
		{"a.b.c", "a.>", true},
		{"a", "a.>", false},
		{"a", ">", true},
		{"a.b", "*.b", true},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b", false},
		{"a.b", "*", false},
	}
	for _, c := range cases {
		if got := topology.Covers(c.pattern, c.subject); got != c.want {
			t.Errorf("topology.Covers(%q, %q) = %v, want %v", c.subject, c.pattern, got, c.want)
		}
	}
	if !counters.IsLiteral("a.b") || counters.IsLiteral("a.*") || counters.IsLiteral("a.>") {
		t.Error("IsLiteral misclassifies")
	}
}

func FuzzParseSourceSpec(f *testing.F) {
	for _, s := range []string{"DE", "DE@leaf", "DE:count.de.>", "DE:count.de.>:count.eu.>", "DE@leaf:a.*:b.*",
		"", "@", "a@b@c", "DE:a:b:c", "DE:", "D.E", "DE:a..b", "DE@:x", "\x00", "DE:a.{{wildcard(1)}}", "DE:a.>:_INBOX.>", "DE:a.*:*.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		spec, err := streams.ParseSourceSpec(in)
		if err != nil {
			if !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("ParseSourceSpec(%q): %v is not errkind.ErrInvalid", in, err)
			}
			return
		}
		if spec.Stream == "" || (spec.To != "" && spec.From == "") {
			t.Fatalf("ParseSourceSpec(%q) accepted an incomplete spec %+v", in, spec)
		}
		if spec.To != "" && counters.ValidStreamSubject(spec.To) != nil {
			t.Fatalf("ParseSourceSpec(%q) accepted TO %q, which the publish gate refuses", in, spec.To)
		}
		again, err := streams.ParseSourceSpec(spec.String())
		if err != nil {
			t.Fatalf("ParseSourceSpec(%q).String() = %q does not re-parse: %v", in, spec.String(), err)
		}
		if again != spec {
			t.Fatalf("round trip %q -> %q -> %+v, want %+v", in, spec.String(), again, spec)
		}
		src := spec.StreamSource()
		if src.Name != spec.Stream || (src.External != nil) != (spec.Domain != "") {
			t.Fatalf("StreamSource of %+v = %+v", spec, src)
		}
		if src.FilterSubject != "" && len(src.SubjectTransforms) > 0 {
			t.Fatalf("StreamSource of %+v has both a filter and a transform", spec)
		}
	})
}

// TestCreateRefusesReservedSubjects: create holds subjects to the publish
// gate's rule (counters.ValidStreamSubject): a stream may not hold, nor a
// source transform into, a reserved subject or a pattern that covers one.
func TestCreateRefusesReservedSubjects(t *testing.T) {
	for _, subj := range []string{"_INBOX.>", "*", ">", "*.x", "$JS.API.>", "$SYS.>", "count.\xff"} {
		_, err := streams.StreamSpec{Name: "S", Subjects: []string{subj}}.Config()
		if !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("create --subjects %q: %v, want errkind.ErrInvalid", subj, err)
		}
	}
	for _, spec := range []string{"DE:count.de.>:_INBOX.>", "DE:count.de.>:>", "DE:count.de.*:*.x", "DE:count.de.>:$JS.API.>"} {
		if _, err := streams.ParseSourceSpec(spec); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("--source %q: %v, want errkind.ErrInvalid", spec, err)
		}
	}
	if _, err := (streams.StreamSpec{Name: "S", Subjects: []string{"count.>"}}).Config(); err != nil {
		t.Errorf("count.>: %v", err)
	}
}
