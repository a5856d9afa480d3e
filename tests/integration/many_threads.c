/* many_threads - 10000 threads alive at once, all parked on one condition
 * variable; main waits until every one has arrived, broadcasts once, and
 * joins them all; every thread must wake and exit exactly once. Under
 * libgrun (only), the green threads must not be OS threads: the
 * "Threads:" count of /proc/self/status stays <= GRUN_MAXPROCS + 8. */
#include "itest.h"

#define NT 10000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static int waiting, go, woke;

static void *parker(void *arg)
{
    PT(pthread_mutex_lock(&mu));
    if (++waiting == NT)
        PT(pthread_cond_signal(&arrived));
    while (!go)
        PT(pthread_cond_wait(&go_cv, &mu));
    woke++;
    PT(pthread_mutex_unlock(&mu));
    return (void *)((intptr_t)arg + 1);
}

int main(void)
{
    static pthread_t th[NT];
    long sum = 0;
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&th[i], NULL, parker, (void *)(intptr_t)i));
    PT(pthread_mutex_lock(&mu));
    while (waiting < NT)
        PT(pthread_cond_wait(&arrived, &mu));
    CHECK(woke == 0, "%d threads woke before the broadcast", woke);
    PT(pthread_mutex_unlock(&mu));

    if (under_grun()) {
        int n = os_thread_count(), max = grun_maxprocs() + 8;
        CHECK(n > 0 && n <= max, "%d OS threads for %d green threads (max %d)", n, NT, max);
    }

    PT(pthread_mutex_lock(&mu));
    go = 1;
    PT(pthread_cond_broadcast(&go_cv));
    PT(pthread_mutex_unlock(&mu));
    for (int i = 0; i < NT; i++) {
        void *ret;
        PT(pthread_join(th[i], &ret));
        sum += (intptr_t)ret;
    }
    CHECK(woke == NT && sum == (long)NT * (NT + 1) / 2, "woke=%d sum=%ld", woke, sum);
    printf("threads=%d parked, woken by one broadcast, joined OK\n", NT);
    return 0;
}
