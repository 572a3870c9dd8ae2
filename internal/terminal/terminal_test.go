package terminal

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

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
		"tab\tnl\n":           `tab\x09nl\x0a`,
		"nbsp\u00a0ok":        "nbsp\u00a0ok",
		"cut\xc2":             `cut\xc2`,
	} {
		if got := Visible(in); got != want {
			t.Errorf("Visible(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsControl(t *testing.T) {
	for r := rune(0); r < 0x100; r++ {
		want := r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f
		if IsControl(r) != want {
			t.Errorf("IsControl(%U) = %v", r, !want)
		}
	}
}

// TestColorDecidedOnce: colour needs a terminal and neither a non-empty
// NO_COLOR nor TERM=dumb (no-color.org: an empty NO_COLOR does not count).
func TestColorDecidedOnce(t *testing.T) {
	tio, _, _, _ := Test()
	if tio.ColorEnabled() || tio.ErrColorEnabled() {
		t.Fatal("a test terminal starts uncoloured")
	}
	tio.SetStdout(&bytes.Buffer{}, true)
	tio.SetStderr(&bytes.Buffer{}, true)
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{"TERM": "xterm"}, true},
		{map[string]string{"TERM": "xterm", "NO_COLOR": ""}, true},
		{map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, false},
		{map[string]string{"TERM": "dumb"}, false},
	} {
		tio.SetEnv(c.env)
		if tio.ColorEnabled() != c.want || tio.ErrColorEnabled() != c.want {
			t.Errorf("env %v: colour %v, want %v", c.env, tio.ColorEnabled(), c.want)
		}
	}
	tio.SetEnv(map[string]string{"TERM": "xterm"})
	tio.SetStdout(&bytes.Buffer{}, false)
	if tio.ColorEnabled() || !tio.ErrColorEnabled() {
		t.Error("colour must follow each stream's terminal")
	}
	tio.SetEnv(map[string]string{"TERM": "dumb"})
	tio.SetStdout(&bytes.Buffer{}, true)
	if tio.AltScreenEnabled() || !tio.Dumb() {
		t.Error("TERM=dumb allows no alternate screen")
	}
}

func TestSize(t *testing.T) {
	tio, _, _, _ := Test()
	tio.SetSize(120, 40)
	if w, h := tio.Size(); w != 0 || h != 0 {
		t.Errorf("a pipe has a size: %dx%d", w, h)
	}
	tio.SetStdout(&bytes.Buffer{}, true)
	if w, h := tio.Size(); w != 120 || h != 40 || tio.Width() != 120 {
		t.Errorf("size %dx%d, want 120x40", w, h)
	}
}

// TestMessages: every line on stderr has its prefix, is scrubbed, then
// shown with visible escapes; only an error is red, and only on a colour
// terminal.
func TestMessages(t *testing.T) {
	tio, _, _, errOut := Test()
	tio.SetScrubber(func(s string) string { return strings.ReplaceAll(s, "hunter2", "***") })
	tio.Errorf("stream %s: %v", "PL\x1b]0;OWNED\x07X", "password hunter2")
	tio.Warnf("source header of %s: %s", "EV\x1b[2JIL", "bad \u009b")
	tio.Notef("%s", "100%")
	tio.Linef("and %d more", 3)
	want := `counter: stream PL\x1b]0;OWNED\x07X: password ***` + "\n" +
		`counter: warning: source header of EV\x1b[2JIL: bad \u009b` + "\n" +
		"counter: 100%\n" +
		"and 3 more\n"
	if errOut.String() != want {
		t.Errorf("stderr:\n%q\nwant\n%q", errOut.String(), want)
	}

	var colour bytes.Buffer
	tio.SetStderr(&colour, true)
	tio.SetEnv(map[string]string{"TERM": "xterm"})
	tio.Errorf("boom")
	tio.Warnf("careful")
	if colour.String() != "\x1b[31mcounter:\x1b[0m boom\ncounter: warning: careful\n" {
		t.Errorf("colour terminal: %q", colour.String())
	}
}

// TestOutGuard: on a terminal stdout shows every control character it is
// given, even one cut in two by a buffer's end; in a pipe it keeps the
// exact bytes.
func TestOutGuard(t *testing.T) {
	tio, _, _, _ := Test()
	var out bytes.Buffer
	tio.SetStdout(&out, true)
	w := tio.Out()
	for _, part := range []string{"a\x1b[2J\tb\n", "c\xc2", "\x9bd é\xe2", "\x94\x82 \r", "\xc2"} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	tio.Flush()
	if want := `a\x1b[2J` + "\tb\n" + `c\u009bd é│ \x0d\xc2`; out.String() != want {
		t.Errorf("terminal got %q, want %q", out.String(), want)
	}

	var pipe bytes.Buffer
	tio.SetStdout(&pipe, false)
	raw := "a\x1b[2J\u009b\n"
	tio.Out().Write([]byte(raw))
	if pipe.String() != raw {
		t.Errorf("pipe got %q, want the exact bytes", pipe.String())
	}
}

// TestErrOutAndProgress: stderr text is always shown, not obeyed; a
// progress bar may return to the start of its line, and draws nothing
// off a terminal.
func TestErrOutAndProgress(t *testing.T) {
	tio, _, _, errOut := Test()
	tio.ErrOut().Write([]byte("x\x1b[31m\n"))
	tio.Progress().Write([]byte("\rhidden"))
	tio.Progressf("reset %d", 1)
	if errOut.String() != `x\x1b[31m`+"\n" {
		t.Errorf("stderr (not a terminal): %q", errOut.String())
	}
	errOut.Reset()
	tio.SetStderr(errOut, true)
	tio.Progress().Write([]byte("\rsending \x1b[2K"))
	tio.Progressf("reset %d/%d %s", 1, 2, "\x07")
	tio.EndProgress()
	if want := "\rsending \\x1b[2K\rreset 1/2 \\x07\n"; errOut.String() != want {
		t.Errorf("progress: %q, want %q", errOut.String(), want)
	}
}

func TestConfirm(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "yess\n": false} {
		tio, in, _, errOut := Test()
		in.WriteString(answer)
		yes, interrupted := tio.Confirm(context.Background(), "Reset \x1b[2J?")
		if yes != want || interrupted {
			t.Errorf("%q: yes %v interrupted %v", answer, yes, interrupted)
		}
		if errOut.String() != `Reset \x1b[2J? [y/N] ` {
			t.Errorf("question: %q", errOut.String())
		}
	}
	tio, _, _, _ := Test()
	r, w := io.Pipe()
	defer w.Close()
	tio.SetStdin(r, true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if yes, interrupted := tio.Confirm(ctx, "?"); yes || !interrupted {
		t.Errorf("cancelled: yes %v interrupted %v", yes, interrupted)
	}
}

// TestEscapeJSON: DEL and C1 characters, which encoding/json leaves raw,
// become \u escapes; the JSON still means the same.
func TestEscapeJSON(t *testing.T) {
	in := map[string]string{"s": "a\x1b\x07\x7f\u0080\u009b\u009f\u00a0é\u2028<&>\xff"}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(in); err != nil {
		t.Fatal(err)
	}
	got := EscapeJSON(buf.Bytes())
	want := `{"s":"a\u001b\u0007\u007f\u0080\u009b\u009f` + "\u00a0é" + `\u2028<&>\ufffd"}` + "\n"
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back["s"] != strings.ToValidUTF8(in["s"], "\ufffd") {
		t.Errorf("meaning changed: %q", back["s"])
	}
	for _, r := range string(got) {
		if IsControl(r) && r != '\n' {
			t.Errorf("control character %U left raw", r)
		}
	}
	plain := []byte(`{"a":"b"}`)
	if out := EscapeJSON(plain); &out[0] != &plain[0] {
		t.Error("clean JSON was copied")
	}
}

func FuzzVisible(f *testing.F) {
	for _, s := range []string{"a\x1b[2J", "\u009b", "\xff\xc2", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := Visible(s)
		if !utf8.ValidString(v) {
			t.Fatalf("Visible(%q) = %q is not valid UTF-8", s, v)
		}
		for _, r := range v {
			if IsControl(r) {
				t.Fatalf("Visible(%q) = %q keeps %U", s, v, r)
			}
		}
		// Cut anywhere, through the guard: the same text.
		for cut := 0; cut <= len(s); cut++ {
			var out bytes.Buffer
			g := newGuard(&out, "")
			g.Write([]byte(s[:cut]))
			g.Write([]byte(s[cut:]))
			g.flush()
			if out.String() != v {
				t.Fatalf("guard cut at %d: %q, want %q", cut, out.String(), v)
			}
		}
	})
}
