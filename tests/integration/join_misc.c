/* join_misc - joining and naming:
 *  - pthread_tryjoin_np on a running thread -> EBUSY;
 *  - pthread_timedjoin_np with a 100 ms deadline on a running thread ->
 *    ETIMEDOUT, not before the deadline;
 *  - once released, pthread_timedjoin_np returns 0 with the thread's value;
 *    tryjoin of a finished thread returns 0 with its value;
 *  - pthread_setname_np/getname_np round trip, on self and on another
 *    thread; ERANGE for a name over 15 chars or a too-small buffer;
 *  - pthread_self() in a thread equals the pthread_t pthread_create gave,
 *    pthread_equal tells threads apart. */
#include "itest.h"

static struct gate release = GATE_INIT, named = GATE_INIT, checked = GATE_INIT;
static pthread_t created_as;
static pthread_t main_thread;

static void *blocked(void *arg)
{
    gate_wait(&release, 1);
    return (void *)0x1234;
}

static void *quick(void *arg)
{
    return (void *)0x5678;
}

static void *identity(void *arg)
{
    char name[16];
    gate_wait(&named, 1); /* main has stored created_as and named us */
    CHECK(pthread_equal(pthread_self(), created_as), "pthread_self != created pthread_t");
    CHECK(!pthread_equal(pthread_self(), main_thread), "thread equals main");
    PT(pthread_getname_np(pthread_self(), name, sizeof name));
    CHECK(!strcmp(name, "named-by-main"), "own name '%s'", name);
    PT(pthread_setname_np(pthread_self(), "self-named"));
    PT(pthread_getname_np(pthread_self(), name, sizeof name));
    CHECK(!strcmp(name, "self-named"), "name '%s'", name);
    CHECK(pthread_setname_np(pthread_self(), "a-name-of-16-chr") == ERANGE, "long name accepted");
    CHECK(pthread_getname_np(pthread_self(), name, 4) == ERANGE, "short buffer accepted");
    gate_add(&checked, 1);
    gate_wait(&release, 2);
    return NULL;
}

int main(void)
{
    pthread_t t, q, id;
    void *ret;
    char name[16];

    main_thread = pthread_self();
    CHECK(pthread_equal(main_thread, pthread_self()), "pthread_equal(self, self)");

    PT(pthread_create(&t, NULL, blocked, NULL));
    CHECK(pthread_tryjoin_np(t, &ret) == EBUSY, "tryjoin of a running thread not EBUSY");
    int64_t deadline = now_ns(CLOCK_REALTIME) + 100000000;
    struct timespec ts = ns_to_ts(deadline);
    int rc = pthread_timedjoin_np(t, &ret, &ts);
    CHECK(rc == ETIMEDOUT, "timedjoin: %s, want ETIMEDOUT", strerrorname_np(rc));
    CHECK(now_ns(CLOCK_REALTIME) >= deadline, "timedjoin returned early");
    printf("tryjoin EBUSY, timedjoin ETIMEDOUT OK\n");
    gate_add(&release, 1);
    ts = ns_to_ts(now_ns(CLOCK_REALTIME) + 5000000000LL);
    PT(pthread_timedjoin_np(t, &ret, &ts));
    CHECK(ret == (void *)0x1234, "timedjoin value %p", ret);

    PT(pthread_create(&q, NULL, quick, NULL));
    while ((rc = pthread_tryjoin_np(q, &ret)) == EBUSY)
        usleep(1000);
    CHECK(rc == 0 && ret == (void *)0x5678, "tryjoin: %s value %p", strerrorname_np(rc), ret);
    printf("timedjoin and tryjoin of finished threads return their values OK\n");

    PT(pthread_create(&id, NULL, identity, NULL));
    created_as = id;
    CHECK(!pthread_equal(id, main_thread), "new thread equals main");
    PT(pthread_setname_np(id, "named-by-main"));
    gate_add(&named, 1);
    gate_wait(&checked, 1);
    PT(pthread_getname_np(id, name, sizeof name));
    CHECK(!strcmp(name, "self-named"), "main sees name '%s'", name);
    PT(pthread_setname_np(pthread_self(), "main-thread"));
    PT(pthread_getname_np(pthread_self(), name, sizeof name));
    CHECK(!strcmp(name, "main-thread"), "main name '%s'", name);
    gate_add(&release, 1);
    PT(pthread_join(id, NULL));
    printf("setname/getname round trips, ERANGE, pthread_self/pthread_equal OK\n");
    return 0;
}
