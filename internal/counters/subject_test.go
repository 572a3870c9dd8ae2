package counters

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/terminal"
	"github.com/jetcounter/counter/internal/topology"
)

func TestValidPublishSubject(t *testing.T) {
	for _, s := range []string{"hits", "count.eu.hits", "orders.paid.2026", "x$y", "a._INBOX"} {
		if err := ValidPublishSubject(s); err != nil {
			t.Errorf("ValidPublishSubject(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range []string{
		"$JS.API.STREAM.DELETE.VICTIM", "$JS.API.STREAM.PURGE.X", "$SYS.REQ.SERVER.PING",
		"$KV.b.k", "$O.b.c", "_INBOX.abc", "$JS.hub.API.INFO", "_R_.x",
		"", "a..b", "a.*", "a.>", "a b", "a\x1bb", "a\x07", strings.Repeat("a", MaxSubjectLen+1),
	} {
		if err := ValidPublishSubject(s); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("ValidPublishSubject(%.40q) = %v, want errkind.ErrInvalid", s, err)
		}
	}
	long := strings.Repeat("x", 100000)
	if err := ValidSubject(long, false); err == nil || len(err.Error()) > 200 {
		t.Errorf("a 100k subject: error %d bytes long, want a short one", len(err.Error()))
	}
}

// TestInvalidUTF8Refused: a subject with invalid UTF-8 is refused where a
// control character is (every verb's subject check and bulk lines): shown,
// each bad byte becomes U+FFFD, and two counters would look the same.
func TestInvalidUTF8Refused(t *testing.T) {
	for _, s := range []string{"count.\xff", "count.\x9bx", "count.\xc3", "\xed\xa0\x80.a", "a.\xfe.>"} {
		err := ValidSubject(s, true)
		if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "not valid UTF-8") {
			t.Errorf("ValidSubject(%q) = %v, want 'not valid UTF-8'", s, err)
		}
		if !strings.Contains(err.Error(), `\x`) {
			t.Errorf("ValidSubject(%q): %q does not show the bad byte escaped", s, err)
		}
	}
	for _, s := range []string{"count.é", "count.日本", "count.\u00a0x"} {
		if err := ValidPublishSubject(s); err != nil {
			t.Errorf("ValidPublishSubject(%q) = %v, want nil", s, err)
		}
	}
}

// TestValidStreamSubject: what a stream may hold follows the publish
// gate: nothing reserved, and no pattern that could capture reserved
// subjects (a first token that is a wildcard).
func TestValidStreamSubject(t *testing.T) {
	for _, s := range []string{"count.>", "a.*", "a.*.c", "hits", "x$y.>", "a._INBOX.>"} {
		if err := ValidStreamSubject(s); err != nil {
			t.Errorf("ValidStreamSubject(%q) = %v, want nil", s, err)
		}
	}
	for s, says := range map[string]string{
		"_INBOX.>": "reserved", "$JS.API.>": "reserved", "$SYS.>": "reserved", "$KV.b.>": "reserved", "_R_.*": "reserved",
		"*": "starts with a wildcard", ">": "starts with a wildcard", "*.hits": "starts with a wildcard", "*.>": "starts with a wildcard",
		"count.\xff": "UTF-8", "a..b": "empty token",
	} {
		if err := ValidStreamSubject(s); !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), says) {
			t.Errorf("ValidStreamSubject(%q) = %v, want errkind.ErrInvalid saying %q", s, err, says)
		}
	}
}

// FuzzValidSubject: whatever is accepted is valid UTF-8 with no control
// character or whitespace; a stream subject accepted never covers a
// reserved subject of the same shape, so no stream holds what incr refuses.
func FuzzValidSubject(f *testing.F) {
	for _, s := range []string{"count.>", "*", ">", "_INBOX.>", "$JS.API.>", "a.*.c", "count.\xff", "a\x9bb", "*.x", "a..b", "é.>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidSubject(s, true)
		if err != nil {
			if !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("ValidSubject(%q): %v is not errkind.ErrInvalid", s, err)
			}
			if ValidStreamSubject(s) == nil || ValidPublishSubject(s) == nil {
				t.Fatalf("%q refused by ValidSubject but accepted by a stricter rule", s)
			}
			return
		}
		if !utf8.ValidString(s) || strings.ContainsFunc(s, terminal.IsControl) || strings.ContainsAny(s, " \t\r\n") {
			t.Fatalf("ValidSubject accepted %q", s)
		}
		if ValidStreamSubject(s) != nil {
			return
		}
		tokens := strings.Split(s, ".")
		for _, first := range []string{"$JS", "$SYS", "_INBOX", "_R_", "$X"} {
			r := append([]string{first}, tokens[1:]...)
			for i, tok := range r {
				if tok == "*" {
					r[i] = "x"
				}
			}
			subj := strings.Join(r, ".")
			if strings.HasSuffix(subj, ".>") || subj == ">" {
				subj = strings.TrimSuffix(subj, ">") + "x"
			}
			if ReservedSubject(subj) && topology.Covers(s, subj) {
				t.Fatalf("stream subject %q accepted, but it covers reserved subject %q", s, subj)
			}
		}
	})
}
