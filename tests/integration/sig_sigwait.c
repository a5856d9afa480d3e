/* sig_sigwait - the classic shutdown pattern: main blocks SIGTERM, SIGINT,
 * SIGHUP, SIGUSR1 and SIGRTMIN+2 before creating any thread (every thread
 * inherits the mask), workers run, one thread takes the signals
 * synchronously. In order:
 *  1. kill(getpid(), SIGINT) from main: sigpending() shows SIGINT (blocked
 *     everywhere, so pending on the process), and the waiter's sigwait()
 *     returns SIGINT at once; afterwards sigpending() is empty.
 *  2. sigtimedwait(SIGUSR1, 100 ms) with nothing pending: -1 EAGAIN.
 *  3. sigqueue(getpid(), SIGUSR1, 42) from another thread while the waiter
 *     is parked in sigwaitinfo(): SIGUSR1 with si_code SI_QUEUE, si_value 42
 *     and si_pid our pid.
 *  4. sigqueue SIGRTMIN+2 three times (values 1, 2, 3) while blocked:
 *     sigtimedwait() returns all three, queued, in order.
 *  5. The waiter sits in sigwait(); a sender thread sends SIGHUP (the
 *     waiter counts a "reload") and then SIGTERM: the waiter sets the stop
 *     flag, the 4 workers (mutex-protected counter) see it and exit, main
 *     joins everyone. Workers must have made progress, no signal was lost
 *     and no handler ever ran (the dispositions are handlers that fail). */
#include "itest.h"

#include <signal.h>
#include <stdatomic.h>

#define NW 4

static sigset_t set;
static int rtsig;
static atomic_int stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static struct gate step = GATE_INIT;  /* main -> waiter, waiter -> main */
static struct gate parked = GATE_INIT;
static int reloads;

static void must_not_run(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL sig_sigwait: a handler ran for a blocked signal\n";
    write(2, msg, sizeof msg - 1);
    _exit(1);
}

static void *worker(void *arg)
{
    (void)arg;
    struct timespec d = { 0, 200000 };
    while (!atomic_load(&stop)) {
        PT(pthread_mutex_lock(&mu));
        counter++;
        PT(pthread_mutex_unlock(&mu));
        nanosleep(&d, NULL);
    }
    return NULL;
}

static void *waiter(void *arg)
{
    (void)arg;
    int sig = 0;
    siginfo_t si;

    /* 1 */
    gate_wait(&step, 1);
    PT(sigwait(&set, &sig));
    CHECK(sig == SIGINT, "sigwait returned %d, want SIGINT", sig);
    printf("1. sigwait returned SIGINT (pending before the call)\n");
    gate_add(&step, 1); /* 2 */

    /* 2 */
    sigset_t u;
    sigemptyset(&u);
    sigaddset(&u, SIGUSR1);
    struct timespec to = { 0, 100000000 };
    int r = sigtimedwait(&u, &si, &to);
    CHECK(r == -1 && errno == EAGAIN, "sigtimedwait with nothing pending: %d (%s), want -1 EAGAIN",
          r, strerrorname_np(errno));
    printf("2. sigtimedwait with nothing pending: -1 EAGAIN\n");

    /* 3 */
    gate_add(&parked, 1);
    memset(&si, 0, sizeof si);
    r = sigwaitinfo(&u, &si);
    CHECK(r == SIGUSR1, "sigwaitinfo returned %d (%s)", r, strerrorname_np(errno));
    CHECK(si.si_signo == SIGUSR1 && si.si_code == SI_QUEUE && si.si_value.sival_int == 42 &&
          si.si_pid == getpid(),
          "sigwaitinfo: signo %d code %d value %d pid %d", si.si_signo, si.si_code,
          si.si_value.sival_int, (int)si.si_pid);
    printf("3. sigwaitinfo: SIGUSR1, SI_QUEUE, si_value 42, our pid\n");
    gate_add(&step, 1); /* 3 */

    /* 4 */
    gate_wait(&step, 4);
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, rtsig);
    for (int i = 1; i <= 3; i++) {
        struct timespec z = { 5, 0 };
        r = sigtimedwait(&rt, &si, &z);
        CHECK(r == rtsig && si.si_value.sival_int == i, "sigtimedwait #%d: %d (%s), value %d", i, r,
              r < 0 ? strerrorname_np(errno) : "-", si.si_value.sival_int);
    }
    struct timespec zero = { 0, 0 };
    CHECK(sigtimedwait(&rt, &si, &zero) == -1 && errno == EAGAIN, "a fourth real-time signal");
    printf("4. three queued SIGRTMIN+2 received in order (values 1, 2, 3)\n");

    /* 5 */
    gate_add(&parked, 1);
    for (;;) {
        PT(sigwait(&set, &sig));
        if (sig == SIGHUP) {
            reloads++;
            gate_add(&parked, 1);
            continue;
        }
        CHECK(sig == SIGTERM, "sigwait returned %d, want SIGHUP or SIGTERM", sig);
        break;
    }
    atomic_store(&stop, 1);
    return NULL;
}

static void *sender(void *arg)
{
    int what = (int)(intptr_t)arg;
    if (what == 3) {
        gate_wait(&parked, 1);
        struct timespec d = { 0, 50000000 };
        nanosleep(&d, NULL);
        CHECK(sigqueue(getpid(), SIGUSR1, (union sigval){ .sival_int = 42 }) == 0, "sigqueue");
    } else {
        gate_wait(&parked, 2);
        struct timespec d = { 0, 50000000 };
        nanosleep(&d, NULL);
        CHECK(kill(getpid(), SIGHUP) == 0, "kill SIGHUP");
        gate_wait(&parked, 3);
        nanosleep(&d, NULL);
        CHECK(kill(getpid(), SIGTERM) == 0, "kill SIGTERM");
    }
    return NULL;
}

int main(void)
{
    rtsig = SIGRTMIN + 2;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigset_t all = set;
    sigaddset(&all, SIGUSR1);
    sigaddset(&all, rtsig);
    PT(pthread_sigmask(SIG_BLOCK, &all, NULL));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = must_not_run;
    sigemptyset(&sa.sa_mask);
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, rtsig };
    for (int i = 0; i < 5; i++)
        CHECK(sigaction(sigs[i], &sa, NULL) == 0, "sigaction");

    pthread_t w[NW], wt, s;
    for (int i = 0; i < NW; i++)
        PT(pthread_create(&w[i], NULL, worker, NULL));
    PT(pthread_create(&wt, NULL, waiter, NULL));

    /* 1 */
    CHECK(kill(getpid(), SIGINT) == 0, "kill SIGINT");
    sigset_t p;
    CHECK(sigpending(&p) == 0 && sigismember(&p, SIGINT) == 1, "SIGINT not pending after kill");
    gate_add(&step, 1);
    gate_wait(&step, 2);
    CHECK(sigpending(&p) == 0 && sigismember(&p, SIGINT) == 0, "SIGINT still pending after sigwait");

    /* 3 */
    PT(pthread_create(&s, NULL, sender, (void *)3));
    PT(pthread_join(s, NULL));
    gate_wait(&step, 3);

    /* 4 */
    for (int i = 1; i <= 3; i++)
        CHECK(sigqueue(getpid(), rtsig, (union sigval){ .sival_int = i }) == 0, "sigqueue rt: %s",
              strerror(errno));
    CHECK(sigpending(&p) == 0 && sigismember(&p, rtsig) == 1, "SIGRTMIN+2 not pending");
    gate_add(&step, 1);

    /* 5 */
    PT(pthread_create(&s, NULL, sender, (void *)5));
    PT(pthread_join(s, NULL));
    PT(pthread_join(wt, NULL));
    for (int i = 0; i < NW; i++)
        PT(pthread_join(w[i], NULL));
    CHECK(reloads == 1, "%d reloads (SIGHUP), want 1", reloads);
    CHECK(counter > 0, "workers made no progress");
    CHECK(sigpending(&p) == 0, "sigpending");
    for (int i = 0; i < 5; i++)
        CHECK(!sigismember(&p, sigs[i]), "signal %d still pending at the end", sigs[i]);
    printf("5. SIGHUP reloaded once, SIGTERM shut down %d workers in order\n", NW);
    return 0;
}
