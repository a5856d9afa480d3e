/* sigalrm_wake - every thread waits on a semaphore and nothing but a signal
 * handler can wake them: a SIGALRM handler sem_posts (async-signal-safe)
 * and alarm(1) arms it. Four threads sem_wait; main sem_waits too (retrying
 * on EINTR), then joins them. This is not a deadlock: under libgrun the
 * deadlock detector must not kill the program (an armed alarm and an
 * installed handler can still wake it); it must finish normally with the
 * same output as natively. A second round arms the alarm from a thread and
 * has main wait in pthread_join while the others wait on the semaphore. */
#include "itest.h"

#include <semaphore.h>
#include <signal.h>

#define NT 4

static sem_t go;
static volatile sig_atomic_t fired;

static void on_alarm(int sig)
{
    fired++;
    for (int i = 0; i < NT + 1; i++)
        sem_post(&go);
}

static void wait_go(void)
{
    while (sem_wait(&go) != 0)
        CHECK(errno == EINTR, "sem_wait: %s", strerrorname_np(errno));
}

static void *waiter(void *arg)
{
    if (arg)
        alarm(1);
    wait_go();
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    pthread_t t[NT];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction: %s", strerrorname_np(errno));
    CHECK(sem_init(&go, 0, 0) == 0, "sem_init: %s", strerrorname_np(errno));

    int64_t start = now_ns(CLOCK_MONOTONIC);
    alarm(1);
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&t[i], NULL, waiter, NULL));
    wait_go();
    for (int i = 0; i < NT; i++)
        PT(pthread_join(t[i], NULL));
    int64_t took = now_ns(CLOCK_MONOTONIC) - start;
    CHECK(fired == 1, "handler ran %d times", (int)fired);
    CHECK(took >= 900000000LL && took < 10000000000LL, "round 1 took %lld ms",
          (long long)(took / 1000000));
    printf("round 1: %d threads and main woken by the SIGALRM handler OK\n", NT);

    /* Round 2: main waits in join; the alarm is armed by a thread. */
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&t[i], NULL, waiter, (void *)(intptr_t)(i == 0)));
    for (int i = 0; i < NT; i++)
        PT(pthread_join(t[i], NULL));
    CHECK(fired == 2, "handler ran %d times", (int)fired);
    int v;
    CHECK(sem_getvalue(&go, &v) == 0 && v == 1, "semaphore value %d, want 1", v);
    printf("round 2: %d threads woken, main in pthread_join OK\n", NT);
    return 0;
}
