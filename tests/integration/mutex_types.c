/* mutex_types - error codes of the non-default mutex kinds, as POSIX and
 * glibc specify them, for mutexes made with pthread_mutexattr_settype and
 * for the static PTHREAD_*_MUTEX_INITIALIZER_NP initializers:
 *  - errorcheck: relock -> EDEADLK, unlock when unlocked or by another
 *    thread -> EPERM, trylock of a held mutex -> EBUSY (owner and other);
 *  - recursive: lock depth 10 (+1 trylock) needs as many unlocks, then
 *    EPERM; EBUSY / EPERM from another thread while held;
 *  - normal: trylock of a held mutex -> EBUSY;
 *  - mutexattr settype/gettype round trip, EINVAL for a bad type. */
#include "itest.h"

static pthread_mutex_t static_rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t static_err = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

#define EXPECT(call, want)                                                        \
    do {                                                                          \
        int rc_ = (call);                                                         \
        CHECK(rc_ == (want), "%s: %s -> %s, want %s", what, #call, strerrorname_np(rc_), \
              strerrorname_np(want));                                             \
    } while (0)

/* Run op(m) on another thread and return its result. */
struct other_req {
    pthread_mutex_t *m;
    int op; /* 0 trylock (unlocking again on success), 1 unlock */
    int rc;
};

static void *other_main(void *arg)
{
    struct other_req *r = arg;
    if (r->op == 0) {
        r->rc = pthread_mutex_trylock(r->m);
        if (r->rc == 0)
            PT(pthread_mutex_unlock(r->m));
    } else {
        r->rc = pthread_mutex_unlock(r->m);
    }
    return NULL;
}

static int on_other(pthread_mutex_t *m, int op)
{
    struct other_req r = {m, op, -1};
    pthread_t t;
    PT(pthread_create(&t, NULL, other_main, &r));
    PT(pthread_join(t, NULL));
    return r.rc;
}

static void check_errorcheck(pthread_mutex_t *m, const char *what)
{
    EXPECT(pthread_mutex_unlock(m), EPERM);
    EXPECT(pthread_mutex_lock(m), 0);
    EXPECT(pthread_mutex_lock(m), EDEADLK);
    EXPECT(pthread_mutex_trylock(m), EBUSY);
    EXPECT(on_other(m, 0), EBUSY);
    EXPECT(on_other(m, 1), EPERM);
    sched_yield();
    EXPECT(pthread_mutex_unlock(m), 0);
    EXPECT(pthread_mutex_unlock(m), EPERM);
    EXPECT(on_other(m, 0), 0);
    EXPECT(pthread_mutex_trylock(m), 0);
    EXPECT(pthread_mutex_unlock(m), 0);
    printf("%s: EDEADLK, EPERM, EBUSY OK\n", what);
}

static void check_recursive(pthread_mutex_t *m, const char *what)
{
    EXPECT(pthread_mutex_unlock(m), EPERM);
    for (int i = 0; i < 10; i++) {
        EXPECT(pthread_mutex_lock(m), 0);
        if (i == 5)
            usleep(100);
    }
    EXPECT(pthread_mutex_trylock(m), 0);
    EXPECT(on_other(m, 0), EBUSY);
    EXPECT(on_other(m, 1), EPERM);
    for (int i = 0; i < 11; i++) {
        EXPECT(on_other(m, 0), EBUSY);
        EXPECT(pthread_mutex_unlock(m), 0);
    }
    EXPECT(pthread_mutex_unlock(m), EPERM);
    EXPECT(on_other(m, 0), 0);
    printf("%s: depth 11, EPERM, EBUSY OK\n", what);
}

int main(void)
{
    pthread_mutexattr_t a;
    pthread_mutex_t err, rec, normal = PTHREAD_MUTEX_INITIALIZER;
    int type;
    const char *what = "mutexattr";

    PT(pthread_mutexattr_init(&a));
    EXPECT(pthread_mutexattr_gettype(&a, &type), 0);
    CHECK(type == PTHREAD_MUTEX_DEFAULT, "default type %d", type);
    EXPECT(pthread_mutexattr_settype(&a, 12345), EINVAL);
    EXPECT(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), 0);
    EXPECT(pthread_mutexattr_gettype(&a, &type), 0);
    CHECK(type == PTHREAD_MUTEX_ERRORCHECK, "type %d", type);
    PT(pthread_mutex_init(&err, &a));
    EXPECT(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE), 0);
    EXPECT(pthread_mutexattr_gettype(&a, &type), 0);
    CHECK(type == PTHREAD_MUTEX_RECURSIVE, "type %d", type);
    PT(pthread_mutex_init(&rec, &a));
    PT(pthread_mutexattr_destroy(&a));
    printf("mutexattr settype/gettype OK\n");

    check_errorcheck(&err, "errorcheck (settype)");
    check_errorcheck(&static_err, "errorcheck (static initializer)");
    check_recursive(&rec, "recursive (settype)");
    check_recursive(&static_rec, "recursive (static initializer)");

    what = "normal";
    EXPECT(pthread_mutex_lock(&normal), 0);
    EXPECT(pthread_mutex_trylock(&normal), EBUSY);
    EXPECT(on_other(&normal, 0), EBUSY);
    EXPECT(pthread_mutex_unlock(&normal), 0);
    EXPECT(on_other(&normal, 0), 0);
    printf("normal: EBUSY OK\n");

    PT(pthread_mutex_destroy(&err));
    PT(pthread_mutex_destroy(&rec));
    return 0;
}
