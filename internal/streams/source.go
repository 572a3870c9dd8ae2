package streams

import (
	"strings"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/nats-io/nats.go/jetstream"
)

// SourceSpec is one --source argument: STREAM[@DOMAIN][:FROM[:TO]].
// FROM alone filters the sourced subjects; FROM:TO also renames them, which
// is what makes an aggregate sum several upstreams into one subject.
type SourceSpec struct {
	Stream string
	Domain string
	From   string
	To     string
}

// ParseSourceSpec parses STREAM[@DOMAIN][:FROM[:TO]]. Subjects in a spec cannot
// contain ':' (it separates the parts).
func ParseSourceSpec(spec string) (SourceSpec, error) {
	bad := func(why string) (SourceSpec, error) {
		return SourceSpec{}, errkind.Invalidf("invalid source %q: %s (want STREAM[@DOMAIN][:FROM[:TO]])", spec, why)
	}
	parts := strings.Split(spec, ":")
	if len(parts) > 3 {
		return bad("too many ':'")
	}
	var s SourceSpec
	s.Stream = parts[0]
	if name, domain, ok := strings.Cut(parts[0], "@"); ok {
		s.Stream, s.Domain = name, domain
		if err := counters.ValidName("domain", domain); err != nil {
			return bad(err.Error())
		}
	}
	if err := counters.ValidName("stream name", s.Stream); err != nil {
		return bad(err.Error())
	}
	if len(parts) > 1 {
		s.From = parts[1]
		if err := counters.ValidSubject(s.From, true); err != nil {
			return bad("FROM " + err.Error())
		}
	}
	if len(parts) > 2 {
		// The server validates the mapping itself (wildcard references and
		// functions such as {{wildcard(1)}}); here the shape, and the
		// publish gate's rule: what the aggregate stores under TO are
		// counters, never reserved subjects.
		s.To = parts[2]
		if err := counters.ValidStreamSubject(s.To); err != nil {
			return bad("TO " + err.Error())
		}
	}
	return s, nil
}

// String renders the spec back in its command-line form.
func (s SourceSpec) String() string {
	out := s.Stream
	if s.Domain != "" {
		out += "@" + s.Domain
	}
	if s.From != "" {
		out += ":" + s.From
	}
	if s.To != "" {
		out += ":" + s.To
	}
	return out
}

// APIPrefix is the JetStream API prefix that reaches the source's domain,
// or "" for a source in the local domain.
func (s SourceSpec) APIPrefix() string {
	if s.Domain == "" {
		return ""
	}
	return "$JS." + s.Domain + ".API"
}

// StreamSource is the server configuration for this source of an
// aggregate. It starts at sequence 1: a source with no recorded position
// otherwise starts at the aggregate's last message time whenever the
// aggregate's first sequence is above 1 (after any reset or history limit),
// silently skipping the upstream's older messages (nats-server 2.15.2). A
// source with a recorded position still resumes right after it.
func (s SourceSpec) StreamSource() *jetstream.StreamSource {
	src := s.mapping()
	src.OptStartSeq = 1
	return src
}

// MirrorSource is the server configuration for a mirror of this stream:
// the mapping only (a mirror resumes after its own last message).
func (s SourceSpec) MirrorSource() *jetstream.StreamSource { return s.mapping() }

func (s SourceSpec) mapping() *jetstream.StreamSource {
	src := &jetstream.StreamSource{Name: s.Stream}
	switch {
	case s.To != "":
		src.SubjectTransforms = []jetstream.SubjectTransformConfig{{Source: s.From, Destination: s.To}}
	case s.From != "":
		src.FilterSubject = s.From
	}
	if p := s.APIPrefix(); p != "" {
		src.External = &jetstream.ExternalStream{APIPrefix: p}
	}
	return src
}

// ParseMirrorSpec parses --mirror STREAM[@DOMAIN].
func ParseMirrorSpec(spec string) (SourceSpec, error) {
	s, err := ParseSourceSpec(spec)
	if err != nil {
		return SourceSpec{}, errkind.Invalidf("invalid mirror %q: want STREAM[@DOMAIN]", spec)
	}
	if s.From != "" {
		return SourceSpec{}, errkind.Invalidf("invalid mirror %q: a mirror copies a whole stream; want STREAM[@DOMAIN]", spec)
	}
	return s, nil
}
