package cmd

import (
	"bufio"
	"context"
	"fmt"
	"strings"
)

// askYes asks question on stderr with [y/N] and reads one line from stdin:
// only y or yes agrees. Ctrl-C (the run's context cancelled) ends the wait
// at once, as interrupted: a read from a terminal cannot be interrupted, so
// it is left to the process exit. A yes that arrives after Ctrl-C is no yes.
// reset and create --update both ask here.
func (a *app) askYes(ctx context.Context, question string) (yes, interrupted bool) {
	fmt.Fprint(a.env.Stderr, question+" [y/N] ")
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(a.env.Stdin).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.env.Stderr)
		return false, true
	case line := <-answer:
		if ctx.Err() != nil {
			return false, true
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, false
		}
		return false, false
	}
}
