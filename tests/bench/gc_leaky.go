// gc_leaky.go — Go equivalent of gc_leaky.c: a 50 MiB live set (16384
// chains of nodes of 64..1024 nominal bytes, reachable from one global)
// mutated by 4 goroutines while they allocate LEAK MiB in all (default
// 2048) of 256 B..32 KiB objects, written through, linked in short chains
// and simply dropped (Go's collector reclaims them). The same xorshift
// draws as the C program, so the checksum of the final live set matches
// it. Prints peak RSS (VmHWM) and its ratio to the live set.
// Usage: gc_leaky [LEAK_MiB]
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

const (
	nthreads  = 4
	nchains   = 16384
	liveBytes = 50 << 20
	leakMin   = 256
	leakMax   = 32768
	chainMax  = 16
	hdrBytes  = 32 // the C node's header: next, key, val, size+pad
)

type node struct {
	next     *node
	key, val uint64
	size     uint32
	body     []uint64 // val ^ index, (size - 32) / 8 words
}

type leak struct {
	prev *leak
	buf  []byte
}

var chains []*node

func xrand(s *uint64) uint64 {
	*s ^= *s << 13
	*s ^= *s >> 7
	*s ^= *s << 17
	return *s
}

func newNode(rng *uint64, next *node) *node {
	size := 64 + uint32(xrand(rng)%961)/8*8
	n := &node{next: next, size: size}
	n.key = xrand(rng)
	n.val = xrand(rng)
	n.body = make([]uint64, (size-hdrBytes)/8)
	for i := range n.body {
		n.body[i] = n.val ^ uint64(i)
	}
	return n
}

func mutate(id int, rng *uint64) {
	pp := &chains[(xrand(rng)%(nchains/nthreads))*nthreads+uint64(id)]
	if *pp == nil {
		return
	}
	for k := xrand(rng) % 8; k > 0 && (*pp).next != nil; k-- {
		pp = &(*pp).next
	}
	*pp = newNode(rng, (*pp).next) // the old node is dropped
}

// fill writes b over all of p (doubling copies: memmove speed).
func fill(p []byte, b byte) {
	if len(p) == 0 {
		return
	}
	p[0] = b
	for n := 1; n < len(p); n *= 2 {
		copy(p[n:], p[:n])
	}
}

func work(id int, leakBytes uint64, wg *sync.WaitGroup) {
	defer wg.Done()
	rng := uint64(0xa5a5a5a5a5a5a5a5) ^ (uint64(id+1) * 0x9e3779b97f4a7c15)
	lrng := rng ^ 0x5555
	var leaked uint64
	var prev *leak
	for i := uint64(0); leaked < leakBytes/nthreads; i++ {
		size := leakMin + xrand(&lrng)%(leakMax-leakMin+1)
		l := &leak{buf: make([]byte, size)}
		fill(l.buf, byte(i&0x7f))
		if i%chainMax != 0 {
			l.prev = prev
		}
		prev = l
		leaked += size
		mutate(id, &rng)
	}
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

func main() {
	leakMiB := uint64(2048)
	if len(os.Args) > 1 {
		v, err := strconv.ParseUint(os.Args[1], 10, 64)
		if err != nil || v == 0 {
			fmt.Fprintln(os.Stderr, "usage: gc_leaky [LEAK_MiB]")
			os.Exit(2)
		}
		leakMiB = v
	}
	t0 := time.Now()
	chains = make([]*node, nchains)
	rng := uint64(0x1234567887654321)
	bytes := 0
	for c := 0; bytes < liveBytes; c = (c + 1) % nchains {
		chains[c] = newNode(&rng, chains[c])
		bytes += int(chains[c].size)
	}
	var wg sync.WaitGroup
	for i := 0; i < nthreads; i++ {
		wg.Add(1)
		go work(i, leakMiB<<20, &wg)
	}
	wg.Wait()
	elapsed := time.Since(t0)

	var sum uint64
	ok := 1
	for c := 0; c < nchains; c++ {
		for n := chains[c]; n != nil; n = n.next {
			for i, v := range n.body {
				if v != n.val^uint64(i) {
					ok = 0
				}
			}
			sum = sum*31 + (n.key*0x9e3779b97f4a7c15 ^ n.val ^ uint64(n.size))
		}
	}
	peak := procStatus("VmHWM") >> 10
	fmt.Printf("RESULT name=gc_leaky runtime=go live_mib=%d leaked_mib=%d peak_rss_mib=%d rss_ratio=%.2f "+
		"time_ms=%.0f checksum=%016x ok=%d\n", liveBytes>>20, leakMiB, peak, float64(peak)/float64(liveBytes>>20),
		float64(elapsed.Microseconds())/1e3, sum, ok)
	if ok == 0 {
		os.Exit(1)
	}
}
