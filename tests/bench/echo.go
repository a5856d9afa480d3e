// echo.go — Go equivalent of echo_server.c for the echo benchmark: a
// goroutine-per-connection TCP server (net.Listen, Accept loop, one
// goroutine per connection doing io.ReadFull of 64 bytes and Write back).
//
// Run by scripts/bench without arguments besides the counts, it does not
// serve itself: it execs the C load generator, build/tests/bench/bench_echo
// (found from this binary's path, build/bench-go/echo), with
// "--server <this binary>", so the same native load generator drives every
// server; bench_echo then starts this binary with BENCH_ECHO_ROLE=server
// for each connection count, and this binary serves: it listens on
// 127.0.0.1, prints "PORT <port> runtime=go" and serves until killed.
// GOMAXPROCS is left at its default.
// Usage: echo [COUNTS] [bench_echo options]
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

const msg = 64

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, msg)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

func main() {
	if os.Getenv("BENCH_ECHO_ROLE") != "server" {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo:", err)
			os.Exit(1)
		}
		loadgen := filepath.Join(filepath.Dir(self), "..", "tests", "bench", "bench_echo")
		args := append([]string{loadgen}, os.Args[1:]...)
		args = append(args, "--server", self)
		err = syscall.Exec(loadgen, args, os.Environ())
		fmt.Fprintln(os.Stderr, "echo: cannot run", loadgen+":", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo: listen:", err)
		os.Exit(1)
	}
	fmt.Printf("PORT %d runtime=go\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo: accept:", err)
			continue
		}
		go serve(c)
	}
}
