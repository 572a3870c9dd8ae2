package cmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// FuzzArguments runs the built binary with fuzzed command lines (arguments
// separated by NUL) against a server holding stream VICTIM, whose URL
// carries a password. Whatever the arguments: the process ends within a
// bound, never panics, exits with a documented code, never prints the
// password, and no stream disappears. `make fuzz` runs it; `go test` runs
// the seeds.
func FuzzArguments(f *testing.F) {
	for _, seed := range []string{
		"incr\x00victim.a\x00-5",
		"incr\x00-5\x00victim.a",
		"incr\x00victim.a\x00--\x00--",
		"incr\x00victim.a\x00-",
		"incr\x00$JS.API.STREAM.DELETE.VICTIM",
		"incr\x00$JS.API.STREAM.PURGE.VICTIM\x00--id\x00x",
		"--password\x00-12345\x00get\x00victim.>",
		"get\x00victim.a\x00--stream\x00a.b",
		"--creds\x00/dev/zero\x00incr\x00victim.a",
		"--context\x00../../x\x00incr\x00victim.a",
		"reset\x00_INBOX.>\x00--force",
		"topology\x00--subject\x00",
		"-s\x00nats://u:p#w?d@h:1\x00incr\x00x",
		"incr\x00@/dev/zero",
		"--timeout\x00abc\x00incr\x00x",
	} {
		f.Add(seed)
	}
	s := testserver.Single(f)
	nc := testserver.Connect(f, s)
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := streams.Create(context.Background(), c, streams.StreamSpec{Name: "VICTIM", Subjects: []string{"victim.>"}}, streams.CreateOptions{}); err != nil {
		f.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		f.Fatal(err)
	}
	const secret = "fuzzPa55word"
	url := "nats://fz:" + secret + "@" + strings.TrimPrefix(s.ClientURL(), "nats://")
	bin, err := exec.LookPath("counter")
	if err != nil {
		f.Fatal(err)
	}
	home := f.TempDir()

	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		// Verbs that run until stopped are not one-shot: leave them out.
		if slices.ContainsFunc(args, func(a string) bool {
			return a == "watch" || a == "server" || a == "demo" || strings.Contains(a, "--fisk") || strings.HasPrefix(a, "--completion")
		}) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = home
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "NO_COLOR=1",
			"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "NATS_URL=" + url, "NATS_TIMEOUT=1s"}
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("counter %q did not end within 10s", args)
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		text := string(out)
		if code < 0 || code > 6 || strings.Contains(text, "panic:") || strings.Contains(text, "goroutine ") {
			t.Fatalf("counter %q: exit %d\n%s", args, code, text)
		}
		if strings.Contains(text, secret) {
			t.Fatalf("counter %q printed the password:\n%s", args, text)
		}
		if _, err := js.Stream(context.Background(), "VICTIM"); err != nil {
			t.Fatalf("counter %q: stream VICTIM is gone: %v", args, err)
		}
	})
}
