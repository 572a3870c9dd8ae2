package counters

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/topology"
)

// A stream may transform what is published to it (subject_transform): an
// increment to in.a of a stream with in.> -> st.> is counted and stored
// under st.a (COUNTERS.md). Reads, resets and watches take either name: the
// subject published to, or the one the counter lives under.

// streamTransform is a stream's own subject_transform as an edge.
func streamTransform(cfg *jetstream.StreamConfig) (topology.Edge, bool) {
	if cfg == nil || cfg.SubjectTransform == nil || cfg.SubjectTransform.Destination == "" {
		return topology.Edge{}, false
	}
	t := cfg.SubjectTransform
	return topology.Edge{Transforms: []topology.Transform{{From: t.Source, To: t.Destination}}}, true
}

// StoredSubject is the subject (or pattern) under which the stream keeps
// what is published to subject: its subject_transform applied to a subject
// of its own, else subject as it is.
func StoredSubject(cfg *jetstream.StreamConfig, subject string) string {
	e, ok := streamTransform(cfg)
	if !ok || !captures(cfg, subject) {
		return subject
	}
	if stored, ok := e.MapUp(subject); ok {
		return stored
	}
	return subject
}

// PublishSubject is where an increment of the counter stored as subject in
// the stream must be published: subject itself when the stream captures it
// (and keeps it there), else the subject of its own that its transform
// stores there. ok is false when no publish lands on it.
func PublishSubject(cfg *jetstream.StreamConfig, subject string) (string, bool) {
	if captures(cfg, subject) && StoredSubject(cfg, subject) == subject {
		return subject, true
	}
	e, ok := streamTransform(cfg)
	if !ok {
		return "", false
	}
	for _, in := range e.MapDown(subject) {
		if IsLiteral(in) && captures(cfg, in) && StoredSubject(cfg, in) == subject {
			return in, true
		}
	}
	return "", false
}

// TransformsInto reports whether the stream's subject_transform may store
// counters matching pattern (its destination overlaps it).
func TransformsInto(cfg *jetstream.StreamConfig, pattern string) bool {
	e, ok := streamTransform(cfg)
	return ok && topology.Overlaps(e.Transforms[0].To, pattern)
}

// captures reports whether subject (or pattern) is one of the stream's own.
func captures(cfg *jetstream.StreamConfig, subject string) bool {
	for _, s := range cfg.Subjects {
		if topology.Covers(s, subject) {
			return true
		}
	}
	return false
}
