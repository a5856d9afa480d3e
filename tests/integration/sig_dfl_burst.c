/* sig_dfl_burst - a burst of handled signals, then the default action back.
 *
 * CPython's test_signal pattern: a handler counts SIGALRMs from 1-11 us
 * ITIMER_REAL timers (the main thread sleeps 10 us at a time until each is
 * counted), then the program sets SIGALRM back to SIG_DFL and disarms the
 * timer. Every timer's signal has been counted by then, so natively no
 * SIGALRM exists any more; the next phase has worker threads run on every
 * CPU and sleep, so any thread of the process that still holds a SIGALRM
 * meets it with the default action, and the process dies. Repeated for
 * ROUNDS rounds.
 *
 * Checks: each round counts exactly its timers; the process survives every
 * round (it would die of SIGALRM, exit status 142). */
#include "itest.h"

#include <signal.h>
#include <sys/time.h>

#define ROUNDS 150
#define TIMERS 400
#define WORKERS 4

static volatile sig_atomic_t nalrm;
static unsigned seed = 4242;

static void count(int sig)
{
    (void)sig;
    nalrm++;
}

static void arm(void)
{
    seed = seed * 1103515245 + 12345;
    struct itimerval it = { { 0, 0 }, { 0, 1 + (seed >> 16) % 10 } };
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
}

static void sleep_us(long us)
{
    struct timespec d = { 0, us * 1000 };
    while (nanosleep(&d, &d) != 0)
        CHECK(errno == EINTR, "nanosleep: %s", strerror(errno));
}

/* Work and sleep a few times, so every M picks up a G. */
static void *worker(void *arg)
{
    volatile unsigned long x = (unsigned long)arg;
    for (int i = 0; i < 20; i++) {
        for (int j = 0; j < 20000; j++)
            x = x * 6364136223846793005ul + 1;
        sleep_us(50);
    }
    return NULL;
}

int main(void)
{
    struct sigaction sa, dfl;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count;
    sa.sa_flags = SA_RESTART;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    pthread_t w0;
    PT(pthread_create(&w0, NULL, worker, (void *)1ul));	/* the scheduler runs from now on */
    PT(pthread_join(w0, NULL));
    for (int r = 0; r < ROUNDS; r++) {
        nalrm = 0;
        CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
        for (int sent = 1; sent <= TIMERS; sent++) {
            arm();
            while (nalrm < sent)
                sleep_us(10);
            CHECK(nalrm == sent, "round %d: %d SIGALRMs counted after %d timers", r, (int)nalrm, sent);
        }
        CHECK(sigaction(SIGALRM, &dfl, NULL) == 0, "sigaction SIG_DFL");
        struct itimerval off = { { 0, 0 }, { 0, 0 } };
        CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0, "setitimer off");
        pthread_t t[WORKERS];
        for (int i = 0; i < WORKERS; i++)
            PT(pthread_create(&t[i], NULL, worker, (void *)(unsigned long)(i + 2)));
        for (int i = 0; i < WORKERS; i++)
            PT(pthread_join(t[i], NULL));
    }
    printf("sig_dfl_burst: %d rounds of %d timer signals, each counted once; no signal after SIG_DFL\n",
           ROUNDS, TIMERS);
    return 0;
}
