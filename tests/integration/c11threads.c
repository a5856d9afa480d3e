/* c11threads - the C11 <threads.h> API (glibc implements it internally, not
 * through the pthread_* symbols a preload interposes):
 *  - thrd_create x 8; results come back through thrd_join, from return and
 *    from thrd_exit; thrd_current inside equals the thrd_t thrd_create gave,
 *    thrd_equal tells threads apart;
 *  - thrd_detach: a detached thread runs to the end (signals a cnd);
 *  - thrd_sleep sleeps at least the time asked and returns 0; thrd_yield;
 *  - mtx_plain: 8 threads x 20000 increments exact; mtx_trylock of a held
 *    mutex -> thrd_busy;
 *  - mtx_timed: mtx_timedlock (TIME_UTC deadline) on a held mutex ->
 *    thrd_timedout, not early; succeeds once it is free;
 *  - mtx_recursive: locked 3 times by its owner, trylock by another thread
 *    is thrd_busy until 3 unlocks;
 *  - cnd_wait/cnd_signal/cnd_broadcast hand-offs; cnd_timedwait ->
 *    thrd_timedout, not early;
 *  - tss_create with a destructor: per-thread values; the destructor runs
 *    once per thread that set a value, with that value; main's value is
 *    untouched; tss_delete;
 *  - call_once from 16 threads: the function runs once. */
#include "itest.h"

#include <threads.h>

#define NT 8
#define ITERS 20000
#define WAIT_NS (150 * 1000000LL)

#define C11(call)                                                         \
    do {                                                                  \
        int c11_rc_ = (call);                                             \
        if (c11_rc_ != thrd_success)                                      \
            FAIL("%s -> %d", #call, c11_rc_);                             \
    } while (0)

static int64_t utc_ns(void)
{
    struct timespec ts;
    CHECK(timespec_get(&ts, TIME_UTC) == TIME_UTC, "timespec_get");
    return ts_to_ns(&ts);
}

/* --- create / join / current / equal / exit ---------------------------------- */

static thrd_t created[NT];
static mtx_t created_mu;
static int current_ok; /* protected by created_mu */

static int body(void *arg)
{
    int id = (int)(intptr_t)arg;
    /* Wait until main stored our thrd_t (it holds created_mu while creating). */
    C11(mtx_lock(&created_mu));
    if (thrd_equal(thrd_current(), created[id]))
        current_ok++;
    for (int j = 0; j < NT; j++)
        if (j != id)
            CHECK(!thrd_equal(thrd_current(), created[j]), "thread %d equal to %d", id, j);
    C11(mtx_unlock(&created_mu));
    thrd_yield();
    if (id % 2)
        thrd_exit(id * 10 + 1);
    return id * 10;
}

static void check_create_join(void)
{
    C11(mtx_init(&created_mu, mtx_plain));
    C11(mtx_lock(&created_mu));
    for (int i = 0; i < NT; i++)
        C11(thrd_create(&created[i], body, (void *)(intptr_t)i));
    C11(mtx_unlock(&created_mu));
    for (int i = 0; i < NT; i++) {
        int res = -1;
        C11(thrd_join(created[i], &res));
        CHECK(res == i * 10 + (i % 2), "thread %d result %d", i, res);
    }
    CHECK(current_ok == NT, "thrd_current matched in %d of %d threads", current_ok, NT);
    thrd_t self = thrd_current();
    CHECK(thrd_equal(self, thrd_current()), "thrd_current not equal to itself");
    mtx_destroy(&created_mu);
    printf("thrd_create/join x %d: results from return and thrd_exit, "
           "thrd_current/thrd_equal OK\n", NT);
}

/* --- detach ------------------------------------------------------------------ */

static mtx_t det_mu;
static cnd_t det_cv;
static int det_done;

static int detached_body(void *arg)
{
    thrd_sleep(&(struct timespec){0, 10000000}, NULL);
    C11(mtx_lock(&det_mu));
    det_done = 1;
    C11(cnd_signal(&det_cv));
    C11(mtx_unlock(&det_mu));
    return 0;
}

static void check_detach(void)
{
    thrd_t t;
    C11(mtx_init(&det_mu, mtx_plain));
    C11(cnd_init(&det_cv));
    C11(thrd_create(&t, detached_body, NULL));
    C11(thrd_detach(t));
    C11(mtx_lock(&det_mu));
    while (!det_done)
        C11(cnd_wait(&det_cv, &det_mu));
    C11(mtx_unlock(&det_mu));
    printf("thrd_detach: detached thread ran OK\n");
}

/* --- sleep / yield -------------------------------------------------------------- */

static void check_sleep(void)
{
    int64_t start = now_ns(CLOCK_MONOTONIC);
    struct timespec req = {0, 50000000}, rem = {9, 9};
    int rc = thrd_sleep(&req, &rem);
    int64_t took = now_ns(CLOCK_MONOTONIC) - start;
    CHECK(rc == 0, "thrd_sleep -> %d", rc);
    CHECK(took >= 50000000, "thrd_sleep took %lld ns", (long long)took);
    CHECK(took < 5000000000LL, "thrd_sleep took %lld ms", (long long)(took / 1000000));
    for (int i = 0; i < 100; i++)
        thrd_yield();
    printf("thrd_sleep 50 ms: 0, not early; thrd_yield OK\n");
}

/* --- mutexes -------------------------------------------------------------------- */

static mtx_t plain, timed, rec;
static long counter;

static int incr(void *arg)
{
    for (int i = 0; i < ITERS; i++) {
        if (i % 5 == 0) {
            int rc;
            while ((rc = mtx_trylock(&plain)) == thrd_busy)
                thrd_yield();
            CHECK(rc == thrd_success, "mtx_trylock -> %d", rc);
        } else {
            C11(mtx_lock(&plain));
        }
        counter++;
        C11(mtx_unlock(&plain));
    }
    return 0;
}

static int try_on(void *arg)
{
    mtx_t *m = arg;
    int rc = mtx_trylock(m);
    if (rc == thrd_success)
        C11(mtx_unlock(m));
    return rc;
}

static int trylock_other(mtx_t *m)
{
    thrd_t t;
    int res;
    C11(thrd_create(&t, try_on, m));
    C11(thrd_join(t, &res));
    return res;
}

static struct gate held = GATE_INIT, release = GATE_INIT;
static int hold_timed(void *arg)
{
    C11(mtx_lock(&timed));
    gate_add(&held, 1);
    gate_wait(&release, 1);
    C11(mtx_unlock(&timed));
    return 0;
}

static void check_mutexes(void)
{
    thrd_t t[NT];
    C11(mtx_init(&plain, mtx_plain));
    for (int i = 0; i < NT; i++)
        C11(thrd_create(&t[i], incr, NULL));
    for (int i = 0; i < NT; i++)
        C11(thrd_join(t[i], NULL));
    CHECK(counter == (long)NT * ITERS, "counter %ld", counter);
    C11(mtx_lock(&plain));
    CHECK(trylock_other(&plain) == thrd_busy, "mtx_trylock of a held plain mutex not busy");
    C11(mtx_unlock(&plain));
    CHECK(trylock_other(&plain) == thrd_success, "mtx_trylock of a free mutex failed");
    mtx_destroy(&plain);
    printf("mtx_plain: %d threads x %d exact, trylock thrd_busy OK\n", NT, ITERS);

    C11(mtx_init(&timed, mtx_timed));
    thrd_t h;
    C11(thrd_create(&h, hold_timed, NULL));
    gate_wait(&held, 1);
    int64_t start = now_ns(CLOCK_MONOTONIC);
    int64_t deadline = utc_ns() + WAIT_NS;
    struct timespec ts = ns_to_ts(deadline);
    int rc = mtx_timedlock(&timed, &ts);
    int64_t took = now_ns(CLOCK_MONOTONIC) - start;
    CHECK(rc == thrd_timedout, "mtx_timedlock -> %d, want thrd_timedout", rc);
    CHECK(utc_ns() >= deadline, "mtx_timedlock returned early");
    CHECK(took < 5000000000LL, "mtx_timedlock took %lld ms", (long long)(took / 1000000));
    CHECK(mtx_trylock(&timed) == thrd_busy, "mtx_trylock of held timed mutex not busy");
    gate_add(&release, 1);
    ts = ns_to_ts(utc_ns() + 10000000000LL);
    C11(mtx_timedlock(&timed, &ts));
    C11(mtx_unlock(&timed));
    C11(thrd_join(h, NULL));
    mtx_destroy(&timed);
    printf("mtx_timed: mtx_timedlock thrd_timedout, not early, then acquired OK\n");

    C11(mtx_init(&rec, mtx_recursive | mtx_timed));
    mtx_destroy(&rec);
    C11(mtx_init(&rec, mtx_recursive));
    for (int i = 0; i < 3; i++)
        C11(mtx_lock(&rec));
    CHECK(mtx_trylock(&rec) == thrd_success, "owner trylock of recursive mutex");
    for (int i = 0; i < 4; i++) {
        CHECK(trylock_other(&rec) == thrd_busy, "other got a recursive mutex held %d deep",
              4 - i);
        C11(mtx_unlock(&rec));
    }
    CHECK(trylock_other(&rec) == thrd_success, "recursive mutex still held after 4 unlocks");
    mtx_destroy(&rec);
    printf("mtx_recursive: depth 4, thrd_busy for others until released OK\n");
}

/* --- condition variables ----------------------------------------------------------- */

static mtx_t cv_mu;
static cnd_t cv_go, cv_ack;
static int go_round, acks;

static int cv_worker(void *arg)
{
    for (int r = 1; r <= 50; r++) {
        C11(mtx_lock(&cv_mu));
        while (go_round < r)
            C11(cnd_wait(&cv_go, &cv_mu));
        acks++;
        C11(cnd_signal(&cv_ack));
        C11(mtx_unlock(&cv_mu));
    }
    return 0;
}

static void check_cnd(void)
{
    thrd_t t[4];
    C11(mtx_init(&cv_mu, mtx_plain));
    C11(cnd_init(&cv_go));
    C11(cnd_init(&cv_ack));
    for (int i = 0; i < 4; i++)
        C11(thrd_create(&t[i], cv_worker, NULL));
    for (int r = 1; r <= 50; r++) {
        C11(mtx_lock(&cv_mu));
        go_round = r;
        C11(cnd_broadcast(&cv_go));
        while (acks < 4 * r)
            C11(cnd_wait(&cv_ack, &cv_mu));
        C11(mtx_unlock(&cv_mu));
    }
    for (int i = 0; i < 4; i++)
        C11(thrd_join(t[i], NULL));
    CHECK(acks == 200, "acks %d", acks);
    printf("cnd_broadcast/cnd_wait/cnd_signal: 4 threads x 50 rounds OK\n");

    C11(mtx_lock(&cv_mu));
    int64_t start = now_ns(CLOCK_MONOTONIC);
    int64_t deadline = utc_ns() + WAIT_NS;
    struct timespec ts = ns_to_ts(deadline);
    int rc;
    do
        rc = cnd_timedwait(&cv_go, &cv_mu, &ts);
    while (rc == thrd_success); /* spurious wake-up: wait again */
    int64_t took = now_ns(CLOCK_MONOTONIC) - start;
    CHECK(rc == thrd_timedout, "cnd_timedwait -> %d, want thrd_timedout", rc);
    CHECK(utc_ns() >= deadline, "cnd_timedwait returned early");
    CHECK(took < 5000000000LL, "cnd_timedwait took %lld ms", (long long)(took / 1000000));
    C11(mtx_unlock(&cv_mu));
    cnd_destroy(&cv_go);
    cnd_destroy(&cv_ack);
    mtx_destroy(&cv_mu);
    printf("cnd_timedwait: thrd_timedout, not early OK\n");
}

/* --- tss ----------------------------------------------------------------------------- */

static tss_t key;
static int dtor_calls[NT]; /* atomic */
static int bad_dtor;       /* atomic */

static void key_dtor(void *p)
{
    int id = (int)(intptr_t)p - 1;
    if (id < 0 || id >= NT)
        __atomic_add_fetch(&bad_dtor, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_add_fetch(&dtor_calls[id], 1, __ATOMIC_SEQ_CST);
}

static int tss_body(void *arg)
{
    int id = (int)(intptr_t)arg;
    CHECK(tss_get(key) == NULL, "new thread sees a tss value");
    C11(tss_set(key, (void *)(intptr_t)(id + 1)));
    thrd_yield();
    thrd_sleep(&(struct timespec){0, 1000000}, NULL);
    CHECK(tss_get(key) == (void *)(intptr_t)(id + 1), "tss value changed");
    return 0;
}

static void check_tss(void)
{
    thrd_t t[NT];
    static int main_marker;
    C11(tss_create(&key, key_dtor));
    C11(tss_set(key, &main_marker));
    for (int i = 0; i < NT; i++)
        C11(thrd_create(&t[i], tss_body, (void *)(intptr_t)i));
    for (int i = 0; i < NT; i++)
        C11(thrd_join(t[i], NULL));
    for (int i = 0; i < NT; i++)
        CHECK(dtor_calls[i] == 1, "destructor ran %d times for thread %d", dtor_calls[i], i);
    CHECK(bad_dtor == 0, "destructor got a bad value");
    CHECK(tss_get(key) == &main_marker, "main's tss value changed");
    C11(tss_set(key, NULL));
    tss_delete(key);
    printf("tss: per-thread values, destructor once per thread OK\n");
}

/* --- call_once ---------------------------------------------------------------------- */

static once_flag flag = ONCE_FLAG_INIT;
static int once_runs, once_seen; /* atomic */

static void once_fn(void)
{
    __atomic_add_fetch(&once_runs, 1, __ATOMIC_SEQ_CST);
    thrd_sleep(&(struct timespec){0, 20000000}, NULL);
}

static int once_body(void *arg)
{
    call_once(&flag, once_fn);
    if (__atomic_load_n(&once_runs, __ATOMIC_SEQ_CST) == 1)
        __atomic_add_fetch(&once_seen, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static void check_call_once(void)
{
    thrd_t t[16];
    for (int i = 0; i < 16; i++)
        C11(thrd_create(&t[i], once_body, NULL));
    for (int i = 0; i < 16; i++)
        C11(thrd_join(t[i], NULL));
    call_once(&flag, once_fn);
    CHECK(once_runs == 1 && once_seen == 16, "call_once ran %d times, seen by %d", once_runs,
          once_seen);
    printf("call_once: 16 threads, ran once OK\n");
}

int main(void)
{
    check_create_join();
    check_detach();
    check_sleep();
    check_mutexes();
    check_cnd();
    check_tss();
    check_call_once();
    return 0;
}
