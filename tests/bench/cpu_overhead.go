// cpu_overhead.go — Go equivalent of cpu_overhead.c: the same generator
// and LZ77 coder, ROUNDS (4) compress + decompress round trips of MIB MiB
// (default 64) on the main goroutine, another goroutine parked on a
// channel. The compressed size must match the C program's (printed on
// stderr).
// Usage: cpu_overhead [MIB]
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"time"
)

const hbits = 16
const rounds = 4

func rd32(p []byte, i int) uint32 { return binary.LittleEndian.Uint32(p[i:]) }

func compress(in, out []byte) int {
	var table [1 << hbits]uint32
	for i := range table {
		table[i] = 0xffffffff
	}
	n := len(in)
	o, lit, i := 0, 0, 0
	flush := func() {
		for lit > 0 {
			k := lit
			if k > 127 {
				k = 127
			}
			out[o] = byte(k)
			o++
			copy(out[o:], in[i-lit:i-lit+k])
			o += k
			lit -= k
		}
	}
	for i+4 <= n {
		v := rd32(in, i)
		h := (v * 2654435761) >> (32 - hbits)
		c := table[h]
		table[h] = uint32(i)
		if c != 0xffffffff && i-int(c) < 65536 && rd32(in, int(c)) == v {
			ci := int(c)
			l := 4
			for l < 131 && i+l < n && in[ci+l] == in[i+l] {
				l++
			}
			flush()
			out[o] = byte(0x80 | (l - 4))
			out[o+1] = byte((i - ci) & 0xff)
			out[o+2] = byte((i - ci) >> 8)
			o += 3
			i += l
		} else {
			i++
			lit++
			if lit == 127 {
				out[o] = 127
				o++
				copy(out[o:], in[i-127:i])
				o += 127
				lit = 0
			}
		}
	}
	lit += n - i
	i = n
	flush()
	return o
}

func decompress(in, out []byte) int {
	i, o := 0, 0
	for i < len(in) {
		t := in[i]
		i++
		if t&0x80 != 0 {
			l := int(t&0x7f) + 4
			off := int(in[i]) | int(in[i+1])<<8
			i += 2
			for k := 0; k < l; k++ {
				out[o] = out[o-off]
				o++
			}
		} else {
			copy(out[o:], in[i:i+int(t)])
			i += int(t)
			o += int(t)
		}
	}
	return o
}

func generate(p []byte) {
	s := uint64(88172645463325252)
	next := func() uint64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
	var words [256][]byte
	for w := range words {
		l := 3 + int(next()%8)
		for k := 0; k < l; k++ {
			words[w] = append(words[w], byte('a'+next()%26))
		}
	}
	n, i := len(p), 0
	for i < n {
		r := next()
		if r%16 == 0 {
			p[i] = byte(r >> 8)
			i++
			continue
		}
		w := words[(r>>8)%256]
		for k := 0; k < len(w) && i < n; k++ {
			p[i] = w[k]
			i++
		}
		if i < n {
			if (r>>20)%8 == 0 {
				p[i] = '\n'
			} else {
				p[i] = ' '
			}
			i++
		}
	}
}

func main() {
	mib := 64
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: cpu_overhead [MIB]")
			os.Exit(2)
		}
		mib = v
	}
	n := mib << 20
	in, c, back := make([]byte, n), make([]byte, n+n/64+16), make([]byte, n)
	quit := make(chan struct{})
	parked := make(chan struct{})
	go func() { <-quit; close(parked) }()
	generate(in)
	var tc, td time.Duration
	ok := true
	cn, first := 0, 0
	for r := 0; r < rounds; r++ {
		for i := range back {
			back[i] = 0
		}
		t0 := time.Now()
		cn = compress(in, c)
		t1 := time.Now()
		bn := decompress(c[:cn], back)
		t2 := time.Now()
		tc += t1.Sub(t0)
		td += t2.Sub(t1)
		ok = ok && bn == n && bytes.Equal(in, back) && (r == 0 || cn == first)
		first = cn
	}
	close(quit)
	<-parked
	fmt.Fprintf(os.Stderr, "cpu_overhead: %d bytes -> %d compressed\n", n, cn)
	okv := 0
	if ok {
		okv = 1
	} else {
		fmt.Fprintln(os.Stderr, "cpu_overhead: a round trip differs or the compressed size changed")
	}
	fmt.Printf("RESULT name=cpu_overhead runtime=go ops=%d compress_ms=%.1f decompress_ms=%.1f total_ms=%.1f ok=%d\n",
		mib*rounds, float64(tc.Nanoseconds())/1e6, float64(td.Nanoseconds())/1e6,
		float64((tc+td).Nanoseconds())/1e6, okv)
	if !ok {
		os.Exit(1)
	}
}
