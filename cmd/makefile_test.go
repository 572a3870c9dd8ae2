package cmd

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakefileSaysFirstBuildIsSlow: the first build in a clone compiles
// for a minute or two with nothing else on the screen, so make says so
// before it starts (and only when there is no binary yet).
func TestMakefileSaysFirstBuildIsSlow(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	say := "the first build compiles nats-server too and takes a minute or two"
	for bin, want := range map[string]bool{filepath.Join(t.TempDir(), "counter"): true, "Makefile": false} {
		// make -n prints the recipe without running it: run its first
		// line, the note, as make would (not the build).
		out, err := exec.Command("make", "-s", "-n", "-C", "..", "build", "BIN="+bin).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n build: %v\n%s", err, out)
		}
		first, _, _ := strings.Cut(string(out), "\n")
		sh := exec.Command("sh", "-c", first)
		sh.Dir = ".."
		got, _ := sh.CombinedOutput()
		if strings.Contains(string(got), say) != want {
			t.Errorf("BIN=%s: %q says %q, want the note: %v", bin, first, got, want)
		}
	}
}
