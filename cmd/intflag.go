package cmd

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// wholeNumber is an int flag read strictly: fisk's own IntVar parses a
// float and converts it, so --last 1.5 was 1, --last 1e3 was 1000 and
// --last 99999999999999999999 became -9223372036854775808. This accepts
// a decimal whole number that fits, and names the flag otherwise (exit 2).
type wholeNumber struct {
	flag string // as typed: --last
	v    *int
}

func (w wholeNumber) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, strconv.IntSize)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return fmt.Errorf("%s %.40q is too large: at most %d", w.flag, s, math.MaxInt)
	case err != nil:
		return fmt.Errorf("%s %.40q is not a whole number", w.flag, s)
	}
	*w.v = int(n)
	return nil
}

func (w wholeNumber) String() string { return strconv.Itoa(*w.v) }
