/* deadlock_cycle - a partial deadlock inside a program that keeps working:
 * three threads each lock their own mutex, meet behind a gate, then ask for
 * the next one's (0 -> 1 -> 2 -> 0), a lock cycle that never resolves.
 * Meanwhile main and a worker keep ping-ponging a counter under another
 * mutex and condvar for 3 seconds, then main prints its result and exits 0
 * with the three threads still blocked (exit ends them).
 * Natively: stdout as below, exit 0. Under libgrun: the same stdout and
 * exit 0 (the program is still serving, so no fatal error), and the
 * deadlock detector must report the cycle on stderr once (the runner looks
 * for "deadlock" and "cycle"; kind report in scripts/test). */
#include "itest.h"

#define NC 3

static pthread_mutex_t locks[NC] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                    PTHREAD_MUTEX_INITIALIZER};
static struct gate meet = GATE_INIT;

static void *cycler(void *arg)
{
    int i = (int)(intptr_t)arg;
    PT(pthread_mutex_lock(&locks[i]));
    gate_meet(&meet, NC + 1);
    PT(pthread_mutex_lock(&locks[(i + 1) % NC]));
    FAIL("thread %d got its second lock: the cycle resolved", i);
    return NULL;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long ball;
static bool stop;

static void *server(void *arg)
{
    PT(pthread_mutex_lock(&mu));
    while (!stop) {
        if (ball % 2 == 1) {
            ball++;
            PT(pthread_cond_broadcast(&cv));
        }
        PT(pthread_cond_wait(&cv, &mu));
    }
    PT(pthread_mutex_unlock(&mu));
    return NULL;
}

int main(void)
{
    pthread_t t[NC], s;
    for (int i = 0; i < NC; i++)
        PT(pthread_create(&t[i], NULL, cycler, (void *)(intptr_t)i));
    gate_meet(&meet, NC + 1);
    printf("three threads in a lock cycle\n");
    fflush(stdout);

    PT(pthread_create(&s, NULL, server, NULL));
    int64_t until = now_ns(CLOCK_MONOTONIC) + 3000000000LL;
    long rounds = 0;
    PT(pthread_mutex_lock(&mu));
    while (now_ns(CLOCK_MONOTONIC) < until) {
        CHECK(ball % 2 == 0, "ball %ld", ball);
        ball++;
        PT(pthread_cond_broadcast(&cv));
        while (ball % 2 == 1)
            PT(pthread_cond_wait(&cv, &mu));
        rounds++;
        if (rounds % 64 == 0) {
            PT(pthread_mutex_unlock(&mu));
            usleep(1000);
            PT(pthread_mutex_lock(&mu));
        }
    }
    stop = true;
    PT(pthread_cond_broadcast(&cv));
    PT(pthread_mutex_unlock(&mu));
    PT(pthread_join(s, NULL));
    CHECK(ball == 2 * rounds && rounds > 0, "ball %ld after %ld rounds", ball, rounds);
    printf("main kept serving for 3 s\n");
    fflush(stdout);
    return 0; /* the three cyclers are still blocked: exit ends them */
}
