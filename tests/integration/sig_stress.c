/* sig_stress - CPython's test_stress_delivery_dependent in C: the main
 * thread sends itself SIGPROF or SIGUSR1, whose handler arms a 1-11 µs
 * ITIMER_REAL; the SIGALRM handler counts. Between signals main sleeps
 * 10 µs at a time (clock_nanosleep, TIMER_ABSTIME, restarted on EINTR)
 * until the count catches up. A second thread waits on a semaphore with a
 * 30 s timeout, as CPython's faulthandler watchdog does, so process-directed
 * SIGALRMs have two candidates.
 *
 * Checks: every one of the N timer signals is counted (none lost or
 * doubled) and the program finishes before the watchdog fires (a sleep that
 * is never woken up - a lost wake-up of a G interrupted by a signal while
 * it slept - hangs it). */
#include "itest.h"

#include <semaphore.h>
#include <signal.h>
#include <sys/time.h>

#define N 20000

static volatile sig_atomic_t nalrm;
static sem_t done;
static unsigned seed = 12345;

static void arm(int sig)
{
    (void)sig;
    seed = seed * 1103515245 + 12345;
    struct itimerval it = { { 0, 0 }, { 0, 1 + (seed >> 16) % 10 } };
    setitimer(ITIMER_REAL, &it, NULL);
}

static void count(int sig)
{
    (void)sig;
    nalrm++;
}

static void *watchdog(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    for (;;) {
        if (sem_timedwait(&done, &ts) == 0)
            return NULL;
        CHECK(errno == EINTR, "sem_timedwait: %s after %d of %d signals (a sleep never woke?)",
              strerror(errno), (int)nalrm, N);
    }
}

static void sleep_10us(void)
{
    struct timespec d;
    clock_gettime(CLOCK_MONOTONIC, &d);
    d.tv_nsec += 10000;
    if (d.tv_nsec >= 1000000000) {
        d.tv_sec++;
        d.tv_nsec -= 1000000000;
    }
    int r;
    while ((r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL)) == EINTR)
        ;
    CHECK(r == 0, "clock_nanosleep: %s", strerror(r));
}

int main(void)
{
    CHECK(sem_init(&done, 0, 0) == 0, "sem_init");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = arm;
    CHECK(sigaction(SIGPROF, &sa, NULL) == 0 && sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    sa.sa_handler = count;
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
    pthread_t t;
    PT(pthread_create(&t, NULL, watchdog, NULL));
    for (int sent = 0; sent < N;) {
        CHECK(kill(getpid(), (sent & 1) ? SIGUSR1 : SIGPROF) == 0, "kill");
        sent++;
        while (nalrm < sent)
            sleep_10us();
        CHECK(nalrm == sent, "%d SIGALRMs counted after %d timers", (int)nalrm, sent);
    }
    CHECK(sem_post(&done) == 0, "sem_post");
    PT(pthread_join(t, NULL));
    printf("sig_stress: %d timer signals, each counted once\n", (int)nalrm);
    return 0;
}
