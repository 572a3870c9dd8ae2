package counters

import (
	"math/big"
	"regexp"

	"github.com/jetcounter/counter/internal/errkind"
)

// deltaPattern is stricter than the server (which also takes spaces): a delta
// is an optional sign and decimal digits, nothing else.
var deltaPattern = regexp.MustCompile(`^[+-]?[0-9]+$`)

// MaxValueDigits bounds every decimal counter parses: a delta (it travels
// in the Nats-Incr header, which the server caps at MaxHeaderBytes) and a
// value read from a stream (no increment can carry a value past that cap
// to an aggregate, and no sequence of increments grows one far beyond it).
// A longer one is refused without being parsed: big.Int's decimal parsing
// takes quadratic time, and a 7 MiB value written by another client would
// otherwise hold the process for minutes.
const MaxValueDigits = 70_000

// ParseDelta parses a signed decimal integer of up to MaxValueDigits digits.
func ParseDelta(s string) (*big.Int, error) {
	if len(s) > MaxValueDigits+1 {
		return nil, DeltaTooLong(len(s))
	}
	if !deltaPattern.MatchString(s) {
		return nil, errkind.Invalidf("invalid delta %q: want a signed whole number such as +1, -5 or 1000000000000000000000", s)
	}
	d, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, errkind.Invalidf("invalid delta %q", s)
	}
	return d, nil
}

// Signed formats v with an explicit sign, as sent in the Nats-Incr header.
func Signed(v *big.Int) string {
	if v.Sign() < 0 {
		return v.String()
	}
	return "+" + v.String()
}

// DeltaTooLong refuses a delta of n characters (more than MaxValueDigits).
func DeltaTooLong(n int) error {
	return errkind.Invalidf("delta of %d characters: an increment travels in a header, which holds at most about 65,000 digits", n)
}

// ParseValue parses a counter value as stored or acked by the server: at
// most MaxValueDigits digits (ValueTooLong).
func ParseValue(s string) (*big.Int, error) {
	if len(s) > MaxValueDigits+1 {
		return nil, ValueTooLong(len(s))
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, errkind.Invalidf("counter value %q is not an integer", s)
	}
	return v, nil
}

// ValueTooLong refuses a stored value of n bytes without parsing it.
func ValueTooLong(n int) error {
	return errkind.Invalidf("the stored value is %d bytes long: counter reads values of at most %d digits (no increment or aggregate can carry more)", n, MaxValueDigits)
}
