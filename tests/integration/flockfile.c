/* flockfile - stdio's FILE lock held across a sleep; meant to run with
 * GRUN_MAXPROCS=1. Thread A takes flockfile(f), writes "A begin", sleeps
 * 100 ms, writes "A end" and unlocks. Threads B..E, started while A holds
 * the lock, each fprintf 100 lines to the same FILE (they block on glibc's
 * internal lock, which libgrun does not see). The program must finish, and
 * the file must hold "A begin" immediately followed by "A end", then every
 * other line intact and in per-thread order. */
#include "itest.h"

#define NW 4
#define LINES 100

static FILE *f;
static struct gate a_locked = GATE_INIT;

static void *thread_a(void *arg)
{
    flockfile(f);
    fputs("A begin\n", f);
    gate_add(&a_locked, 1);
    usleep(100000);
    fputs("A end\n", f);
    funlockfile(f);
    return NULL;
}

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    gate_wait(&a_locked, 1);
    for (int i = 0; i < LINES; i++)
        fprintf(f, "%c line %03d of %d\n", 'B' + id, i, LINES);
    return NULL;
}

int main(void)
{
    pthread_t a, w[NW];
    char line[128];
    int next[NW] = {0}, n = 0;

    f = tmpfile();
    CHECK(f, "tmpfile");
    PT(pthread_create(&a, NULL, thread_a, NULL));
    for (int i = 0; i < NW; i++)
        PT(pthread_create(&w[i], NULL, writer, (void *)(intptr_t)i));
    PT(pthread_join(a, NULL));
    for (int i = 0; i < NW; i++)
        PT(pthread_join(w[i], NULL));

    rewind(f);
    CHECK(fgets(line, sizeof line, f) && !strcmp(line, "A begin\n"), "first line: %s", line);
    CHECK(fgets(line, sizeof line, f) && !strcmp(line, "A end\n"), "line inside A's lock: %s",
          line);
    while (fgets(line, sizeof line, f)) {
        char who, want[128];
        int i;
        CHECK(sscanf(line, "%c line %d", &who, &i) == 2 && who >= 'B' && who < 'B' + NW,
              "torn line: %s", line);
        snprintf(want, sizeof want, "%c line %03d of %d\n", who, next[who - 'B'], LINES);
        CHECK(!strcmp(line, want), "line '%s' want '%s'", line, want);
        next[who - 'B']++;
        n++;
    }
    CHECK(n == NW * LINES, "%d lines, want %d", n, NW * LINES);
    printf("flockfile held across usleep: A's lines adjacent, %d lines intact OK\n", n);
    return 0;
}
