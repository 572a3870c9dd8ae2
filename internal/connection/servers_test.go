package connection

import (
	"errors"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/errkind"
)

func TestParseServers(t *testing.T) {
	for _, tc := range []struct {
		list  string
		dial  string // comma-joined; empty: refused
		shown string
	}{
		{list: "nats://127.0.0.1:4222", dial: "nats://127.0.0.1:4222", shown: "nats://127.0.0.1:4222"},
		{list: "h1:4222, tls://h2", dial: "nats://h1:4222,tls://h2", shown: "nats://h1:4222,tls://h2"},
		{list: "nats://u:pw@h:4222", dial: "nats://u:pw@h:4222", shown: "nats://h:4222"},
		{list: "nats://t0ken@h", dial: "nats://t0ken@h", shown: "nats://h"},
		{list: "nats://u:p%2F%3F%23%40w@h:1", dial: "nats://u:p%2F%3F%23%40w@h:1", shown: "nats://h:1"},
		// Go and nats.go both take the last '@' as the end of the user info.
		{list: "nats://u:p@w@h:1", dial: "nats://u:p%40w@h:1", shown: "nats://h:1"},
		{list: "nats://h:4222/", dial: "nats://h:4222/", shown: "nats://h:4222"},
		// An '@' after a '/', '?' or '#': a password holding one, or an
		// '@' where no user info can be. Either way: refused, not dialed.
		{list: "nats://admin:8222/s3cret@127.0.0.1:4222"},
		{list: "nats://admin:8222#s3cret@127.0.0.1:4222"},
		{list: "nats://admin:8222?s3cret@127.0.0.1:4222"},
		{list: "admin:8222/s3cret@127.0.0.1:4222"},
		{list: "nats://h:4222/path@x"},
		{list: "nats://bob:p#w?d@127.0.0.1:1"},
		{list: "nats://127.0.0.1:1,nats://admin:1/pw@h:2"},
		{list: "nats://"},
		{list: "nats://h:99999"},
		{list: "nats://h:1,"},
	} {
		secrets := &Secrets{}
		dial, shown, err := parseServers(tc.list, "-s/--server", secrets)
		if tc.dial == "" {
			if err == nil || !errors.Is(err, errkind.ErrInvalid) {
				t.Errorf("%q: dial %q, err %v; want refused as invalid", tc.list, dial, err)
				continue
			}
			if dial != nil {
				t.Errorf("%q: refused, yet dial %q", tc.list, dial)
			}
			if part := leaked(err.Error(), userPart(tc.list)); part != "" {
				t.Errorf("%q: error %q shows %q", tc.list, err, part)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.list, err)
			continue
		}
		if got := strings.Join(dial, ","); got != tc.dial || shown != tc.shown {
			t.Errorf("%q: dial %q shown %q; want %q and %q", tc.list, got, shown, tc.dial, tc.shown)
		}
	}
}

// userPart is what precedes the last '@' of the last URL in list (the
// user info, or what might be), without the scheme.
func userPart(list string) string {
	last := list[strings.LastIndex(list, ",")+1:]
	if i := strings.Index(last, "://"); i >= 0 {
		last = last[i+3:]
	}
	if at := strings.LastIndex(last, "@"); at >= 0 {
		return last[:at]
	}
	return ""
}

// TestScrubbedUserInfo: whatever might be a URL's user info is scrubbed
// from later messages, also from one the parser could not place.
func TestScrubbedUserInfo(t *testing.T) {
	secrets := &Secrets{}
	parseServers("nats://admin:8222/s3cret@127.0.0.1:4222", "-s", secrets)
	msg := secrets.Scrub("dial tcp: lookup admin:8222/s3cret failed; 8222/s3cret")
	if strings.Contains(msg, "s3cret") {
		t.Errorf("scrubbed message %q still holds the password", msg)
	}
}

func TestScrubLongestFirst(t *testing.T) {
	secrets := &Secrets{}
	secrets.add("abc", "abcdef")
	if got := secrets.Scrub("x abcdef y abc"); got != "x *** y ***" {
		t.Errorf("Scrub: %q", got)
	}
	if got := Redact("to nats://u:p@h:1 and tls://t@h"); got != "to nats://***@h:1 and tls://***@h" {
		t.Errorf("Redact: %q", got)
	}
	var none *Secrets
	if got := none.Scrub("nats://u:p@h"); got != "nats://***@h" {
		t.Errorf("nil Scrub: %q", got)
	}
}

// FuzzParseServers: a server list is either refused without showing what
// precedes an '@', or parsed into URLs whose printable form holds no user
// info.
func FuzzParseServers(f *testing.F) {
	for _, seed := range []string{
		"nats://u:p@h:1", "nats://admin:8222/s3cret@127.0.0.1:4222", "a:b#c@d", "h1,h2:3,nats://x@y",
		"nats://u:p@w@h:1", "tls://[::1]:4222", "nats://h:4222/p?q#f",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, list string) {
		dial, shown, err := parseServers(list, "-s", &Secrets{})
		if err != nil {
			for _, part := range strings.Split(list, ",") {
				part = strings.TrimSpace(part)
				if at := strings.LastIndex(part, "@"); at > 0 {
					if info := part[:at]; len(info) > 6 && strings.Contains(err.Error(), info) {
						t.Fatalf("error %q shows %q", err, info)
					}
				}
			}
			return
		}
		if len(dial) == 0 || strings.Contains(shown, "@") {
			t.Fatalf("%q: dial %q, shown %q", list, dial, shown)
		}
	})
}
