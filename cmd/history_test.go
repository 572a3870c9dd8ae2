package cmd

import (
	"errors"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/errkind"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"90m", now.Add(-90 * time.Minute)},
		{"2h", now.Add(-2 * time.Hour)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"0s", now},
		{"2026-11-22T01:02:03Z", time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)},
		{"2026-11-22T01:02:03.5+01:00", time.Date(2026, 11, 22, 0, 2, 3, 5e8, time.UTC)},
		{"2026-11-22 01:02", time.Date(2026, 11, 22, 1, 2, 0, 0, time.Local)},
		{"2026-11-22", time.Date(2026, 11, 22, 0, 0, 0, 0, time.Local)},
	} {
		got, err := parseSince(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-5m", "5", "1e3s", "2026-13-01", "99999999999d"} {
		if _, err := parseSince(bad, now); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
}
