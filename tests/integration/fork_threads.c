/* fork_threads - fork() from a threaded program while other threads are
 * busy, and a child that creates threads of its own.
 * Three pthread_atfork triplets A, B, C are registered in that order; A's
 * prepare locks the mutex the busy threads fight over and its parent and
 * child handlers unlock it (the classic way to fork safely). The handlers
 * append to a log: each fork must log prepare C B A (reverse order), then
 * parent A B C in the parent and child A B C in the child.
 * Busy meanwhile: 2 threads take that mutex in a loop (holding it across a
 * short nanosleep), 2 threads pass a token back and forth over two pipes.
 * Three forks: from main, from a new thread, and from a thread that then
 * forks again inside the child (a grandchild). Each child checks the
 * handler log, checks it can lock the busy mutex (the parent's busy
 * threads do not exist in it), creates 4 threads that each add 1000 to a
 * mutex-protected counter and pass a token around a ring of pipes, joins
 * them, and exits with status 40 + its number; the parent checks each
 * status with waitpid. At the end the busy threads stop, and made
 * progress. */
#include "itest.h"

#include <stdatomic.h>
#include <sys/wait.h>

static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static long busy_count;
static atomic_int stop;
static int ping[2], pong[2];
static long tokens;

static char logbuf[64];
static int loglen;
static void logc(char c) { if (loglen < (int)sizeof logbuf - 1) logbuf[loglen++] = c; logbuf[loglen] = 0; }

static void prep_a(void) { PT(pthread_mutex_lock(&busy_mu)); logc('a'); }
static void prep_b(void) { logc('b'); }
static void prep_c(void) { logc('c'); }
static void par_a(void) { logc('A'); PT(pthread_mutex_unlock(&busy_mu)); }
static void par_b(void) { logc('B'); }
static void par_c(void) { logc('C'); }
static void chi_a(void) { logc('1'); PT(pthread_mutex_unlock(&busy_mu)); }
static void chi_b(void) { logc('2'); }
static void chi_c(void) { logc('3'); }

static void *locker(void *arg)
{
    (void)arg;
    struct timespec d = { 0, 100000 };
    while (!atomic_load(&stop)) {
        PT(pthread_mutex_lock(&busy_mu));
        busy_count++;
        nanosleep(&d, NULL);
        PT(pthread_mutex_unlock(&busy_mu));
    }
    return NULL;
}

static void *pinger(void *arg)
{
    bool first = arg != NULL;
    char c = 't';
    for (;;) {
        if (first) {
            if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
                break;
            tokens++;
            if (c == 'q')
                break;
            c = atomic_load(&stop) ? 'q' : 't';
        } else {
            if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
                break;
            if (c == 'q')
                break;
        }
    }
    return NULL;
}

/* --- the child ------------------------------------------------------------ */

static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static long ccount;
static int ring[4][2];

static void *child_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int k = 0; k < 1000; k++) {
        PT(pthread_mutex_lock(&cmu));
        ccount++;
        PT(pthread_mutex_unlock(&cmu));
    }
    /* Token ring: thread i reads ring[i], writes ring[i+1]; 50 laps. */
    for (int lap = 0; lap < 50; lap++) {
        char c;
        if (i == 0 && write(ring[1][1], "x", 1) != 1)
            _exit(90);
        if (read(ring[i][0], &c, 1) != 1)
            _exit(91);
        if (i != 0 && write(ring[(i + 1) % 4][1], &c, 1) != 1)
            _exit(92);
    }
    return NULL;
}

static void child_body(int n, const char *want_log)
{
    ccount = 0;
    if (strcmp(logbuf, want_log) != 0) {
        fprintf(stderr, "FAIL fork_threads: child %d: atfork log \"%s\", want \"%s\"\n", n, logbuf, want_log);
        _exit(1);
    }
    if (pthread_mutex_trylock(&busy_mu) != 0) {
        fprintf(stderr, "FAIL fork_threads: child %d: the busy mutex is held in the child\n", n);
        _exit(1);
    }
    pthread_mutex_unlock(&busy_mu);
    for (int i = 0; i < 4; i++)
        if (pipe(ring[i]) != 0)
            _exit(93);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, child_thread, (void *)(intptr_t)i) != 0)
            _exit(94);
    for (int i = 0; i < 4; i++)
        if (pthread_join(t[i], NULL) != 0)
            _exit(95);
    if (ccount != 4000) {
        fprintf(stderr, "FAIL fork_threads: child %d: counter %ld, want 4000\n", n, ccount);
        _exit(1);
    }
}

static int do_fork(int n, bool nested)
{
    loglen = 0;
    logbuf[0] = 0;
    fflush(stdout);
    pid_t p = fork();
    CHECK(p >= 0, "fork: %s", strerror(errno));
    if (p == 0) {
        child_body(n, "cba123");
        if (nested) {
            /* The child, itself threaded by now, forks a grandchild. */
            loglen = 0;
            pid_t g = fork();
            if (g < 0)
                _exit(96);
            if (g == 0) {
                child_body(n + 10, "cba123");
                _exit(40 + n + 10);
            }
            int st;
            if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 40 + n + 10) {
                fprintf(stderr, "FAIL fork_threads: grandchild status 0x%x\n", st);
                _exit(1);
            }
        }
        _exit(40 + n);
    }
    CHECK(strcmp(logbuf, "cbaABC") == 0, "fork %d: parent's atfork log \"%s\", want \"cbaABC\"", n, logbuf);
    int st;
    CHECK(waitpid(p, &st, 0) == p, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 40 + n, "child %d: status 0x%x, want exit %d", n, st, 40 + n);
    return 0;
}

static void *forker(void *arg)
{
    int n = (int)(intptr_t)arg;
    do_fork(n, n == 3);
    return NULL;
}

int main(void)
{
    PT(pthread_atfork(prep_a, par_a, chi_a));
    PT(pthread_atfork(prep_b, par_b, chi_b));
    PT(pthread_atfork(prep_c, par_c, chi_c));
    CHECK(pipe(ping) == 0 && pipe(pong) == 0, "pipe");
    pthread_t busy[4];
    PT(pthread_create(&busy[0], NULL, locker, NULL));
    PT(pthread_create(&busy[1], NULL, locker, NULL));
    PT(pthread_create(&busy[2], NULL, pinger, (void *)1));
    PT(pthread_create(&busy[3], NULL, pinger, NULL));
    struct timespec d = { 0, 20000000 };
    nanosleep(&d, NULL);

    do_fork(1, false);
    printf("fork from main: atfork order prepare C B A, parent A B C, child A B C; "
           "child ran 4 threads, exit status passed\n");
    pthread_t f;
    PT(pthread_create(&f, NULL, forker, (void *)2));
    PT(pthread_join(f, NULL));
    printf("fork from a thread: the same\n");
    PT(pthread_create(&f, NULL, forker, (void *)3));
    PT(pthread_join(f, NULL));
    printf("fork from a thread, then again from the threaded child: the same\n");

    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        PT(pthread_join(busy[i], NULL));
    CHECK(busy_count > 0 && tokens > 0, "busy threads made no progress (%ld, %ld)", busy_count, tokens);
    printf("busy threads kept working across the forks\n");
    return 0;
}
