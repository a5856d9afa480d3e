/* daemon_fds - a daemon-style program closes every fd from 3 up to
 * RLIMIT_NOFILE, and calls close_range(3, ~0U, 0), once before any thread
 * exists and once while a thread sleeps; threads created afterwards must
 * still sleep, wake, pass data through a fresh pipe and be joined. (Under
 * libgrun this closes whatever internal fds it has, e.g. its epoll fd.) */
#include "itest.h"

#include <poll.h>
#include <sys/resource.h>

#define NT 16

static void close_all(void)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
    for (long fd = 3; fd < (long)rl.rlim_cur && fd < 1L << 20; fd++)
        close((int)fd);
    if (close_range(3, ~0U, 0) != 0)
        CHECK(errno == ENOSYS, "close_range: %s", strerror(errno));
}

static int pfd[2];

static void *sleeper(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct timespec ts = {0, 1000000L * (5 + id % 10)};
    int64_t start = now_ns(CLOCK_MONOTONIC);
    if (id % 2)
        usleep(5000 + 1000 * (id % 10));
    else
        nanosleep(&ts, NULL);
    CHECK(now_ns(CLOCK_MONOTONIC) - start >= 5000000, "thread %d woke early", id);
    char c = (char)('a' + id);
    CHECK(write(pfd[1], &c, 1) == 1, "write: %s", strerror(errno));
    return NULL;
}

static void run_round(const char *what)
{
    pthread_t th[NT];
    char seen[NT] = {0}, c;
    CHECK(pipe(pfd) == 0, "pipe: %s", strerror(errno));
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&th[i], NULL, sleeper, (void *)(intptr_t)i));
    for (int i = 0; i < NT; i++) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        CHECK(poll(&p, 1, 5000) == 1, "poll: no data within 5 s");
        CHECK(read(pfd[0], &c, 1) == 1 && c >= 'a' && c < 'a' + NT, "read");
        seen[c - 'a']++;
    }
    for (int i = 0; i < NT; i++) {
        PT(pthread_join(th[i], NULL));
        CHECK(seen[i] == 1, "thread %d wrote %d times", i, seen[i]);
    }
    close(pfd[0]);
    close(pfd[1]);
    printf("%s: %d threads slept, wrote, joined OK\n", what, NT);
}

static void *long_sleeper(void *arg)
{
    usleep(200000);
    return (void *)42;
}

int main(void)
{
    void *ret;
    pthread_t t;

    close_all();
    run_round("after closing all fds before any thread");

    PT(pthread_create(&t, NULL, long_sleeper, NULL));
    usleep(10000);
    close_all();
    PT(pthread_join(t, &ret));
    CHECK(ret == (void *)42, "sleeper returned %p", ret);
    run_round("after closing all fds while a thread slept");
    return 0;
}
