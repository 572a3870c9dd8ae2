//go:build unix

package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"
)

// The README's examples are checked: every ```console block of README.md
// is run by TestREADMEExamples as a person would run it, and what it
// prints must be what the README shows.
//
// A block is a shell session. Each "$ " line (with "\"-continued lines) is
// run, in order, by one sh in a fresh directory against a fresh
// nats-server ($NATS_URL), with stdout and stderr on a terminal of 100
// columns and stdin empty (so nothing asks [y/N]: as in a script). The
// lines after it, up to the next "$ " line, are what it must print: stdout
// and stderr as they arrive on the terminal. A "| cat" therefore shows the
// piped form, and no pipe the terminal's.
//
// An HTML comment right above a block says what it needs:
//
//	<!-- example fixture NAME [NAME...]; cols N; vary REGEXP -->
//
//   - fixture: testdata/readme/NAME.txtar, a testscript script (with the
//     files in its archive) run first: the streams and values the block
//     assumes. Without one the block starts from an empty server.
//   - cols: the terminal's width (default 100).
//   - vary: what differs from run to run in this block's output, besides
//     what always does (readmeVary): both sides' matches are replaced by
//     the same placeholder before comparing. May be given more than once.
//
// In a table (lines drawn with │) the width of padding and rules is not
// compared: a value that varies in length widens its column.
//
// In the expected output a line "…TEXT…" (starting and ending with "…")
// stands for any number of lines. The lines of a command with a pipe are
// compared in any order: its stderr reaches the terminal directly, its
// stdout through the pipe, and they interleave as they please. README_UPDATE=1 rewrites each block's
// output with what was printed (blocks with such lines are only
// reported).
//
// A ```sh block is for commands to copy, never for output: a "$ " line in
// one fails the test (show output in a console block, where it is
// checked).

// readmeVary is what differs from run to run in every block: times, how
// long ago, rates and durations, who ran a reset, temporary paths.
var readmeVary = []string{
	`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`,
	`\b\d+(\.\d+)?(ms|s|m|h) ago\b`,
	`\bin \d+\.\d\ds \([0-9,]+ lines/s\)`,
	`"seconds":[0-9.e-]+,"per_second":[0-9.e+]+`,
	`\(by [^()\s]*@[^()\s]*\)`,
}

// readmeBlock is one console block of the README.
type readmeBlock struct {
	line     int // of the ``` line, 1-based
	text     string
	fixtures []string
	cols     int
	vary     []string
}

// readmeBlocks finds the console blocks of the README and the ```sh blocks
// that hold a "$ " line (bad: returned as errors).
func readmeBlocks(readme string) ([]readmeBlock, []error) {
	lines := strings.Split(readme, "\n")
	var blocks []readmeBlock
	var errs []error
	for i := 0; i < len(lines); i++ {
		fence := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(fence, "```") {
			continue
		}
		lang := strings.TrimPrefix(fence, "```")
		start := i
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		switch lang {
		case "console":
			b := readmeBlock{line: start + 1, text: strings.Join(body, "\n") + "\n", cols: 100}
			if err := b.directives(lines[:start]); err != nil {
				errs = append(errs, fmt.Errorf("README.md:%d: %v", start+1, err))
			}
			blocks = append(blocks, b)
		case "sh", "bash", "shell":
			for j, l := range body {
				if strings.HasPrefix(l, "$ ") {
					errs = append(errs, fmt.Errorf("README.md:%d: a %q line in a ```%s block: show commands with their output in a ```console block (checked by this test)", start+2+j, l, lang))
					break
				}
			}
		}
	}
	return blocks, errs
}

// directives reads the <!-- example ... --> comment right above the block
// (blank lines between are fine).
func (b *readmeBlock) directives(above []string) error {
	end := len(above) - 1
	for end >= 0 && strings.TrimSpace(above[end]) == "" {
		end--
	}
	if end < 0 || !strings.HasSuffix(strings.TrimSpace(above[end]), "-->") {
		return nil
	}
	begin := end
	for begin >= 0 && !strings.Contains(above[begin], "<!--") {
		begin--
	}
	if begin < 0 {
		return nil
	}
	comment := strings.Join(above[begin:end+1], "\n")
	comment = strings.TrimSpace(comment[strings.Index(comment, "<!--")+4 : strings.LastIndex(comment, "-->")])
	rest, ok := strings.CutPrefix(comment, "example")
	if !ok {
		return nil
	}
	for _, d := range strings.FieldsFunc(rest, func(r rune) bool { return r == ';' || r == '\n' }) {
		key, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		value = strings.TrimSpace(value)
		switch key {
		case "fixture":
			b.fixtures = append(b.fixtures, strings.Fields(value)...)
		case "cols":
			n, err := strconv.Atoi(value)
			if err != nil || n < 20 {
				return fmt.Errorf("example: cols %q", value)
			}
			b.cols = n
		case "vary":
			if _, err := regexp.Compile(value); err != nil {
				return fmt.Errorf("example: vary: %v", err)
			}
			b.vary = append(b.vary, value)
		case "":
		default:
			return fmt.Errorf("example: unknown directive %q (fixture, cols, vary)", key)
		}
	}
	return nil
}

// readmeStep is one command of a block and what it must print.
type readmeStep struct {
	command string
	want    []string
}

func parseSteps(text string) ([]readmeStep, error) {
	var steps []readmeStep
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if c, ok := strings.CutPrefix(l, "$ "); ok {
			for strings.HasSuffix(c, "\\") && i+1 < len(lines) {
				i++
				c += "\n" + lines[i]
			}
			steps = append(steps, readmeStep{command: c})
			continue
		}
		if len(steps) == 0 {
			return nil, fmt.Errorf("output before the first command: %q", l)
		}
		steps[len(steps)-1].want = append(steps[len(steps)-1].want, l)
	}
	return steps, nil
}

// readmeResults collects, for README_UPDATE=1, what each block printed.
var readmeResults = struct {
	sync.Mutex
	got map[int][]readmeStep // by block line
}{got: map[int][]readmeStep{}}

func TestREADMEExamples(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, errs := readmeBlocks(string(src))
	for _, err := range errs {
		t.Error(err)
	}
	if len(blocks) == 0 {
		t.Fatal("no console block in README.md")
	}
	dir := t.TempDir()
	for _, b := range blocks {
		steps, err := parseSteps(b.text)
		if err != nil {
			t.Errorf("README.md:%d: %v", b.line, err)
			continue
		}
		ar := &txtar.Archive{}
		first, _, _ := strings.Cut(steps[0].command, "\n")
		script := fmt.Sprintf("# README.md:%d: $ %s\n", b.line, first)
		seen := map[string]bool{}
		for _, name := range b.fixtures {
			fx, err := txtar.ParseFile(filepath.Join("..", "testdata", "readme", name+".txtar"))
			if err != nil {
				t.Errorf("README.md:%d: fixture %s: %v", b.line, name, err)
				continue
			}
			script += fmt.Sprintf("# fixture %s\n%s", name, fx.Comment)
			for _, f := range fx.Files {
				if seen[f.Name] {
					t.Errorf("README.md:%d: fixture %s: file %s given twice", b.line, name, f.Name)
				}
				seen[f.Name] = true
				ar.Files = append(ar.Files, f)
			}
		}
		script += fmt.Sprintf("readme %d %d .readme-block\n", b.line, b.cols)
		ar.Comment = []byte(script)
		ar.Files = append(ar.Files,
			txtar.File{Name: ".readme-block", Data: []byte(b.text)},
			txtar.File{Name: ".readme-vary", Data: []byte(strings.Join(append(slices.Clone(readmeVary), b.vary...), "\n") + "\n")})
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("readme-%04d.txtar", b.line)), txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("blocks", func(t *testing.T) {
		testscript.Run(t, scriptParams(dir))
	})
	if os.Getenv("README_UPDATE") == "1" {
		updateReadme(t, string(src), blocks)
	}
}

func init() { scriptCmds["readme"] = cmdReadme }

// readme LINE COLS FILE: run the console block in FILE (README.md line
// LINE) as one shell session on a terminal of COLS columns, and compare
// what each command prints with the block.
func cmdReadme(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: readme LINE COLS FILE")
	}
	line, _ := strconv.Atoi(args[0])
	cols, _ := strconv.Atoi(args[1])
	steps, err := parseSteps(ts.ReadFile(args[2]))
	ts.Check(err)
	var vary []*regexp.Regexp
	for _, v := range strings.Split(strings.TrimSpace(ts.ReadFile(".readme-vary")), "\n") {
		vary = append(vary, regexp.MustCompile(v))
	}
	got, codes, err := runSession(ts, steps, cols)
	if err != nil {
		ts.Fatalf("README.md:%d: %v", line, err)
	}
	update := os.Getenv("README_UPDATE") == "1"
	if update {
		// A line that differs only in what varies keeps the README's.
		out := make([]readmeStep, len(steps))
		for i, st := range steps {
			lines := slices.Clone(got[i])
			if len(lines) == len(st.want) {
				w, g := normalize(st.want, vary), normalize(lines, vary)
				for j := range lines {
					if w[j] == g[j] && utf8.RuneCountInString(st.want[j]) == utf8.RuneCountInString(lines[j]) {
						lines[j] = st.want[j]
					}
				}
			}
			out[i] = readmeStep{command: st.command, want: lines}
		}
		readmeResults.Lock()
		readmeResults.got[line] = out
		readmeResults.Unlock()
	}
	var failures []string
	for i, st := range steps {
		want, printed := normalize(st.want, vary), normalize(got[i], vary)
		if piped.MatchString(st.command) {
			// Its stderr reaches the terminal directly and its stdout
			// through the pipe: they interleave in no fixed order.
			want, printed = slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(printed))
		}
		if !matchLines(want, printed) {
			failures = append(failures, fmt.Sprintf("$ %s   (exit %d)\n--- README shows\n%s\n--- printed\n%s",
				st.command, codes[i], strings.Join(st.want, "\n"), strings.Join(got[i], "\n")))
		}
	}
	if len(failures) > 0 && !update {
		ts.Fatalf("README.md:%d: the example differs from what counter prints (README_UPDATE=1 rewrites it):\n%s", line, strings.Join(failures, "\n"))
	}
}

// piped is a command line with a pipe (not "||").
var piped = regexp.MustCompile(`[^|]\|[^|]`)

// sessionEnd ends each command's output: the exit status between two
// record separators, on a line of its own.
var sessionEnd = regexp.MustCompile(`\x1eexit (\d+)\x1e\n`)

// runSession runs the steps in one sh on a new pseudo-terminal (stdout and
// stderr on it, stdin empty), in the script's directory and environment,
// and returns what each printed, line by line, and its exit status.
func runSession(ts *testscript.TestScript, steps []readmeStep, cols int) ([][]string, []int, error) {
	var script strings.Builder
	for _, st := range steps {
		// The status is printed and restored, so that "echo $?" on the
		// next line sees the command's.
		fmt.Fprintf(&script, "%s\n__rc=$?; printf '\\036exit %%d\\036\\n' \"$__rc\"; (exit \"$__rc\")\n", st.command)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: uint16(cols)}); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command("sh", "-c", script.String())
	cmd.Dir = ts.MkAbs(".")
	env := []string{"TERM=xterm", "LANG=C.UTF-8"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "WORK", "NATS_URL", "NATS_CONTEXT", "XDG_CONFIG_HOME", "NO_COLOR", "HUB_URL", "LEAF_URL", "NOJS_URL", "AUTH_URL"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	cmd.Env = env
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, nil, err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, tty, tty
	// The terminal is the session's controlling terminal: fd 1 in the
	// child (stdin is not it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	if err := cmd.Start(); err != nil {
		tty.Close()
		return nil, nil, err
	}
	tty.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, ptmx); close(copied) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err = <-exited:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-exited
		err = errors.New("the session did not end within 60s")
	}
	select {
	case <-copied: // EIO once the last writer is gone
	case <-time.After(5 * time.Second):
	}
	text := asShown(out.String())
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		err = nil // the last command's status: compared as the block shows it
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%v; the terminal shows:\n%s", err, text)
	}
	parts := sessionEnd.FindAllStringSubmatchIndex(text, -1)
	if len(parts) != len(steps) {
		return nil, nil, fmt.Errorf("%d of %d commands ended; the terminal shows:\n%s", len(parts), len(steps), text)
	}
	got := make([][]string, len(steps))
	codes := make([]int, len(steps))
	from := 0
	for i, m := range parts {
		chunk := strings.TrimSuffix(text[from:m[0]], "\n")
		if chunk != "" {
			got[i] = strings.Split(chunk, "\n")
		}
		codes[i], _ = strconv.Atoi(text[m[2]:m[3]])
		from = m[1]
	}
	return got, codes, nil
}

// csi is an escape sequence that moves the cursor or changes the screen.
var csi = regexp.MustCompile(`^\x1b\[[0-9;?]*[ -/]*[@-~]`)

// asShown is what a terminal shows after the bytes of a session: lines as
// written, a carriage return going back to the line's start and text
// written over what was there (a progress line redrawn, then cleared), and
// escape sequences obeyed as far as a line is concerned ("erase to the
// end of the line") or dropped.
func asShown(raw string) string {
	var out strings.Builder
	var line []rune
	col := 0
	for i := 0; i < len(raw); {
		if m := csi.FindString(raw[i:]); m != "" {
			if strings.HasSuffix(m, "K") && col < len(line) {
				line = line[:col]
			}
			i += len(m)
			continue
		}
		r, size := utf8.DecodeRuneInString(raw[i:])
		i += size
		switch r {
		case '\r':
			col = 0
		case '\n':
			out.WriteString(string(line))
			out.WriteByte('\n')
			line, col = line[:0], 0
		case '\b':
			col = max(col-1, 0)
		default:
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
		}
	}
	out.WriteString(string(line))
	return out.String()
}

// tablePadding is the padding and rules of a table's line: a value that
// varies in length (who ran a reset) widens its column.
var tablePadding = regexp.MustCompile(` +|─+`)

// normalize replaces what varies with a placeholder and drops trailing
// blanks; in a table's lines (drawn with │) runs of blanks and of ─ count
// as one.
func normalize(lines []string, vary []*regexp.Regexp) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		for _, re := range vary {
			l = re.ReplaceAllString(l, "<"+"vary"+">")
		}
		if strings.ContainsAny(l, "│┌└├") {
			l = tablePadding.ReplaceAllStringFunc(l, func(m string) string {
				if m[0] == ' ' {
					return " "
				}
				return "─"
			})
		}
		out[i] = strings.TrimRight(l, " ")
	}
	return out
}

// matchLines: got is want, where a want line "…TEXT…" stands for any
// number of lines.
func matchLines(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if w := want[0]; len(w) > len("……") && strings.HasPrefix(w, "…") && strings.HasSuffix(w, "…") && !strings.Contains(strings.TrimSuffix(strings.TrimPrefix(w, "…"), "…"), "…") {
		for skip := 0; skip <= len(got); skip++ {
			if matchLines(want[1:], got[skip:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && want[0] == got[0] && matchLines(want[1:], got[1:])
}

// updateReadme writes what each block printed into README.md (a block with
// "…TEXT…" lines is only reported: those lines were chosen by hand).
func updateReadme(t *testing.T, src string, blocks []readmeBlock) {
	readmeResults.Lock()
	defer readmeResults.Unlock()
	lines := strings.Split(src, "\n")
	// From the end, so that line numbers stay right.
	for i := len(blocks) - 1; i >= 0; i-- {
		b := blocks[i]
		got, ok := readmeResults.got[b.line]
		if !ok {
			continue
		}
		if strings.Contains(b.text, "\n…") {
			t.Logf("README.md:%d: not rewritten (it skips lines with …)", b.line)
			continue
		}
		var body []string
		for _, st := range got {
			body = append(body, "$ "+st.command)
			body = append(body, st.want...)
		}
		n := len(strings.Split(strings.TrimSuffix(b.text, "\n"), "\n"))
		lines = slices.Replace(lines, b.line, b.line+n, body...)
	}
	if err := os.WriteFile("../README.md", []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
