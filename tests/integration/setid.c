/* setid - credentials are per kernel task, and glibc's set*id calls change
 * them in every thread of the process. With 8 threads alive (some spinning,
 * some sleeping, some parked on a condition variable), one thread calls
 * setgroups({65534}), setresgid(65534 x3) and setresuid(65534 x3). Then
 * every kernel task in /proc/self/task/ (also the ones libgrun runs its
 * green threads and monitor on) must show Uid/Gid 65534 in all four fields
 * and Groups 65534, and every thread must see getuid()/getgid() == 65534.
 * This is a security property. Needs root: otherwise prints a SKIP line. */
#include "itest.h"

#include <dirent.h>
#include <grp.h>
#include <stdatomic.h>

#define NT 8
#define NOBODY 65534

static struct gate started = GATE_INIT, changed = GATE_INIT, checked = GATE_INIT;
static atomic_int stop;

static void check_self(const char *who)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    CHECK(getresuid(&r, &e, &s) == 0 && r == NOBODY && e == NOBODY && s == NOBODY,
          "%s: uids %d %d %d", who, r, e, s);
    CHECK(getresgid(&rg, &eg, &sg) == 0 && rg == NOBODY && eg == NOBODY && sg == NOBODY,
          "%s: gids %d %d %d", who, rg, eg, sg);
}

/* Spinners yield now and then: libgrun has no asynchronous preemption
 * yet, and two pure spinners would hold both Ps of a 2-CPU machine. A
 * spinner is still running program code when the runtime signal hits it. */
static void *spinner(void *arg)
{
    gate_add(&started, 1);
    while (!atomic_load(&stop)) {
        for (volatile int i = 0; i < 100000; i++)
            ;
        sched_yield();
    }
    check_self("spinning thread");
    return NULL;
}

static void *napper(void *arg)
{
    gate_add(&started, 1);
    while (!atomic_load(&stop))
        usleep(1000);
    check_self("sleeping thread");
    return NULL;
}

static void *parked(void *arg)
{
    gate_add(&started, 1);
    gate_wait(&changed, 1);
    check_self("parked thread");
    gate_add(&checked, 1);
    return NULL;
}

static void *changer(void *arg)
{
    gid_t g = NOBODY;
    gate_wait(&started, NT - 1);
    CHECK(setgroups(1, &g) == 0, "setgroups: %s", strerror(errno));
    CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0, "setresgid: %s", strerror(errno));
    CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0, "setresuid: %s", strerror(errno));
    check_self("changing thread");
    return NULL;
}

/* Every task's status must show the new credentials. */
static int check_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int n = 0;
    CHECK(d, "opendir /proc/self/task: %s", strerror(errno));
    while ((de = readdir(d))) {
        char path[300], line[256];
        int uid[4] = {-1, -1, -1, -1}, gid[4] = {-1, -1, -1, -1}, groups = -1, ngroups = 0;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/status", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f && errno == ENOENT)
            continue; /* the task ended meanwhile */
        CHECK(f, "%s: %s", path, strerror(errno));
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "Uid: %d %d %d %d", &uid[0], &uid[1], &uid[2], &uid[3]);
            sscanf(line, "Gid: %d %d %d %d", &gid[0], &gid[1], &gid[2], &gid[3]);
            if (!strncmp(line, "Groups:", 7)) {
                char *p = line + 7, *end;
                for (long v; (v = strtol(p, &end, 10)), end != p; p = end)
                    groups = (int)v, ngroups++;
            }
        }
        fclose(f);
        char comm[64] = "?";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        if ((f = fopen(path, "r"))) {
            if (fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = 0;
            fclose(f);
        }
        for (int i = 0; i < 4; i++) {
            CHECK(uid[i] == NOBODY, "task %s (%s, pid %d) still has uid %d (field %d)",
                  de->d_name, comm, getpid(), uid[i], i);
            CHECK(gid[i] == NOBODY, "task %s (%s, pid %d) still has gid %d (field %d)",
                  de->d_name, comm, getpid(), gid[i], i);
        }
        CHECK(ngroups == 1 && groups == NOBODY, "task %s (%s, pid %d) has %d groups (last %d)",
              de->d_name, comm, getpid(), ngroups, groups);
        n++;
    }
    closedir(d);
    return n;
}

int main(void)
{
    pthread_t th[NT];
    if (geteuid() != 0) {
        printf("SKIP: setid needs root\n");
        return 0;
    }
    for (int i = 0; i < NT - 1; i++)
        PT(pthread_create(&th[i], NULL, i % 3 == 0 ? spinner : i % 3 == 1 ? napper : parked,
                          NULL));
    PT(pthread_create(&th[NT - 1], NULL, changer, NULL));
    PT(pthread_join(th[NT - 1], NULL));
    int tasks = check_tasks();
    CHECK(under_grun() || tasks >= NT, "only %d tasks", tasks);
    gate_add(&changed, 1);
    gate_wait(&checked, 2);
    atomic_store(&stop, 1);
    check_self("main thread");
    for (int i = 0; i < NT - 1; i++)
        PT(pthread_join(th[i], NULL));
    CHECK(check_tasks() >= 1, "no tasks");
    printf("setgroups/setresgid/setresuid from one of %d threads\n", NT);
    printf("every kernel task shows Uid/Gid/Groups 65534: OK\n");
    return 0;
}
