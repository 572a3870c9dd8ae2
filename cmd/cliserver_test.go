package cmd

import (
	"io"
	"strings"
	"testing"

	"github.com/jetcounter/counter/internal/terminal"
	"github.com/jetcounter/counter/internal/testserver"
)

// cliServer starts a real server with JetStream for one test of the command
// line, stopped when the test ends, and returns its URL. Output is
// uncoloured (NO_COLOR) so that assertions see plain text.
func cliServer(t *testing.T) string {
	t.Helper()
	t.Setenv("NO_COLOR", "1")
	return testserver.URL(testserver.Single(t))
}

// testIO is a terminal for Main in a test: the streams given, stdout
// never a terminal, no colour.
func testIO(stdin io.Reader, stdout, stderr io.Writer, stdinTTY, stderrTTY bool) *terminal.IO {
	t, _, _, _ := terminal.Test()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	t.SetStdin(stdin, stdinTTY)
	t.SetStdout(stdout, false)
	t.SetStderr(stderr, stderrTTY)
	return t
}

// mustRunAt runs counter against url and fails the test unless it exits 0;
// it returns stdout.
func mustRunAt(t *testing.T, url string, args ...string) string {
	t.Helper()
	code, out, errs := runAt(t, url, "", false, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	return out
}
