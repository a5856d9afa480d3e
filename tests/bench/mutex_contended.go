// mutex_contended.go — Go equivalent of mutex_contended.c: 64 goroutines
// each increment a shared counter N/64 times under one sync.Mutex, with the
// same dependent field and self-checks. GOMAXPROCS is left at its default.
// Usage: mutex_contended [N]
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

const nt = 64

func main() {
	n := int64(2560000)
	if len(os.Args) > 1 {
		v, err := strconv.ParseInt(os.Args[1], 10, 64)
		if err != nil || v < nt {
			fmt.Fprintf(os.Stderr, "usage: mutex_contended [N >= %d]\n", nt)
			os.Exit(2)
		}
		n = v
	}
	perThread := n / nt
	n = perThread * nt
	var mu sync.Mutex
	var counter, shadow uint64
	var inside, overlaps int
	var wg sync.WaitGroup
	wg.Add(nt)
	t0 := time.Now()
	for i := 0; i < nt; i++ {
		go func() {
			defer wg.Done()
			for j := int64(0); j < perThread; j++ {
				mu.Lock()
				if inside > 0 {
					overlaps++
				}
				inside++
				counter++
				shadow = shadow*31 + counter
				inside--
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	var want uint64
	for i := int64(1); i <= n; i++ {
		want = want*31 + uint64(i)
	}
	ok := counter == uint64(n) && shadow == want && overlaps == 0
	if !ok {
		fmt.Fprintf(os.Stderr, "mutex_contended: counter %d want %d, shadow ok %v, overlaps %d\n",
			counter, n, shadow == want, overlaps)
	}
	okv := 0
	if ok {
		okv = 1
	}
	fmt.Printf("RESULT name=mutex_contended runtime=go ops=%d threads=%d ns_per_op=%.1f ok=%d\n",
		n, nt, ns, okv)
	if !ok {
		os.Exit(1)
	}
}
