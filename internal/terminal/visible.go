package terminal

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// IsControl reports whether a terminal may act on r: C0 (below 0x20), DEL
// and C1 (U+0080 to U+009F, which xterm obeys when UTF-8 encoded). The one
// definition counter uses, for what it shows and for what it refuses.
func IsControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// Visible makes text safe to show on a terminal: subjects and stream names
// are bytes, and one written by another client may hold ESC or BEL, which
// a terminal would obey. Control characters and invalid UTF-8 are shown as
// Go escapes (\x1b, \u009b, \xff); everything else is unchanged. Use it
// for what a person reads: pipes keep the exact bytes, and JSON has its
// own escapes (EscapeJSON).
func Visible(s string) string {
	if clean(s, "") {
		return s
	}
	return string(appendVisible(nil, []byte(s), ""))
}

// clean reports whether s is valid UTF-8 without control characters other
// than those in keep.
func clean[T string | []byte](s T, keep string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x7f {
			return cleanSlow(string(s[i:]), keep)
		}
	}
	return true
}

func cleanSlow(s, keep string) bool {
	for _, r := range s {
		if r == utf8.RuneError || IsControl(r) && !strings.ContainsRune(keep, r) {
			return false
		}
	}
	return true
}

const hex = "0123456789abcdef"

// appendVisible appends s to dst with control characters (other than those
// in keep) and invalid UTF-8 as escapes.
func appendVisible(dst, s []byte, keep string) []byte {
	if clean(s, keep) {
		return append(dst, s...)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			dst = append(dst, '\\', 'x', hex[s[i]>>4], hex[s[i]&0xf])
		case IsControl(r) && strings.ContainsRune(keep, r):
			dst = append(dst, s[i])
		case IsControl(r) && r < 0x80:
			dst = append(dst, '\\', 'x', hex[r>>4], hex[r&0xf])
		case IsControl(r):
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// incompleteTail is how many bytes at the end of p begin a UTF-8 character
// that p does not complete.
func incompleteTail(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				return len(p) - i
			}
			return 0
		}
	}
	return 0
}

// EscapeJSON escapes, in JSON that encoding/json wrote, what it leaves raw
// and a terminal would obey: DEL as \u007f and C1 characters as \u0080 to
// \u009f. Still valid JSON with the same meaning, so it applies in pipes
// too. (encoding/json escapes everything below 0x20, and U+2028/U+2029;
// it writes only valid UTF-8, and these characters only inside strings.)
func EscapeJSON(b []byte) []byte {
	if bytes.IndexByte(b, 0x7f) < 0 && bytes.IndexByte(b, 0xc2) < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == 0x7f:
			out = append(out, `\u007f`...)
		case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] < 0xa0:
			out = append(out, '\\', 'u', '0', '0', hex[b[i+1]>>4], hex[b[i+1]&0xf])
			i++
		default:
			out = append(out, c)
		}
	}
	return out
}
