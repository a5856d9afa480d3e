/* timed_waits - timed waits that must time out, never early:
 *  - pthread_mutex_timedlock (CLOCK_REALTIME deadline) and
 *    pthread_mutex_clocklock (CLOCK_MONOTONIC and CLOCK_REALTIME) on a mutex
 *    another thread holds -> ETIMEDOUT;
 *  - pthread_cond_timedwait with the default clock (REALTIME) and with
 *    CLOCK_MONOTONIC set by pthread_condattr_setclock -> ETIMEDOUT;
 *  - pthread_cond_clockwait with CLOCK_MONOTONIC and CLOCK_REALTIME;
 *  - a deadline already in the past times out at once;
 *  - after each timeout the clock reads >= the deadline, and the wait took
 *    less than 5 s;
 *  - EINVAL for tv_nsec = 1e9 or < 0, and for a bad clock id. */
#include "itest.h"

#define WAIT_NS (150 * 1000000LL)

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static struct gate locked = GATE_INIT, release = GATE_INIT;

static void *holder(void *arg)
{
    PT(pthread_mutex_lock(&held));
    gate_add(&locked, 1);
    gate_wait(&release, 1);
    PT(pthread_mutex_unlock(&held));
    return NULL;
}

/* Checks a timed wait returned ETIMEDOUT no earlier than its deadline. */
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

/* A condition wait may wake spuriously (rc 0): it then waits again for the
 * same deadline, as a correct program would. */
#define TIMED(what, clk, is_cond, call)                                        \
    do {                                                                       \
        int64_t start_ = now_ns(CLOCK_MONOTONIC);                              \
        int64_t deadline_ = now_ns(clk) + WAIT_NS;                             \
        struct timespec ts = ns_to_ts(deadline_);                              \
        int rc_;                                                               \
        do                                                                     \
            rc_ = (call);                                                      \
        while (rc_ == 0 && (is_cond));                                         \
        check_timeout(what, rc_, clk, deadline_, start_);                      \
    } while (0)

int main(void)
{
    pthread_t t;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER, cv_mono;
    pthread_condattr_t ca;
    struct timespec bad;
    clockid_t clk;

    PT(pthread_create(&t, NULL, holder, NULL));
    gate_wait(&locked, 1);

    TIMED("pthread_mutex_timedlock", CLOCK_REALTIME, false, pthread_mutex_timedlock(&held, &ts));
    TIMED("pthread_mutex_clocklock(MONOTONIC)", CLOCK_MONOTONIC, false,
          pthread_mutex_clocklock(&held, CLOCK_MONOTONIC, &ts));
    TIMED("pthread_mutex_clocklock(REALTIME)", CLOCK_REALTIME, false,
          pthread_mutex_clocklock(&held, CLOCK_REALTIME, &ts));

    PT(pthread_condattr_init(&ca));
    PT(pthread_condattr_getclock(&ca, &clk));
    CHECK(clk == CLOCK_REALTIME, "default cond clock %d", (int)clk);
    PT(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
    PT(pthread_condattr_getclock(&ca, &clk));
    CHECK(clk == CLOCK_MONOTONIC, "cond clock %d", (int)clk);
    PT(pthread_cond_init(&cv_mono, &ca));

    PT(pthread_mutex_lock(&mu));
    TIMED("pthread_cond_timedwait(default REALTIME)", CLOCK_REALTIME, true,
          pthread_cond_timedwait(&cv, &mu, &ts));
    TIMED("pthread_cond_timedwait(condattr MONOTONIC)", CLOCK_MONOTONIC, true,
          pthread_cond_timedwait(&cv_mono, &mu, &ts));
    TIMED("pthread_cond_clockwait(MONOTONIC)", CLOCK_MONOTONIC, true,
          pthread_cond_clockwait(&cv, &mu, CLOCK_MONOTONIC, &ts));
    TIMED("pthread_cond_clockwait(REALTIME)", CLOCK_REALTIME, true,
          pthread_cond_clockwait(&cv, &mu, CLOCK_REALTIME, &ts));

    /* A deadline in the past: immediate ETIMEDOUT. */
    int64_t start = now_ns(CLOCK_MONOTONIC);
    struct timespec past = ns_to_ts(now_ns(CLOCK_MONOTONIC) - 1000000000LL);
    CHECK(pthread_cond_timedwait(&cv_mono, &mu, &past) == ETIMEDOUT, "past deadline");
    CHECK(pthread_mutex_clocklock(&held, CLOCK_MONOTONIC, &past) == ETIMEDOUT,
          "past deadline (mutex)");
    CHECK(now_ns(CLOCK_MONOTONIC) - start < 1000000000LL, "past deadline waited");
    printf("past deadlines: ETIMEDOUT OK\n");

    bad = ns_to_ts(now_ns(CLOCK_REALTIME) + WAIT_NS);
    bad.tv_nsec = 1000000000;
    CHECK(pthread_cond_timedwait(&cv, &mu, &bad) == EINVAL, "cond tv_nsec=1e9 not EINVAL");
    CHECK(pthread_mutex_timedlock(&held, &bad) == EINVAL, "mutex tv_nsec=1e9 not EINVAL");
    bad.tv_nsec = -1;
    CHECK(pthread_cond_timedwait(&cv, &mu, &bad) == EINVAL, "cond tv_nsec=-1 not EINVAL");
    CHECK(pthread_mutex_timedlock(&held, &bad) == EINVAL, "mutex tv_nsec=-1 not EINVAL");
    bad.tv_nsec = 0;
    CHECK(pthread_cond_clockwait(&cv, &mu, (clockid_t)9999, &bad) == EINVAL,
          "cond bad clock not EINVAL");
    CHECK(pthread_mutex_clocklock(&held, (clockid_t)9999, &bad) == EINVAL,
          "mutex bad clock not EINVAL");
    printf("bad timespec / clock: EINVAL OK\n");
    PT(pthread_mutex_unlock(&mu));

    gate_add(&release, 1);
    PT(pthread_join(t, NULL));
    PT(pthread_mutex_lock(&held));
    PT(pthread_mutex_unlock(&held));
    PT(pthread_cond_destroy(&cv_mono));
    PT(pthread_condattr_destroy(&ca));
    return 0;
}
