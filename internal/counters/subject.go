package counters

import (
	"strings"
	"unicode/utf8"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/terminal"
)

// MaxSubjectLen is the longest subject the tool accepts. The server refuses
// a protocol line longer than its max_control_line (4096 bytes by default)
// and drops the connection; the line also holds the reply inbox and sizes,
// so a subject must stay well below it. Checked before connecting.
const MaxSubjectLen = 3500

// reservedPrefixes are subjects the server or clients give a meaning of
// their own: a publish there is an API call (a request with a Nats-Incr
// header to $JS.API.STREAM.DELETE.X deletes stream X), never an increment.
// Every subject starting with '$' ($JS., $SYS., $KV., $O., …) is the server's.
var reservedPrefixes = []string{"$", "_INBOX.", "_R_."}

// ValidSubject checks a subject's shape: not empty or over-long, valid
// UTF-8, non-empty tokens, no whitespace or control characters, and
// wildcards only as whole tokens ('>' last) when wildcards are allowed. The
// message never echoes a long subject whole, and shows control characters
// and invalid bytes escaped. Invalid UTF-8 is refused as control
// characters are: a terminal or JSON shows each invalid byte as U+FFFD, so
// "count.\xff" and "count.\xfe" would look like one counter.
func ValidSubject(subject string, wildcards bool) error {
	if subject == "" {
		return errkind.Invalidf("subject is empty")
	}
	if len(subject) > MaxSubjectLen {
		return errkind.Invalidf("subject %.40q… is %d bytes long: subjects are at most %d", subject, len(subject), MaxSubjectLen)
	}
	if strings.ContainsAny(subject, " \t\r\n") {
		return errkind.Invalidf("subject %q contains whitespace", subject)
	}
	if !utf8.ValidString(subject) {
		return errkind.Invalidf("subject %q is not valid UTF-8", subject)
	}
	if strings.ContainsFunc(subject, terminal.IsControl) {
		return errkind.Invalidf("subject %q contains a control character", subject)
	}
	tokens := strings.Split(subject, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return errkind.Invalidf("subject %q has an empty token", subject)
		case t == "*" || t == ">":
			if !wildcards {
				return errkind.Invalidf("subject %q has a wildcard; name one counter", subject)
			}
			if t == ">" && i != len(tokens)-1 {
				return errkind.Invalidf("subject %q: '>' must be the last token", subject)
			}
		case strings.ContainsAny(t, "*>") && len(t) > 1:
			// "a*b" is a literal token to the server, but almost always a typo.
			return errkind.Invalidf("subject %q: wildcards must be whole tokens", subject)
		}
	}
	return nil
}

// ValidPublishSubject checks a subject an increment (or a reset's negative
// increment) may be published to: one literal counter subject outside the
// reserved name spaces. It needs no server; whether a counter stream
// captures the subject is the client's check (one request) before sending.
func ValidPublishSubject(subject string) error {
	if err := ValidSubject(subject, false); err != nil {
		return err
	}
	if ReservedSubject(subject) {
		return reserved(subject)
	}
	return nil
}

func reserved(subject string) error {
	return errkind.Invalidf("subject %q is reserved (JetStream API, system or inbox subjects): counters never live there", subject)
}

// ValidStreamSubject checks a subject or pattern a counter stream is made to
// hold (create --subjects, and the TO of a source's subject transform): the
// same rule the publish gate applies, so that no stream holds counters that
// incr would refuse to touch. It is refused when it lies in a reserved name
// space (ReservedSubject) or could match a subject there: every reserved
// prefix is decided by the first token, so a pattern whose first token is a
// wildcard ('*', '*.x', '>') would capture $JS.API.…, $SYS.… or _INBOX.…
// subjects too.
func ValidStreamSubject(pattern string) error {
	if err := ValidSubject(pattern, true); err != nil {
		return err
	}
	if ReservedSubject(pattern) {
		return reserved(pattern)
	}
	if first, _, _ := strings.Cut(pattern, "."); first == "*" || first == ">" {
		return errkind.Invalidf("subject %q starts with a wildcard, so it would also capture reserved subjects ($JS.API.…, $SYS.…, _INBOX.…) that counters never live in: start it with a literal token, such as count.>", pattern)
	}
	return nil
}

// ValidPublishPattern checks a pattern whose counters will be published to
// (reset): a valid subject or wildcard pattern outside the reserved name
// spaces. Each subject it matches passes ValidPublishSubject before a publish.
func ValidPublishPattern(pattern string) error {
	if err := ValidSubject(pattern, true); err != nil {
		return err
	}
	if ReservedSubject(pattern) {
		return reserved(pattern)
	}
	return nil
}

// ReservedSubject reports whether subject (or pattern) lies in a name space
// the server or clients reserve: $JS., $SYS., $KV., $O., _INBOX. and the like,
// and any subject starting with '$'.
func ReservedSubject(subject string) bool {
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}

// ValidName checks a stream name or JetStream domain (what says which)
// before anything is sent: one token, no spaces, dots, wildcards or '@'.
func ValidName(what, name string) error {
	if name == "" {
		return errkind.Invalidf("empty %s", what)
	}
	if strings.ContainsAny(name, " \t\r\n.*>/\\@") || strings.ContainsFunc(name, terminal.IsControl) {
		return errkind.Invalidf("%s %q may not contain spaces, control characters, '.', '*', '>', '/', '\\' or '@'", what, name)
	}
	return nil
}

// IsLiteral reports whether subject has no wildcard tokens.
func IsLiteral(subject string) bool {
	for _, t := range strings.Split(subject, ".") {
		if t == "*" || t == ">" {
			return false
		}
	}
	return true
}
