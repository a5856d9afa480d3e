/* sem_pingpong — wake-up latency through POSIX semaphores.
 *
 * Two threads and two semaphores (both 0): thread A writes the ball, posts
 * `ping` and waits on `pong`; thread B waits on `ping`, checks and answers
 * the ball, posts `pong`. N round trips (default 200000), each two
 * hand-offs. Self-check: every hand-off sees the value the other side
 * wrote just before its post (the semaphores order the accesses), both
 * sides take N turns, and both semaphores end at 0.
 * Output: RESULT name=sem_pingpong runtime=native ops=N ns_per_op=X ok=1
 * (ns_per_op = wall time per round trip.)
 * Usage: bench_sem_pingpong [N]
 * Go equivalent: sem_pingpong.go (two unbuffered channels). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static sem_t ping, pong;
static long rounds;
static uint64_t ball;     /* written by one side before its post */
static long turns[2];
static long wrong[2];     /* hand-offs that saw an unexpected ball */

static void wait_sem(sem_t *s)
{
	while (sem_wait(s) != 0) {
		if (errno != EINTR) {
			perror("sem_wait");
			exit(1);
		}
	}
}

static void *side_a(void *arg)
{
	(void)arg;
	for (long r = 0; r < rounds; r++) {
		ball = 2 * (uint64_t)r;
		sem_post(&ping);
		wait_sem(&pong);
		if (ball != 2 * (uint64_t)r + 1)
			wrong[0]++;
		turns[0]++;
	}
	return NULL;
}

static void *side_b(void *arg)
{
	(void)arg;
	for (long r = 0; r < rounds; r++) {
		wait_sem(&ping);
		if (ball != 2 * (uint64_t)r)
			wrong[1]++;
		ball++;
		turns[1]++;
		sem_post(&pong);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t a, b;
	int va = -1, vb = -1;

	rounds = argc > 1 ? atol(argv[1]) : 200000;
	if (rounds <= 0) {
		fprintf(stderr, "usage: bench_sem_pingpong [N]\n");
		return 2;
	}
	if (sem_init(&ping, 0, 0) || sem_init(&pong, 0, 0)) {
		perror("sem_init");
		return 1;
	}
	double t0 = now_ns();
	int err = pthread_create(&b, NULL, side_b, NULL);
	if (!err)
		err = pthread_create(&a, NULL, side_a, NULL);
	if (err) {
		fprintf(stderr, "sem_pingpong: pthread_create: %s\n", strerror(err));
		return 1;
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	double t1 = now_ns();

	sem_getvalue(&ping, &va);
	sem_getvalue(&pong, &vb);
	int ok = turns[0] == rounds && turns[1] == rounds && !wrong[0] && !wrong[1] &&
		 ball == 2 * (uint64_t)rounds - 1 && va == 0 && vb == 0;
	if (!ok)
		fprintf(stderr, "sem_pingpong: turns %ld/%ld, wrong %ld/%ld, ball %llu, values %d/%d\n",
			turns[0], turns[1], wrong[0], wrong[1], (unsigned long long)ball, va, vb);
	printf("RESULT name=sem_pingpong runtime=%s ops=%ld ns_per_op=%.1f ok=%d\n",
	       runtime_name(), rounds, (t1 - t0) / rounds, ok);
	return ok ? 0 : 1;
}
