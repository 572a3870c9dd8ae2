package counters

import (
	"errors"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/errkind"
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
