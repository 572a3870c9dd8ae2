package bulk

import (
	"bytes"
	"fmt"
	"math/big"
	"unicode/utf8"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/terminal"
)

// Bulk input lines: `SUBJECT [DELTA] [ID]`, fields separated by spaces or
// tabs; blank lines and lines whose first non-blank character is '#' are
// skipped; a trailing '\r' (CRLF files) is ignored.

// MaxBulkIDLen bounds an ID column: it travels as the Nats-Msg-Id header.
const MaxBulkIDLen = 1024

// maxInt64Digits: any decimal of at most 18 digits fits in an int64, so
// such deltas are parsed without big.Int.
const maxInt64Digits = 18

// bulkLine is one parsed line. The byte slices alias the input buffer.
type bulkLine struct {
	subject []byte
	delta   int64
	big     *big.Int // set instead of delta when it needs more than 18 digits
	id      []byte
}

// parseBulkLine splits and checks one line without allocating for the
// common case (a delta that fits in int64). skip is true for blank and
// comment lines. The subject is checked later, once per distinct subject.
func parseBulkLine(line []byte) (l bulkLine, skip bool, err error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	var fields [3][]byte
	n := 0
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		if n == 0 && line[start] == '#' {
			return l, true, nil
		}
		if n == len(fields) {
			return l, false, errkind.Invalidf("too many fields: want SUBJECT [DELTA] [ID]")
		}
		fields[n] = line[start:i]
		n++
	}
	if n == 0 {
		return l, true, nil
	}
	l.subject = fields[0]
	l.delta = 1
	if n > 1 {
		if l.delta, l.big, err = parseDeltaBytes(fields[1]); err != nil {
			return l, false, err
		}
	}
	if n > 2 {
		l.id = fields[2]
		if err := validID(l.id); err != nil {
			return l, false, err
		}
	}
	return l, false, nil
}

// parseDeltaBytes accepts exactly ^[+-]?[0-9]+$ (as ParseDelta): an int64
// when at most 18 digits, else a big.Int.
func parseDeltaBytes(b []byte) (int64, *big.Int, error) {
	digits := b
	neg := false
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		neg = digits[0] == '-'
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, nil, badDelta(b)
	}
	if len(b) > counters.MaxValueDigits+1 {
		return 0, nil, counters.DeltaTooLong(len(b))
	}
	var v int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, nil, badDelta(b)
		}
		v = v*10 + int64(c-'0') // wraps past 18 digits; only used when it does not
	}
	if len(digits) > maxInt64Digits {
		d, ok := new(big.Int).SetString(string(b), 10)
		if !ok {
			return 0, nil, badDelta(b)
		}
		return 0, d, nil
	}
	if neg {
		v = -v
	}
	return v, nil, nil
}

func badDelta(b []byte) error {
	return errkind.Invalidf("invalid delta %.40q: want a signed whole number such as +1, -5 or 1000000000000000000000", b)
}

// validID refuses an ID the server could not carry as a header value.
func validID(id []byte) error {
	if len(id) > MaxBulkIDLen {
		return errkind.Invalidf("id %.40q… is %d bytes long: ids are at most %d", id, len(id), MaxBulkIDLen)
	}
	if !utf8.Valid(id) || bytes.ContainsFunc(id, terminal.IsControl) {
		return errkind.Invalidf("id %q contains a control character or invalid UTF-8", id)
	}
	return nil
}

// ValidIDPrefix checks --id-prefix: it becomes part of every line's id.
func ValidIDPrefix(p string) error {
	if p == "" {
		return errkind.Invalidf("--id-prefix is empty")
	}
	if len(p) > MaxBulkIDLen-20 {
		return errkind.Invalidf("--id-prefix is %d bytes long: at most %d", len(p), MaxBulkIDLen-20)
	}
	if bytes.ContainsAny([]byte(p), " \t") {
		return errkind.Invalidf("--id-prefix %q contains whitespace", p)
	}
	return validID([]byte(p))
}

// LineError is a bad input line: its number (1-based) and why.
type LineError struct {
	Line int
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e LineError) Unwrap() error { return e.Err }

// InputError lists the first bad lines of an input that was refused whole.
type InputError struct {
	Lines []LineError // the first few
	Total int         // how many lines were bad
}

func (e *InputError) Error() string {
	if e.Total == 1 {
		return e.Lines[0].Error() + ": nothing was sent"
	}
	return fmt.Sprintf("%s (and %d more bad lines): nothing was sent", e.Lines[0].Error(), e.Total-1)
}

// Unwrap gives the input the kind of its first bad line, so that one bad
// line exits as the same increment given to incr would (a subject no
// stream captures: not found), and input of no kind is invalid.
func (e *InputError) Unwrap() error {
	if len(e.Lines) > 0 && errkind.Of(e.Lines[0].Err) != nil {
		return e.Lines[0].Err
	}
	return errkind.ErrInvalid
}
