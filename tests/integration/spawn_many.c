/* spawn_many - 32 threads start child processes at the same time, with
 * every API: each thread, released together by a gate, runs
 *  - system("exit N") with N = 1 + its number: the status is exit N;
 *  - popen("echo spawn-i-j", "r") twice, reading the line back, and
 *    pclose: status 0;
 *  - popen("cat > /dev/null", "w"), writing 4 KiB, pclose: status 0;
 *  - threads 0-3 also posix_spawn /bin/sh -c "exit M" and waitpid;
 *  - threads 4-7 also vfork() + execve("/bin/sh", -c "exit M") and waitpid;
 *  - threads 8-11 also posix_spawnp "sh" with a pipe for stdout
 *    (posix_spawn_file_actions_adddup2) and read its "echo" output.
 * Three rounds. Statuses and outputs must all match; no child is left
 * (waitpid(-1) gives ECHILD at the end). */
#include "itest.h"

#include <spawn.h>
#include <sys/wait.h>

#define NT 32
#define ROUNDS 3

extern char **environ;
static struct gate start = GATE_INIT;

static void check_exit(int st, int want, const char *what, int i)
{
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == want, "thread %d: %s: status 0x%x, want exit %d", i, what, st,
          want);
}

/* vfork in a function of its own: only execve or _exit in the child. */
static __attribute__((noinline)) pid_t vfork_exec(char **argv)
{
    pid_t p = vfork();
    if (p == 0) {
        execve("/bin/sh", argv, environ);
        _exit(127);
    }
    return p;
}

static void *worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    char cmd[64], want[64], line[128];
    gate_wait(&start, 1);
    for (int round = 0; round < ROUNDS; round++) {
        snprintf(cmd, sizeof cmd, "exit %d", 1 + i);
        int st = system(cmd);
        CHECK(st != -1, "thread %d: system: %s", i, strerror(errno));
        check_exit(st, 1 + i, "system", i);

        for (int j = 0; j < 2; j++) {
            snprintf(cmd, sizeof cmd, "echo spawn-%d-%d", i, j);
            snprintf(want, sizeof want, "spawn-%d-%d\n", i, j);
            FILE *f = popen(cmd, "r");
            CHECK(f != NULL, "thread %d: popen: %s", i, strerror(errno));
            CHECK(fgets(line, sizeof line, f) != NULL && strcmp(line, want) == 0, "thread %d: popen read \"%s\"",
                  i, line);
            CHECK(fgets(line, sizeof line, f) == NULL, "thread %d: popen: extra output", i);
            st = pclose(f);
            check_exit(st, 0, "pclose", i);
        }
        FILE *w = popen("cat > /dev/null", "w");
        CHECK(w != NULL, "thread %d: popen w: %s", i, strerror(errno));
        for (int k = 0; k < 64; k++)
            CHECK(fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", w) >= 0,
                  "thread %d: fputs to popen", i);
        check_exit(pclose(w), 0, "pclose (w)", i);

        int m = 100 + i;
        char arg2[32];
        snprintf(arg2, sizeof arg2, "exit %d", m);
        char *argv[] = { "sh", "-c", arg2, NULL };
        pid_t p;
        if (i < 4) {
            int r = posix_spawn(&p, "/bin/sh", NULL, NULL, argv, environ);
            CHECK(r == 0, "thread %d: posix_spawn: %s", i, strerror(r));
            CHECK(waitpid(p, &st, 0) == p, "thread %d: waitpid: %s", i, strerror(errno));
            check_exit(st, m, "posix_spawn", i);
        } else if (i < 8) {
            p = vfork_exec(argv);
            CHECK(p > 0, "thread %d: vfork: %s", i, strerror(errno));
            CHECK(waitpid(p, &st, 0) == p, "thread %d: waitpid: %s", i, strerror(errno));
            check_exit(st, m, "vfork+execve", i);
        } else if (i < 12) {
            int pfd[2];
            CHECK(pipe(pfd) == 0, "pipe");
            posix_spawn_file_actions_t fa;
            PT(posix_spawn_file_actions_init(&fa));
            PT(posix_spawn_file_actions_adddup2(&fa, pfd[1], 1));
            PT(posix_spawn_file_actions_addclose(&fa, pfd[0]));
            snprintf(arg2, sizeof arg2, "echo spawnp-%d", i);
            int r = posix_spawnp(&p, "sh", &fa, NULL, argv, environ);
            CHECK(r == 0, "thread %d: posix_spawnp: %s", i, strerror(r));
            PT(posix_spawn_file_actions_destroy(&fa));
            close(pfd[1]);
            char buf[64];
            size_t got = 0;
            ssize_t n;
            while ((n = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0)
                got += (size_t)n;
            CHECK(n == 0, "thread %d: read: %s", i, strerror(errno));
            buf[got] = 0;
            close(pfd[0]);
            snprintf(want, sizeof want, "spawnp-%d\n", i);
            CHECK(strcmp(buf, want) == 0, "thread %d: posix_spawnp output \"%s\"", i, buf);
            CHECK(waitpid(p, &st, 0) == p, "thread %d: waitpid: %s", i, strerror(errno));
            check_exit(st, 0, "posix_spawnp", i);
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i));
    gate_add(&start, 1);
    for (int i = 0; i < NT; i++)
        PT(pthread_join(t[i], NULL));
    errno = 0;
    CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "children left over");
    printf("%d threads x %d rounds: system, popen/pclose (r and w), posix_spawn, vfork+execve, "
           "posix_spawnp with a pipe: all statuses and outputs match\n", NT, ROUNDS);
    return 0;
}
