/* sig_signalfd - signals read from a signalfd by a thread while others send.
 * SIGUSR1 and SIGRTMIN+3 are blocked in main before any thread exists, so
 * in every thread; no handler is involved.
 *  1. SIGUSR1, one at a time: a reader thread does blocking read()s on a
 *     signalfd for SIGUSR1; 4 sender threads take turns (a mutex) sending
 *     sigqueue(getpid(), SIGUSR1, id*1000+i), each waiting for the reader to
 *     acknowledge that value before the next (standard signals do not
 *     queue). 4 x 50 signals: every value read exactly once, ssi_code
 *     SI_QUEUE, ssi_pid our pid.
 *  2. SIGRTMIN+3, queued: the 4 senders send 100 each concurrently; the
 *     reader waits with poll(POLLIN) on a second, non-blocking signalfd and
 *     reads batches until it has all 400: every value exactly once, and each
 *     sender's values in the order sent.
 * The reader parks in read() and poll() while the senders run. */
#include "itest.h"

#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/signalfd.h>

#define NS 4
#define N1 50
#define N2 100

static int rtsig;
static pthread_mutex_t turn = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int acked = -1;
static struct gate go2 = GATE_INIT;

static void *sender(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < N1; i++) {
        int v = id * 1000 + i;
        PT(pthread_mutex_lock(&turn));
        CHECK(sigqueue(getpid(), SIGUSR1, (union sigval){ .sival_int = v }) == 0, "sigqueue: %s",
              strerror(errno));
        PT(pthread_mutex_lock(&mu));
        while (acked != v)
            PT(pthread_cond_wait(&cv, &mu));
        PT(pthread_mutex_unlock(&mu));
        PT(pthread_mutex_unlock(&turn));
    }
    gate_wait(&go2, 1);
    for (int i = 0; i < N2; i++)
        CHECK(sigqueue(getpid(), rtsig, (union sigval){ .sival_int = id * 1000 + i }) == 0,
              "sigqueue rt: %s", strerror(errno));
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    int fd = signalfd(-1, &s, SFD_CLOEXEC);
    CHECK(fd >= 0, "signalfd: %s", strerror(errno));
    static bool seen[NS][N2];
    for (int got = 0; got < NS * N1; got++) {
        struct signalfd_siginfo si;
        ssize_t n = read(fd, &si, sizeof si);
        CHECK(n == sizeof si, "read signalfd: %zd (%s)", n, strerror(errno));
        int v = si.ssi_int, id = v / 1000, i = v % 1000;
        CHECK(si.ssi_signo == (uint32_t)SIGUSR1 && si.ssi_code == SI_QUEUE && si.ssi_pid == (uint32_t)getpid(),
              "signalfd: signo %u code %d pid %u", si.ssi_signo, si.ssi_code, si.ssi_pid);
        CHECK(id >= 0 && id < NS && i >= 0 && i < N1 && !seen[id][i], "value %d unexpected or repeated", v);
        seen[id][i] = true;
        PT(pthread_mutex_lock(&mu));
        acked = v;
        PT(pthread_cond_broadcast(&cv));
        PT(pthread_mutex_unlock(&mu));
    }
    close(fd);
    printf("1. SIGUSR1: %d signals read from a blocking signalfd, each once\n", NS * N1);

    sigemptyset(&s);
    sigaddset(&s, rtsig);
    fd = signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
    CHECK(fd >= 0, "signalfd: %s", strerror(errno));
    memset(seen, 0, sizeof seen);
    int next[NS] = { 0 }, got = 0, polls = 0;
    gate_add(&go2, 1);
    while (got < NS * N2) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, 10000);
        CHECK(r == 1 && (p.revents & POLLIN), "poll on signalfd: %d (%s), %d of %d read", r,
              r < 0 ? strerror(errno) : "timeout", got, NS * N2);
        polls++;
        struct signalfd_siginfo si[32];
        ssize_t n = read(fd, si, sizeof si);
        CHECK(n > 0 && n % sizeof si[0] == 0, "read signalfd after POLLIN: %zd (%s)", n, strerror(errno));
        for (size_t k = 0; k < (size_t)n / sizeof si[0]; k++) {
            int v = si[k].ssi_int, id = v / 1000, i = v % 1000;
            CHECK(si[k].ssi_signo == (uint32_t)rtsig, "signo %u", si[k].ssi_signo);
            CHECK(id >= 0 && id < NS && i == next[id], "sender %d: value %d out of order (want %d)", id, i,
                  next[id]);
            next[id]++;
            got++;
        }
    }
    struct signalfd_siginfo extra;
    CHECK(read(fd, &extra, sizeof extra) == -1 && errno == EAGAIN, "a signal too many");
    close(fd);
    printf("2. SIGRTMIN+3: %d queued signals from %d threads read after poll, in order per sender\n",
           NS * N2, NS);
    return NULL;
}

int main(void)
{
    rtsig = SIGRTMIN + 3;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, rtsig);
    PT(pthread_sigmask(SIG_BLOCK, &s, NULL));
    pthread_t r, t[NS];
    PT(pthread_create(&r, NULL, reader, NULL));
    for (int i = 0; i < NS; i++)
        PT(pthread_create(&t[i], NULL, sender, (void *)(intptr_t)i));
    for (int i = 0; i < NS; i++)
        PT(pthread_join(t[i], NULL));
    PT(pthread_join(r, NULL));
    sigset_t p;
    CHECK(sigpending(&p) == 0 && !sigismember(&p, SIGUSR1) && !sigismember(&p, rtsig),
          "signals left pending");
    return 0;
}
