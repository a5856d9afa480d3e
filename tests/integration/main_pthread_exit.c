/* main_pthread_exit - main calls pthread_exit() while 4 workers still run.
 * The process must live on until the last worker ends; the last worker (the
 * one that drops the live count to 0) checks and prints the final total;
 * then the process exits with status 0 and the atexit handler runs (and
 * fails the run if the final result was never printed). */
#include "itest.h"

#define NT 4
#define STEPS 50

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int live = NT;
static long total;
static int printed;

static void at_exit(void)
{
    if (!printed) {
        fprintf(stderr, "FAIL: process exited before the last worker finished\n");
        _exit(1);
    }
    printf("atexit handler ran\n");
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int s = 0; s < STEPS; s++) {
        usleep(1000 + 500 * id);
        PT(pthread_mutex_lock(&mu));
        total += id * 1000 + s;
        PT(pthread_mutex_unlock(&mu));
    }
    PT(pthread_mutex_lock(&mu));
    if (--live == 0) {
        long want = 0;
        for (int i = 0; i < NT; i++)
            for (int s = 0; s < STEPS; s++)
                want += i * 1000 + s;
        CHECK(total == want, "total %ld, want %ld", total, want);
        printf("last worker: total=%ld OK\n", total);
        printed = 1;
    }
    PT(pthread_mutex_unlock(&mu));
    return NULL;
}

int main(void)
{
    pthread_t t;
    atexit(at_exit);
    for (int i = 0; i < NT; i++) {
        PT(pthread_create(&t, NULL, worker, (void *)(intptr_t)i));
        PT(pthread_detach(t));
    }
    printf("main: pthread_exit with %d workers running\n", NT);
    fflush(stdout);
    pthread_exit(NULL);
}
