/* dlopen_ie - dlopen, from a thread while 8 other threads exist, a module
 * whose __thread variable is initial-exec (static TLS). Checks:
 *  - the module's constructor saw the initial value on the opening thread
 *    and could change it there;
 *  - every one of the 8 other threads (created before the dlopen), the main
 *    thread and a thread created afterwards all see the initial value, at a
 *    per-thread address, and can change it without disturbing the others.
 */
#include "itest.h"

#include <libgen.h>
#include <limits.h>

#define NT 8

static int (*ie_ctor_ok)(void);
static int (*ie_init_value)(void);
static int (*ie_get)(void);
static void (*ie_set)(int);
static void *(*ie_addr)(void);

static struct gate started = GATE_INIT;
static struct gate opened = GATE_INIT;
static struct gate checked = GATE_INIT;
static void *addrs[NT + 3];

static void *opener(void *arg)
{
    char exe[PATH_MAX], path[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0, "readlink");
    exe[n] = 0;
    snprintf(path, sizeof path, "%s/ie_mod.so", dirname(exe));
    void *h = dlopen(path, RTLD_NOW);
    CHECK(h, "dlopen: %s", dlerror());
    ie_ctor_ok = (int (*)(void))dlsym(h, "ie_ctor_ok");
    ie_init_value = (int (*)(void))dlsym(h, "ie_init_value");
    ie_get = (int (*)(void))dlsym(h, "ie_get");
    ie_set = (void (*)(int))dlsym(h, "ie_set");
    ie_addr = (void *(*)(void))dlsym(h, "ie_addr");
    CHECK(ie_ctor_ok && ie_init_value && ie_get && ie_set && ie_addr, "dlsym");
    CHECK(ie_ctor_ok(), "constructor did not see the initial TLS value");
    CHECK(ie_get() == ie_init_value() + 1, "opener: TLS %d after constructor", ie_get());
    addrs[NT] = ie_addr();
    sched_yield();
    usleep(1000);
    CHECK(ie_get() == ie_init_value() + 1, "opener: TLS lost across yield");
    return NULL;
}

static void *other(void *arg)
{
    int id = (int)(intptr_t)arg;
    gate_add(&started, 1);
    gate_wait(&opened, 1);
    CHECK(ie_get() == ie_init_value(), "thread %d: TLS %d, want initial %d", id, ie_get(),
          ie_init_value());
    addrs[id] = ie_addr();
    ie_set(id);
    gate_meet(&checked, NT);
    for (int r = 0; r < 50; r++) {
        if (r % 2)
            sched_yield();
        else
            usleep(100);
        CHECK(ie_get() == id, "thread %d: TLS %d after yields", id, ie_get());
    }
    return NULL;
}

static void *late(void *arg)
{
    CHECK(ie_get() == ie_init_value(), "new thread: TLS %d", ie_get());
    addrs[NT + 2] = ie_addr();
    return NULL;
}

int main(void)
{
    pthread_t th[NT], op, lt;
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&th[i], NULL, other, (void *)(intptr_t)i));
    gate_wait(&started, NT);
    PT(pthread_create(&op, NULL, opener, NULL));
    PT(pthread_join(op, NULL));
    gate_add(&opened, 1);
    CHECK(ie_get() == ie_init_value(), "main: TLS %d", ie_get());
    addrs[NT + 1] = ie_addr();
    for (int i = 0; i < NT; i++)
        PT(pthread_join(th[i], NULL));
    PT(pthread_create(&lt, NULL, late, NULL));
    PT(pthread_join(lt, NULL));
    /* The opener has exited, so only compare threads alive together. */
    for (int i = 0; i < NT + 2; i++)
        for (int j = 0; j < i; j++)
            CHECK(addrs[i] != addrs[j], "threads %d and %d share the TLS slot", i, j);
    printf("initial-exec module dlopen'd with %d threads alive\n", NT);
    printf("constructor, opener, %d old threads, main, new thread see their own TLS: OK\n", NT);
    return 0;
}
