package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCompletionsUpToDate fails when completions/ no longer matches the
// commands and flags: run `make completions`.
func TestCompletionsUpToDate(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			var buf bytes.Buffer
			a := newApp(testIO(nil, &buf, &buf, false, false))
			if err := a.writeCompletion(shell, &buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("..", "completions", "counter."+shell)
			have, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v: run 'make completions'", err)
			}
			if !bytes.Equal(have, buf.Bytes()) {
				t.Fatalf("%s is stale: run 'make completions'", path)
			}
		})
	}
}

func TestFishCompletionNamesEveryVerb(t *testing.T) {
	var buf bytes.Buffer
	a := newApp(testIO(nil, &buf, &buf, false, false))
	if err := a.writeCompletion("fish", &buf); err != nil {
		t.Fatal(err)
	}
	hidden := map[string]bool{}
	for _, c := range a.fisk.Model().Commands {
		hidden[c.Name] = c.Hidden
	}
	for verb := range a.verbs {
		if hidden[verb] {
			continue // counter man: for make man, not offered
		}
		if !bytes.Contains(buf.Bytes(), []byte("-a "+verb+" ")) {
			t.Errorf("fish completion lacks verb %s", verb)
		}
	}
	for _, flag := range []string{"-l server -s s", "-l context", "-l json", "-l storage -r -a 'file memory'"} {
		if !bytes.Contains(buf.Bytes(), []byte(flag)) {
			t.Errorf("fish completion lacks %q", flag)
		}
	}
}
