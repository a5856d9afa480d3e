/* pingpong — wake-up latency between two threads.
 *
 * Two threads pass a ball (a counter) back and forth under one mutex, each
 * waiting on its own condition variable until `turn` names it; N round trips
 * (default 200000), one round trip = each thread takes one turn. Self-check:
 * each thread takes exactly N turns, thread 0 always sees an even ball and
 * thread 1 an odd one, and the ball ends at 2N.
 * Output: RESULT name=pingpong runtime=native ops=N ns_per_op=X ok=1
 * (ns_per_op = wall time per round trip, i.e. two hand-offs.)
 * Usage: bench_pingpong [N]
 * Go equivalent: pingpong.go (sync.Mutex + sync.Cond). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv[2] = { PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER };
static int turn;           /* whose turn: 0 or 1; protected by mu */
static uint64_t ball;      /* turns taken so far; protected by mu */
static long rounds;        /* N, set before the threads start */
static long turns[2];      /* turns taken by each thread; protected by mu */
static long wrong[2];      /* turns that saw the ball with the wrong parity */

static void *player(void *arg)
{
	int me = (int)(intptr_t)arg;

	pthread_mutex_lock(&mu);
	for (long r = 0; r < rounds; r++) {
		while (turn != me)
			pthread_cond_wait(&cv[me], &mu);
		if (ball % 2 != (uint64_t)me)
			wrong[me]++;
		ball++;
		turns[me]++;
		turn = !me;
		pthread_cond_signal(&cv[!me]);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2];

	rounds = argc > 1 ? atol(argv[1]) : 200000;
	if (rounds <= 0) {
		fprintf(stderr, "usage: bench_pingpong [N]\n");
		return 2;
	}
	double t0 = now_ns();
	for (int i = 0; i < 2; i++) {
		int err = pthread_create(&t[i], NULL, player, (void *)(intptr_t)i);
		if (err) {
			fprintf(stderr, "pingpong: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	double t1 = now_ns();

	int ok = turns[0] == rounds && turns[1] == rounds && !wrong[0] && !wrong[1] &&
		 ball == 2 * (uint64_t)rounds;
	if (!ok)
		fprintf(stderr, "pingpong: turns %ld/%ld, wrong parity %ld/%ld, ball %llu, want %ld\n",
			turns[0], turns[1], wrong[0], wrong[1], (unsigned long long)ball, 2 * rounds);
	printf("RESULT name=pingpong runtime=%s ops=%ld ns_per_op=%.1f ok=%d\n",
	       runtime_name(), rounds, (t1 - t0) / rounds, ok);
	return ok ? 0 : 1;
}
