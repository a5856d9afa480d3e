// pipe_pingpong.go — Go equivalent of pipe_pingpong.c: two os.Pipe pairs,
// main writes an 8-byte counter into the first, a goroutine reads it, adds
// one and writes it back through the second; N round trips, same
// self-checks. (os.Pipe files are non-blocking and wait on Go's netpoller.)
// GOMAXPROCS is left at its default.
// Usage: pipe_pingpong [N]
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

func main() {
	rounds := int64(200000)
	if len(os.Args) > 1 {
		v, err := strconv.ParseInt(os.Args[1], 10, 64)
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: pipe_pingpong [N]")
			os.Exit(2)
		}
		rounds = v
	}
	pingR, pingW, err1 := os.Pipe()
	pongR, pongW, err2 := os.Pipe()
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "pipe_pingpong: os.Pipe failed")
		os.Exit(1)
	}
	handled := int64(0)
	done := make(chan struct{})
	go func() {
		var b [8]byte
		for {
			if _, err := io.ReadFull(pingR, b[:]); err != nil {
				break
			}
			binary.LittleEndian.PutUint64(b[:], binary.LittleEndian.Uint64(b[:])+1)
			if _, err := pongW.Write(b[:]); err != nil {
				break
			}
			handled++
		}
		close(done)
	}()
	var b [8]byte
	bad := int64(0)
	t0 := time.Now()
	for i := int64(0); i < rounds; i++ {
		binary.LittleEndian.PutUint64(b[:], uint64(i*3))
		if _, err := pingW.Write(b[:]); err != nil {
			bad = rounds
			break
		}
		if _, err := io.ReadFull(pongR, b[:]); err != nil {
			bad = rounds
			break
		}
		if binary.LittleEndian.Uint64(b[:]) != uint64(i*3+1) {
			bad++
		}
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(rounds)
	pingW.Close()
	<-done
	ok := bad == 0 && handled == rounds
	okv := 0
	if ok {
		okv = 1
	} else {
		fmt.Fprintf(os.Stderr, "pipe_pingpong: %d wrong answers, peer handled %d of %d\n", bad, handled, rounds)
	}
	fmt.Printf("RESULT name=pipe_pingpong runtime=go ops=%d ns_per_op=%.1f ok=%d\n", rounds, ns, okv)
	if !ok {
		os.Exit(1)
	}
}
