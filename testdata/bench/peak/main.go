// Command peak runs a command and reports its wall time and peak resident
// set size: "peak: WALL_NS MAXRSS_KB" as the last line on stderr.
//
//	peak COMMAND [ARG ...]
//
// A process's peak RSS (getrusage's ru_maxrss) counts the memory of the
// program that started it: Go starts a child sharing its own address space
// until exec, and the kernel records that space's peak at the exec. From a
// large program (a benchmark with an embedded server holding a million
// messages) every child would seem to peak at the benchmark's size; from
// this small one, the child's own peak stands.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "peak:", err)
		os.Exit(127)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var kb int64
	if ru != nil {
		kb = int64(ru.Maxrss)
	}
	fmt.Fprintf(os.Stderr, "peak: %d %d\n", wall.Nanoseconds(), kb)
	os.Exit(cmd.ProcessState.ExitCode())
}
