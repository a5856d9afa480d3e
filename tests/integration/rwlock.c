/* rwlock - pthread_rwlock_* as glibc specifies them:
 *  - rwlockattr: getkind/setkind_np round trip (EINVAL for a bad kind),
 *    getpshared/setpshared round trip;
 *  - the write-lock holder gets EDEADLK from wrlock, rdlock, timedwrlock,
 *    clockrdlock and EBUSY from trywrlock/tryrdlock (glibc checks the owner);
 *  - a bad tv_nsec or clock id gives EINVAL from every timed/clock call,
 *    even on a free lock (glibc validates first);
 *  - with a writer holding the lock: timedrdlock/timedwrlock (REALTIME) and
 *    clockrdlock/clockwrlock (MONOTONIC and REALTIME) time out with
 *    ETIMEDOUT, never early; a deadline in the past times out at once;
 *  - with a reader holding it: tryrdlock succeeds, trywrlock is EBUSY,
 *    clockwrlock times out; a past deadline on a free lock succeeds;
 *  - PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP (attr and static
 *    initializer): once a writer waits, tryrdlock is EBUSY and a new reader
 *    blocks (its clockrdlock times out) until the writer got its turn; with
 *    the default kind new readers still get in while a writer waits;
 *  - 6 readers (rdlock, tryrdlock, timedrdlock) and 2 writers (wrlock,
 *    trywrlock, clockwrlock): a writer is alone, readers never see a
 *    half-done update, and the counters end exact. */
#include "itest.h"

#define WAIT_NS (150 * 1000000LL)

#define EXPECT(call, want)                                                        \
    do {                                                                          \
        int rc_ = (call);                                                         \
        CHECK(rc_ == (want), "%s -> %s, want %s", #call, strerrorname_np(rc_),    \
              strerrorname_np(want));                                             \
    } while (0)

static struct timespec in_ns(clockid_t clk, int64_t ns)
{
    return ns_to_ts(now_ns(clk) + ns);
}

/* --- attributes --------------------------------------------------------- */

static void check_attrs(void)
{
    pthread_rwlockattr_t a;
    int v;
    PT(pthread_rwlockattr_init(&a));
    EXPECT(pthread_rwlockattr_getkind_np(&a, &v), 0);
    CHECK(v == PTHREAD_RWLOCK_PREFER_READER_NP, "default kind %d", v);
    EXPECT(pthread_rwlockattr_setkind_np(&a, 12345), EINVAL);
    EXPECT(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), 0);
    EXPECT(pthread_rwlockattr_getkind_np(&a, &v), 0);
    CHECK(v == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP, "kind %d", v);
    EXPECT(pthread_rwlockattr_getpshared(&a, &v), 0);
    CHECK(v == PTHREAD_PROCESS_PRIVATE, "default pshared %d", v);
    EXPECT(pthread_rwlockattr_setpshared(&a, 12345), EINVAL);
    EXPECT(pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
    EXPECT(pthread_rwlockattr_getpshared(&a, &v), 0);
    CHECK(v == PTHREAD_PROCESS_SHARED, "pshared %d", v);
    PT(pthread_rwlockattr_destroy(&a));
    printf("rwlockattr kind/pshared round trip, EINVAL OK\n");
}

/* --- owner errors and argument errors --------------------------------------- */

static void check_owner_errors(void)
{
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    struct timespec ts;

    EXPECT(pthread_rwlock_wrlock(&rw), 0);
    EXPECT(pthread_rwlock_wrlock(&rw), EDEADLK);
    EXPECT(pthread_rwlock_rdlock(&rw), EDEADLK);
    ts = in_ns(CLOCK_REALTIME, WAIT_NS);
    EXPECT(pthread_rwlock_timedwrlock(&rw, &ts), EDEADLK);
    EXPECT(pthread_rwlock_timedrdlock(&rw, &ts), EDEADLK);
    ts = in_ns(CLOCK_MONOTONIC, WAIT_NS);
    EXPECT(pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &ts), EDEADLK);
    EXPECT(pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &ts), EDEADLK);
    EXPECT(pthread_rwlock_trywrlock(&rw), EBUSY);
    EXPECT(pthread_rwlock_tryrdlock(&rw), EBUSY);
    EXPECT(pthread_rwlock_unlock(&rw), 0);
    printf("write holder: EDEADLK from wrlock/rdlock/timed/clock, EBUSY from try OK\n");

    /* Recursive read locks by one thread are allowed (default kind). */
    EXPECT(pthread_rwlock_rdlock(&rw), 0);
    EXPECT(pthread_rwlock_rdlock(&rw), 0);
    EXPECT(pthread_rwlock_tryrdlock(&rw), 0);
    EXPECT(pthread_rwlock_trywrlock(&rw), EBUSY);
    for (int i = 0; i < 3; i++)
        EXPECT(pthread_rwlock_unlock(&rw), 0);
    EXPECT(pthread_rwlock_trywrlock(&rw), 0);
    EXPECT(pthread_rwlock_unlock(&rw), 0);
    printf("recursive read locks: 3 locks, 3 unlocks OK\n");

    struct timespec bad = in_ns(CLOCK_REALTIME, WAIT_NS);
    bad.tv_nsec = 1000000000;
    EXPECT(pthread_rwlock_timedrdlock(&rw, &bad), EINVAL);
    EXPECT(pthread_rwlock_timedwrlock(&rw, &bad), EINVAL);
    EXPECT(pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &bad), EINVAL);
    EXPECT(pthread_rwlock_clockwrlock(&rw, CLOCK_REALTIME, &bad), EINVAL);
    bad.tv_nsec = -1;
    EXPECT(pthread_rwlock_timedrdlock(&rw, &bad), EINVAL);
    EXPECT(pthread_rwlock_timedwrlock(&rw, &bad), EINVAL);
    ts = in_ns(CLOCK_MONOTONIC, WAIT_NS);
    EXPECT(pthread_rwlock_clockrdlock(&rw, (clockid_t)9999, &ts), EINVAL);
    EXPECT(pthread_rwlock_clockwrlock(&rw, (clockid_t)9999, &ts), EINVAL);
    EXPECT(pthread_rwlock_clockrdlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &ts), EINVAL);
    /* Nothing was taken by the failed calls. */
    EXPECT(pthread_rwlock_trywrlock(&rw), 0);
    EXPECT(pthread_rwlock_unlock(&rw), 0);
    printf("bad timespec / clock: EINVAL on a free lock OK\n");

    /* A past deadline on a free lock still takes it. */
    struct timespec past = ns_to_ts(now_ns(CLOCK_MONOTONIC) - 1000000000LL);
    EXPECT(pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &past), 0);
    EXPECT(pthread_rwlock_unlock(&rw), 0);
    EXPECT(pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &past), 0);
    EXPECT(pthread_rwlock_unlock(&rw), 0);
    printf("past deadline on a free lock: acquired OK\n");
    PT(pthread_rwlock_destroy(&rw));
}

/* --- timeouts --------------------------------------------------------------- */

static pthread_rwlock_t held_rw = PTHREAD_RWLOCK_INITIALIZER;
static struct gate locked = GATE_INIT, release = GATE_INIT;

static void *holder(void *arg)
{
    bool write = arg != NULL;
    PT(write ? pthread_rwlock_wrlock(&held_rw) : pthread_rwlock_rdlock(&held_rw));
    gate_add(&locked, 1);
    gate_wait(&release, write ? 1 : 2);
    PT(pthread_rwlock_unlock(&held_rw));
    return NULL;
}

static void check_timeout(const char *what, int rc, clockid_t clk, int64_t deadline,
                          int64_t started_mono)
{
    int64_t now = now_ns(clk);
    int64_t took = now_ns(CLOCK_MONOTONIC) - started_mono;
    CHECK(rc == ETIMEDOUT, "%s returned %s, want ETIMEDOUT", what, strerrorname_np(rc));
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
        check_timeout(what, (call), clk, deadline_, start_);                   \
    } while (0)

static void check_timeouts(void)
{
    pthread_t t;
    struct timespec past;

    PT(pthread_create(&t, NULL, holder, (void *)1));
    gate_wait(&locked, 1);
    printf("-- a writer holds the lock\n");
    TIMED("timedrdlock", CLOCK_REALTIME, pthread_rwlock_timedrdlock(&held_rw, &ts));
    TIMED("timedwrlock", CLOCK_REALTIME, pthread_rwlock_timedwrlock(&held_rw, &ts));
    TIMED("clockrdlock(MONOTONIC)", CLOCK_MONOTONIC,
          pthread_rwlock_clockrdlock(&held_rw, CLOCK_MONOTONIC, &ts));
    TIMED("clockrdlock(REALTIME)", CLOCK_REALTIME,
          pthread_rwlock_clockrdlock(&held_rw, CLOCK_REALTIME, &ts));
    TIMED("clockwrlock(MONOTONIC)", CLOCK_MONOTONIC,
          pthread_rwlock_clockwrlock(&held_rw, CLOCK_MONOTONIC, &ts));
    TIMED("clockwrlock(REALTIME)", CLOCK_REALTIME,
          pthread_rwlock_clockwrlock(&held_rw, CLOCK_REALTIME, &ts));
    EXPECT(pthread_rwlock_tryrdlock(&held_rw), EBUSY);
    EXPECT(pthread_rwlock_trywrlock(&held_rw), EBUSY);
    int64_t start = now_ns(CLOCK_MONOTONIC);
    past = ns_to_ts(now_ns(CLOCK_MONOTONIC) - 1000000000LL);
    EXPECT(pthread_rwlock_clockrdlock(&held_rw, CLOCK_MONOTONIC, &past), ETIMEDOUT);
    EXPECT(pthread_rwlock_clockwrlock(&held_rw, CLOCK_MONOTONIC, &past), ETIMEDOUT);
    past = ns_to_ts(now_ns(CLOCK_REALTIME) - 1000000000LL);
    EXPECT(pthread_rwlock_timedrdlock(&held_rw, &past), ETIMEDOUT);
    EXPECT(pthread_rwlock_timedwrlock(&held_rw, &past), ETIMEDOUT);
    CHECK(now_ns(CLOCK_MONOTONIC) - start < 1000000000LL, "past deadlines waited");
    printf("tryrdlock/trywrlock EBUSY, past deadlines ETIMEDOUT at once OK\n");
    gate_add(&release, 1);
    PT(pthread_join(t, NULL));

    PT(pthread_create(&t, NULL, holder, NULL));
    gate_wait(&locked, 2);
    printf("-- a reader holds the lock\n");
    EXPECT(pthread_rwlock_tryrdlock(&held_rw), 0);
    EXPECT(pthread_rwlock_unlock(&held_rw), 0);
    EXPECT(pthread_rwlock_trywrlock(&held_rw), EBUSY);
    TIMED("clockwrlock(MONOTONIC) vs reader", CLOCK_MONOTONIC,
          pthread_rwlock_clockwrlock(&held_rw, CLOCK_MONOTONIC, &ts));
    TIMED("timedwrlock vs reader", CLOCK_REALTIME, pthread_rwlock_timedwrlock(&held_rw, &ts));
    EXPECT(pthread_rwlock_rdlock(&held_rw), 0);
    EXPECT(pthread_rwlock_unlock(&held_rw), 0);
    printf("tryrdlock/rdlock OK, trywrlock EBUSY\n");
    gate_add(&release, 1);
    PT(pthread_join(t, NULL));
    EXPECT(pthread_rwlock_trywrlock(&held_rw), 0);
    EXPECT(pthread_rwlock_unlock(&held_rw), 0);
}

/* --- writer preference -------------------------------------------------------- */

struct pref {
    pthread_rwlock_t *rw;
    struct gate w_started;
    int writer_got; /* atomic */
};

static void *pref_writer(void *arg)
{
    struct pref *p = arg;
    gate_add(&p->w_started, 1);
    PT(pthread_rwlock_wrlock(p->rw));
    __atomic_store_n(&p->writer_got, 1, __ATOMIC_SEQ_CST);
    PT(pthread_rwlock_unlock(p->rw));
    return NULL;
}

struct try_req {
    pthread_rwlock_t *rw;
    int op; /* 0 tryrdlock, 1 clockrdlock with a WAIT_NS deadline */
    int rc;
};

static void *try_reader(void *arg)
{
    struct try_req *r = arg;
    if (r->op == 0) {
        r->rc = pthread_rwlock_tryrdlock(r->rw);
    } else {
        struct timespec ts = in_ns(CLOCK_MONOTONIC, WAIT_NS);
        r->rc = pthread_rwlock_clockrdlock(r->rw, CLOCK_MONOTONIC, &ts);
    }
    if (r->rc == 0)
        PT(pthread_rwlock_unlock(r->rw));
    return NULL;
}

/* Run a reader operation on a new thread (a reader that is not main). */
static int other_reader(pthread_rwlock_t *rw, int op)
{
    struct try_req r = {rw, op, -1};
    pthread_t t;
    PT(pthread_create(&t, NULL, try_reader, &r));
    PT(pthread_join(t, NULL));
    return r.rc;
}

static void check_preference(pthread_rwlock_t *rw, bool prefer_writer, const char *what)
{
    struct pref p = {rw, GATE_INIT, 0};
    pthread_t w;

    PT(pthread_rwlock_rdlock(rw));
    PT(pthread_create(&w, NULL, pref_writer, &p));
    gate_wait(&p.w_started, 1);
    if (prefer_writer) {
        /* The writer is about to wait: once it does, new readers are kept
         * out. Poll with tryrdlock on other threads until they are. */
        int64_t give_up = now_ns(CLOCK_MONOTONIC) + 10000000000LL;
        int rc;
        while ((rc = other_reader(rw, 0)) == 0) {
            CHECK(now_ns(CLOCK_MONOTONIC) < give_up,
                  "%s: tryrdlock still succeeds 10 s after a writer started waiting", what);
            usleep(1000);
        }
        CHECK(rc == EBUSY, "%s: tryrdlock -> %s, want EBUSY", what, strerrorname_np(rc));
        rc = other_reader(rw, 1);
        CHECK(rc == ETIMEDOUT, "%s: clockrdlock behind a waiting writer -> %s, want ETIMEDOUT",
              what, strerrorname_np(rc));
        printf("%s: waiting writer blocks new readers (EBUSY, ETIMEDOUT) OK\n", what);
    } else {
        usleep(50000); /* give the writer time to start waiting */
        int rc = other_reader(rw, 0);
        CHECK(rc == 0, "%s: tryrdlock -> %s, want 0", what, strerrorname_np(rc));
        rc = other_reader(rw, 1);
        CHECK(rc == 0, "%s: clockrdlock -> %s, want 0", what, strerrorname_np(rc));
        printf("%s: new readers get in while a writer waits OK\n", what);
    }
    CHECK(!__atomic_load_n(&p.writer_got, __ATOMIC_SEQ_CST), "%s: writer got a read-held lock",
          what);
    PT(pthread_rwlock_unlock(rw));
    PT(pthread_join(w, NULL));
    CHECK(p.writer_got, "%s: writer never got the lock", what);
    EXPECT(pthread_rwlock_tryrdlock(rw), 0);
    EXPECT(pthread_rwlock_unlock(rw), 0);
}

/* --- readers and writers ---------------------------------------------------- */

#define NREADERS 6
#define NWRITERS 2
#define WRITES 3000
#define READS 6000

static pthread_rwlock_t rw_stress;
static long field_a, field_b;  /* a == b outside write sections */
static int writer_in;          /* atomic: writers inside */
static int readers_in;         /* atomic: readers inside */
static long reads_done;        /* atomic */

static void *stress_writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < WRITES; i++) {
        int rc;
        switch ((i + id) % 3) {
        case 0:
            rc = pthread_rwlock_wrlock(&rw_stress);
            break;
        case 1:
            while ((rc = pthread_rwlock_trywrlock(&rw_stress)) == EBUSY)
                sched_yield();
            break;
        default:
            do {
                struct timespec ts = in_ns(CLOCK_MONOTONIC, 1000000);
                rc = pthread_rwlock_clockwrlock(&rw_stress, CLOCK_MONOTONIC, &ts);
            } while (rc == ETIMEDOUT);
        }
        CHECK(rc == 0, "writer lock -> %s", strerrorname_np(rc));
        CHECK(__atomic_add_fetch(&writer_in, 1, __ATOMIC_SEQ_CST) == 1, "two writers inside");
        CHECK(__atomic_load_n(&readers_in, __ATOMIC_SEQ_CST) == 0, "reader inside with a writer");
        field_a++;
        if (i % 64 == 0)
            sched_yield();
        field_b++;
        __atomic_sub_fetch(&writer_in, 1, __ATOMIC_SEQ_CST);
        PT(pthread_rwlock_unlock(&rw_stress));
    }
    return NULL;
}

static void *stress_reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < READS; i++) {
        int rc;
        switch ((i + id) % 3) {
        case 0:
            rc = pthread_rwlock_rdlock(&rw_stress);
            break;
        case 1:
            while ((rc = pthread_rwlock_tryrdlock(&rw_stress)) == EBUSY)
                sched_yield();
            break;
        default:
            do {
                struct timespec ts = in_ns(CLOCK_REALTIME, 1000000);
                rc = pthread_rwlock_timedrdlock(&rw_stress, &ts);
            } while (rc == ETIMEDOUT);
        }
        CHECK(rc == 0, "reader lock -> %s", strerrorname_np(rc));
        __atomic_add_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
        CHECK(__atomic_load_n(&writer_in, __ATOMIC_SEQ_CST) == 0, "writer inside with a reader");
        long a = field_a, b = field_b;
        CHECK(a == b, "reader saw a half-done write (%ld, %ld)", a, b);
        if (i % 128 == 0)
            sched_yield();
        __atomic_sub_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&reads_done, 1, __ATOMIC_SEQ_CST);
        PT(pthread_rwlock_unlock(&rw_stress));
    }
    return NULL;
}

static void check_stress(int kind, const char *what)
{
    pthread_rwlockattr_t a;
    pthread_t t[NREADERS + NWRITERS];
    PT(pthread_rwlockattr_init(&a));
    PT(pthread_rwlockattr_setkind_np(&a, kind));
    PT(pthread_rwlock_init(&rw_stress, &a));
    PT(pthread_rwlockattr_destroy(&a));
    field_a = field_b = 0;
    reads_done = 0;
    for (int i = 0; i < NWRITERS; i++)
        PT(pthread_create(&t[i], NULL, stress_writer, (void *)(intptr_t)i));
    for (int i = 0; i < NREADERS; i++)
        PT(pthread_create(&t[NWRITERS + i], NULL, stress_reader, (void *)(intptr_t)i));
    for (int i = 0; i < NREADERS + NWRITERS; i++)
        PT(pthread_join(t[i], NULL));
    CHECK(field_a == NWRITERS * WRITES && field_b == field_a, "counters %ld %ld, want %d",
          field_a, field_b, NWRITERS * WRITES);
    CHECK(reads_done == NREADERS * READS, "reads %ld", reads_done);
    PT(pthread_rwlock_destroy(&rw_stress));
    printf("%s: %d readers x %d, %d writers x %d: counters exact OK\n", what, NREADERS, READS,
           NWRITERS, WRITES);
}

int main(void)
{
    pthread_rwlock_t wpref_static = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
    pthread_rwlock_t wpref, rpref;
    pthread_rwlockattr_t a;

    check_attrs();
    check_owner_errors();
    check_timeouts();

    PT(pthread_rwlockattr_init(&a));
    PT(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
    PT(pthread_rwlock_init(&wpref, &a));
    PT(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_READER_NP));
    PT(pthread_rwlock_init(&rpref, &a));
    PT(pthread_rwlockattr_destroy(&a));
    check_preference(&wpref, true, "prefer writer nonrecursive (attr)");
    check_preference(&wpref_static, true, "prefer writer nonrecursive (static initializer)");
    check_preference(&rpref, false, "prefer reader (default)");
    PT(pthread_rwlock_destroy(&wpref));
    PT(pthread_rwlock_destroy(&rpref));

    check_stress(PTHREAD_RWLOCK_PREFER_READER_NP, "prefer reader");
    check_stress(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP, "prefer writer nonrecursive");
    return 0;
}
