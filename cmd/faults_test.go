package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/streams"
	"github.com/jetcounter/counter/internal/testserver"
)

// blackholeProxy forwards TCP to target until the client sends marker;
// from then on nothing the server says reaches the client. It models a
// server that applied a publish and then went silent (paused, or a link
// that died after the publish left).
func blackholeProxy(t *testing.T, target, marker string) string {
	t.Helper()
	return faultProxy(t, target, marker, -1)
}

// faultProxy is blackholeProxy, or with cutAfter >= 0 a proxy that closes
// the connection once the server has sent cutAfter bytes after the marker
// (a connection lost mid-read).
func faultProxy(t *testing.T, target, marker string, cutAfter int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			var silent atomic.Bool
			go func() {
				defer server.Close()
				buf := make([]byte, 32<<10)
				var tail []byte
				for {
					n, err := client.Read(buf)
					if n > 0 {
						seen := append(tail, buf[:n]...)
						if bytes.Contains(seen, []byte(marker)) {
							silent.Store(true)
						}
						tail = append([]byte(nil), seen[max(0, len(seen)-len(marker)):]...)
						server.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
			go func() {
				defer client.Close()
				buf := make([]byte, 32<<10)
				sent := 0
				for {
					n, err := server.Read(buf)
					if n > 0 && silent.Load() && cutAfter >= 0 {
						if sent+n > cutAfter {
							client.Write(buf[:cutAfter-sent])
							client.Close()
							server.Close()
							return
						}
						sent += n
						client.Write(buf[:n])
						continue
					}
					if n > 0 && !silent.Load() {
						client.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return "nats://" + ln.Addr().String()
}

// TestIncrUnknownOutcome: the server applies an increment and its answer
// never arrives. incr exits 4 saying the increment may have been applied
// (never that it failed), and the value did move.
func TestIncrUnknownOutcome(t *testing.T) {
	s := testserver.Single(t)
	nc := testserver.Connect(t, s)
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := streams.Create(ctx, c, streams.StreamSpec{Name: "U", Subjects: []string{"u.>"}}, streams.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy := blackholeProxy(t, strings.TrimPrefix(s.ClientURL(), "nats://"), "HPUB u.x ")
	for _, id := range []string{"", "retry-7"} {
		args := []string{"--timeout", "1s", "incr", "u.x", "5"}
		if id != "" {
			args = append(args, "--id", id)
		}
		r := runBinary(t, []string{"NATS_URL=" + proxy}, "", args...)
		checkRefusal(t, r, ExitUnavailable, "may have been applied", nil)
		if strings.Contains(r.stderr, "fail") {
			t.Errorf("an unknown outcome reported as a failure: %q", r.stderr)
		}
		if id != "" && !strings.Contains(r.stderr, `same --id "retry-7"`) {
			t.Errorf("stderr %q does not say that retrying with the same id is safe", r.stderr)
		}
	}
	list, err := c.Get(ctx, []string{"u.x"}, counters.GetOptions{})
	if err != nil || len(list) != 1 || list[0].Value.String() != "10" {
		t.Fatalf("u.x after two unanswered increments of 5: %v %v, want 10 (both were applied)", list, err)
	}
}

// TestSignalsEndConnectionSetup: a server that accepts the connection and
// never greets would hold a one-shot verb for the whole --timeout; SIGINT,
// SIGTERM and SIGHUP end it at once, with one line on stderr.
func TestSignalsEndConnectionSetup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case accepted <- struct{}{}:
			default:
			}
			go io.Copy(io.Discard, conn) // never sends INFO
		}
	}()
	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			for len(accepted) > 0 { // connections of the run before
				<-accepted
			}
			cmd := exec.Command(bin, "--timeout", "60s", "-s", "nats://"+ln.Addr().String(), "incr", "x")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + filepath.Join(t.TempDir(), "c")}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// The signal comes in the middle of the set-up: connected,
			// waiting for the server's INFO.
			select {
			case <-accepted:
			case err := <-done:
				t.Fatalf("ended before the signal: %v, stderr %q", err, stderr.String())
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("never connected")
			}
			start := time.Now()
			cmd.Process.Signal(sig)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("%s did not end the connection set-up", sig)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("ended %s after the signal", took)
			}
			if cmd.ProcessState.ExitCode() == 0 || stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q: want a failure and one line", cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
			}
		})
	}
}

// TestIncrNoLeader: while no server leads the stream that captures the
// subject, nobody answers the publish. That is exit 4 "no leader yet"
// (retry), never exit 3 "no stream captures": a script that retries on 4
// must not drop the increment.
func TestIncrNoLeader(t *testing.T) {
	servers := testserver.Cluster(t, 3)
	nc := testserver.Connect(t, servers[0])
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := streams.Create(ctx, c, streams.StreamSpec{Name: "NL", Subjects: []string{"nl.>"}, Replicas: 1, Storage: "memory"}, streams.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := c.StreamInfo(ctx, "NL")
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info: %v %v", info, err)
	}
	var survivor string
	for _, s := range servers {
		if s.Name() == info.Cluster.Leader {
			s.Shutdown()
			s.WaitForShutdown()
		} else {
			survivor = s.ClientURL()
		}
	}
	testserver.Eventually(t, 20*time.Second, "'no leader yet'", func() error {
		r := runBinary(t, []string{"NATS_URL=" + survivor}, "", "--timeout", "2s", "incr", "nl.x")
		if r.code == ExitNotFound {
			t.Fatalf("a stream without a leader reported as not found: %q", r.stderr)
		}
		if r.code != ExitUnavailable || !strings.Contains(r.stderr, "stream NL has no leader yet") {
			return fmt.Errorf("exit %d %q", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "--id") || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
			t.Fatalf("want one line with the --id advice and no stdout: %q %q", r.stderr, r.stdout)
		}
		return nil
	})
}

// TestGetConnectionLostMidRead: a wildcard read whose connection closes
// after some counters arrived is exit 4 (retry), with one line and no
// partial list on stdout.
func TestGetConnectionLostMidRead(t *testing.T) {
	s := testserver.Single(t)
	nc := testserver.Connect(t, s)
	c, err := counters.New(nc, counters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Create(context.Background(), c, streams.StreamSpec{Name: "M", Subjects: []string{"m.>"}, Storage: "memory"}, streams.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := seedCounters(nc, "m", 2000); err != nil {
		t.Fatal(err)
	}
	proxy := faultProxy(t, strings.TrimPrefix(s.ClientURL(), "nats://"), "CONSUMER.CREATE", 20000)
	r := runBinary(t, []string{"NATS_URL=" + proxy}, "", "--timeout", "2s", "get", "m.>")
	checkRefusal(t, r, ExitUnavailable, "", nil)
}
