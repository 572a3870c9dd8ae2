package cmd

import (
	"bytes"
	"strings"
	"testing"
)

// TestVerbHelpEndsShort: every verb's --help ends with its examples and at
// most four lines naming the connection flags, never the 25 lines that
// explain them (counter --help does): at a terminal of 30 rows the verb's
// own flags stay on the screen.
func TestVerbHelpEndsShort(t *testing.T) {
	var out, errb bytes.Buffer
	a := newApp(testIO(nil, &out, &errb, false, false))
	for _, c := range a.fisk.Model().Commands {
		if c.Hidden {
			continue
		}
		out.Reset()
		if code := Main([]string{c.Name, "--help"}, testIO(nil, &out, &errb, false, false)); code != 0 {
			t.Fatalf("%s --help: exit %d: %s", c.Name, code, errb.String())
		}
		text := out.String()
		i := strings.Index(text, "Connection flags")
		if i < 0 || strings.Contains(text, "Global Flags") {
			t.Fatalf("%s --help:\n%s", c.Name, text)
		}
		if tail := strings.Count(text[i:], "\n"); tail > 4 {
			t.Errorf("%s --help ends with %d lines of connection flags:\n%s", c.Name, tail, text[i:])
		}
	}
}
