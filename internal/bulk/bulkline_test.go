package bulk

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
)

func TestParseBulkLine(t *testing.T) {
	for _, tc := range []struct {
		line, subject, delta, id, err string
		skip                          bool
	}{
		{line: "hits", subject: "hits", delta: "1"},
		{line: "hits\n", subject: "hits", delta: "1"},
		{line: "hits 5\r\n", subject: "hits", delta: "5"},
		{line: "  hits\t-5  ", subject: "hits", delta: "-5"},
		{line: "hits +007", subject: "hits", delta: "7"},
		{line: "hits -0", subject: "hits", delta: "0"},
		{line: "hits 999999999999999999", subject: "hits", delta: "999999999999999999"},
		{line: "hits -1000000000000000000", subject: "hits", delta: "-1000000000000000000"},
		{line: "hits 1234567890123456789012345678901234567890 id-1", subject: "hits", delta: "1234567890123456789012345678901234567890", id: "id-1"},
		{line: "hits +1 order#7", subject: "hits", delta: "1", id: "order#7"},
		{line: "", skip: true},
		{line: " \t\r\n", skip: true},
		{line: "# comment", skip: true},
		{line: "   # indented comment with fields", skip: true},
		{line: "hits 1e3", err: `invalid delta "1e3"`},
		{line: "hits +-1", err: "invalid delta"},
		{line: "hits +", err: "invalid delta"},
		{line: "hits 0x10", err: "invalid delta"},
		{line: "hits 1_000", err: "invalid delta"},
		{line: "hits 1 id x", err: "too many fields"},
		{line: "hits 1 id\x00", err: "control character"},
		{line: "hits 1 " + strings.Repeat("i", MaxBulkIDLen+1), err: "ids are at most"},
	} {
		l, skip, err := parseBulkLine([]byte(tc.line))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, errkind.ErrInvalid) {
				t.Errorf("%q: error %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || skip != tc.skip {
			t.Errorf("%q: skip %v, error %v", tc.line, skip, err)
			continue
		}
		if skip {
			continue
		}
		if string(l.subject) != tc.subject || lineDelta(l).String() != tc.delta || string(l.id) != tc.id {
			t.Errorf("%q: got %q %s %q", tc.line, l.subject, lineDelta(l), l.id)
		}
	}
}

func lineDelta(l bulkLine) *big.Int {
	if l.big != nil {
		return l.big
	}
	return big.NewInt(l.delta)
}

// FuzzParseBulkLine checks the hand-written parser against the obvious
// one: fields split on spaces and tabs, and ParseDelta.
func FuzzParseBulkLine(f *testing.F) {
	for _, s := range []string{"hits", "hits 5", "a.b -12 id", "# c", "", "x +99999999999999999999", "x 1e3", "a b c d", "x\t-0\r\n", "x 1 \x01", "x -"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		l, skip, err := parseBulkLine(line)
		trimmed := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		fields := strings.FieldsFunc(string(trimmed), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			if !skip || err != nil {
				t.Fatalf("%q: a blank or comment line, got skip %v, error %v", line, skip, err)
			}
			return
		}
		if skip {
			t.Fatalf("%q skipped", line)
		}
		var want *big.Int
		var wantErr error
		switch {
		case len(fields) > 3:
			wantErr = errors.New("too many fields")
		case len(fields) == 1:
			want = big.NewInt(1)
		default:
			want, wantErr = counters.ParseDelta(fields[1])
		}
		if wantErr == nil && len(fields) == 3 {
			wantErr = validID([]byte(fields[2]))
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, reference %v", line, err, wantErr)
		}
		if err != nil {
			return
		}
		if string(l.subject) != fields[0] || lineDelta(l).Cmp(want) != 0 {
			t.Fatalf("%q: got %q %s, want %q %s", line, l.subject, lineDelta(l), fields[0], want)
		}
		if len(fields) == 3 && string(l.id) != fields[2] {
			t.Fatalf("%q: id %q, want %q", line, l.id, fields[2])
		}
	})
}

func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		data, val string
		seq       uint64
		dup, fail bool
	}{
		{data: `{"stream":"C","seq":7,"val":"42"}`, seq: 7, val: "42"},
		{data: `{"stream":"C","seq":8,"val":"-1234567890123456789012345678901234567890"}`, seq: 8, val: "-1234567890123456789012345678901234567890"},
		{data: `{"stream":"C","seq":7,"duplicate":true}`, seq: 7, dup: true},
		{data: `{"stream":"C","domain":"hub","seq":9,"val":"1"}`, seq: 9, val: "1"},
		{data: `{"stream":"C","seq":7,"val":"4\"2"}`, seq: 7, val: "4\"2"},
		{data: `{"error":{"code":400,"err_code":10171,"description":"increment is invalid"},"stream":"C","seq":0}`, fail: true},
	} {
		a, err := parseAck([]byte(tc.data))
		if err != nil || a.Seq != tc.seq || string(a.val) != tc.val || a.Duplicate != tc.dup || (a.Error != nil) != tc.fail {
			t.Errorf("%s: %+v, %v", tc.data, a, err)
		}
	}
	if _, err := parseAck([]byte("nope")); err == nil {
		t.Error("a reply that is not an ack was accepted")
	}
}

// FuzzParseAck: the hand-scanned fast path never disagrees with decoding
// the same bytes as JSON.
func FuzzParseAck(f *testing.F) {
	for _, s := range []string{`{"stream":"C","seq":7,"val":"42"}`, `{"stream":"C","seq":7,"duplicate":true}`,
		`{"stream":"a\","seq":1,"val":"2"}`, `{"stream":"C","seq":18446744073709551616,"val":"1"}`, `{"stream":"C","seq":7,"val":"-0"}`,
		"{\"stream\":\"\x01\",\"seq\":1,\"val\":\"2\"}", `{"stream":"C","seq":007,"val":"1"}`, `{"stream":"C","seq":0,"val":"1"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseAck(data)
		var full struct {
			Seq       uint64  `json:"seq"`
			Duplicate bool    `json:"duplicate"`
			Val       *string `json:"val"`
		}
		jerr := json.Unmarshal(data, &full)
		if err == nil && jerr != nil {
			t.Fatalf("%q: accepted, but it is not valid JSON: %v", data, jerr)
		}
		if err != nil {
			return
		}
		val := ""
		if full.Val != nil {
			val = *full.Val
		}
		if a.Seq != full.Seq || a.Duplicate != full.Duplicate || string(a.val) != val {
			t.Fatalf("%q: got seq %d dup %v val %q, JSON says %d %v %q", data, a.Seq, a.Duplicate, a.val, full.Seq, full.Duplicate, val)
		}
	})
}
