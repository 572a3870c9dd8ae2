// Command counter creates, increments, reads, watches and resets NATS
// JetStream counters.
package main

import (
	"os"

	"github.com/jetcounter/counter/cmd"
	"github.com/jetcounter/counter/internal/terminal"
)

func main() {
	os.Exit(cmd.Main(os.Args[1:], terminal.System()))
}
