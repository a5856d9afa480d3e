/* exec_preload - exec from a threaded program: the preload follows the
 * program across exec (unless GRUN_INHERIT=0), exit statuses and deaths by
 * signal pass through, and no file descriptor leaks into the new image.
 * The program first re-executes itself with every inherited fd above 2
 * marked close-on-exec, so that what the children see below is only what
 * this process (and its runtime) opened. Then, with a sleeping thread and
 * from a worker thread, it starts itself in "probe" mode, which exits
 * with bit 0 = libgrun is loaded (dlsym of grun_version) and bit 1 = an
 * fd other than 0, 1, 2 is open (listing /proc/self/fd; CPython's
 * test_close_fds relies on this), listing the extra fds on stderr:
 *  1. fork + execv: the probe runs on the same runtime as this process (with
 *     the preload if and only if this runs with it), only fds 0-2;
 *  2. posix_spawn: the same;
 *  3. fork, a thread in the child calls execv (other threads alive): the same;
 *  4. GRUN_INHERIT=0 in the environment of a relay process that execs the
 *     probe: the probe runs without libgrun (natively trivially);
 *  5. a child that exits 7 (after creating a thread) is seen as exit 7; a
 *     child with a thread that raises SIGTERM (default action) is seen as
 *     killed by SIGTERM, also through /bin/sh -c 'kill -TERM $$'; a child
 *     parked in pause() and killed with SIGKILL is seen as killed by it. */
#include "itest.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;
static char self[4096];

static int probe(void)
{
    int code = under_grun() ? 1 : 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 100;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd <= 2 || fd == dirfd(d))
            continue;
        char path[64], target[256] = "?";
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n > 0)
            target[n] = 0;
        fprintf(stderr, "probe: fd %d is open: %s\n", fd, target);
        code |= 2;
    }
    closedir(d);
    return code;
}

static void *pause_forever(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void *raise_term(void *arg)
{
    (void)arg;
    raise(SIGTERM);
    return NULL;
}

/* Child modes that exercise exit and signal paths with a thread alive. */
static int child_mode(const char *m)
{
    pthread_t t;
    if (strcmp(m, "exit7") == 0) {
        PT(pthread_create(&t, NULL, pause_forever, NULL));
        exit(7);
    }
    if (strcmp(m, "term") == 0) {
        PT(pthread_create(&t, NULL, pause_forever, NULL));
        PT(pthread_create(&t, NULL, raise_term, NULL));
        pthread_join(t, NULL);
        for (;;)
            pause();
    }
    if (strcmp(m, "relay") == 0) {
        /* exec the probe from here (GRUN_INHERIT=0 is in our environment). */
        char *argv[] = { self, "probe", NULL };
        execv(self, argv);
        return 101;
    }
    return 102;
}

static int wait_for(pid_t p)
{
    int st;
    CHECK(waitpid(p, &st, 0) == p, "waitpid: %s", strerror(errno));
    return st;
}

static void check_probe(int st, const char *how, bool want_grun)
{
    CHECK(WIFEXITED(st), "%s: probe did not exit normally (0x%x)", how, st);
    int c = WEXITSTATUS(st);
    CHECK(c < 4, "%s: probe failed with %d", how, c);
    CHECK(!(c & 2), "%s: fds other than 0, 1, 2 open in the exec'd program (listed above)", how);
    CHECK((c & 1) == want_grun, "%s: the exec'd program %s libgrun, the parent %s", how,
          (c & 1) ? "has" : "lacks", under_grun() ? "has it" : "does not");
}

static void *exec_from_thread(void *arg)
{
    (void)arg;
    char *argv[] = { self, "probe", NULL };
    execv(self, argv);
    _exit(103);
}

static void *sleeper(void *arg)
{
    (void)arg;
    struct timespec d = { 0, 1000000 };
    for (;;)
        nanosleep(&d, NULL);
    return NULL;
}

static void *tests(void *arg)
{
    (void)arg;
    bool g = under_grun();
    char *probe_argv[] = { self, "probe", NULL };

    /* 1 */
    pid_t p = fork();
    CHECK(p >= 0, "fork");
    if (p == 0) {
        execv(self, probe_argv);
        _exit(104);
    }
    check_probe(wait_for(p), "fork+execv", g);
    printf("1. fork+execv: same runtime as the parent, only fds 0-2 open\n");

    /* 2 */
    int r = posix_spawn(&p, self, NULL, NULL, probe_argv, environ);
    CHECK(r == 0, "posix_spawn: %s", strerror(r));
    check_probe(wait_for(p), "posix_spawn", g);
    printf("2. posix_spawn: same runtime as the parent, only fds 0-2 open\n");

    /* 3 */
    p = fork();
    CHECK(p >= 0, "fork");
    if (p == 0) {
        pthread_t a, b;
        if (pthread_create(&a, NULL, sleeper, NULL) || pthread_create(&b, NULL, exec_from_thread, NULL))
            _exit(105);
        pthread_join(b, NULL);
        _exit(106);
    }
    check_probe(wait_for(p), "exec from a thread", g);
    printf("3. execv from a thread of a threaded child: same runtime, only fds 0-2 open\n");

    /* 4 */
    int n = 0;
    while (environ[n])
        n++;
    char **env = calloc((size_t)n + 2, sizeof *env);
    CHECK(env != NULL, "calloc");
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strncmp(environ[i], "GRUN_INHERIT=", 13) != 0)
            env[k++] = environ[i];
    env[k++] = "GRUN_INHERIT=0";
    env[k] = NULL;
    char *relay_argv[] = { self, "relay", NULL };
    r = posix_spawn(&p, self, NULL, NULL, relay_argv, env);
    CHECK(r == 0, "posix_spawn relay: %s", strerror(r));
    check_probe(wait_for(p), "GRUN_INHERIT=0 relay", false);
    free(env);
    printf("4. GRUN_INHERIT=0: the exec'd program runs without libgrun\n");

    /* 5 */
    char *exit7[] = { self, "exit7", NULL }, *term[] = { self, "term", NULL };
    CHECK(posix_spawn(&p, self, NULL, NULL, exit7, environ) == 0, "posix_spawn");
    int st = wait_for(p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "exit7: status 0x%x", st);
    CHECK(posix_spawn(&p, self, NULL, NULL, term, environ) == 0, "posix_spawn");
    st = wait_for(p);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "term: status 0x%x, want killed by SIGTERM", st);
    st = system("kill -TERM $$");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "sh kill -TERM $$: status 0x%x", st);
    p = fork();
    CHECK(p >= 0, "fork");
    if (p == 0) {
        pthread_t a;
        pthread_create(&a, NULL, sleeper, NULL);
        for (;;)
            pause();
    }
    struct timespec d = { 0, 50000000 };
    nanosleep(&d, NULL);
    CHECK(kill(p, SIGKILL) == 0, "kill");
    st = wait_for(p);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "SIGKILL: status 0x%x", st);
    printf("5. exit status 7, death by SIGTERM (also via sh) and by SIGKILL pass through\n");
    return NULL;
}

int main(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0, "readlink /proc/self/exe");
    self[n] = 0;
    if (argc > 1 && strcmp(argv[1], "probe") == 0)
        return probe();
    if (argc > 1 && strcmp(argv[1], "clean") != 0)
        return child_mode(argv[1]);
    if (argc == 1) {
        /* Start again with nothing inherited above fd 2. */
        DIR *d = opendir("/proc/self/fd");
        CHECK(d != NULL, "opendir");
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int fd = atoi(e->d_name);
            if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d)) {
                int fl = fcntl(fd, F_GETFD);
                if (fl >= 0)
                    fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
            }
        }
        closedir(d);
        fflush(stdout);
        char *av[] = { self, "clean", NULL };
        execv(self, av);
        FAIL("execv self: %s", strerror(errno));
    }
    pthread_t s, t;
    PT(pthread_create(&s, NULL, sleeper, NULL));
    PT(pthread_create(&t, NULL, tests, NULL));
    PT(pthread_join(t, NULL));
    return 0;
}
