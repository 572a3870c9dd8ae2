package cmd

import (
	"bytes"
	"slices"
	"testing"
)

func TestNormalizeArgs(t *testing.T) {
	app := newApp(testIO(nil, &bytes.Buffer{}, &bytes.Buffer{}, false, false))
	for _, tc := range []struct {
		in, want []string
		verb     string
		dd       bool
	}{
		{in: []string{"incr", "x"}, want: []string{"incr", "x"}, verb: "incr"},
		{in: []string{"incr", "x", "-5"}, want: []string{"incr", "x", "--", "-5"}, verb: "incr"},
		{in: []string{"add", "x", "-5", "--json"}, want: []string{"add", "x", "--json", "--", "-5"}, verb: "incr"},
		{in: []string{"incr", "-5", "x"}, want: []string{"incr", "-5", "x"}, verb: "incr"},
		{in: []string{"--password", "-12345", "incr", "x"}, want: []string{"--password=-12345", "incr", "x"}, verb: "incr"},
		{in: []string{"-s", "-weird", "get", "x"}, want: []string{"--server=-weird", "get", "x"}, verb: "get"},
		{in: []string{"reset", "x", "--reason", "-5"}, want: []string{"reset", "x", "--reason=-5"}, verb: "reset"},
		{in: []string{"incr", "x", "-"}, want: []string{"incr", "x", "--", "-"}, verb: "incr"},
		{in: []string{"incr", "-", "--json"}, want: []string{"incr", "--json", "--", "-"}, verb: "incr"},
		{in: []string{"incr", "--", "-x", "-5"}, want: []string{"incr", "--", "-x", "-5"}, verb: "incr"},
		{in: []string{"incr", "x", "--", "--"}, want: []string{"incr", "x", "--", "--"}, verb: "incr", dd: true},
		{in: []string{"get", "x", "-5"}, want: []string{"get", "x", "-5"}, verb: "get"},
	} {
		got := normalizeArgs(app.fisk, tc.in)
		if !slices.Equal(got.args, tc.want) || got.doubleDash != tc.dd || (tc.verb != "" && got.verb != tc.verb && got.verb != tc.in[0]) {
			t.Errorf("normalizeArgs(%q) = %q verb %q doubleDash %v, want %q verb %q doubleDash %v", tc.in, got.args, got.verb, got.doubleDash, tc.want, tc.verb, tc.dd)
		}
	}
}
