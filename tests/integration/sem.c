/* sem - POSIX semaphores:
 *  - sem_init above SEM_VALUE_MAX -> EINVAL; sem_getvalue follows
 *    post/wait/trywait; sem_trywait at 0 -> EAGAIN; sem_post at
 *    SEM_VALUE_MAX -> EOVERFLOW;
 *  - sem_timedwait (REALTIME) and sem_clockwait (MONOTONIC and REALTIME)
 *    at 0 -> ETIMEDOUT, never early; a past deadline times out at once;
 *    tv_nsec out of range or a bad clock id -> EINVAL, also when the value
 *    is not 0 (glibc validates first) and without taking it; a timed
 *    wait that a post reaches first returns 0;
 *  - sem_wait blocks until another thread posts;
 *  - a bounded buffer (empty/full semaphores + a mutex), 4 producers and 4
 *    consumers, 20000 items each: every item consumed exactly once;
 *  - named semaphores within one process: sem_open O_CREAT|O_EXCL, a
 *    second sem_open of the same name shares the value, O_EXCL again ->
 *    EEXIST, a thread blocked on the named semaphore is woken by a post,
 *    sem_close, sem_unlink, then sem_open without O_CREAT -> ENOENT and
 *    sem_unlink -> ENOENT;
 *  - pshared=1 semaphore in a MAP_SHARED mapping: a fork()ed child posts 3
 *    times and _exits; the parent's 3 sem_waits return and the child
 *    exited 0. */
#include "itest.h"

#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define WAIT_NS (150 * 1000000LL)

#define EXPECT_ERRNO(call, want)                                                    \
    do {                                                                            \
        errno = 0;                                                                  \
        int rc_ = (call);                                                           \
        CHECK(rc_ == -1 && errno == (want), "%s -> %d errno %s, want -1 %s", #call,  \
              rc_, strerrorname_np(errno), strerrorname_np(want));                  \
    } while (0)

#define OK(call)                                                                    \
    do {                                                                            \
        if ((call) != 0)                                                            \
            FAIL("%s -> %s", #call, strerrorname_np(errno));                        \
    } while (0)

static int value(sem_t *s)
{
    int v = -1;
    OK(sem_getvalue(s, &v));
    return v;
}

static void check_basics(void)
{
    sem_t s;
    EXPECT_ERRNO(sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1), EINVAL);
    OK(sem_init(&s, 0, 2));
    CHECK(value(&s) == 2, "initial value %d", value(&s));
    OK(sem_wait(&s));
    OK(sem_trywait(&s));
    CHECK(value(&s) == 0, "value %d after 2 waits", value(&s));
    EXPECT_ERRNO(sem_trywait(&s), EAGAIN);
    OK(sem_post(&s));
    OK(sem_post(&s));
    OK(sem_post(&s));
    CHECK(value(&s) == 3, "value %d after 3 posts", value(&s));
    for (int i = 0; i < 3; i++)
        OK(sem_trywait(&s));
    EXPECT_ERRNO(sem_trywait(&s), EAGAIN);
    OK(sem_destroy(&s));
    printf("init/getvalue/wait/trywait/post, EINVAL, EAGAIN OK\n");

    OK(sem_init(&s, 0, SEM_VALUE_MAX));
    CHECK(value(&s) == SEM_VALUE_MAX, "value %d", value(&s));
    EXPECT_ERRNO(sem_post(&s), EOVERFLOW);
    CHECK(value(&s) == SEM_VALUE_MAX, "value %d after EOVERFLOW", value(&s));
    OK(sem_destroy(&s));
    printf("sem_post at SEM_VALUE_MAX: EOVERFLOW OK\n");
}

/* --- timed waits ---------------------------------------------------------- */

static void check_timeout(const char *what, int rc, clockid_t clk, int64_t deadline,
                          int64_t started_mono)
{
    int e = errno;
    int64_t now = now_ns(clk);
    int64_t took = now_ns(CLOCK_MONOTONIC) - started_mono;
    CHECK(rc == -1 && e == ETIMEDOUT, "%s -> %d errno %s, want ETIMEDOUT", what, rc,
          strerrorname_np(e));
    CHECK(now >= deadline, "%s returned %lld ns before its deadline", what,
          (long long)(deadline - now));
    CHECK(took < 5000000000LL, "%s took %lld ms", what, (long long)(took / 1000000));
    printf("%s: ETIMEDOUT, not early OK\n", what);
}

#define TIMED(what, clk, call)                                                 \
    do {                                                                       \
        int64_t start_ = now_ns(CLOCK_MONOTONIC);                              \
        int64_t deadline_ = now_ns(clk) + WAIT_NS;                             \
        struct timespec ts = ns_to_ts(deadline_);                              \
        int rc_;                                                               \
        do                                                                     \
            rc_ = (call);                                                      \
        while (rc_ == -1 && errno == EINTR);                                   \
        check_timeout(what, rc_, clk, deadline_, start_);                      \
    } while (0)

static sem_t later;
static void *post_later(void *arg)
{
    usleep(20000);
    OK(sem_post(&later));
    return NULL;
}

static void check_timed(void)
{
    sem_t s;
    struct timespec ts;
    OK(sem_init(&s, 0, 0));
    TIMED("sem_timedwait", CLOCK_REALTIME, sem_timedwait(&s, &ts));
    TIMED("sem_clockwait(MONOTONIC)", CLOCK_MONOTONIC, sem_clockwait(&s, CLOCK_MONOTONIC, &ts));
    TIMED("sem_clockwait(REALTIME)", CLOCK_REALTIME, sem_clockwait(&s, CLOCK_REALTIME, &ts));

    int64_t start = now_ns(CLOCK_MONOTONIC);
    ts = ns_to_ts(now_ns(CLOCK_REALTIME) - 1000000000LL);
    EXPECT_ERRNO(sem_timedwait(&s, &ts), ETIMEDOUT);
    ts = ns_to_ts(now_ns(CLOCK_MONOTONIC) - 1000000000LL);
    EXPECT_ERRNO(sem_clockwait(&s, CLOCK_MONOTONIC, &ts), ETIMEDOUT);
    CHECK(now_ns(CLOCK_MONOTONIC) - start < 1000000000LL, "past deadline waited");
    printf("past deadlines: ETIMEDOUT at once OK\n");

    ts = ns_to_ts(now_ns(CLOCK_REALTIME) + WAIT_NS);
    ts.tv_nsec = 1000000000;
    EXPECT_ERRNO(sem_timedwait(&s, &ts), EINVAL);
    EXPECT_ERRNO(sem_clockwait(&s, CLOCK_MONOTONIC, &ts), EINVAL);
    ts.tv_nsec = -1;
    EXPECT_ERRNO(sem_timedwait(&s, &ts), EINVAL);
    ts = ns_to_ts(now_ns(CLOCK_MONOTONIC) + WAIT_NS);
    EXPECT_ERRNO(sem_clockwait(&s, (clockid_t)9999, &ts), EINVAL);
    EXPECT_ERRNO(sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &ts), EINVAL);
    CHECK(value(&s) == 0, "value %d", value(&s));
    /* glibc validates before trying: EINVAL even when the value is not 0,
     * and the value is left alone. */
    OK(sem_post(&s));
    ts.tv_nsec = 1000000000;
    EXPECT_ERRNO(sem_timedwait(&s, &ts), EINVAL);
    EXPECT_ERRNO(sem_clockwait(&s, CLOCK_REALTIME, &ts), EINVAL);
    ts.tv_nsec = 0;
    EXPECT_ERRNO(sem_clockwait(&s, (clockid_t)9999, &ts), EINVAL);
    CHECK(value(&s) == 1, "value %d after EINVALs, want 1", value(&s));
    OK(sem_trywait(&s));
    printf("bad tv_nsec / clock: EINVAL (at 0 and at 1) OK\n");

    /* A post before the deadline. */
    pthread_t t;
    OK(sem_init(&later, 0, 0));
    PT(pthread_create(&t, NULL, post_later, NULL));
    ts = ns_to_ts(now_ns(CLOCK_MONOTONIC) + 10000000000LL);
    int rc;
    while ((rc = sem_clockwait(&later, CLOCK_MONOTONIC, &ts)) == -1 && errno == EINTR)
        ;
    CHECK(rc == 0, "sem_clockwait woken by a post -> %s", strerrorname_np(errno));
    PT(pthread_join(t, NULL));
    PT(pthread_create(&t, NULL, post_later, NULL));
    ts = ns_to_ts(now_ns(CLOCK_REALTIME) + 10000000000LL);
    while ((rc = sem_timedwait(&later, &ts)) == -1 && errno == EINTR)
        ;
    CHECK(rc == 0, "sem_timedwait woken by a post -> %s", strerrorname_np(errno));
    PT(pthread_join(t, NULL));
    PT(pthread_create(&t, NULL, post_later, NULL));
    while ((rc = sem_wait(&later)) == -1 && errno == EINTR)
        ;
    CHECK(rc == 0, "sem_wait woken by a post -> %s", strerrorname_np(errno));
    PT(pthread_join(t, NULL));
    CHECK(value(&later) == 0, "value %d", value(&later));
    OK(sem_destroy(&later));
    OK(sem_destroy(&s));
    printf("sem_wait/timedwait/clockwait woken by a post OK\n");
}

/* --- producer / consumer ---------------------------------------------------- */

#define NPROD 4
#define NCONS 4
#define ITEMS 20000
#define SLOTS 16

static sem_t empty, full;
static pthread_mutex_t buf_mu = PTHREAD_MUTEX_INITIALIZER;
static int buf[SLOTS], head, tail;
static unsigned char seen[NPROD * ITEMS];

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < ITEMS; i++) {
        while (sem_wait(&empty) != 0)
            CHECK(errno == EINTR, "sem_wait(empty): %s", strerrorname_np(errno));
        PT(pthread_mutex_lock(&buf_mu));
        buf[head] = id * ITEMS + i;
        head = (head + 1) % SLOTS;
        PT(pthread_mutex_unlock(&buf_mu));
        OK(sem_post(&full));
    }
    return NULL;
}

static void *consumer(void *arg)
{
    for (int i = 0; i < ITEMS; i++) {
        if (i % 3 == 0) {
            while (sem_trywait(&full) != 0) {
                CHECK(errno == EAGAIN, "sem_trywait(full): %s", strerrorname_np(errno));
                sched_yield();
            }
        } else {
            while (sem_wait(&full) != 0)
                CHECK(errno == EINTR, "sem_wait(full): %s", strerrorname_np(errno));
        }
        PT(pthread_mutex_lock(&buf_mu));
        int v = buf[tail];
        tail = (tail + 1) % SLOTS;
        CHECK(v >= 0 && v < NPROD * ITEMS && !seen[v], "item %d bad or seen twice", v);
        seen[v] = 1;
        PT(pthread_mutex_unlock(&buf_mu));
        OK(sem_post(&empty));
    }
    return NULL;
}

static void check_prodcons(void)
{
    pthread_t t[NPROD + NCONS];
    OK(sem_init(&empty, 0, SLOTS));
    OK(sem_init(&full, 0, 0));
    for (int i = 0; i < NPROD; i++)
        PT(pthread_create(&t[i], NULL, producer, (void *)(intptr_t)i));
    for (int i = 0; i < NCONS; i++)
        PT(pthread_create(&t[NPROD + i], NULL, consumer, NULL));
    for (int i = 0; i < NPROD + NCONS; i++)
        PT(pthread_join(t[i], NULL));
    for (int i = 0; i < NPROD * ITEMS; i++)
        CHECK(seen[i], "item %d never consumed", i);
    CHECK(value(&empty) == SLOTS && value(&full) == 0, "values %d %d", value(&empty),
          value(&full));
    OK(sem_destroy(&empty));
    OK(sem_destroy(&full));
    printf("producer/consumer: %d producers, %d consumers, %d items exactly once OK\n", NPROD,
           NCONS, NPROD * ITEMS);
}

/* --- named semaphores --------------------------------------------------------- */

static sem_t *named_a;
static void *named_waiter(void *arg)
{
    while (sem_wait(named_a) != 0)
        CHECK(errno == EINTR, "sem_wait(named): %s", strerrorname_np(errno));
    gate_add(arg, 1);
    return NULL;
}

static void check_named(void)
{
    char name[64];
    snprintf(name, sizeof name, "/grun-itest-sem-%d", (int)getpid());
    sem_unlink(name);

    named_a = sem_open(name, O_CREAT | O_EXCL, 0600, 2);
    CHECK(named_a != SEM_FAILED, "sem_open(O_CREAT|O_EXCL): %s", strerrorname_np(errno));
    sem_t *b = sem_open(name, 0);
    CHECK(b != SEM_FAILED, "second sem_open: %s", strerrorname_np(errno));
    CHECK(value(b) == 2, "value through the second handle %d", value(b));
    OK(sem_wait(named_a));
    OK(sem_trywait(b));
    EXPECT_ERRNO(sem_trywait(named_a), EAGAIN);
    errno = 0;
    CHECK(sem_open(name, O_CREAT | O_EXCL, 0600, 0) == SEM_FAILED && errno == EEXIST,
          "O_CREAT|O_EXCL of an existing name: %s", strerrorname_np(errno));
    printf("named: open, reopen shares the value, EEXIST OK\n");

    struct gate woke = GATE_INIT;
    pthread_t t;
    PT(pthread_create(&t, NULL, named_waiter, &woke));
    usleep(20000);
    CHECK(woke.count == 0, "waiter did not wait");
    OK(sem_post(b));
    gate_wait(&woke, 1);
    PT(pthread_join(t, NULL));
    CHECK(value(named_a) == 0, "value %d", value(named_a));
    printf("named: waiter woken by a post through the other handle OK\n");

    OK(sem_close(b));
    OK(sem_close(named_a));
    OK(sem_unlink(name));
    errno = 0;
    CHECK(sem_open(name, 0) == SEM_FAILED && errno == ENOENT, "sem_open after unlink: %s",
          strerrorname_np(errno));
    EXPECT_ERRNO(sem_unlink(name), ENOENT);
    printf("named: close, unlink, ENOENT OK\n");
}

/* --- pshared across fork ------------------------------------------------------ */

static void check_pshared_fork(void)
{
    sem_t *s = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                    0);
    CHECK(s != MAP_FAILED, "mmap: %s", strerrorname_np(errno));
    OK(sem_init(s, 1, 0));
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerrorname_np(errno));
    if (pid == 0) {
        for (int i = 0; i < 3; i++)
            if (sem_post(s) != 0)
                _exit(3);
        _exit(0);
    }
    for (int i = 0; i < 3; i++)
        while (sem_wait(s) != 0)
            CHECK(errno == EINTR, "sem_wait(pshared): %s", strerrorname_np(errno));
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerrorname_np(errno));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    CHECK(value(s) == 0, "value %d", value(s));
    EXPECT_ERRNO(sem_trywait(s), EAGAIN);
    OK(sem_destroy(s));
    munmap(s, sizeof(sem_t));
    printf("pshared: 3 posts from a forked child reach the parent OK\n");
}

int main(void)
{
    check_basics();
    check_timed();
    check_prodcons();
    check_named();
    check_pshared_fork();
    return 0;
}
