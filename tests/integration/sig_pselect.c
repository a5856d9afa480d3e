/* sig_pselect - the race-free wait for a signal: block SIGCHLD, then wait
 * in pselect / ppoll / epoll_pwait with a mask that lets it through.
 * For each call, in a thread while another thread runs: SIGCHLD is
 * blocked in every thread; a child exits 50 ms later; the wait (on an
 * empty pipe, 5 s timeout) must end with EINTR after the handler ran, on
 * the waiting thread, long before the timeout. Then the same wait with
 * the signal already pending before the call returns EINTR at once, and a
 * wait whose mask keeps SIGCHLD blocked times out (100 ms) with the signal
 * still pending (sigpending), taken afterwards by sigwaitinfo. */
#include "itest.h"

#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/wait.h>

static atomic_int handled;
static pthread_t waiter_thread;
static atomic_int on_waiter;
static int pfd[2];

static void on_chld(int sig)
{
    (void)sig;
    atomic_fetch_add(&handled, 1);
    if (pthread_equal(pthread_self(), waiter_thread))
        atomic_fetch_add(&on_waiter, 1);
    int st;
    while (waitpid(-1, &st, WNOHANG) > 0)
        ;
}

static void spawn_child(int ms)
{
    pid_t p = fork();
    CHECK(p >= 0, "fork");
    if (p == 0) {
        usleep((useconds_t)ms * 1000);
        _exit(0);
    }
}

enum { PSELECT, PPOLL, EPOLL_PWAIT };
static const char *const names[] = { "pselect", "ppoll", "epoll_pwait" };

/* One masked wait on the empty pipe: returns the call's result, errno in *err. */
static int masked_wait(int how, const sigset_t *mask, int ms, int *err)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    int r;
    if (how == PSELECT) {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(pfd[0], &rd);
        r = pselect(pfd[0] + 1, &rd, NULL, NULL, &ts, mask);
    } else if (how == PPOLL) {
        struct pollfd p = { pfd[0], POLLIN, 0 };
        r = ppoll(&p, 1, &ts, mask);
    } else {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        CHECK(ep >= 0, "epoll_create1");
        struct epoll_event ev = { .events = EPOLLIN };
        CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev) == 0, "epoll_ctl");
        struct epoll_event out;
        r = epoll_pwait(ep, &out, 1, ms, mask);
        int e = errno;
        close(ep);
        errno = e;
    }
    *err = errno;
    return r;
}

static atomic_int stop;

static void *busy(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        usleep(1000);
    return NULL;
}

static void *waiter(void *arg)
{
    int how = (int)(intptr_t)arg;
    sigset_t open_mask, closed_mask;
    pthread_sigmask(SIG_BLOCK, NULL, &open_mask);
    closed_mask = open_mask;
    sigdelset(&open_mask, SIGCHLD);	/* the wait lets SIGCHLD through */
    int err;

    /* 1. the child exits while we wait */
    atomic_store(&handled, 0);
    atomic_store(&on_waiter, 0);
    spawn_child(50);
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    int r = masked_wait(how, &open_mask, 5000, &err);
    int64_t took = now_ns(CLOCK_MONOTONIC) - t0;
    CHECK(r == -1 && err == EINTR, "%s: returned %d (%s), want EINTR", names[how], r, strerror(err));
    CHECK(atomic_load(&handled) == 1 && atomic_load(&on_waiter) == 1,
          "%s: handler ran %d times, %d on the waiting thread", names[how], atomic_load(&handled),
          atomic_load(&on_waiter));
    CHECK(took < 3000000000, "%s: EINTR only after %lld ms", names[how], (long long)(took / 1000000));

    /* 2. already pending when the wait starts */
    atomic_store(&handled, 0);
    spawn_child(0);
    sigset_t pend;
    for (int i = 0; i < 2000; i++) {
        sigpending(&pend);
        if (sigismember(&pend, SIGCHLD))
            break;
        usleep(1000);
    }
    CHECK(sigismember(&pend, SIGCHLD), "%s: SIGCHLD never pending", names[how]);
    r = masked_wait(how, &open_mask, 5000, &err);
    CHECK(r == -1 && err == EINTR && atomic_load(&handled) == 1,
          "%s: with SIGCHLD pending: %d (%s), handler ran %d times", names[how], r, strerror(err),
          atomic_load(&handled));

    /* 3. a mask that keeps it blocked: timeout, still pending */
    atomic_store(&handled, 0);
    spawn_child(0);
    usleep(100000);
    r = masked_wait(how, &closed_mask, 100, &err);
    CHECK(r == 0 && atomic_load(&handled) == 0, "%s: blocked mask: %d (%s), handler ran %d times", names[how],
          r, strerror(err), atomic_load(&handled));
    sigpending(&pend);
    CHECK(sigismember(&pend, SIGCHLD), "%s: SIGCHLD no longer pending", names[how]);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    siginfo_t si;
    CHECK(sigwaitinfo(&chld, &si) == SIGCHLD, "sigwaitinfo");
    int st;
    while (waitpid(-1, &st, 0) > 0)
        ;
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    CHECK(sigaction(SIGCHLD, &sa, NULL) == 0, "sigaction");
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    PT(pthread_sigmask(SIG_BLOCK, &chld, NULL));	/* inherited by every thread */
    CHECK(pipe(pfd) == 0, "pipe");
    pthread_t b;
    PT(pthread_create(&b, NULL, busy, NULL));
    for (int how = PSELECT; how <= EPOLL_PWAIT; how++) {
        PT(pthread_create(&waiter_thread, NULL, waiter, (void *)(intptr_t)how));
        PT(pthread_join(waiter_thread, NULL));
        printf("%s: SIGCHLD let through by the mask interrupts the wait on the waiting thread; "
               "pending at entry ends it at once; kept blocked, it stays pending\n", names[how]);
    }
    atomic_store(&stop, 1);
    PT(pthread_join(b, NULL));
    return 0;
}
