package connection

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Secrets records every credential a run met (passwords, tokens, seeds,
// JWTs, URLs' user info, embedded creds) so that Scrub can remove them from
// any message as a last line of defence: messages are built from parsed
// values and never quote a secret in the first place. The zero value is
// ready to use, and a nil *Secrets records nothing; it is safe for
// concurrent use.
type Secrets struct {
	mu   sync.Mutex
	list []string
}

// minSecret is the shortest value Scrub replaces: shorter ones would
// mangle ordinary words without hiding anything.
const minSecret = 3

func (s *Secrets) add(values ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) >= minSecret && !slices.Contains(s.list, v) {
			s.list = append(s.list, v)
		}
	}
}

// Scrub replaces every recorded secret in text with ***, and any user info
// in a URL (see Redact).
func (s *Secrets) Scrub(text string) string {
	if s != nil {
		s.mu.Lock()
		list := slices.Clone(s.list)
		s.mu.Unlock()
		// Longest first: a secret that holds a shorter one must not be
		// left half-replaced.
		slices.SortFunc(list, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
		for _, secret := range list {
			text = strings.ReplaceAll(text, secret, "***")
		}
	}
	return Redact(text)
}

// userInfo matches credentials embedded in URLs (nats://user:pass@host).
var userInfo = regexp.MustCompile(`([a-z]+://)[^@/\s]+@`)

// Redact removes the user info of any URL in text (nats://user:pass@host
// becomes nats://***@host), for messages that may carry one.
func Redact(text string) string { return userInfo.ReplaceAllString(text, "${1}***@") }
