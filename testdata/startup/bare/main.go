// Command bare is the yardstick for `counter incr` start-up: the smallest
// nats.go program that does the same one-shot increment.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer nc.Close()
	msg := nats.NewMsg(os.Args[1])
	msg.Header.Set("Nats-Incr", "+1")
	resp, err := nc.RequestMsg(msg, 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(resp.Data))
}
