package watch

import (
	"fmt"
	"testing"
)

func TestWatchFilters(t *testing.T) {
	cases := []struct {
		in   []string
		want string // filters, or "invalid"
	}{
		{[]string{"a.>"}, "[a.>]"},
		{[]string{"a.>", "a.b"}, "[a.>]"},
		{[]string{"a.b", "a.>"}, "[a.>]"},
		{[]string{"a.*", "a.b", "a.*"}, "[a.*]"},
		{[]string{"a.b", "a.c"}, "[a.b a.c]"},
		{[]string{">", "a.*.c"}, "[>]"},
		{[]string{"a.*", "a.b.c"}, "[a.* a.b.c]"},
		{[]string{"a.*.c", "a.b.*"}, "invalid"},
		{[]string{"a.*", "*.b"}, "invalid"},
	}
	for _, c := range cases {
		got, err := watchFilters(c.in)
		s := fmt.Sprint(got)
		if err != nil {
			s = "invalid"
		}
		if s != c.want {
			t.Errorf("watchFilters(%v) = %s (%v), want %s", c.in, s, err, c.want)
		}
	}
}
