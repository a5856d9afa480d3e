// sem_pingpong.go — Go equivalent of sem_pingpong.c: two goroutines pass a
// ball through two unbuffered channels (ping, pong); N round trips, same
// self-checks (each side sees the value the other sent, N turns each).
// GOMAXPROCS is left at its default.
// Usage: sem_pingpong [N]
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	rounds := int64(200000)
	if len(os.Args) > 1 {
		v, err := strconv.ParseInt(os.Args[1], 10, 64)
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: sem_pingpong [N]")
			os.Exit(2)
		}
		rounds = v
	}
	ping := make(chan uint64)
	pong := make(chan uint64)
	var turns, wrong [2]int64
	var last uint64
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	go func() { // side B
		defer wg.Done()
		for r := int64(0); r < rounds; r++ {
			v := <-ping
			if v != 2*uint64(r) {
				wrong[1]++
			}
			turns[1]++
			pong <- v + 1
		}
	}()
	go func() { // side A
		defer wg.Done()
		for r := int64(0); r < rounds; r++ {
			ping <- 2 * uint64(r)
			v := <-pong
			if v != 2*uint64(r)+1 {
				wrong[0]++
			}
			last = v
			turns[0]++
		}
	}()
	wg.Wait()
	ns := float64(time.Since(t0).Nanoseconds()) / float64(rounds)
	ok := turns[0] == rounds && turns[1] == rounds && wrong[0] == 0 && wrong[1] == 0 &&
		last == 2*uint64(rounds)-1
	if !ok {
		fmt.Fprintf(os.Stderr, "sem_pingpong: turns %d/%d, wrong %d/%d, last %d\n",
			turns[0], turns[1], wrong[0], wrong[1], last)
	}
	okv := 0
	if ok {
		okv = 1
	}
	fmt.Printf("RESULT name=sem_pingpong runtime=go ops=%d ns_per_op=%.1f ok=%d\n", rounds, ns, okv)
	if !ok {
		os.Exit(1)
	}
}
