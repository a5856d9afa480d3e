/* sig_eintr - a process-directed SIGALRM (setitimer ITIMER_REAL) lands on
 * the one thread that does not block it, while that thread is blocked in a
 * system call, and the call ends exactly as natively:
 *  - read() on an empty pipe: -1 EINTR without SA_RESTART; with SA_RESTART
 *    the read goes on and returns the byte written after the signal;
 *  - recv() on a socketpair: the same two cases;
 *  - nanosleep(2 s): -1 EINTR with the remaining time filled in (between 0
 *    and 2 s), even with SA_RESTART (nanosleep is never restarted);
 *  - sem_wait() on a zero semaphore: -1 EINTR without SA_RESTART;
 *  - poll() and select() with no timeout: -1 EINTR even with SA_RESTART;
 *  - pthread_cond_wait(): never EINTR; the handler runs on the waiter and
 *    the wait returns 0 (spuriously or when signalled after the handler).
 * In every case the handler runs exactly once, on the blocked thread
 * (pthread_self() in the handler). main and every other thread block
 * SIGALRM with pthread_sigmask (one of them wakes every millisecond), so
 * natively the kernel must pick the blocked thread. The blocked thread announces itself and main waits 100 ms
 * before arming the 50 ms timer, so the call is in progress when it fires. */
#include "itest.h"

#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>

static volatile sig_atomic_t hits;
static pthread_t handler_thread;

static void on_alarm(int sig)
{
    (void)sig;
    handler_thread = pthread_self();
    hits++;
}

enum op { OP_READ, OP_RECV, OP_NANOSLEEP, OP_SEM, OP_POLL, OP_SELECT, OP_COND };

struct variant {
    const char *name;
    enum op op;
    bool restart;       /* SA_RESTART on the handler */
    bool feed;          /* main supplies data/wakes the call after the handler */
};

static const struct variant variants[] = {
    { "read, no SA_RESTART", OP_READ, false, false },
    { "read, SA_RESTART", OP_READ, true, true },
    { "recv, no SA_RESTART", OP_RECV, false, false },
    { "recv, SA_RESTART", OP_RECV, true, true },
    { "nanosleep, no SA_RESTART", OP_NANOSLEEP, false, false },
    { "nanosleep, SA_RESTART", OP_NANOSLEEP, true, false },
    { "sem_wait, no SA_RESTART", OP_SEM, false, false },
    { "poll, SA_RESTART", OP_POLL, true, false },
    { "select, SA_RESTART", OP_SELECT, true, false },
    { "pthread_cond_wait, no SA_RESTART", OP_COND, false, true },
    { "pthread_cond_wait, SA_RESTART", OP_COND, true, true },
};

static const struct variant *cur;
static int fds[2];
static sem_t sem;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int pred;
static struct gate ready = GATE_INIT;
static char result[200];

static void *blocked(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    PT(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
    char c = 0;
    ssize_t n;
    int r, e;
    switch (cur->op) {
    case OP_READ:
    case OP_RECV:
        gate_add(&ready, 1);
        n = cur->op == OP_READ ? read(fds[0], &c, 1) : recv(fds[0], &c, 1, 0);
        e = errno;
        if (cur->feed)
            CHECK(n == 1 && c == 'x', "%s: returned %zd (%s), want the byte", cur->name, n,
                  n < 0 ? strerrorname_np(e) : "-");
        else
            CHECK(n == -1 && e == EINTR, "%s: returned %zd (%s), want -1 EINTR", cur->name, n,
                  n < 0 ? strerrorname_np(e) : "data");
        snprintf(result, sizeof result, "%s", n == 1 ? "returned the byte written later" : "-1 EINTR");
        break;
    case OP_NANOSLEEP: {
        struct timespec req = { 2, 0 }, rem = { -1, -1 };
        gate_add(&ready, 1);
        r = nanosleep(&req, &rem);
        e = errno;
        CHECK(r == -1 && e == EINTR, "%s: returned %d (%s), want -1 EINTR", cur->name, r,
              r ? strerrorname_np(e) : "-");
        CHECK(ts_to_ns(&rem) > 0 && ts_to_ns(&rem) < 2000000000LL && rem.tv_nsec < 1000000000L,
              "%s: remaining time %ld.%09ld s, want within (0, 2 s)", cur->name,
              (long)rem.tv_sec, rem.tv_nsec);
        snprintf(result, sizeof result, "-1 EINTR, remaining time within (0, 2 s)");
        break;
    }
    case OP_SEM:
        gate_add(&ready, 1);
        r = sem_wait(&sem);
        e = errno;
        CHECK(r == -1 && e == EINTR, "%s: returned %d (%s), want -1 EINTR", cur->name, r,
              r ? strerrorname_np(e) : "-");
        snprintf(result, sizeof result, "-1 EINTR");
        break;
    case OP_POLL: {
        struct pollfd p = { .fd = fds[0], .events = POLLIN };
        gate_add(&ready, 1);
        r = poll(&p, 1, -1);
        e = errno;
        CHECK(r == -1 && e == EINTR, "%s: returned %d (%s), want -1 EINTR", cur->name, r,
              r < 0 ? strerrorname_np(e) : "-");
        snprintf(result, sizeof result, "-1 EINTR");
        break;
    }
    case OP_SELECT: {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(fds[0], &rd);
        gate_add(&ready, 1);
        r = select(fds[0] + 1, &rd, NULL, NULL, NULL);
        e = errno;
        CHECK(r == -1 && e == EINTR, "%s: returned %d (%s), want -1 EINTR", cur->name, r,
              r < 0 ? strerrorname_np(e) : "-");
        snprintf(result, sizeof result, "-1 EINTR");
        break;
    }
    case OP_COND:
        PT(pthread_mutex_lock(&mu));
        gate_add(&ready, 1);
        while (!pred) {
            r = pthread_cond_wait(&cv, &mu);
            CHECK(r == 0, "%s: pthread_cond_wait returned %s", cur->name, strerrorname_np(r));
        }
        PT(pthread_mutex_unlock(&mu));
        snprintf(result, sizeof result, "returned 0, never EINTR");
        break;
    }
    return NULL;
}

static atomic_int stop;

static void *bystander(void *arg)
{
    (void)arg;
    struct timespec ms = { 0, 1000000 };
    while (!atomic_load(&stop))
        CHECK(nanosleep(&ms, NULL) == 0, "bystander's nanosleep: %s", strerrorname_np(errno));
    return NULL;
}

static void run(const struct variant *v)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = v->restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
    if (v->op == OP_RECV)
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair: %s", strerror(errno));
    else
        CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    CHECK(sem_init(&sem, 0, 0) == 0, "sem_init");
    cur = v;
    pred = 0;
    hits = 0;
    ready.count = 0;
    result[0] = 0;

    pthread_t t;
    PT(pthread_create(&t, NULL, blocked, NULL));
    gate_wait(&ready, 1);
    struct timespec d = { 0, 100000000 };
    nanosleep(&d, NULL);
    struct itimerval it = { { 0, 0 }, { 0, 50000 } };
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer: %s", strerror(errno));
    int64_t limit = now_ns(CLOCK_MONOTONIC) + 10000000000LL;
    while (hits == 0) {
        CHECK(now_ns(CLOCK_MONOTONIC) < limit, "%s: SIGALRM handler never ran", v->name);
        struct timespec ms = { 0, 2000000 };
        nanosleep(&ms, NULL);
    }
    CHECK(pthread_equal(handler_thread, t), "%s: the handler ran on another thread", v->name);
    if (v->feed) {
        d.tv_nsec = 50000000;
        nanosleep(&d, NULL);
        if (v->op == OP_COND) {
            PT(pthread_mutex_lock(&mu));
            pred = 1;
            PT(pthread_cond_signal(&cv));
            PT(pthread_mutex_unlock(&mu));
        } else {
            CHECK(write(fds[1], "x", 1) == 1, "write: %s", strerror(errno));
        }
    }
    PT(pthread_join(t, NULL));
    CHECK(hits == 1, "%s: the handler ran %d times", v->name, (int)hits);
    close(fds[0]);
    close(fds[1]);
    sem_destroy(&sem);
    printf("%-34s %s; handler ran once, on the blocked thread\n", v->name, result);
}

int main(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    PT(pthread_sigmask(SIG_BLOCK, &s, NULL));
    /* A bystander thread that blocks SIGALRM too (inherited mask) and keeps
     * waking up: the signal must not land on it. */
    pthread_t by;
    PT(pthread_create(&by, NULL, bystander, NULL));
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        run(&variants[i]);
    atomic_store(&stop, 1);
    PT(pthread_join(by, NULL));
    return 0;
}
