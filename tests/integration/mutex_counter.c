/* mutex_counter - 64 threads each increment a shared counter 100000 times
 * under a statically initialized mutex (sometimes yielding while holding it,
 * so waiters really queue); the final count must be exact, and the mutex
 * must never be observed held by two threads at once. */
#include "itest.h"

#define NT 64
#define ITERS 100000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static int inside;

static void *worker(void *arg)
{
    for (int i = 0; i < ITERS; i++) {
        PT(pthread_mutex_lock(&mu));
        CHECK(inside == 0, "two threads inside the critical section");
        inside = 1;
        counter++;
        if (i % 10000 == 0)
            sched_yield();
        inside = 0;
        PT(pthread_mutex_unlock(&mu));
    }
    return NULL;
}

int main(void)
{
    pthread_t th[NT];
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&th[i], NULL, worker, NULL));
    for (int i = 0; i < NT; i++)
        PT(pthread_join(th[i], NULL));
    CHECK(counter == (long)NT * ITERS, "counter=%ld, want %ld", counter, (long)NT * ITERS);
    printf("counter=%ld OK\n", counter);
    return 0;
}
