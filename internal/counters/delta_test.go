package counters_test

import (
	"encoding/json"
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
)

func TestParseDelta(t *testing.T) {
	forty := "1234567890123456789012345678901234567890"
	accept := map[string]string{
		"1":          "1",
		"+1":         "1",
		"-5":         "-5",
		"0":          "0",
		"-0":         "0",
		"+0":         "0",
		"007":        "7",
		"-007":       "-7",
		forty:        forty,
		"+" + forty:  forty,
		"-" + forty:  "-" + forty,
		"9" + forty:  "9" + forty,
		"-000" + "1": "-1",
	}
	for in, want := range accept {
		d, err := counters.ParseDelta(in)
		if err != nil {
			t.Errorf("ParseDelta(%q): %v", in, err)
			continue
		}
		if d.String() != want {
			t.Errorf("ParseDelta(%q) = %s, want %s", in, d, want)
		}
	}
	reject := []string{"", "+", "-", "+-1", "-+1", "++1", "1e3", "0x10", "1_000", " 1", "1 ", "\t1", "1\n",
		"1.0", "1,000", "one", "١", "１", "+ 1", "--1"}
	for _, in := range reject {
		d, err := counters.ParseDelta(in)
		if err == nil {
			t.Errorf("ParseDelta(%q) = %s, want an error", in, d)
			continue
		}
		if !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("ParseDelta(%q): error %v is not errkind.ErrInvalid", in, err)
		}
		if !strings.Contains(err.Error(), "invalid delta") {
			t.Errorf("ParseDelta(%q): error %q does not say what was wrong", in, err)
		}
	}
}

func TestSigned(t *testing.T) {
	cases := map[string]string{
		"0":                        "+0",
		"1":                        "+1",
		"-1":                       "-1",
		"12345678901234567890123":  "+12345678901234567890123",
		"-12345678901234567890123": "-12345678901234567890123",
	}
	for in, want := range cases {
		v, _ := new(big.Int).SetString(in, 10)
		if got := counters.Signed(v); got != want {
			t.Errorf("Signed(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestParseValue(t *testing.T) {
	v, err := counters.ParseValue("-1234567890123456789012345678901234567890")
	if err != nil || v.String() != "-1234567890123456789012345678901234567890" {
		t.Fatalf("ParseValue = %v, %v", v, err)
	}
	for _, in := range []string{"", "abc", "1.5"} {
		if _, err := counters.ParseValue(in); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("ParseValue(%q): err = %v, want errkind.ErrInvalid", in, err)
		}
	}
}

var deltaOracle = regexp.MustCompile(`^[+-]?[0-9]+$`)

func FuzzParseDelta(f *testing.F) {
	for _, s := range []string{"1", "+1", "-5", "-0", "007", "+-1", "1e3", "0x10", "1_000", " 1", "1 ", "", "+",
		"1\n", "99999999999999999999999999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := counters.ParseDelta(s)
		if want := deltaOracle.MatchString(s) && len(s) <= counters.MaxValueDigits+1; want != (err == nil) {
			t.Fatalf("ParseDelta(%q): accepted=%v, regexp match=%v (err %v)", s, err == nil, want, err)
		}
		if err != nil {
			if !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("ParseDelta(%q): error %v is not errkind.ErrInvalid", s, err)
			}
			return
		}
		ref, _ := new(big.Int).SetString(s, 10)
		if d.Cmp(ref) != 0 {
			t.Fatalf("ParseDelta(%q) = %s, want %s", s, d, ref)
		}
		signed := counters.Signed(d)
		if signed[0] != '+' && signed[0] != '-' {
			t.Fatalf("Signed(%s) = %q has no explicit sign", d, signed)
		}
		back, err := counters.ParseDelta(signed)
		if err != nil {
			t.Fatalf("ParseDelta(Signed(%s) = %q): %v", d, signed, err)
		}
		if back.Cmp(d) != 0 {
			t.Fatalf("round trip %q -> %q -> %s, want %s", s, signed, back, d)
		}
	})
}

func TestParseBody(t *testing.T) {
	ok := map[string]string{
		`{"val":"42"}`: "42",
		`{"val":"-7"}`: "-7",
		`{"val":"0"}`:  "0",
		`{"val":"1234567890123456789012345678901234567890"}`: "1234567890123456789012345678901234567890",
		`{ "val" : "5" }`:   "5", // not the server's form: the slow path
		`{"val":"\u0035"}`:  "5",
		`{"val":"9","x":1}`: "9",
	}
	for in, want := range ok {
		v, err := counters.ParseBody([]byte(in))
		if err != nil || v.String() != want {
			t.Errorf("ParseBody(%s) = %v, %v; want %s", in, v, err, want)
		}
	}
	for _, in := range []string{``, `{}`, `{"val":5}`, `{"val":""}`, `{"val":"1.5"}`, `{"val":"1"`, `{"val":"1"}}`, `{"val":"0x10"}`, `hello`} {
		if v, err := counters.ParseBody([]byte(in)); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("ParseBody(%s) = %v, %v; want errkind.ErrInvalid", in, v, err)
		}
	}
}

// TestHugeValuesRefusedUnparsed: a value or delta past MaxValueDigits is
// refused at once, naming its size; parsing 7 MiB of digits would take
// minutes (big.Int's decimal parsing is quadratic) with signals unheard.
func TestHugeValuesRefusedUnparsed(t *testing.T) {
	digits := strings.Repeat("9", 7<<20)
	start := time.Now()
	if _, err := counters.ParseBody([]byte(`{"val":"` + digits + `"}`)); !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "the stored value is 7340042 bytes long") {
		t.Errorf("ParseBody of 7 MiB: %v", err)
	}
	if _, err := counters.ParseValue(digits); !errors.Is(err, errkind.ErrInvalid) {
		t.Errorf("ParseValue of 7 MiB: %v", err)
	}
	if _, err := counters.ParseDelta("+" + digits); !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "65,000 digits") {
		t.Errorf("ParseDelta of 7 MiB: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("refusing took %s", took)
	}
	// The bound itself is parsed, and quickly.
	most := strings.Repeat("9", counters.MaxValueDigits)
	for _, body := range []string{`{"val":"` + most + `"}`, `{"val":"-` + most + `"}`, `{ "val" : "` + most + `" }`} {
		if v, err := counters.ParseBody([]byte(body)); err != nil || len(v.String()) < counters.MaxValueDigits {
			t.Errorf("ParseBody of %d digits: %v", counters.MaxValueDigits, err)
		}
	}
	if _, err := counters.ParseDelta("-" + most); err != nil {
		t.Errorf("ParseDelta of %d digits: %v", counters.MaxValueDigits, err)
	}
}

// FuzzParseBody holds the fast path to what the JSON decoder would say.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{`{"val":"42"}`, `{"val":"-1"}`, `{"val":"+1"}`, `{"val":"1\"}`, `{"val":"1"}"}`, `{"val":"\u0031"}`, `{"val":"1","val":"2"}`, `{"val":" 1"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := counters.ParseBody(body)
		var b struct {
			Val *string `json:"val"`
		}
		var want *big.Int
		if len(body) <= counters.MaxValueDigits+64 && json.Unmarshal(body, &b) == nil && b.Val != nil {
			want, _ = new(big.Int).SetString(*b.Val, 10)
		}
		switch {
		case want == nil && err == nil:
			t.Fatalf("ParseBody(%q) = %s, the JSON decoder rejects it", body, got)
		case want != nil && err != nil:
			t.Fatalf("ParseBody(%q): %v, the JSON decoder gives %s", body, err, want)
		case want != nil && got.Cmp(want) != 0:
			t.Fatalf("ParseBody(%q) = %s, the JSON decoder gives %s", body, got, want)
		}
	})
}
