// fork_latency.go — Go equivalent of fork_latency.c, as far as Go goes:
// Go has no bare fork, so only spawn_true_us (exec.Command("/bin/true").Run())
// and system_true_us (exec.Command("/bin/sh", "-c", "true").Run()), N
// times each (default 500), with another goroutine parked. Every child
// must exit 0.
// Usage: fork_latency [N]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

func main() {
	n := 500
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: fork_latency [N]")
			os.Exit(2)
		}
		n = v
	}
	quit := make(chan struct{})
	go func() { <-quit }()
	ok := true
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if exec.Command("/bin/true").Run() != nil {
			ok = false
		}
	}
	t1 := time.Now()
	for i := 0; i < n; i++ {
		if exec.Command("/bin/sh", "-c", "true").Run() != nil {
			ok = false
		}
	}
	t2 := time.Now()
	close(quit)
	okv := 0
	if ok {
		okv = 1
	} else {
		fmt.Fprintln(os.Stderr, "fork_latency: a child did not exit 0")
	}
	fmt.Printf("RESULT name=fork_latency runtime=go ops=%d spawn_true_us=%.1f system_true_us=%.1f ok=%d\n",
		n, float64(t1.Sub(t0).Nanoseconds())/float64(n)/1e3, float64(t2.Sub(t1).Nanoseconds())/float64(n)/1e3, okv)
	if !ok {
		os.Exit(1)
	}
}
