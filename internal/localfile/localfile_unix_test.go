//go:build unix

package localfile

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/errkind"
)

// TestOpenInput: nothing blocks in open(2); a directory or a missing file
// is invalid input; a FIFO's reader waits for its writer until the context
// ends, then reads what the writer wrote.
func TestOpenInput(t *testing.T) {
	dir := t.TempDir()
	for path, says := range map[string]string{dir: "is a directory", filepath.Join(dir, "missing"): "no such file"} {
		if _, err := OpenInput("--file", path); !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), says) {
			t.Errorf("OpenInput(%s): %v, want %q", path, err, says)
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO: %v", err)
	}

	// No writer: the open returns at once, the read waits until cancelled.
	in, err := OpenInput("--file", fifo)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := in.Reader(ctx).Read(make([]byte, 10)); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("read with no writer returned %v", err)
	case <-time.After(50 * time.Millisecond): // it waits: nothing to poll for
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled wait: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait for a writer did not end with its context")
	}
	in.Close()

	// A writer that writes and leaves: its lines, then the end.
	in, err = OpenInput("--file", fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("a 1\nb 2\n")
	w.Close()
	got, err := io.ReadAll(in.Reader(context.Background()))
	if err != nil || string(got) != "a 1\nb 2\n" {
		t.Fatalf("read %q, %v", got, err)
	}
}
