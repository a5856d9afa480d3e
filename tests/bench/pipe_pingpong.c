/* pipe_pingpong — wake-up latency between two threads through pipes.
 *
 * Two pipes, one per direction, blocking; main writes an 8-byte counter
 * into the first, the peer thread reads it, adds one and writes it back
 * through the second, main reads it: N round trips (default 200000), each
 * a blocking read() that has to wait for the other thread. Self-check:
 * every answer is the request plus one and the peer handled exactly N.
 * Output: RESULT name=pipe_pingpong runtime=native ops=N ns_per_op=X ok=1
 * (ns_per_op = wall time per round trip, i.e. two hand-offs.)
 * Usage: bench_pipe_pingpong [N]
 * Go equivalent: pipe_pingpong.go (os.Pipe, two goroutines). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static int ping[2], pong[2];
static long rounds, handled;

static int xfer(int fd, uint64_t *v, int out)
{
	ssize_t r = out ? write(fd, v, sizeof *v) : read(fd, v, sizeof *v);
	return r == (ssize_t)sizeof *v ? 0 : -1; /* 8 bytes: atomic on a pipe */
}

static void *peer(void *arg)
{
	uint64_t v;
	while (xfer(ping[0], &v, 0) == 0) {
		v++;
		if (xfer(pong[1], &v, 1))
			break;
		handled++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	long bad = 0;

	rounds = argc > 1 ? atol(argv[1]) : 200000;
	if (rounds <= 0) {
		fprintf(stderr, "usage: bench_pipe_pingpong [N]\n");
		return 2;
	}
	if (pipe(ping) || pipe(pong) || pthread_create(&t, NULL, peer, NULL)) {
		perror("pipe_pingpong: setup");
		return 1;
	}
	double t0 = now_ns();
	for (long i = 0; i < rounds; i++) {
		uint64_t v = (uint64_t)i * 3;
		if (xfer(ping[1], &v, 1) || xfer(pong[0], &v, 0)) {
			fprintf(stderr, "pipe_pingpong: round %ld: %s\n", i, strerror(errno));
			bad = rounds;
			break;
		}
		bad += v != (uint64_t)i * 3 + 1;
	}
	double t1 = now_ns();
	close(ping[1]); /* the peer sees EOF */
	pthread_join(t, NULL);
	int ok = bad == 0 && handled == rounds;
	if (!ok)
		fprintf(stderr, "pipe_pingpong: %ld wrong answers, peer handled %ld of %ld\n", bad, handled,
			rounds);
	printf("RESULT name=pipe_pingpong runtime=%s ops=%ld ns_per_op=%.1f ok=%d\n", runtime_name(),
	       rounds, (t1 - t0) / rounds, ok);
	return ok ? 0 : 1;
}
