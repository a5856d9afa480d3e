// pingpong.go — Go equivalent of pingpong.c: two goroutines pass a ball
// under one sync.Mutex, each waiting on its own sync.Cond for its turn;
// N round trips, same self-checks. GOMAXPROCS is left at its default.
// Usage: pingpong [N]
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

var (
	mu     sync.Mutex
	cv     = [2]*sync.Cond{sync.NewCond(&mu), sync.NewCond(&mu)}
	turn   int    // whose turn; protected by mu
	ball   uint64 // turns taken so far; protected by mu
	rounds int64
	turns  [2]int64
	wrong  [2]int64
)

func player(me int, wg *sync.WaitGroup) {
	mu.Lock()
	for r := int64(0); r < rounds; r++ {
		for turn != me {
			cv[me].Wait()
		}
		if ball%2 != uint64(me) {
			wrong[me]++
		}
		ball++
		turns[me]++
		turn = 1 - me
		cv[1-me].Signal()
	}
	mu.Unlock()
	wg.Done()
}

func main() {
	rounds = 200000
	if len(os.Args) > 1 {
		v, err := strconv.ParseInt(os.Args[1], 10, 64)
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: pingpong [N]")
			os.Exit(2)
		}
		rounds = v
	}
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	go player(0, &wg)
	go player(1, &wg)
	wg.Wait()
	ns := float64(time.Since(t0).Nanoseconds()) / float64(rounds)
	ok := turns[0] == rounds && turns[1] == rounds && wrong[0] == 0 && wrong[1] == 0 &&
		ball == 2*uint64(rounds)
	if !ok {
		fmt.Fprintf(os.Stderr, "pingpong: turns %d/%d, wrong parity %d/%d, ball %d, want %d\n",
			turns[0], turns[1], wrong[0], wrong[1], ball, 2*rounds)
	}
	okv := 0
	if ok {
		okv = 1
	}
	fmt.Printf("RESULT name=pingpong runtime=go ops=%d ns_per_op=%.1f ok=%d\n", rounds, ns, okv)
	if !ok {
		os.Exit(1)
	}
}
