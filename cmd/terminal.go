package cmd

import (
	"io"
	"os"

	"golang.org/x/term"
)

// terminalWidth is the width of the terminal out writes to; 0 when it is
// not one or cannot be asked (then nothing is narrowed).
func terminalWidth(out io.Writer) int {
	if f, ok := out.(interface{ Fd() uintptr }); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 0
}

// dumbTerminal: TERM=dumb (an editor's shell buffer, a serial console)
// shows text but obeys no cursor or screen escapes.
func dumbTerminal() bool { return os.Getenv("TERM") == "dumb" }
