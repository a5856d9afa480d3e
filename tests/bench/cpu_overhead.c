/* cpu_overhead — what the runtime costs a CPU-bound single-threaded
 * program: libgrun's sysmon and asynchronous preemption must stay out of
 * its way (goal: at most 1% over native).
 * Generates MIB MiB (default 64) of deterministic semi-compressible text
 * (words from a small vocabulary, some noise), then ROUNDS (4) times
 * compresses it with a simple LZ77 coder written here (4-byte hash, 64 KiB
 * window) and decompresses it again, all on the main thread, with one other thread
 * parked in pthread_join so the runtime is fully up. Only the
 * compress + decompress time is measured. Self-check: the round trip
 * reproduces the input, and the compressed size is the same on every run
 * (printed, so native, libgrun and Go can be compared by eye).
 * Output: RESULT name=cpu_overhead runtime=R ops=MIB*ROUNDS compress_ms=X
 *         decompress_ms=X total_ms=X ok=1 (times summed over the rounds)
 * Usage: bench_cpu_overhead [MIB]
 * Go equivalent: cpu_overhead.go (the same generator and coder). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define HBITS 16
#define ROUNDS 4

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static size_t compress(const uint8_t *in, size_t n, uint8_t *out)
{
	static uint32_t table[1 << HBITS];
	size_t o = 0, lit = 0, i = 0;
	memset(table, 0xff, sizeof table);
	while (i + 4 <= n) {
		uint32_t v = rd32(in + i), h = (v * 2654435761u) >> (32 - HBITS), c = table[h];
		table[h] = (uint32_t)i;
		if (c != 0xffffffffu && i - c < 65536 && rd32(in + c) == v) {
			size_t len = 4;
			while (len < 131 && i + len < n && in[c + len] == in[i + len])
				len++;
			while (lit > 0) { /* flush pending literals */
				size_t k = lit > 127 ? 127 : lit;
				out[o++] = (uint8_t)k;
				memcpy(out + o, in + i - lit, k);
				o += k;
				lit -= k;
			}
			out[o++] = (uint8_t)(0x80 | (len - 4));
			out[o++] = (uint8_t)((i - c) & 0xff);
			out[o++] = (uint8_t)((i - c) >> 8);
			i += len;
		} else {
			i++;
			lit++;
			if (lit == 127) {
				out[o++] = 127;
				memcpy(out + o, in + i - lit, 127);
				o += 127;
				lit = 0;
			}
		}
	}
	lit += n - i;
	i = n;
	while (lit > 0) {
		size_t k = lit > 127 ? 127 : lit;
		out[o++] = (uint8_t)k;
		memcpy(out + o, in + i - lit, k);
		o += k;
		lit -= k;
	}
	return o;
}

static size_t decompress(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0;
	while (i < n) {
		uint8_t t = in[i++];
		if (t & 0x80) {
			size_t len = (t & 0x7f) + 4, off = in[i] | (size_t)in[i + 1] << 8;
			i += 2;
			for (size_t k = 0; k < len; k++, o++)
				out[o] = out[o - off];
		} else {
			memcpy(out + o, in + i, t);
			i += t;
			o += t;
		}
	}
	return o;
}

static void generate(uint8_t *p, size_t n)
{
	static char words[256][12];
	uint64_t s = 88172645463325252ull;
#define NEXT() (s ^= s << 13, s ^= s >> 7, s ^= s << 17, s)
	for (int w = 0; w < 256; w++) {
		int len = 3 + (int)(NEXT() % 8);
		for (int k = 0; k < len; k++)
			words[w][k] = (char)('a' + NEXT() % 26);
		words[w][len] = 0;
	}
	size_t i = 0;
	while (i < n) {
		uint64_t r = NEXT();
		if (r % 16 == 0) {
			p[i++] = (uint8_t)(r >> 8);
			continue;
		}
		const char *w = words[(r >> 8) % 256];
		for (size_t k = 0; w[k] && i < n; k++)
			p[i++] = (uint8_t)w[k];
		if (i < n)
			p[i++] = (r >> 20) % 8 == 0 ? '\n' : ' ';
	}
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 64;
	if (mib <= 0) {
		fprintf(stderr, "usage: bench_cpu_overhead [MIB]\n");
		return 2;
	}
	size_t n = (size_t)mib << 20;
	uint8_t *in = malloc(n), *c = malloc(n + n / 64 + 16), *back = malloc(n);
	if (!in || !c || !back)
		return 1;
	if (bench_idle_start() != 0)
		return 1;
	generate(in, n);
	double tc = 0, td = 0;
	size_t cn = 0, first = 0;
	int ok = 1;
	for (int r = 0; r < ROUNDS; r++) {
		memset(back, 0, n);
		double t0 = now_ns();
		cn = compress(in, n, c);
		double t1 = now_ns();
		size_t bn = decompress(c, cn, back);
		double t2 = now_ns();
		tc += t1 - t0;
		td += t2 - t1;
		ok &= bn == n && memcmp(in, back, n) == 0 && (r == 0 || cn == first);
		first = cn;
	}
	bench_idle_stop();
	if (!ok)
		fprintf(stderr, "cpu_overhead: a round trip differs or the compressed size changed\n");
	fprintf(stderr, "cpu_overhead: %zu bytes -> %zu compressed\n", n, cn);
	printf("RESULT name=cpu_overhead runtime=%s ops=%ld compress_ms=%.1f decompress_ms=%.1f total_ms=%.1f ok=%d\n",
	       runtime_name(), mib * ROUNDS, tc / 1e6, td / 1e6, (tc + td) / 1e6, ok);
	return ok ? 0 : 1;
}
