package render

import "testing"

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"count.eu.hits":       "count.eu.hits",
		"héllo.wörld.日本":      "héllo.wörld.日本",
		"a\x1b[2Jb":           `a\x1b[2Jb`,
		"bell\x07":            `bell\x07`,
		"del\x7f":             `del\x7f`,
		"c1\u009b31m":         `c1\u009b31m`,
		"bad\xffutf8":         `bad\xffutf8`,
		"\x1b]0;title\x07end": `\x1b]0;title\x07end`,
	} {
		if got := Visible(in); got != want {
			t.Errorf("Visible(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestColorEnabledNoColor(t *testing.T) {
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "")
	if !ColorEnabled(true) {
		t.Error("an empty NO_COLOR disabled colour; no-color.org: only a non-empty value does")
	}
	t.Setenv("NO_COLOR", "1")
	if ColorEnabled(true) {
		t.Error("NO_COLOR=1 left colour on")
	}
	if ColorEnabled(false) {
		t.Error("colour off a terminal")
	}
}
