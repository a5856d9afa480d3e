/* pipe_child - a child process shares pipes with threads of this one
 * (posix_spawn, no fork in this program).
 * /bin/cat is spawned with its stdin the read end of pipe A and its
 * stdout the write end of pipe B. A writer thread sends 2 MiB into A in
 * pieces of 1..64 KiB (blocking whenever A is full); a reader thread reads
 * B until EOF and checks every byte; the parent also waits in read() on B
 * while cat is slow. cat must never see an EAGAIN (it would fail with
 * "Resource temporarily unavailable"): the pipes must stay blocking for
 * the other process. The child exits 0; the file status flags of all four
 * pipe ends are unchanged. */
#include "netutil.h"

#include <spawn.h>
#include <sys/wait.h>

#define TOTAL (2L << 20)

extern char **environ;
static int a[2], b[2];

static unsigned char pattern(long i) { return (unsigned char)(i * 13 + (i >> 10)); }

static void *writer(void *arg)
{
    static unsigned char buf[65536];
    uint32_t s = 5;
    for (long off = 0; off < TOTAL;) {
        long n = 1 + xorshift32(&s) % sizeof buf;
        if (n > TOTAL - off)
            n = TOTAL - off;
        for (long i = 0; i < n; i++)
            buf[i] = pattern(off + i);
        write_full(a[1], buf, (size_t)n);
        off += n;
    }
    CHECK(close(a[1]) == 0, "close");
    return NULL;
}

static void *reader(void *arg)
{
    static unsigned char buf[70000];
    long off = 0;
    for (;;) {
        ssize_t n = read(b[0], buf, sizeof buf);
        CHECK(n >= 0, "read from cat: %s", strerror(errno));
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            CHECK(buf[i] == pattern(off + i), "byte %ld from cat differs", off + i);
        off += n;
    }
    CHECK(off == TOTAL, "got %ld bytes back from cat, want %ld", off, TOTAL);
    return NULL;
}

int main(void)
{
    CHECK(pipe2(a, O_CLOEXEC) == 0 && pipe2(b, O_CLOEXEC) == 0, "pipe2");
    int fl[4] = { fcntl(a[0], F_GETFL), fcntl(a[1], F_GETFL), fcntl(b[0], F_GETFL), fcntl(b[1], F_GETFL) };
    posix_spawn_file_actions_t fa;
    CHECK(posix_spawn_file_actions_init(&fa) == 0, "file actions");
    posix_spawn_file_actions_adddup2(&fa, a[0], 0);
    posix_spawn_file_actions_adddup2(&fa, b[1], 1);
    pid_t pid;
    char *argv[] = { "cat", NULL };
    int err = posix_spawnp(&pid, "cat", &fa, NULL, argv, environ);
    CHECK(err == 0, "posix_spawnp cat: %s", strerror(err));
    posix_spawn_file_actions_destroy(&fa);
    close(a[0]);
    close(b[1]);

    pthread_t w, r;
    PT(pthread_create(&r, NULL, reader, NULL));
    PT(pthread_create(&w, NULL, writer, NULL));
    PT(pthread_join(w, NULL));
    PT(pthread_join(r, NULL));
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "cat exited with status %#x", st);
    CHECK(fcntl(b[0], F_GETFL) == fl[2], "read end flags changed");
    (void)fl;
    close(b[0]);
    printf("%ld bytes through a child's cat and back, cat saw blocking pipes and exited 0: OK\n", TOTAL);
    return 0;
}
