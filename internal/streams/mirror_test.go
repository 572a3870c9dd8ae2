package streams_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/streams"
)

func TestParseMirrorSpec(t *testing.T) {
	for spec, want := range map[string]string{"DE": "DE", "DE@leaf": "DE@leaf"} {
		s, err := streams.ParseMirrorSpec(spec)
		if err != nil || s.String() != want {
			t.Errorf("%s: %v %v", spec, s, err)
		}
	}
	for _, bad := range []string{"", "DE:count.de.>", "DE:a:b", "DE@", "D E", "@leaf"} {
		if _, err := streams.ParseMirrorSpec(bad); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("%q: %v, want errkind.ErrInvalid", bad, err)
		}
	}
}

// FuzzParseMirrorSpec: whatever parses is a whole stream (no FROM or TO),
// renders back to itself, and makes a valid mirror configuration.
func FuzzParseMirrorSpec(f *testing.F) {
	for _, s := range []string{"DE", "DE@leaf", "DE:x", "DE@leaf:x.>:y.>", "@", "DE@le af"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := streams.ParseMirrorSpec(spec)
		if err != nil {
			return
		}
		if s.From != "" || s.To != "" || s.String() != spec {
			t.Fatalf("%q parsed as %+v", spec, s)
		}
		cfg, err := streams.StreamSpec{Name: "M", Mirror: &s}.Config()
		if err != nil || cfg.Mirror == nil || cfg.AllowMsgCounter || len(cfg.Subjects) > 0 {
			t.Fatalf("%q: config %+v, %v", spec, cfg, err)
		}
	})
}

var ctx = context.Background()
