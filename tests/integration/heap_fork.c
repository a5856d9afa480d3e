/* heap_fork: fork() while 8 other threads allocate and free as fast as
 * they can; the child (one thread) must be able to allocate, free and
 * exit cleanly every time (a heap lock left held in the child would hang
 * it, a half-updated list would crash it). */
#include "itest.h"
#include <sys/wait.h>

static volatile int stop;

static void *churn(void *arg)
{
    void *keep[64] = { 0 };
    unsigned i = (unsigned)(uintptr_t)arg;
    while (!stop) {
        unsigned k = (i * 2654435761u) % 64;
        free(keep[k]);
        keep[k] = malloc((i * 37) % (i & 1 ? 5000 : 300000) + 1);
        i++;
    }
    for (int k = 0; k < 64; k++)
        free(keep[k]);
    return NULL;
}

int main(void)
{
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        PT(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i * 1000)));
    int ok = 0;
    for (int r = 0; r < 40; r++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0) {
            void *p[1000];
            for (int i = 0; i < 1000; i++) {
                p[i] = malloc((size_t)(i * 53) % 70000 + 1);
                if (!p[i])
                    _exit(3);
                memset(p[i], i, 1);
            }
            for (int i = 0; i < 1000; i++)
                free(p[i]);
            char *s = strdup("child");
            _exit(s && strcmp(s, "child") == 0 ? 0 : 4);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d status %#x", r, st);
        ok++;
        usleep(1000);
    }
    stop = 1;
    for (int i = 0; i < 8; i++)
        PT(pthread_join(t[i], NULL));
    printf("heap_fork ok: %d children\n", ok);
    return 0;
}
