/* exit_paths - how the process ends while threads are still running.
 *   exit_paths thread: a non-main thread calls exit(3) while other threads
 *     spin, sleep and wait on a condition variable, and main is blocked in
 *     pthread_join: the status must be 3 and the atexit handler must run
 *     (once, printing which path ran).
 *   exit_paths main: main returns 4 while other threads spin, sleep and
 *     wait: the status must be 4 and the atexit handler must run. */
#include "itest.h"

#include <stdatomic.h>

static const char *mode;
static struct gate started = GATE_INIT;
static struct gate never = GATE_INIT;
static atomic_int atexit_runs;

static void at_exit(void)
{
    if (atomic_fetch_add(&atexit_runs, 1) != 0) {
        fprintf(stderr, "FAIL: atexit handler ran twice\n");
        _exit(1);
    }
    printf("atexit handler ran (%s)\n", mode);
}

static void *spinner(void *arg)
{
    gate_add(&started, 1);
    for (volatile unsigned long i = 0;; i++)
        if (i % 100000 == 0)
            sched_yield();
    return NULL;
}

static void *napper(void *arg)
{
    gate_add(&started, 1);
    for (;;)
        usleep(2000);
    return NULL;
}

static void *waiter(void *arg)
{
    gate_add(&started, 1);
    gate_wait(&never, 1);
    FAIL("waiter woke up");
    return NULL;
}

static void *exiter(void *arg)
{
    gate_wait(&started, 3);
    usleep(50000);
    printf("thread: calling exit(3)\n");
    exit(3);
}

int main(int argc, char **argv)
{
    pthread_t t;
    CHECK(argc == 2 && (!strcmp(argv[1], "thread") || !strcmp(argv[1], "main")),
          "usage: exit_paths thread|main");
    mode = argv[1];
    atexit(at_exit);
    PT(pthread_create(&t, NULL, spinner, NULL));
    PT(pthread_create(&t, NULL, napper, NULL));
    PT(pthread_create(&t, NULL, waiter, NULL));
    if (!strcmp(mode, "thread")) {
        PT(pthread_create(&t, NULL, exiter, NULL));
        pthread_join(t, NULL);
        FAIL("pthread_join returned although the thread called exit");
    }
    gate_wait(&started, 3);
    usleep(50000);
    printf("main: returning 4\n");
    return 4;
}
