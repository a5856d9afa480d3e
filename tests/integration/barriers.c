/* barriers - pthread_barrier_*:
 *  - pthread_barrier_init with count 0 -> EINVAL; barrierattr pshared
 *    round trip (EINVAL for a bad value);
 *  - 8 threads x 100 rounds: in every round exactly one thread gets
 *    PTHREAD_BARRIER_SERIAL_THREAD and the others 0, and nobody leaves
 *    the barrier before all 8 arrived (each round's arrival count is 8 at
 *    every departure); the barrier is reused across rounds without reinit;
 *  - a barrier of count 1 returns PTHREAD_BARRIER_SERIAL_THREAD at once;
 *  - destroy after use and init again with another count works. */
#include "itest.h"

#define NT 8
#define ROUNDS 100

static pthread_barrier_t bar;
static int arrived[ROUNDS];  /* atomic */
static int serial[ROUNDS];   /* atomic */
static int zeros[ROUNDS];    /* atomic */

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        __atomic_add_fetch(&arrived[r], 1, __ATOMIC_SEQ_CST);
        if ((r + id) % 7 == 0)
            sched_yield();
        if ((r + id) % 31 == 0)
            usleep(200);
        int rc = pthread_barrier_wait(&bar);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
            __atomic_add_fetch(&serial[r], 1, __ATOMIC_SEQ_CST);
        else if (rc == 0)
            __atomic_add_fetch(&zeros[r], 1, __ATOMIC_SEQ_CST);
        else
            FAIL("pthread_barrier_wait -> %d", rc);
        int n = __atomic_load_n(&arrived[r], __ATOMIC_SEQ_CST);
        CHECK(n == NT, "round %d: left the barrier with %d of %d arrived", r, n, NT);
    }
    return NULL;
}

static void *pair(void *arg)
{
    int n = 0;
    for (int r = 0; r < 10; r++) {
        int rc = pthread_barrier_wait(&bar);
        CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD, "wait -> %d", rc);
        n += rc == PTHREAD_BARRIER_SERIAL_THREAD;
    }
    return (void *)(intptr_t)n;
}

int main(void)
{
    pthread_barrierattr_t a;
    pthread_t t[NT];
    int v;

    CHECK(pthread_barrier_init(&bar, NULL, 0) == EINVAL, "count 0 not EINVAL");
    PT(pthread_barrierattr_init(&a));
    PT(pthread_barrierattr_getpshared(&a, &v));
    CHECK(v == PTHREAD_PROCESS_PRIVATE, "default pshared %d", v);
    CHECK(pthread_barrierattr_setpshared(&a, 12345) == EINVAL, "bad pshared not EINVAL");
    PT(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    PT(pthread_barrierattr_getpshared(&a, &v));
    CHECK(v == PTHREAD_PROCESS_SHARED, "pshared %d", v);
    PT(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_PRIVATE));
    printf("count 0: EINVAL, barrierattr pshared round trip OK\n");

    PT(pthread_barrier_init(&bar, &a, NT));
    PT(pthread_barrierattr_destroy(&a));
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i));
    for (int i = 0; i < NT; i++)
        PT(pthread_join(t[i], NULL));
    for (int r = 0; r < ROUNDS; r++)
        CHECK(serial[r] == 1 && zeros[r] == NT - 1,
              "round %d: %d serial threads and %d zeros, want 1 and %d", r, serial[r], zeros[r],
              NT - 1);
    PT(pthread_barrier_destroy(&bar));
    printf("%d threads x %d rounds: one PTHREAD_BARRIER_SERIAL_THREAD per round, "
           "nobody left early OK\n", NT, ROUNDS);

    PT(pthread_barrier_init(&bar, NULL, 1));
    for (int i = 0; i < 3; i++)
        CHECK(pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD, "count 1 not serial");
    PT(pthread_barrier_destroy(&bar));
    printf("count 1: serial at once OK\n");

    /* Reinitialised with count 2: main and one thread, 10 rounds. */
    PT(pthread_barrier_init(&bar, NULL, 2));
    pthread_t w;
    PT(pthread_create(&w, NULL, pair, NULL));
    int main_serial = 0;
    for (int r = 0; r < 10; r++) {
        int rc = pthread_barrier_wait(&bar);
        CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD, "wait -> %d", rc);
        main_serial += rc == PTHREAD_BARRIER_SERIAL_THREAD;
    }
    void *ret;
    PT(pthread_join(w, &ret));
    CHECK(main_serial + (int)(intptr_t)ret == 10, "%d + %d serial threads in 10 rounds",
          main_serial, (int)(intptr_t)ret);
    PT(pthread_barrier_destroy(&bar));
    printf("destroy, init count 2: 10 rounds, 10 serial threads OK\n");
    return 0;
}
