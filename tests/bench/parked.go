// parked.go — Go equivalent of parked.c: N goroutines (default 10000) each
// count themselves under a sync.Mutex and wait on one sync.Cond; once all
// are parked main reads /proc/self/status (Threads, VmRSS), then broadcasts,
// waits for all and checks that each one woke.
// Usage: parked [N]
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procStatus returns the number after "key:" in /proc/self/status, or -1.
func procStatus(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := s.Text(); strings.HasPrefix(line, key+":") {
			n, _ := strconv.ParseInt(strings.Fields(line[len(key)+1:])[0], 10, 64)
			return n
		}
	}
	return -1
}

func main() {
	n := int64(10000)
	if len(os.Args) > 1 {
		v, err := strconv.ParseInt(os.Args[1], 10, 64)
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: parked [N]")
			os.Exit(2)
		}
		n = v
	}
	var (
		mu      sync.Mutex
		wake    = sync.NewCond(&mu)
		arrived = sync.NewCond(&mu)
		parked  int64
		woken   int64
		release bool
		wg      sync.WaitGroup
	)
	rssBefore := procStatus("VmRSS")

	t0 := time.Now()
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() {
			mu.Lock()
			parked++
			if parked == n {
				arrived.Signal()
			}
			for !release {
				wake.Wait()
			}
			woken++
			mu.Unlock()
			wg.Done()
		}()
	}
	mu.Lock()
	for parked < n {
		arrived.Wait()
	}
	t1 := time.Now()
	osThreads := procStatus("Threads")
	rssParked := procStatus("VmRSS")
	release = true
	wake.Broadcast()
	mu.Unlock()
	wg.Wait()
	t2 := time.Now()

	ok := parked == n && woken == n
	okv := 1
	if !ok {
		okv = 0
		fmt.Fprintf(os.Stderr, "parked: parked %d, woken %d, want %d\n", parked, woken, n)
	}
	fmt.Printf("RESULT name=parked runtime=go threads=%d os_threads=%d "+
		"rss_per_thread_bytes=%.0f start_ns_per_thread=%.1f wake_ns_per_thread=%.1f ok=%d\n",
		n, osThreads, float64(rssParked-rssBefore)*1024/float64(n),
		float64(t1.Sub(t0).Nanoseconds())/float64(n), float64(t2.Sub(t1).Nanoseconds())/float64(n), okv)
	if !ok {
		os.Exit(1)
	}
}
