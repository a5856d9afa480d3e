// rwlock_read.go — Go equivalent of rwlock_read.c: 32 reader goroutines
// each take a sync.RWMutex's read lock N times and check a pair of fields;
// one writer takes the write lock N/100 times, updating the pair. Same
// self-checks. GOMAXPROCS is left at its default.
// Usage: rwlock_read [N]
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

const nr = 32

func main() {
	readsPer := int64(100000)
	if len(os.Args) > 1 {
		v, err := strconv.ParseInt(os.Args[1], 10, 64)
		if err != nil || v < 100 {
			fmt.Fprintln(os.Stderr, "usage: rwlock_read [N >= 100]")
			os.Exit(2)
		}
		readsPer = v
	}
	writes := readsPer / 100
	var rw sync.RWMutex
	var a, b uint64
	var doneReads, torn [nr]int64
	var wg sync.WaitGroup
	wg.Add(nr + 1)
	t0 := time.Now()
	for i := 0; i < nr; i++ {
		go func(id int) {
			defer wg.Done()
			for j := int64(0); j < readsPer; j++ {
				rw.RLock()
				if a != b {
					torn[id]++
				}
				doneReads[id]++
				rw.RUnlock()
			}
		}(i)
	}
	go func() {
		defer wg.Done()
		for j := int64(0); j < writes; j++ {
			rw.Lock()
			a++
			b++
			rw.Unlock()
		}
	}()
	wg.Wait()
	ops := int64(nr) * readsPer
	ns := float64(time.Since(t0).Nanoseconds()) / float64(ops)
	var reads, tornReads int64
	for i := 0; i < nr; i++ {
		reads += doneReads[i]
		tornReads += torn[i]
	}
	ok := reads == ops && tornReads == 0 && a == uint64(writes) && b == a
	if !ok {
		fmt.Fprintf(os.Stderr, "rwlock_read: reads %d want %d, torn %d, fields %d/%d want %d\n",
			reads, ops, tornReads, a, b, writes)
	}
	okv := 0
	if ok {
		okv = 1
	}
	fmt.Printf("RESULT name=rwlock_read runtime=go ops=%d threads=%d ns_per_op=%.1f ok=%d\n",
		ops, nr+1, ns, okv)
	if !ok {
		os.Exit(1)
	}
}
