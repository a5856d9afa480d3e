/* heap_foreign: allocation from threads the program did not create with
 * pthread_create: timer_create(SIGEV_THREAD) callbacks and mq_notify's
 * SIGEV_THREAD helper (glibc's hidden threads, which libgrun cannot turn
 * into Gs). Objects cross between those threads and the main thread in
 * both directions and are checked at free. */
#include "itest.h"
#include <fcntl.h>
#include <malloc.h>
#include <mqueue.h>
#include <signal.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char *from_cb[64];
static int ncb;
static char *to_cb[64];
static int nto;

static void take_and_give(const char *who)
{
    char *mine = malloc(100 + ncb * 37);
    CHECK(mine, "malloc in %s", who);
    snprintf(mine, 100, "%s-%d", who, ncb);
    void *big = malloc(200000);
    memset(big, 1, 200000);
    free(big);
    PT(pthread_mutex_lock(&mu));
    if (nto > 0) {
        char *t = to_cb[--nto];
        CHECK(strncmp(t, "main-", 5) == 0, "object from main: %s", t);
        free(t);	/* a main-thread object freed here */
    }
    if (ncb < 64)
        from_cb[ncb++] = mine;
    else
        free(mine);
    PT(pthread_cond_broadcast(&cv));
    PT(pthread_mutex_unlock(&mu));
}

static void timer_cb(union sigval sv)
{
    take_and_give("timer");
}

static mqd_t mq;
static void mq_cb(union sigval sv)
{
    char buf[64];
    CHECK(mq_receive(mq, buf, sizeof buf, NULL) >= 0, "mq_receive");
    take_and_give("mq");
}

static void wait_for(int n)
{
    PT(pthread_mutex_lock(&mu));
    while (ncb < n)
        PT(pthread_cond_wait(&cv, &mu));
    PT(pthread_mutex_unlock(&mu));
}

static void give(int i)
{
    char *t = malloc(64);
    snprintf(t, 64, "main-%d", i);
    PT(pthread_mutex_lock(&mu));
    to_cb[nto++] = t;
    PT(pthread_mutex_unlock(&mu));
}

int main(void)
{
    for (int i = 0; i < 20; i++)
        give(i);
    timer_t tm;
    struct sigevent ev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = timer_cb };
    CHECK(timer_create(CLOCK_MONOTONIC, &ev, &tm) == 0, "timer_create");
    for (int i = 0; i < 8; i++) {
        struct itimerspec its = { .it_value = { 0, 2000000 } };
        CHECK(timer_settime(tm, 0, &its, NULL) == 0, "timer_settime");
        wait_for(i + 1);
    }
    timer_delete(tm);

    char name[64];
    snprintf(name, sizeof name, "/grun_heap_%d", (int)getpid());
    struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
    mq = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (mq == (mqd_t)-1) {
        printf("SKIP mq_open: %s\n", strerror(errno));
        return 0;
    }
    mq_unlink(name);
    for (int i = 0; i < 8; i++) {
        struct sigevent nev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = mq_cb };
        CHECK(mq_notify(mq, &nev) == 0, "mq_notify");
        CHECK(mq_send(mq, "x", 1, 0) == 0, "mq_send");
        wait_for(8 + i + 1);
    }
    PT(pthread_mutex_lock(&mu));
    int n = ncb;
    for (int i = 0; i < ncb; i++) {
        CHECK(strncmp(from_cb[i], "timer-", 6) == 0 || strncmp(from_cb[i], "mq-", 3) == 0,
              "object from callback: %s", from_cb[i]);
        free(from_cb[i]);	/* a callback thread's object freed here */
    }
    while (nto > 0)
        free(to_cb[--nto]);
    PT(pthread_mutex_unlock(&mu));
    printf("heap_foreign ok: %d callbacks\n", n);
    return 0;
}
