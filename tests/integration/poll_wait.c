/* poll_wait - poll, ppoll, select, pselect, epoll_wait, epoll_pwait and
 * epoll_pwait2 with timeouts and with readiness; scripts/test runs it with
 * GRUN_MAXPROCS=1, where a wait that blocked the only OS thread would
 * stall the thread that makes the fd ready.
 *  - timeouts: each call on an idle pipe returns 0 after >= its timeout
 *    (150 ms) and well before 2 s; select's timeval is left at 0;
 *    poll(NULL, 0, 100) sleeps >= 100 ms; a zero timeout returns 0 at once;
 *  - readiness: a thread writes to the pipe 100 ms later; each call
 *    (timeout 5 s, or none) returns 1 with the read event, after >= 100 ms;
 *  - a ready fd among idle ones: counts and revents exact; POLLOUT on an
 *    empty pipe is immediate; POLLHUP once the write end is closed;
 *  - an epoll fd is itself pollable: poll() on it reports POLLIN when an
 *    fd in its interest list becomes ready later;
 *  - level and edge triggering in epoll_wait, as the kernel gives;
 *  - 100 threads each poll() their own pipe (timeout 10 s); main writes to
 *    each after they wait: all wake with POLLIN. */
#include "netutil.h"

#include <sys/epoll.h>
#include <sys/select.h>

#define TMO 150

static int late_pipe;
static int late_ms = 100;
static void *late_writer(void *arg)
{
    usleep((useconds_t)late_ms * 1000);
    write_full(late_pipe, "x", 1);
    return NULL;
}

static void drain(int fd)
{
    char c;
    CHECK(read(fd, &c, 1) == 1, "drain");
}

/* Returns ms taken; checks the call returned `want`. */
#define TIMED(call, want, what, lo, hi)                                             \
    do {                                                                            \
        int64_t t0_ = now_ns(CLOCK_MONOTONIC);                                      \
        int r_ = (call);                                                            \
        int e_ = errno;                                                             \
        int64_t ms_ = ms_since(t0_);                                                \
        CHECK(r_ == (want), "%s: returned %d (%s), want %d", what, r_,              \
              r_ < 0 ? strerror(e_) : "", (want));                                  \
        CHECK(ms_ >= (lo) && ms_ < (hi), "%s: took %lld ms, want [%d, %d)", what,    \
              (long long)ms_, (lo), (hi));                                          \
    } while (0)

#define NPOLL 100
static int many[NPOLL][2];
static struct gate waiting = GATE_INIT;
static void *poller(void *arg)
{
    int i = (int)(intptr_t)arg;
    struct pollfd p = { .fd = many[i][0], .events = POLLIN };
    gate_add(&waiting, 1);
    int r = poll(&p, 1, 10000);
    CHECK(r == 1 && p.revents == POLLIN, "poller %d: %d, revents %#x", i, r, p.revents);
    drain(many[i][0]);
    return NULL;
}

int main(void)
{
    int p[2], q[2];
    pthread_t t;
    CHECK(pipe(p) == 0 && pipe(q) == 0, "pipe");

    /* --- timeouts --- */
    struct pollfd pf = { .fd = p[0], .events = POLLIN };
    TIMED(poll(&pf, 1, TMO), 0, "poll timeout", TMO, 2000);
    struct timespec ts = { 0, TMO * 1000000L };
    TIMED(ppoll(&pf, 1, &ts, NULL), 0, "ppoll timeout", TMO, 2000);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv = { 0, TMO * 1000L };
    TIMED(select(p[0] + 1, &rs, NULL, NULL, &tv), 0, "select timeout", TMO, 2000);
    CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "select left %ld.%06ld in its timeval",
          (long)tv.tv_sec, (long)tv.tv_usec);
    CHECK(!FD_ISSET(p[0], &rs), "select timed out but left the fd set");
    FD_SET(p[0], &rs);
    TIMED(pselect(p[0] + 1, &rs, NULL, NULL, &ts, NULL), 0, "pselect timeout", TMO, 2000);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0, "epoll_create1");
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1234 }, out[4];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "epoll_ctl");
    TIMED(epoll_wait(ep, out, 4, TMO), 0, "epoll_wait timeout", TMO, 2000);
    TIMED(epoll_pwait(ep, out, 4, TMO, NULL), 0, "epoll_pwait timeout", TMO, 2000);
    TIMED(epoll_pwait2(ep, out, 4, &ts, NULL), 0, "epoll_pwait2 timeout", TMO, 2000);
    TIMED(poll(NULL, 0, 100), 0, "poll(NULL, 0, 100)", 100, 2000);
    TIMED(poll(&pf, 1, 0), 0, "poll with timeout 0", 0, 100);
    TIMED(epoll_wait(ep, out, 4, 0), 0, "epoll_wait with timeout 0", 0, 100);
    struct timeval zero = { 0, 0 };
    TIMED(select(p[0] + 1, &rs, NULL, NULL, &zero), 0, "select with timeout 0", 0, 100);
    printf("poll, ppoll, select, pselect, epoll_wait, epoll_pwait, epoll_pwait2: "
           "0 after >= %d ms on an idle pipe: OK\n", TMO);
    printf("poll(NULL, 0, 100) sleeps, zero timeouts return at once: OK\n");

    /* --- readiness, 100 ms later --- */
    late_pipe = p[1];
#define LATE(call, what, check)                                     \
    do {                                                            \
        PT(pthread_create(&t, NULL, late_writer, NULL));            \
        TIMED(call, 1, what, 100, 4000);                            \
        CHECK(check, "%s: wrong event", what);                      \
        PT(pthread_join(t, NULL));                                  \
        drain(p[0]);                                                \
    } while (0)
    pf.revents = 0;
    LATE(poll(&pf, 1, 5000), "poll readiness", pf.revents == POLLIN);
    LATE(poll(&pf, 1, -1), "poll readiness, no timeout", pf.revents == POLLIN);
    struct timespec five = { 5, 0 };
    LATE(ppoll(&pf, 1, &five, NULL), "ppoll readiness", pf.revents == POLLIN);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    LATE(select(p[0] + 1, &rs, NULL, NULL, &tv), "select readiness", FD_ISSET(p[0], &rs));
    CHECK(tv.tv_sec < 5 && tv.tv_sec >= 3, "select left %ld s of 5", (long)tv.tv_sec);
    LATE(select(p[0] + 1, &rs, NULL, NULL, NULL), "select readiness, no timeout", FD_ISSET(p[0], &rs));
    LATE(pselect(p[0] + 1, &rs, NULL, NULL, &five, NULL), "pselect readiness", FD_ISSET(p[0], &rs));
    LATE(epoll_wait(ep, out, 4, 5000), "epoll_wait readiness",
         out[0].events == EPOLLIN && out[0].data.u64 == 0x1234);
    LATE(epoll_wait(ep, out, 4, -1), "epoll_wait readiness, no timeout", out[0].events == EPOLLIN);
    LATE(epoll_pwait(ep, out, 4, 5000, NULL), "epoll_pwait readiness", out[0].events == EPOLLIN);
    LATE(epoll_pwait2(ep, out, 4, &five, NULL), "epoll_pwait2 readiness", out[0].events == EPOLLIN);
    printf("each of them returns 1 with the read event when a thread writes 100 ms later: OK\n");

    /* --- several fds --- */
    struct pollfd two[3] = { { p[0], POLLIN, 0 }, { q[0], POLLIN, 0 }, { q[1], POLLOUT, 0 } };
    TIMED(poll(two, 3, 5000), 1, "poll: POLLOUT on an empty pipe", 0, 100);
    CHECK(two[0].revents == 0 && two[1].revents == 0 && two[2].revents == POLLOUT, "revents %#x %#x %#x",
          two[0].revents, two[1].revents, two[2].revents);
    write_full(q[1], "y", 1);
    TIMED(poll(two, 2, 5000), 1, "poll: one ready fd of two", 0, 100);
    CHECK(two[0].revents == 0 && two[1].revents == POLLIN, "revents %#x %#x", two[0].revents, two[1].revents);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    FD_SET(q[0], &rs);
    fd_set ws;
    FD_ZERO(&ws);
    FD_SET(q[1], &ws);
    tv.tv_sec = 5;
    int maxfd = p[0] > q[1] ? p[0] : q[1];
    maxfd = maxfd > q[0] ? maxfd : q[0];
    TIMED(select(maxfd + 1, &rs, &ws, NULL, &tv), 2, "select: one readable, one writable", 0, 100);
    CHECK(!FD_ISSET(p[0], &rs) && FD_ISSET(q[0], &rs) && FD_ISSET(q[1], &ws), "select sets");
    drain(q[0]);
    CHECK(close(q[1]) == 0, "close");
    two[1].events = POLLIN;
    TIMED(poll(&two[1], 1, 5000), 1, "poll: POLLHUP after the writer closed", 0, 100);
    CHECK(two[1].revents == POLLHUP, "revents %#x, want POLLHUP", two[1].revents);
    close(q[0]);
    printf("several fds: counts, revents and fd sets exact, POLLOUT and POLLHUP: OK\n");

    /* --- an epoll fd in poll() --- */
    struct pollfd epf = { .fd = ep, .events = POLLIN };
    TIMED(poll(&epf, 1, 0), 0, "poll on an idle epoll fd", 0, 100);
    LATE(poll(&epf, 1, 5000), "poll on an epoll fd that becomes ready", epf.revents == POLLIN);
    printf("an epoll fd is pollable: POLLIN when its fd becomes ready: OK\n");

    /* --- level and edge triggering --- */
    write_full(p[1], "ab", 2);
    TIMED(epoll_wait(ep, out, 4, 1000), 1, "epoll level-triggered", 0, 100);
    TIMED(epoll_wait(ep, out, 4, 1000), 1, "epoll level-triggered, again", 0, 100);
    ev.events = EPOLLIN | EPOLLET;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "EPOLL_CTL_MOD");
    TIMED(epoll_wait(ep, out, 4, 1000), 1, "epoll edge-triggered after MOD", 0, 100);
    TIMED(epoll_wait(ep, out, 4, 100), 0, "epoll edge-triggered, no new edge", 100, 2000);
    LATE(epoll_wait(ep, out, 4, 5000), "epoll edge-triggered, new data", out[0].events == EPOLLIN);
    drain(p[0]);
    drain(p[0]);
    printf("epoll level and edge triggering as the kernel gives: OK\n");
    close(ep);

    /* --- many pollers --- */
    static pthread_t th[NPOLL];
    for (int i = 0; i < NPOLL; i++) {
        CHECK(pipe(many[i]) == 0, "pipe %d", i);
        PT(pthread_create(&th[i], NULL, poller, (void *)(intptr_t)i));
    }
    gate_wait(&waiting, NPOLL);
    usleep(50000);
    for (int i = 0; i < NPOLL; i++)
        write_full(many[i][1], "z", 1);
    for (int i = 0; i < NPOLL; i++) {
        PT(pthread_join(th[i], NULL));
        close(many[i][0]);
        close(many[i][1]);
    }
    printf("%d threads in poll() at once all wake with POLLIN: OK\n", NPOLL);
    return 0;
}
