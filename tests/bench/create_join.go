// create_join.go — Go equivalent of create_join.c: goroutine spawn plus
// sync.WaitGroup wait, batch (100 at a time) and sequential shapes, each
// goroutine storing a small value that main sums and checks.
// Usage: create_join [N]
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

const batch = 100

func value(i uint64) uint64 { return (i*i + 7) % 1000003 }

func run(n int64, b int) uint64 {
	var sum uint64
	out := make([]uint64, batch)
	var wg sync.WaitGroup
	for i := int64(0); i < n; i += int64(b) {
		k := b
		if n-i < int64(b) {
			k = int(n - i)
		}
		wg.Add(k)
		for j := 0; j < k; j++ {
			go func(j int, i uint64) {
				out[j] = value(i)
				wg.Done()
			}(j, uint64(i)+uint64(j))
		}
		wg.Wait()
		for j := 0; j < k; j++ {
			sum += out[j]
		}
	}
	return sum
}

func measure(name string, n int64, b int) bool {
	var want uint64
	for i := int64(0); i < n; i++ {
		want += value(uint64(i))
	}
	t0 := time.Now()
	sum := run(n, b)
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	ok := sum == want
	if !ok {
		fmt.Fprintf(os.Stderr, "create_join: %s: sum %d, want %d\n", name, sum, want)
	}
	fmt.Printf("RESULT name=%s runtime=go ops=%d ns_per_op=%.1f ok=%d\n", name, n, ns, b2i(ok))
	return ok
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func main() {
	n := int64(100000)
	if len(os.Args) > 1 {
		v, err := strconv.ParseInt(os.Args[1], 10, 64)
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: create_join [N]")
			os.Exit(2)
		}
		n = v
	}
	ok := measure("create_join_batch", n, batch)
	ok = measure("create_join_seq", n, 1) && ok
	if !ok {
		os.Exit(1)
	}
}
