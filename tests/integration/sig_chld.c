/* sig_chld - a SIGCHLD handler (SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP)
 * reaps the children that several threads fork.
 * 8 threads each fork 4 children; child k of thread t sleeps 0..30 ms and
 * exits with status 1 + 4t + k (1..32, all distinct). The handler loops on
 * waitpid(-1, WNOHANG) (standard signals coalesce, so one SIGCHLD may stand
 * for several children) and records each (pid, status) with async-signal-
 * safe code. Meanwhile the forking threads and main wait in nanosleep
 * loops, which the signal may interrupt (EINTR is retried). Checks: every
 * child is reaped exactly once, by the handler, with its own status
 * (matched by pid), the handler ran at least once, and waitpid afterwards
 * reports ECHILD (nothing left). */
#include "itest.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define NT 8
#define NK 4
#define NC (NT * NK)

static pid_t pids[NC];                /* written by the forking threads */
static _Atomic pid_t reaped_pid[NC];  /* written by the handler */
static int reaped_status[NC];
static atomic_int nreaped;
static atomic_int handler_runs;
static atomic_int bad_code;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    atomic_fetch_add(&handler_runs, 1);
    if (sig != SIGCHLD || si->si_signo != SIGCHLD ||
        (si->si_code != CLD_EXITED && si->si_code != CLD_KILLED && si->si_code != CLD_DUMPED))
        atomic_fetch_add(&bad_code, 1);
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p <= 0)
            break;
        int i = atomic_fetch_add(&nreaped, 1);
        if (i < NC) {
            reaped_status[i] = st;
            atomic_store(&reaped_pid[i], p);
        }
    }
    errno = saved;
}

static void *forker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int k = 0; k < NK; k++) {
        int idx = t * NK + k;
        pid_t p = fork();
        CHECK(p >= 0, "fork: %s", strerror(errno));
        if (p == 0) {
            struct timespec d = { 0, (long)((idx * 7) % 31) * 1000000L };
            nanosleep(&d, NULL);
            _exit(1 + idx);
        }
        pids[idx] = p;
        struct timespec d = { 0, 3000000 };
        while (nanosleep(&d, &d) != 0)
            CHECK(errno == EINTR, "nanosleep: %s", strerror(errno));
    }
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGCHLD, &sa, NULL) == 0, "sigaction");

    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&t[i], NULL, forker, (void *)(intptr_t)i));
    for (int i = 0; i < NT; i++)
        PT(pthread_join(t[i], NULL));

    int64_t limit = now_ns(CLOCK_MONOTONIC) + 10000000000LL;
    while (atomic_load(&nreaped) < NC) {
        CHECK(now_ns(CLOCK_MONOTONIC) < limit, "only %d of %d children reaped by the handler",
              atomic_load(&nreaped), NC);
        struct timespec d = { 0, 5000000 };
        nanosleep(&d, NULL);
    }
    /* Nothing more may arrive. */
    struct timespec d = { 0, 50000000 };
    nanosleep(&d, NULL);
    CHECK(atomic_load(&nreaped) == NC, "%d children reaped, want %d", atomic_load(&nreaped), NC);
    CHECK(atomic_load(&bad_code) == 0, "the handler got a wrong signal or si_code");
    CHECK(atomic_load(&handler_runs) >= 1, "the handler never ran");

    static bool seen[NC];
    for (int i = 0; i < NC; i++) {
        pid_t p = atomic_load(&reaped_pid[i]);
        int idx = -1;
        for (int j = 0; j < NC; j++)
            if (pids[j] == p)
                idx = j;
        CHECK(idx >= 0, "reaped pid %d is not one of our children", (int)p);
        CHECK(!seen[idx], "child %d reaped twice", idx);
        seen[idx] = true;
        CHECK(WIFEXITED(reaped_status[i]) && WEXITSTATUS(reaped_status[i]) == 1 + idx,
              "child %d: status 0x%x, want exit %d", idx, reaped_status[i], 1 + idx);
    }
    errno = 0;
    CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "children left after reaping");
    printf("%d children of %d threads reaped by the SIGCHLD handler, statuses 1..%d match\n",
           NC, NT, NC);
    return 0;
}
