/* demo.h — the demo protocol, shared by demo_server and demo_loadgen so
 * both sides agree on what a correct reply is: "GET n\n" is answered with
 * n bytes demo_byte(n, 0..n-1) and a line "SUM %08x\n" holding their
 * FNV-1a hash. */
#ifndef DEMO_H
#define DEMO_H

#include <stddef.h>
#include <stdint.h>

#define MAX_REPLY (1L << 20)   /* largest n a client may ask for */
#define SUM_LINE_LEN 13        /* strlen("SUM 0123abcd\n") */
#define FNV_INIT 2166136261u

static inline char demo_byte(long n, long i)
{
	return (char)(i * 131 + n);
}

static inline uint32_t fnv1a(uint32_t h, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

#endif
