package cmd

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// TestUpdatePromptTerminal runs `create … --update` on a pseudo-terminal
// where the plan changes values: it shows the plan and asks [y/N]; y
// applies it, n or Ctrl-C ends it with exit 6 and nothing changed, Ctrl-C
// at once.
func TestUpdatePromptTerminal(t *testing.T) {
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.Single(t)
	c := watchTestClient(t, s.ClientURL())
	ctx := context.Background()
	for _, spec := range []streams.StreamSpec{
		{Name: "DE", Subjects: []string{"count.de.>"}},
		{Name: "FR", Subjects: []string{"count.fr.>"}},
	} {
		if _, err := streams.Create(ctx, c, spec, streams.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	incr(t, c, "count.fr.hits", "4")

	for _, answer := range []struct {
		name, keys string
		code       int
	}{{"yes", "y\r", 0}, {"no", "n\r", 6}, {"ctrl-c", "\x03", 6}} {
		t.Run(answer.name, func(t *testing.T) {
			agg := "EU_" + strings.ReplaceAll(answer.name, "-", "_")
			sub := "count." + strings.ToLower(agg) + ".>"
			if _, err := streams.Create(ctx, c, streams.StreamSpec{Name: agg, Sources: []streams.SourceSpec{{Stream: "DE", From: "count.de.>", To: sub}}}, streams.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal: %v", err)
			}
			defer ptmx.Close()
			defer tty.Close()
			cmd, out, exited := startOnTTY(t, bin, s.ClientURL(), ptmx, tty, "create", agg, "--source", "DE:count.de.>:"+sub, "--source", "FR:count.fr.>:"+sub, "--update")

			out.waitFor(t, "the plan and the question", func(s string) bool {
				return strings.Contains(s, "+ source FR:count.fr.>:"+sub+": adds +4 over 1 counter") &&
					strings.Contains(s, "[y/N] ")
			})
			if _, err := ptmx.Write([]byte(answer.keys)); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			select {
			case err := <-exited:
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				if code != answer.code {
					t.Fatalf("exit %d, want %d\n%q", code, answer.code, out.String())
				}
				if answer.name == "ctrl-c" && time.Since(sent) > 2*time.Second {
					t.Fatalf("Ctrl-C took %s to end the prompt", time.Since(sent))
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("no exit after %q\n%q", answer.keys, out.String())
			}
			info, err := c.StreamInfo(ctx, agg)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(info.Config.Sources), map[bool]int{true: 2, false: 1}[answer.code == 0]; got != want {
				t.Fatalf("%s has %d sources, want %d", agg, got, want)
			}
			if answer.code == 0 {
				out.waitFor(t, "updated", func(s string) bool { return strings.Contains(s, "stream "+agg+" updated") })
			} else {
				want := map[string]string{"no": "update cancelled: nothing changed", "ctrl-c": "update cancelled (interrupted): nothing changed"}[answer.name]
				out.waitFor(t, want, func(s string) bool { return strings.Contains(s, want) })
			}
		})
	}
}
