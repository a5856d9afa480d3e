/* sleepers - 100 threads sleep at once, spread over every sleep call:
 * sleep, usleep, nanosleep, clock_nanosleep relative (MONOTONIC) and
 * clock_nanosleep TIMER_ABSTIME (MONOTONIC and REALTIME). Each checks that
 * it slept at least what it asked (measured on CLOCK_MONOTONIC; absolute
 * sleeps check their own clock against the deadline), that the call returned
 * 0, and that it slept less than 5 s. Wake order must be roughly sane: a
 * sleeper whose deadline is 300 ms later than another's must not wake first. */
#include "itest.h"

#define NT 100
#define SLACK_NS (300 * 1000000LL)

static struct gate ready = GATE_INIT, go = GATE_INIT;
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static int wake_seq;

struct sleeper {
    int method;
    int64_t ask_ns;   /* how long to sleep */
    int64_t deadline; /* CLOCK_MONOTONIC deadline */
    int woke;         /* order of waking */
};
static struct sleeper sl[NT];

static const char *const names[] = {
    "sleep", "usleep", "nanosleep", "clock_nanosleep(rel)", "clock_nanosleep(abs MONOTONIC)",
    "clock_nanosleep(abs REALTIME)",
};
#define NMETHODS 6

static void *sleeper_main(void *arg)
{
    struct sleeper *s = arg;
    struct timespec ts;
    int rc = 0;

    gate_add(&ready, 1);
    gate_wait(&go, 1);
    int64_t start = now_ns(CLOCK_MONOTONIC);
    s->deadline = start + s->ask_ns;
    switch (s->method) {
    case 0:
        rc = (int)sleep((unsigned)(s->ask_ns / 1000000000));
        break;
    case 1:
        rc = usleep((useconds_t)(s->ask_ns / 1000));
        break;
    case 2:
        ts = ns_to_ts(s->ask_ns);
        rc = nanosleep(&ts, NULL);
        break;
    case 3:
        ts = ns_to_ts(s->ask_ns);
        rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
        break;
    case 4:
        ts = ns_to_ts(s->deadline);
        rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        break;
    case 5: {
        int64_t rt_deadline = now_ns(CLOCK_REALTIME) + s->ask_ns;
        ts = ns_to_ts(rt_deadline);
        rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
        CHECK(now_ns(CLOCK_REALTIME) >= rt_deadline, "%s woke before its REALTIME deadline",
              names[s->method]);
        break;
    }
    }
    int64_t end = now_ns(CLOCK_MONOTONIC);
    PT(pthread_mutex_lock(&order_mu));
    s->woke = wake_seq++;
    PT(pthread_mutex_unlock(&order_mu));

    CHECK(rc == 0, "%s returned %d", names[s->method], rc);
    CHECK(end >= s->deadline, "%s(%lld ms) woke %lld us early", names[s->method],
          (long long)(s->ask_ns / 1000000), (long long)((s->deadline - end) / 1000));
    CHECK(end - start < 5000000000LL, "%s(%lld ms) took %lld ms", names[s->method],
          (long long)(s->ask_ns / 1000000), (long long)((end - start) / 1000000));
    return NULL;
}

int main(void)
{
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) {
        sl[i].method = i % NMETHODS;
        /* sleep() takes seconds: 1 s; the rest 20..980 ms, interleaved. */
        sl[i].ask_ns = sl[i].method == 0 ? 1000000000LL : (20 + (i * 37) % 961) * 1000000LL;
        PT(pthread_create(&th[i], NULL, sleeper_main, &sl[i]));
    }
    gate_wait(&ready, NT);
    gate_add(&go, 1);
    for (int i = 0; i < NT; i++)
        PT(pthread_join(th[i], NULL));

    for (int a = 0; a < NT; a++)
        for (int b = 0; b < NT; b++)
            CHECK(!(sl[a].deadline + SLACK_NS < sl[b].deadline && sl[a].woke > sl[b].woke),
                  "%s(%lld ms) woke after %s(%lld ms)", names[sl[a].method],
                  (long long)(sl[a].ask_ns / 1000000), names[sl[b].method],
                  (long long)(sl[b].ask_ns / 1000000));
    for (int m = 0; m < NMETHODS; m++)
        printf("%s: slept >= requested OK\n", names[m]);
    printf("%d sleepers, wake order sane OK\n", NT);
    return 0;
}
