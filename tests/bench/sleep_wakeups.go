// sleep_wakeups.go — Go equivalent of sleep_wakeups.c: N goroutines
// (default 10000) wait for a start signal, then each calls
// time.Sleep(time.Millisecond) in a loop for 2 s, measuring every call's
// oversleep into its own histogram (same buckets); main merges them and
// reads Threads from /proc/self/status at mid-run. Same self-checks.
// GOMAXPROCS is left at its default.
// Usage: sleep_wakeups [N]
package main

import (
	"bufio"
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const nb = 512
const seconds = 2.0

type sleeper struct {
	wakeups int64
	hist    [nb]uint16
}

func bucket(us int64) int {
	if us < 128 {
		return int(us)
	}
	o := 63 - bits.LeadingZeros64(uint64(us))
	if o > 30 {
		return nb - 1
	}
	return 128 + (o-7)*16 + int((us>>(o-4))&15)
}

func bucketUs(i int) float64 {
	if i < 128 {
		return float64(i)
	}
	o, sub := 7+(i-128)/16, (i-128)%16
	lo := float64((16 + int64(sub)) << (o - 4))
	return lo + float64(int64(1)<<(o-4))/2
}

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

func percentile(h []uint64, total int64, q float64) float64 {
	want := int64(float64(total)*q + 0.5)
	if want < 1 {
		want = 1
	}
	seen := int64(0)
	for i := 0; i < nb; i++ {
		seen += int64(h[i])
		if seen >= want {
			return bucketUs(i)
		}
	}
	return bucketUs(nb - 1)
}

func main() {
	n := 10000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: sleep_wakeups [N]")
			os.Exit(2)
		}
		n = v
	}
	s := make([]sleeper, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var end time.Time
	for i := range s {
		wg.Add(1)
		go func(sl *sleeper) {
			defer wg.Done()
			<-start
			for {
				t0 := time.Now()
				time.Sleep(time.Millisecond)
				t1 := time.Now()
				over := (t1.Sub(t0) - time.Millisecond).Microseconds()
				if over < 0 {
					over = 0
				}
				sl.hist[bucket(over)]++
				sl.wakeups++
				if !t1.Before(end) {
					break
				}
			}
		}(&s[i])
	}
	t0 := time.Now()
	end = t0.Add(time.Duration(seconds * float64(time.Second)))
	close(start)
	time.Sleep(time.Duration(seconds * 0.5 * float64(time.Second)))
	osThreads := procStatus("Threads")
	wg.Wait()
	wall := float64(time.Since(t0).Nanoseconds())

	h := make([]uint64, nb)
	var total, lazy, inHist int64
	for i := range s {
		total += s[i].wakeups
		if s[i].wakeups == 0 {
			lazy++
		}
		for b := 0; b < nb; b++ {
			h[b] += uint64(s[i].hist[b])
			inHist += int64(s[i].hist[b])
		}
	}
	ok := lazy == 0 && total > 0 && inHist == total
	okv := 0
	if ok {
		okv = 1
	} else {
		fmt.Fprintf(os.Stderr, "sleep_wakeups: %d goroutines never woke, %d wake-ups, %d in histograms\n",
			lazy, total, inHist)
	}
	per := 0.0
	if total > 0 {
		per = wall / float64(total)
	}
	fmt.Printf("RESULT name=sleep_wakeups runtime=go threads=%d ns_per_wakeup=%.1f p50_oversleep_us=%.1f "+
		"p99_oversleep_us=%.1f os_threads=%d ok=%d\n", n, per, percentile(h, total, 0.5),
		percentile(h, total, 0.99), osThreads, okv)
	if !ok {
		os.Exit(1)
	}
}
