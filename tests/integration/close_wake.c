/* close_wake - close() of a descriptor while another thread is blocked
 * reading it. A DOCUMENTED DIVERGENCE (tests/README.md, shims/io.c):
 *   natively  Linux does not wake the reader: its read() holds the open
 *             file and stays blocked until the file itself has data or EOF
 *             (here: the write end is closed later, so read returns 0);
 *   libgrun   wakes the blocked reader promptly with -1/EBADF, before the
 *             fd number can be reused (no hang, no read from the next file
 *             that gets that number).
 * The program is built so both runs end and print the same lines; the
 * libgrun-specific results are checked only when under_grun(), the native
 * ones only when not. Cases:
 *  - a reader blocked in read() on a pipe; main closes the read end; then
 *    main makes a new pipe (usually getting the same number back) and
 *    writes into it: the new pipe's bytes stay intact for main whatever
 *    the old reader does; finally main closes the old write end;
 *  - a reader blocked in recv() on a TCP socket; main closes it, then the
 *    peer closes its end;
 *  - a thread blocked in accept(); main closes the listening socket, then
 *    connects to its port (natively the still-open listener accepts it;
 *    under libgrun the listener is gone by then and the connect is
 *    refused). */
#include "netutil.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct gate entered = GATE_INIT;
static int target;
static int done;
static long result;
static int result_err;
static char got[64];

enum op { READ, RECV, ACCEPT };

static void *blocked(void *arg)
{
    enum op op = (enum op)(intptr_t)arg;
    long r;
    gate_add(&entered, 1);
    errno = 0;
    if (op == READ)
        r = read(target, got, sizeof got);
    else if (op == RECV)
        r = recv(target, got, sizeof got, 0);
    else
        r = accept(target, NULL, NULL);
    PT(pthread_mutex_lock(&mu));
    result = r;
    result_err = errno;
    done = 1;
    PT(pthread_cond_broadcast(&cv));
    PT(pthread_mutex_unlock(&mu));
    return NULL;
}

/* Waits up to ms for the blocked thread; returns whether it finished. */
static int wait_done(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t dl = ts_to_ns(&ts) + (int64_t)ms * 1000000;
    ts = ns_to_ts(dl);
    PT(pthread_mutex_lock(&mu));
    while (!done) {
        int e = pthread_cond_timedwait(&cv, &mu, &ts);
        if (e == ETIMEDOUT)
            break;
        CHECK(e == 0, "timedwait: %s", strerror(e));
    }
    int d = done;
    PT(pthread_mutex_unlock(&mu));
    return d;
}

static pthread_t start(enum op op, int fd)
{
    pthread_t t;
    target = fd;
    done = 0;
    entered.count = 0;
    PT(pthread_create(&t, NULL, blocked, (void *)(intptr_t)op));
    gate_wait(&entered, 1);
    usleep(100000); /* let it block */
    CHECK(!done, "the thread did not block");
    return t;
}

int main(void)
{
    bool grun = under_grun();
    int p[2], q[2];

    /* --- pipe --- */
    CHECK(pipe(p) == 0, "pipe");
    pthread_t t = start(READ, p[0]);
    int old = p[0];
    CHECK(close(p[0]) == 0, "close: %s", strerror(errno));
    int woke = wait_done(1000);
    if (grun)
        CHECK(woke && result == -1 && result_err == EBADF,
              "libgrun: reader after close: done %d, %ld (%s), want -1/EBADF within 1 s", woke,
              result, strerror(result_err));
    else
        CHECK(!woke, "native: the reader woke on close (%ld): Linux no longer behaves as documented",
              result);
    CHECK(pipe(q) == 0, "pipe");
    write_full(q[1], "fresh", 5);
    usleep(50000);
    char buf[8];
    CHECK(read(q[0], buf, sizeof buf) == 5 && memcmp(buf, "fresh", 5) == 0,
          "the new pipe (fd %d, old reader's fd was %d) lost its bytes", q[0], old);
    CHECK(close(p[1]) == 0, "close");
    PT(pthread_join(t, NULL));
    if (!grun)
        CHECK(result == 0, "native: reader got %ld (%s), want EOF once the writer closed", result,
              strerror(result_err));
    printf("close while a thread reads a pipe: the reader ends (EBADF under libgrun, "
           "EOF natively once the writer closes); the fd's next file is untouched: OK\n");
    close(q[0]);
    close(q[1]);

    /* --- socket --- */
    int fds[2];
    tcp_pair(fds);
    t = start(RECV, fds[0]);
    CHECK(close(fds[0]) == 0, "close");
    woke = wait_done(1000);
    if (grun)
        CHECK(woke && result == -1 && result_err == EBADF,
              "libgrun: recv after close: done %d, %ld (%s), want -1/EBADF", woke, result,
              strerror(result_err));
    else
        CHECK(!woke, "native: recv woke on close (%ld)", result);
    CHECK(close(fds[1]) == 0, "close");
    PT(pthread_join(t, NULL));
    if (!grun)
        CHECK(result == 0, "native: recv got %ld (%s), want EOF", result, strerror(result_err));
    printf("close while a thread is in recv: the receiver ends: OK\n");

    /* --- listening socket --- */
    int port, l = listen_local(4, &port);
    t = start(ACCEPT, l);
    CHECK(close(l) == 0, "close");
    woke = wait_done(1000);
    if (grun)
        CHECK(woke && result == -1 && result_err == EBADF,
              "libgrun: accept after close: done %d, %ld (%s), want -1/EBADF", woke, result,
              strerror(result_err));
    else
        CHECK(!woke, "native: accept woke on close (%ld)", result);
    int c = dial(port);
    if (!grun)
        CHECK(c >= 0, "native: connect to the closed-but-still-accepting listener: %s", strerror(errno));
    PT(pthread_join(t, NULL));
    if (!grun)
        CHECK(result >= 0, "native: accept got %ld (%s)", result, strerror(result_err));
    if (result >= 0)
        close((int)result);
    if (c >= 0)
        close(c);
    printf("close while a thread is in accept: the acceptor ends: OK\n");
    return 0;
}
