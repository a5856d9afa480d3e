// preempt_latency.go — Go equivalent of preempt_latency.c: a goroutine
// spinning in a call-free loop beside one calling time.Sleep(1 ms) in a
// loop for SECONDS (default 3), each call's delay (duration - 1 ms)
// recorded. Run with GOMAXPROCS=1 (scripts/bench sets it), so the sleeper
// only runs when the spinner is preempted (Go's asynchronous preemption).
// Usage: preempt_latency [SECONDS]
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

var stop, started int32
var spun uint64

func spinner(done chan struct{}) {
	x := uint64(1)
	atomic.StoreInt32(&started, 1)
	for atomic.LoadInt32(&stop) == 0 {
		for i := 0; i < 1000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	spun = x | 1
	close(done)
}

func main() {
	secs := 3.0
	if len(os.Args) > 1 {
		v, err := strconv.ParseFloat(os.Args[1], 64)
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: preempt_latency [SECONDS]")
			os.Exit(2)
		}
		secs = v
	}
	done := make(chan struct{})
	go spinner(done)
	for atomic.LoadInt32(&started) == 0 {
		time.Sleep(time.Millisecond)
	}
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	var d []float64
	for {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		t1 := time.Now()
		d = append(d, float64(t1.Sub(t0)-time.Millisecond)/1e6)
		if !t1.Before(end) {
			break
		}
	}
	atomic.StoreInt32(&stop, 1)
	<-done
	sort.Float64s(d)
	n := len(d)
	ok := n >= 10 && spun != 0
	okv := 0
	if ok {
		okv = 1
	}
	fmt.Printf("RESULT name=preempt_latency runtime=go ops=%d p50_delay_ms=%.3f p99_delay_ms=%.3f "+
		"worst_delay_ms=%.3f ok=%d\n", n, d[n/2], d[int(float64(n)*0.99)], d[n-1], okv)
	if !ok {
		os.Exit(1)
	}
}
