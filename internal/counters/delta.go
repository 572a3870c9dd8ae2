package counters

import (
	"math/big"
	"regexp"

	"github.com/jetcounter/counter/internal/errkind"
)

// deltaPattern is stricter than the server (which also takes spaces): a delta
// is an optional sign and decimal digits, nothing else.
var deltaPattern = regexp.MustCompile(`^[+-]?[0-9]+$`)

// ParseDelta parses a signed decimal integer of any size.
func ParseDelta(s string) (*big.Int, error) {
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

// ParseValue parses a counter value as stored or acked by the server.
func ParseValue(s string) (*big.Int, error) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, errkind.Invalidf("counter value %q is not an integer", s)
	}
	return v, nil
}
