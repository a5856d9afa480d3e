/* gc_sites - the leak report names the allocation sites with their exact
 * leaked bytes, largest first (issue 7: GRUN_DEBUG=leakreport=1 with
 * allocsample=1, every allocation sampled).
 *
 * Three noinline functions leak known amounts: leak_small 1000 x 48 bytes,
 * leak_medium 100 x 4000 bytes, leak_large 3 x 2 MiB; everything else the
 * program allocates it frees. Under libgrun (grun_debug_gc found with
 * dlsym) the program runs itself again (/proc/self/exe child) with
 * GRUN_GC=leak and GRUN_DEBUG=leakreport=1,allocsample=1, its stderr to a
 * pipe; the child does the leaking and prints the usable sizes
 * (malloc_usable_size) of one object of each kind on stdout, and its leak
 * report comes at exit. The parent parses the report and checks that each
 * function has exactly count x usable size bytes in count objects, and that
 * leak_large comes before leak_medium before leak_small. Natively it
 * leaks in-process and prints the same lines without the check.
 *
 * The report format assumed (being written as this test is): a record
 * starts with a line containing "N bytes in M objects" (e.g. "N bytes in M
 * objects allocated at:"), followed by frame lines that start with
 * optional blanks and "#<digits>" (e.g. "\t#0 0x... func+0xoff (module)").
 * A record belongs to a function if any of its frame lines has the
 * function's name as a whole word; a function's bytes and objects are the
 * sums over its records, its position that of its first record. Lines
 * that are neither (the summary, per-class lines) end a record. The
 * program is linked with --export-dynamic so that dladdr can name the
 * functions. */
#include "itest.h"

#include <ctype.h>
#include <malloc.h>
#include <sys/wait.h>

#define MAXREPORT (4 << 20)

static const struct site {
    const char *name;
    long count;
    size_t size;
} sites[3] = {
    { "leak_large", 3, (size_t)2 << 20 },
    { "leak_medium", 100, 4000 },
    { "leak_small", 1000, 48 },
};

/* Usable sizes of one object of each site, filled by the leaking code. */
static size_t usable[3];

__attribute__((noinline)) static void scrub(void)
{
    char buf[65536];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* Not static: exported (--export-dynamic) so the report can name them. */
__attribute__((noinline)) void leak_small(void)
{
    for (long i = 0; i < sites[2].count; i++) {
        char *p = malloc(sites[2].size);
        CHECK(p, "malloc");
        memset(p, 0x11, sites[2].size);
        if (i == 0)
            usable[2] = malloc_usable_size(p);
    }
}

__attribute__((noinline)) void leak_medium(void)
{
    for (long i = 0; i < sites[1].count; i++) {
        char *p = malloc(sites[1].size);
        CHECK(p, "malloc");
        memset(p, 0x22, sites[1].size);
        if (i == 0)
            usable[1] = malloc_usable_size(p);
    }
}

__attribute__((noinline)) void leak_large(void)
{
    for (long i = 0; i < sites[0].count; i++) {
        char *p = malloc(sites[0].size);
        CHECK(p, "malloc");
        memset(p, 0x33, sites[0].size);
        if (i == 0)
            usable[0] = malloc_usable_size(p);
    }
}

/* Allocations that are all freed: they must not appear. */
__attribute__((noinline)) void churn(void)
{
    enum { N = 5000 };
    void **v = malloc(N * sizeof *v);
    CHECK(v, "malloc");
    for (int i = 0; i < N; i++) {
        v[i] = malloc((size_t)16 + (size_t)(i * 37) % 8192);
        CHECK(v[i], "malloc");
    }
    char *r = NULL;
    for (int i = 1; i <= 64; i++) {
        r = realloc(r, (size_t)i * 1000);
        CHECK(r, "realloc");
    }
    free(r);
    for (int i = 0; i < N; i++)
        free(v[i]);
    free(v);
}

static void leak_all(void)
{
    churn();
    leak_large();
    leak_medium();
    leak_small();
    churn();
    scrub();
}

/* ---- the parent's parser ---- */

/* Is `name` a whole word in line? */
static bool has_word(const char *line, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = strstr(line, name); s; s = strstr(s + 1, name)) {
        bool left = s == line || !(isalnum((unsigned char)s[-1]) || s[-1] == '_');
        bool right = !(isalnum((unsigned char)s[n]) || s[n] == '_');
        if (left && right)
            return true;
    }
    return false;
}

static bool is_frame(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    return line[0] == '#' && isdigit((unsigned char)line[1]);
}

/* "N bytes in M objects" anywhere in the line. */
static bool is_record(const char *line, unsigned long long *bytes, unsigned long long *objects)
{
    for (const char *s = line; *s; s++) {
        if (!isdigit((unsigned char)*s) || (s > line && isdigit((unsigned char)s[-1])))
            continue;
        if (sscanf(s, "%llu bytes in %llu objects", bytes, objects) == 2)
            return true;
    }
    return false;
}

struct found {
    unsigned long long bytes, objects;
    int first;      /* index of its first record, -1 if none */
};

static void parse(char *report, struct found *f)
{
    for (int i = 0; i < 3; i++)
        f[i] = (struct found){ 0, 0, -1 };
    unsigned long long bytes = 0, objects = 0;
    bool in_record = false, counted[3] = { false, false, false };
    int nrecords = 0;
    for (char *line = strtok(report, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long long b, o;
        if (is_record(line, &b, &o)) {
            in_record = true;
            bytes = b;
            objects = o;
            nrecords++;
            memset(counted, 0, sizeof counted);
            continue;
        }
        if (!is_frame(line)) {
            in_record = false;
            continue;
        }
        if (!in_record)
            continue;
        for (int i = 0; i < 3; i++) {
            if (counted[i] || !has_word(line, sites[i].name))
                continue;
            counted[i] = true;
            f[i].bytes += bytes;
            f[i].objects += objects;
            if (f[i].first < 0)
                f[i].first = nrecords;
        }
    }
}

/* Run the child, collect its stderr and the usable sizes it prints. */
static char *run_child(const char *argv0)
{
    int out[2], err[2];
    CHECK(pipe(out) == 0 && pipe(err) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        setenv("GRUN_GC", "leak", 1);
        setenv("GRUN_DEBUG", "leakreport=1,allocsample=1", 1);
        execl("/proc/self/exe", argv0, "child", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    /* stderr first, to its end: stdout is a few bytes and never blocks. */
    char *rep = malloc(MAXREPORT + 1);
    CHECK(rep, "malloc");
    size_t len = 0;
    for (;;) {
        ssize_t n = read(err[0], rep + len, MAXREPORT - len);
        if (n < 0 && errno == EINTR)
            continue;
        CHECK(n >= 0, "read: %s", strerror(errno));
        if (n == 0 || (len += (size_t)n) == MAXREPORT)
            break;
    }
    rep[len] = 0;
    char buf[256];
    ssize_t n = read(out[0], buf, sizeof buf - 1);
    CHECK(n > 0, "no usable sizes from the child (its stderr: %.300s)", rep);
    buf[n] = 0;
    CHECK(sscanf(buf, "%zu %zu %zu", &usable[0], &usable[1], &usable[2]) == 3, "child printed '%s'", buf);
    close(out[0]);
    close(err[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %#x (stderr: %.300s)", st, rep);
    return rep;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        leak_all();
        printf("%zu %zu %zu\n", usable[0], usable[1], usable[2]);
        return 0;	/* the leak report comes from the exit-time cycle */
    }
    if (!dlsym(RTLD_DEFAULT, "grun_debug_gc")) {
        leak_all();	/* natively: the same work, nothing to check */
    } else {
        char *rep = run_child(argv[0]);
        struct found f[3];
        parse(rep, f);
        for (int i = 0; i < 3; i++) {
            unsigned long long want = (unsigned long long)sites[i].count * usable[i];
            CHECK(f[i].first >= 0, "the leak report names no site in %s (report: %.400s)", sites[i].name, rep);
            CHECK(f[i].objects == (unsigned long long)sites[i].count && f[i].bytes == want,
                  "%s: the report says %llu bytes in %llu objects, want %llu bytes in %ld objects",
                  sites[i].name, f[i].bytes, f[i].objects, want, sites[i].count);
            if (i > 0)
                CHECK(f[i - 1].first < f[i].first, "%s is reported before %s: not largest first",
                      sites[i].name, sites[i - 1].name);
        }
        free(rep);
    }
    for (int i = 0; i < 3; i++)
        printf("gc_sites: %s leaked %ld objects of %zu bytes\n", sites[i].name, sites[i].count, sites[i].size);
    printf("gc_sites: reported largest first\n");
    return 0;
}
