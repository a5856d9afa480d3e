/* tls_torture - per-thread state must stay per thread while threads yield,
 * sleep and (under libgrun with GRUN_MAXPROCS=2) migrate between OS threads.
 *
 * In 32 threads, across many sched_yield()/usleep() calls:
 *  - __thread values and their addresses are kept, and differ per thread;
 *  - errno set by a failing call (close(-1) -> EBADF, open -> ENOENT)
 *    survives yields;
 *  - fprintf lines from all threads to one FILE with a tiny buffer are never
 *    torn (checked by reading the file back);
 *  - pthread_setspecific/getspecific keep the value; the destructor runs
 *    once per thread with that value;
 *  - __thread variables of a module dlopen'd before threads exist and of one
 *    dlopen'd while they run start at their initial value, keep per-thread
 *    values and have per-thread addresses;
 *  - a function built with -fstack-protector-all survives yields inside it
 *    (the canary at %fs:0x28 must follow the thread);
 *  - setjmp/longjmp across yields (the pointer guard at %fs:0x30 too);
 *  - sched_getcpu() is a valid CPU; isalpha/toupper/strerror work;
 *  - &_res (__res_state()) and gettid() are distinct per thread and stable.
 */
#include "itest.h"

#include <ctype.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <resolv.h>
#include <setjmp.h>
#include <stdatomic.h>

#define NT 32
#define ROUNDS 200
#define LINES 40

static __thread long tl_value;
static __thread char tl_text[48];

static pthread_key_t key;
static atomic_int dtor_runs;
static atomic_int dtor_bad;

struct mod {
    int (*init_value)(void);
    int (*get)(void);
    void (*set)(int);
    void *(*addr)(void);
};
static struct mod early, late;
static struct gate late_opened = GATE_INIT;
static struct gate all_alive = GATE_INIT;

static FILE *out;
static char main_strerror[128];
static int ncpus;

struct seen {
    void *tl_addr, *res_addr, *early_addr, *late_addr;
    pid_t tid;
};
static struct seen seen[NT + 1];

static void yield_a_bit(int i)
{
    if (i % 3 == 0)
        usleep(50);
    else
        sched_yield();
}

static void load_mod(struct mod *m, const char *name)
{
    char exe[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0, "readlink /proc/self/exe");
    exe[n] = 0;
    snprintf(path, sizeof path, "%s/%s", dirname(exe), name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(h, "dlopen %s: %s", path, dlerror());
    m->init_value = (int (*)(void))dlsym(h, "mod_init_value");
    m->get = (int (*)(void))dlsym(h, "mod_get");
    m->set = (void (*)(int))dlsym(h, "mod_set");
    m->addr = (void *(*)(void))dlsym(h, "mod_addr");
    CHECK(m->init_value && m->get && m->set && m->addr, "dlsym in %s", name);
}

static void key_dtor(void *v)
{
    long *p = v;
    if (*p < 0 || *p >= NT)
        atomic_fetch_add(&dtor_bad, 1);
    free(p);
    atomic_fetch_add(&dtor_runs, 1);
}

/* Built with -fstack-protector-all: a canary that changes under our feet
 * while we yield would make __stack_chk_fail abort the process. */
static __attribute__((noinline)) int ssp_work(int id)
{
    char buf[256];
    int sum = 0;
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (char)(id + i);
    for (int r = 0; r < 20; r++) {
        yield_a_bit(r);
        for (int i = 0; i < (int)sizeof buf; i++)
            sum += buf[i];
    }
    return sum;
}

static __attribute__((noinline)) void jump_back(jmp_buf *env, int id, int r)
{
    sched_yield();
    usleep(10);
    longjmp(*env, id * 100 + r + 1);
}

static __attribute__((noinline)) void one_jmp(int id, int r)
{
    jmp_buf env;
    volatile int before = r * 7 + id;
    int v = setjmp(env);
    if (v == 0) {
        yield_a_bit(r);
        jump_back(&env, id, r);
        FAIL("longjmp returned");
    }
    CHECK(v == id * 100 + r + 1, "thread %d: setjmp got %d", id, v);
    CHECK(before == r * 7 + id, "thread %d: local clobbered", id);
}

static void check_jmp(int id)
{
    for (int r = 0; r < 10; r++)
        one_jmp(id, r);
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct seen *me = &seen[id];

    tl_value = id * 1000 + 7;
    snprintf(tl_text, sizeof tl_text, "thread-%d", id);
    me->tl_addr = &tl_value;
    me->res_addr = &_res;
    me->tid = gettid();

    long *kv = malloc(sizeof *kv);
    *kv = id;
    PT(pthread_setspecific(key, kv));

    CHECK(early.get() == early.init_value(), "thread %d: early module TLS starts at %d",
          id, early.get());
    early.set(id + 500);
    me->early_addr = early.addr();

    gate_wait(&late_opened, 1);
    CHECK(late.get() == late.init_value(), "thread %d: late module TLS starts at %d",
          id, late.get());
    late.set(id + 900);
    me->late_addr = late.addr();
    gate_meet(&all_alive, NT);

    for (int r = 0; r < ROUNDS; r++) {
        int want = (id & 1) ? EBADF : ENOENT;
        if (id & 1)
            CHECK(close(-1) == -1, "close(-1) succeeded");
        else
            CHECK(open("/nonexistent/grun-test", O_RDONLY) == -1, "open succeeded");
        yield_a_bit(r);
        CHECK(errno == want, "thread %d round %d: errno %d, want %d", id, r, errno, want);

        CHECK(tl_value == id * 1000 + 7 && &tl_value == me->tl_addr,
              "thread %d round %d: __thread value %ld", id, r, tl_value);
        char want_text[48];
        snprintf(want_text, sizeof want_text, "thread-%d", id);
        CHECK(strcmp(tl_text, want_text) == 0, "thread %d: __thread text '%s'", id, tl_text);
        CHECK(pthread_getspecific(key) == kv, "thread %d: getspecific changed", id);
        CHECK(early.get() == id + 500 && early.addr() == me->early_addr,
              "thread %d: early module TLS %d", id, early.get());
        CHECK(late.get() == id + 900 && late.addr() == me->late_addr,
              "thread %d: late module TLS %d", id, late.get());
        CHECK((void *)&_res == me->res_addr, "thread %d: &_res moved", id);
        CHECK(gettid() == me->tid, "thread %d: gettid changed", id);

        int cpu = sched_getcpu();
        CHECK(cpu >= 0 && cpu < ncpus, "thread %d: sched_getcpu() = %d", id, cpu);
        CHECK(isalpha('q') && !isalpha('7') && toupper('q') == 'Q' && tolower('Z') == 'z',
              "thread %d: ctype broken", id);
        CHECK(strcmp(strerror(EBADF), main_strerror) == 0, "thread %d: strerror '%s'",
              id, strerror(EBADF));
    }

    for (int l = 0; l < LINES; l++) {
        fprintf(out, "line thread=%02d seq=%03d text=%s pad=%s|\n", id, l, tl_text,
                "................................................................");
        if (l % 4 == 0)
            yield_a_bit(l);
    }

    int want_sum = 0;
    for (int r = 0; r < 20; r++)
        for (int i = 0; i < 256; i++)
            want_sum += (char)(id + i);
    CHECK(ssp_work(id) == want_sum, "thread %d: stack-protected function result", id);
    check_jmp(id);
    return NULL;
}

/* Each line must be exactly what some thread wrote, and each thread's lines
 * must appear complete and in order. */
static void check_lines(void)
{
    int next[NT] = {0};
    char line[512];
    int n = 0;
    rewind(out);
    while (fgets(line, sizeof line, out)) {
        int id, seq;
        char want[512];
        CHECK(sscanf(line, "line thread=%d seq=%d", &id, &seq) == 2 && id >= 0 && id < NT,
              "torn line: %s", line);
        snprintf(want, sizeof want, "line thread=%02d seq=%03d text=thread-%d pad=%s|\n", id, seq,
                 id, "................................................................");
        CHECK(strcmp(line, want) == 0, "torn line: %s", line);
        CHECK(seq == next[id], "thread %d: line %d out of order (want %d)", id, seq, next[id]);
        next[id]++;
        n++;
    }
    CHECK(n == NT * LINES, "%d lines, want %d", n, NT * LINES);
}

int main(void)
{
    pthread_t th[NT];

    ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);
    snprintf(main_strerror, sizeof main_strerror, "%s", strerror(EBADF));
    out = tmpfile();
    CHECK(out, "tmpfile");
    setvbuf(out, NULL, _IOFBF, 61); /* lines are longer: each takes several writes */
    PT(pthread_key_create(&key, key_dtor));
    load_mod(&early, "tls_mod_early.so");

    seen[NT].res_addr = &_res;
    seen[NT].tid = gettid();
    seen[NT].tl_addr = &tl_value;

    for (int i = 0; i < NT; i++)
        PT(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i));
    usleep(20000);
    load_mod(&late, "tls_mod_late.so");
    gate_add(&late_opened, 1);
    for (int i = 0; i < NT; i++)
        PT(pthread_join(th[i], NULL));

    for (int i = 0; i <= NT; i++)
        for (int j = 0; j < i; j++) {
            CHECK(seen[i].tl_addr != seen[j].tl_addr, "threads %d,%d share __thread", i, j);
            CHECK(seen[i].res_addr != seen[j].res_addr, "threads %d,%d share &_res", i, j);
            CHECK(seen[i].tid != seen[j].tid, "threads %d,%d share gettid %d", i, j, seen[i].tid);
            if (i < NT) {
                CHECK(seen[i].early_addr != seen[j].early_addr, "early module TLS shared");
                CHECK(seen[i].late_addr != seen[j].late_addr, "late module TLS shared");
            }
        }
    CHECK(early.get() == early.init_value(), "main: early module TLS %d", early.get());
    CHECK(late.get() == late.init_value(), "main: late module TLS %d", late.get());
    CHECK(atomic_load(&dtor_runs) == NT && atomic_load(&dtor_bad) == 0,
          "key destructor ran %d times (%d bad), want %d", atomic_load(&dtor_runs),
          atomic_load(&dtor_bad), NT);
    fflush(out);
    check_lines();

    printf("threads=%d rounds=%d\n", NT, ROUNDS);
    printf("__thread values, errno, keys, module TLS: OK\n");
    printf("stack protector, setjmp/longjmp, sched_getcpu, ctype, strerror: OK\n");
    printf("distinct &_res, gettid, TLS addresses: OK\n");
    printf("%d stdio lines intact: OK\n", NT * LINES);
    return 0;
}
