/* sig_timers - POSIX timers and interval timers deliver as natively.
 *  1. timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN+4, si_value 77),
 *     every 5 ms. A handler (SA_SIGINFO) counts deliveries and sums
 *     si_overrun, checking signo, si_code SI_TIMER and si_value; main and a
 *     worker sleep meanwhile. Once 20 have arrived: timer_delete, and after
 *     100 ms of quiet no more arrive. Sanity: deliveries + overruns never
 *     exceed the elapsed time / 5 ms + 2, timer_getoverrun >= 0.
 *  2. The same signal waited for with sigwaitinfo() in a thread (blocked in
 *     every thread): 10 expirations of a 5 ms timer, each with SI_TIMER and
 *     the timer's si_value.
 *  3. timer_create with SIGEV_THREAD every 10 ms: the callback runs (at
 *     least 5 times) with its sival_ptr; timer_delete stops it (the count
 *     stays put after 100 ms, allowing one already started).
 *  4. setitimer(ITIMER_REAL) every 10 ms with a SIGALRM handler: at least 10
 *     signals; getitimer shows the interval and a remaining time no longer
 *     than it; disarming stops them. */
#include "itest.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>

static int rtsig;
static atomic_int deliveries, overruns, bad;
static atomic_int cb_runs, cb_bad;
static atomic_int alarms;
static atomic_int stop;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (sig != rtsig || si->si_code != SI_TIMER || si->si_value.sival_int != 77 || si->si_overrun < 0)
        atomic_fetch_add(&bad, 1);
    else
        atomic_fetch_add(&overruns, si->si_overrun);
    atomic_fetch_add(&deliveries, 1);
}

static void on_alarm(int sig)
{
    (void)sig;
    atomic_fetch_add(&alarms, 1);
}

static void cb(union sigval v)
{
    if (v.sival_ptr != (void *)&cb_runs)
        atomic_fetch_add(&cb_bad, 1);
    atomic_fetch_add(&cb_runs, 1);
}

static void *sleeper(void *arg)
{
    (void)arg;
    struct timespec d = { 0, 3000000 };
    while (!atomic_load(&stop))
        nanosleep(&d, NULL);
    return NULL;
}

static void wait_for(atomic_int *c, int want, const char *what)
{
    int64_t limit = now_ns(CLOCK_MONOTONIC) + 10000000000LL;
    while (atomic_load(c) < want) {
        CHECK(now_ns(CLOCK_MONOTONIC) < limit, "%s: %d after 10 s, want %d", what, atomic_load(c), want);
        struct timespec d = { 0, 1000000 };
        nanosleep(&d, NULL);
    }
}

static void quiet(void)
{
    struct timespec d = { 0, 100000000 };
    while (nanosleep(&d, &d) != 0)
        CHECK(errno == EINTR, "nanosleep");
}

static timer_t waited_timer;

static void *sigwaiter(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, rtsig);
    for (int i = 0; i < 10; i++) {
        siginfo_t si;
        int r = sigwaitinfo(&s, &si);
        CHECK(r == rtsig, "sigwaitinfo: %d (%s)", r, strerror(errno));
        CHECK(si.si_code == SI_TIMER && si.si_value.sival_int == 78, "sigwaitinfo: code %d value %d",
              si.si_code, si.si_value.sival_int);
    }
    return NULL;
}

int main(void)
{
    rtsig = SIGRTMIN + 4;
    pthread_t w;
    PT(pthread_create(&w, NULL, sleeper, NULL));

    /* 1 */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(rtsig, &sa, NULL) == 0, "sigaction");
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = rtsig;
    ev.sigev_value.sival_int = 77;
    timer_t t;
    CHECK(timer_create(CLOCK_MONOTONIC, &ev, &t) == 0, "timer_create: %s", strerror(errno));
    struct itimerspec its = { { 0, 5000000 }, { 0, 5000000 } };
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    CHECK(timer_settime(t, 0, &its, NULL) == 0, "timer_settime: %s", strerror(errno));
    wait_for(&deliveries, 20, "SIGEV_SIGNAL deliveries");
    CHECK(timer_getoverrun(t) >= 0, "timer_getoverrun: %s", strerror(errno));
    CHECK(timer_delete(t) == 0, "timer_delete");
    int64_t el = now_ns(CLOCK_MONOTONIC) - t0;
    int n = atomic_load(&deliveries);
    quiet();
    CHECK(atomic_load(&deliveries) == n, "%d signals after timer_delete", atomic_load(&deliveries) - n);
    CHECK(atomic_load(&bad) == 0, "%d deliveries with a wrong siginfo", atomic_load(&bad));
    CHECK(n + atomic_load(&overruns) <= el / 5000000 + 2, "%d deliveries + %d overruns in %lld ms",
          n, atomic_load(&overruns), (long long)(el / 1000000));
    printf("1. SIGEV_SIGNAL timer: handler got SI_TIMER with its si_value, overruns sensible, "
           "silent after timer_delete\n");

    /* 2 */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, rtsig);
    PT(pthread_sigmask(SIG_BLOCK, &s, NULL)); /* main; the sleeper must block it too: */
    atomic_store(&stop, 1);
    PT(pthread_join(w, NULL));
    atomic_store(&stop, 0);
    PT(pthread_create(&w, NULL, sleeper, NULL));
    pthread_t sw;
    PT(pthread_create(&sw, NULL, sigwaiter, NULL));
    ev.sigev_value.sival_int = 78;
    CHECK(timer_create(CLOCK_MONOTONIC, &ev, &waited_timer) == 0, "timer_create: %s", strerror(errno));
    CHECK(timer_settime(waited_timer, 0, &its, NULL) == 0, "timer_settime");
    PT(pthread_join(sw, NULL));
    CHECK(timer_delete(waited_timer) == 0, "timer_delete");
    struct timespec z = { 0, 0 };
    siginfo_t si;
    while (sigtimedwait(&s, &si, &z) > 0)
        ; /* drop one left pending */
    PT(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
    printf("2. SIGEV_SIGNAL timer: 10 expirations taken by sigwaitinfo in a thread\n");

    /* 3 */
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = cb;
    ev.sigev_value.sival_ptr = &cb_runs;
    CHECK(timer_create(CLOCK_MONOTONIC, &ev, &t) == 0, "timer_create SIGEV_THREAD: %s", strerror(errno));
    struct itimerspec its10 = { { 0, 10000000 }, { 0, 10000000 } };
    CHECK(timer_settime(t, 0, &its10, NULL) == 0, "timer_settime");
    wait_for(&cb_runs, 5, "SIGEV_THREAD callbacks");
    CHECK(timer_delete(t) == 0, "timer_delete");
    struct timespec d = { 0, 20000000 };
    nanosleep(&d, NULL);
    n = atomic_load(&cb_runs);
    quiet();
    CHECK(atomic_load(&cb_runs) == n, "%d callbacks after timer_delete", atomic_load(&cb_runs) - n);
    CHECK(atomic_load(&cb_bad) == 0, "callback got a wrong sival_ptr");
    printf("3. SIGEV_THREAD timer: callback ran with its sival_ptr, stopped by timer_delete\n");

    /* 4 */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
    struct itimerval it = { { 0, 10000 }, { 0, 10000 } }, cur;
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
    wait_for(&alarms, 10, "ITIMER_REAL signals");
    CHECK(getitimer(ITIMER_REAL, &cur) == 0, "getitimer");
    CHECK(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 10000, "getitimer interval %ld.%06ld",
          (long)cur.it_interval.tv_sec, (long)cur.it_interval.tv_usec);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec <= 10000, "getitimer value %ld.%06ld",
          (long)cur.it_value.tv_sec, (long)cur.it_value.tv_usec);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0, "setitimer off");
    n = atomic_load(&alarms);
    quiet();
    CHECK(atomic_load(&alarms) == n, "%d SIGALRMs after disarming", atomic_load(&alarms) - n);
    printf("4. setitimer ITIMER_REAL: periodic SIGALRM, getitimer consistent, stops when disarmed\n");

    atomic_store(&stop, 1);
    PT(pthread_join(w, NULL));
    return 0;
}
