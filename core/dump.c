/* dump: the goroutine dump, printed the way Go prints one.
 *
 *   goroutine 5 [mutex, 1.2s]:
 *   libgrun: thread "worker" tid 4194309 created at main+0x42 (prog), waits on 0x55d0c0 (mutex owned by goroutine 3)
 *   pthread_mutex_lock+0x1a (libgrun.so)
 *   	pc=0x7f...
 *   ...
 *
 * One block per G, the caller's first (as Go prints the panicking
 * goroutine first), then the others by goid. The bracket holds the state
 * (running, runnable, syscall, dead, or the wait reason) and, for a waiting
 * G, how long it has waited: "N minutes" from one minute on as in Go, and
 * seconds or milliseconds below that, which Go omits but a lock-contention
 * hunt wants. The libgrun: line says what Go's "created by" line says and
 * what the waited word is: for a pthread mutex, the owner read from the
 * mutex itself (__owner holds the owner's tid, a G's vtid).
 *
 * Consistency: no lock is taken and no G is stopped. allg is append-only
 * and G structs are never freed, so walking it is safe at any time; a G
 * that runs while it is being printed may get an inexact stack, which is
 * said under its block. Output goes through a buffer on the stack and the
 * raw write system call; the sorted G list lives in an mmap'd array.
 *
 * Two dumps at once (SIGQUIT during a fatal error): the second waits up to
 * a second for the first so that blocks do not interleave; a nested dump
 * on the same thread (a fault while dumping) prints at once.
 */
#include "core/dump.h"
#include "core/heap.h"
#include "core/gc.h"
#include "core/config.h"
#include "core/proc.h"
#include "core/sys.h"
#include "core/traceback.h"
#include "arch/x86_64/arch.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>

#define MAXFRAMES 64
#define NS 1000000000LL

/* --- buffered raw output --- */

struct out {
	int fd;
	size_t len;
	char buf[2048];
};

static void out_flush(struct out *o)
{
	gr_write_all(o->fd, o->buf, o->len);
	o->len = 0;
}

static void out_str(struct out *o, const char *s, size_t n)
{
	if (o->len + n > sizeof o->buf)
		out_flush(o);
	if (n > sizeof o->buf) {
		gr_write_all(o->fd, s, n);
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static __attribute__((format(printf, 2, 3))) void out_printf(struct out *o, const char *fmt, ...)
{
	char tmp[600];
	va_list ap;
	va_start(ap, fmt);
	size_t n = gr_vfmt(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	out_str(o, tmp, n);
}

/* --- one G --- */

static size_t fmt_dur(char *b, size_t n, int64_t ns)
{
	if (ns >= 60 * NS)
		return gr_fmt(b, n, "%ld minutes", (long)(ns / (60 * NS)));
	if (ns >= NS)
		return gr_fmt(b, n, "%ld.%lds", (long)(ns / NS), (long)(ns % NS / (NS / 10)));
	return gr_fmt(b, n, "%ldms", (long)(ns / 1000000));
}

/* In a blocking system call made through a shim (its P is in P_SYSCALL). */
static bool in_syscall(const struct gr_g *g)
{
	struct gr_m *m = g->m;
	struct gr_p *p = m ? m->p : NULL;
	if (!p)
		return false;
	uint32_t w = atomic_load_explicit(&p->status, memory_order_relaxed);
	return GR_PSTATE(w) == P_SYSCALL && (w >> 4) == (uint32_t)m->id;
}

static void state_str(const struct gr_g *g, int st, char *b, size_t n)
{
	size_t k;
	switch (st) {
	case G_RUNNING:
		k = gr_fmt(b, n, "%s", in_syscall(g) ? "syscall" : "running");
		break;
	case G_RUNNABLE:
		k = gr_fmt(b, n, "runnable");
		break;
	case G_WAITING: {
		int r = g->waitreason;
		k = gr_fmt(b, n, "%s", r > WAIT_NONE && r < WAIT_NREASONS ? gr_waitreason_names[r] : "waiting");
		int64_t since = g->waitsince, d = gr_nanotime_coarse() - since;
		if (since > 0 && d >= 1000000) {
			k += gr_fmt(b + k, n - k, ", ");
			k += fmt_dur(b + k, n - k, d);
		}
		break;
	}
	case G_DEAD:
		k = gr_fmt(b, n, "dead");
		break;
	default:
		k = gr_fmt(b, n, "idle");
		break;
	}
	if (g->pinned)
		gr_fmt(b + k, n - k, ", locked to thread");
}

/* The G whose vtid is tid: a live one first, else one that has exited. */
static struct gr_g *g_by_vtid(struct gr_g *head, int tid)
{
	struct gr_g *dead = NULL;
	for (struct gr_g *g = head; g; g = g->allnext) {
		int st = atomic_load_explicit(&g->status, memory_order_relaxed);
		if (st == G_IDLE || g->vtid != tid)
			continue;
		if (st != G_DEAD)
			return g;
		dead = g;
	}
	return dead;
}

/* " (mutex owned by goroutine 3)": __owner is the int at __lock + 8. */
static size_t mutex_owner(struct gr_g *g, struct gr_g *head, char *b, size_t n)
{
	int owner;
	if (!gr_traceback_peek((char *)g->waitaddr + 8, &owner, sizeof owner))
		return gr_fmt(b, n, " (mutex unreadable)");
	if (owner == 0)
		return gr_fmt(b, n, " (mutex being released)");
	struct gr_g *o = g_by_vtid(head, owner);
	if (o == g)
		return gr_fmt(b, n, " (mutex owned by this goroutine: self-deadlock)");
	if (o)
		return gr_fmt(b, n, " (mutex owned by goroutine %lu%s)", (unsigned long)o->goid,
			      atomic_load(&o->status) == G_DEAD ? ", which has exited" : "");
	return gr_fmt(b, n, " (mutex owned by tid %d, not a goroutine)", owner);
}

/* " (join of goroutine 7)": a joiner waits on the joined G's exited word. */
static size_t joinee(void *a, struct gr_g *head, char *b, size_t n)
{
	for (struct gr_g *x = head; x; x = x->allnext)
		if ((void *)&x->exited == a && atomic_load_explicit(&x->status, memory_order_relaxed) != G_IDLE)
			return gr_fmt(b, n, " (join of goroutine %lu)", (unsigned long)x->goid);
	return 0;
}

static void print_info(struct out *o, struct gr_g *g, int st, struct gr_g *head)
{
	char line[600], sym[200], nm[sizeof g->name + 1];
	size_t k = gr_fmt(line, sizeof line, "libgrun: thread");
	memcpy(nm, g->name, sizeof g->name);
	nm[sizeof g->name] = 0;
	if (nm[0])
		k += gr_fmt(line + k, sizeof line - k, " \"%s\"", nm);
	k += gr_fmt(line + k, sizeof line - k, " tid %d", g->vtid);
	if (g->is_main) {
		k += gr_fmt(line + k, sizeof line - k, " (main thread)");
	} else if (g->createpc) {
		gr_symbolize_ret((uintptr_t)g->createpc, sym, sizeof sym);
		k += gr_fmt(line + k, sizeof line - k, " created at %s", sym);
	}
	struct gr_m *m = g->m;
	if (st == G_RUNNING && m)
		k += gr_fmt(line + k, sizeof line - k, ", on M%d (tid %d)", m->id, m->tid);
	if (st == G_WAITING) {
		void *a = g->waitaddr;
		if (a) {
			k += gr_fmt(line + k, sizeof line - k, ", waits on %p", a);
			if (g->waitreason == WAIT_MUTEX)
				k += mutex_owner(g, head, line + k, sizeof line - k);
			else if (g->waitreason == WAIT_JOIN)
				k += joinee(a, head, line + k, sizeof line - k);
		}
		if (atomic_load(&g->timer.heap)) {
			char d[32];
			int64_t left = g->timer.when - gr_nanotime();
			fmt_dur(d, sizeof d, left > 0 ? left : 0);
			k += gr_fmt(line + k, sizeof line - k, ", %s in %s",
				    g->waitreason == WAIT_SLEEP ? "wakes" : "times out", d);
		}
	}
	if (st == G_DEAD)
		k += gr_fmt(line + k, sizeof line - k, ", exited, not joined yet");
	k += gr_fmt(line + k, sizeof line - k, "\n");
	out_str(o, line, k);
}

static bool same_module(uintptr_t a, uintptr_t b)
{
	Dl_info x, y;
	return dladdr((void *)a, &x) && dladdr((void *)b, &y) && x.dli_fbase == y.dli_fbase;
}

static void print_frames(struct out *o, struct gr_g *g, int st, uintptr_t skip_fp)
{
	uintptr_t pcs[MAXFRAMES + 1];
	uint8_t kinds[MAXFRAMES + 1];
	char sym[256];
	void *sp0 = g ? g->sp : NULL;
	int n = gr_traceback_skip(g, pcs, kinds, MAXFRAMES + 1, skip_fp);
	bool self = !g || g == gr_curg;
	if (n == 0) {
		if (st == G_RUNNING && !self)
			out_printf(o, "\tgoroutine running on other thread; stack unavailable\n");
		else if (st != G_DEAD)
			out_printf(o, "\tstack unavailable\n");
		return;
	}
	uintptr_t gstart = (uintptr_t)gr_arch_gstart;
	if (n == 1 && pcs[0] == gstart && g && g->fn) {
		gr_symbolize((uintptr_t)g->fn, sym, sizeof sym);
		out_printf(o, "%s\n\tpc=%p (not started yet)\n", sym, (void *)g->fn);
		return;
	}
	/* The bottom two frames of every G are gr_arch_gstart and proc's
	 * gmain: Go hides goexit likewise. */
	if (g && n <= MAXFRAMES && pcs[n - 1] - gstart < 32) {
		n--;
		if (n > 1 && same_module(pcs[n - 1] - 1, gstart))
			n--;
	}
	for (int i = 0; i < n && i < MAXFRAMES; i++) {
		if (kinds[i] == GR_FRAME_SIGNAL) {
			out_printf(o, "<signal handler called>\n\tpc=%p\n", (void *)pcs[i]);
			continue;
		}
		if (kinds[i] == GR_FRAME_EXACT)
			gr_symbolize(pcs[i], sym, sizeof sym);
		else
			gr_symbolize_ret(pcs[i], sym, sizeof sym);
		out_printf(o, "%s\n\tpc=%p\n", sym, (void *)pcs[i]);
	}
	if (n > MAXFRAMES)
		out_printf(o, "...additional frames elided...\n");
	if (!self && (g->sp != sp0 || atomic_load(&g->status) != st))
		out_printf(o, "\t(the thread ran during the dump: this stack may be inexact)\n");
}

static void print_g(struct out *o, struct gr_g *g, uintptr_t skip_fp, struct gr_g *head)
{
	char state[96];
	int st = atomic_load(&g->status);
	state_str(g, st, state, sizeof state);
	out_printf(o, "goroutine %lu [%s]:\n", (unsigned long)g->goid, state);
	print_info(o, g, st, head);
	print_frames(o, g, st, skip_fp);
	out_str(o, "\n", 1);
}

/* The calling thread when it is no G: g0, sysmon, a foreign thread. */
static void print_thread(struct out *o, uintptr_t skip_fp)
{
	struct gr_m *m = gr_curm;
	int tid = gr_gettid();
	if (m && m->is_sysmon)
		out_printf(o, "runtime stack (sysmon, tid %d):\n", tid);
	else if (m)
		out_printf(o, "runtime stack (M%d g0, tid %d):\n", m->id, tid);
	else
		out_printf(o, "thread tid %d [running, not a goroutine]:\n", tid);
	print_frames(o, NULL, G_RUNNING, skip_fp);
	out_str(o, "\n", 1);
}

/* --- all Gs --- */

static _Atomic int dumper;	/* kernel tid of the thread dumping, 0 if none */

/* Returns true when the caller owns the dump and must call dump_end. */
static bool dump_begin(void)
{
	int tid = gr_gettid();
	for (int i = 0; i < 1000; i++) {
		int z = 0;
		if (atomic_compare_exchange_strong(&dumper, &z, tid))
			return true;
		if (z == tid)
			return false;	/* nested on this thread: print at once */
		struct timespec ts = { 0, 1000000 };
		gr_sys(SYS_nanosleep, &ts, NULL, 0);
	}
	return false;	/* a stuck dumper: print anyway */
}

static bool goid_less(const struct gr_g *a, const struct gr_g *b)
{
	return a->goid < b->goid;
}

static void sift(struct gr_g **v, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && goid_less(v[c], v[c + 1]))
			c++;
		if (!goid_less(v[i], v[c]))
			return;
		struct gr_g *t = v[i];
		v[i] = v[c];
		v[c] = t;
		i = c;
	}
}

static void sort_gs(struct gr_g **v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(v, i, n);
	for (size_t k = n; k-- > 1;) {
		struct gr_g *t = v[0];
		v[0] = v[k];
		v[k] = t;
		sift(v, 0, k);
	}
}

static bool listed(struct gr_g *g, struct gr_g *self)
{
	return g != self && atomic_load_explicit(&g->status, memory_order_relaxed) != G_IDLE;
}

static void dump_all(int fd, const char *why, uintptr_t skip_fp)
{
	bool owner = dump_begin();
	struct out o;
	o.fd = fd;
	o.len = 0;
	if (why && *why)
		out_printf(&o, "%s\n\n", why);
	if (gr_heap_mode == 1) {
		out_flush(&o);
		gr_heap_print_metrics(fd);
		out_printf(&o, "\n");
		if (gr_cfg.leakreport && gr_gc_enabled() && gr_gc_leak_report_try(fd))
			out_printf(&o, "\n");
	}
	/* One snapshot of the list head: everything below it is immutable. */
	struct gr_g *head = __atomic_load_n(&gr_allg, __ATOMIC_ACQUIRE);
	struct gr_g *self = gr_curg;
	if (self)
		print_g(&o, self, skip_fp, head);
	else
		print_thread(&o, skip_fp);

	size_t n = 0;
	for (struct gr_g *g = head; g; g = g->allnext)
		n++;
	size_t bytes = (n * sizeof(struct gr_g *) + 4095) & ~(size_t)4095;
	struct gr_g **v = n ? gr_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
			    : (void *)-1;
	if (v != (void *)-1) {
		size_t k = 0;
		for (struct gr_g *g = head; g && k < n; g = g->allnext)
			if (listed(g, self))
				v[k++] = g;
		sort_gs(v, k);
		for (size_t i = 0; i < k; i++)
			print_g(&o, v[i], 0, head);
		gr_munmap(v, bytes);
	} else {
		for (struct gr_g *g = head; g; g = g->allnext)	/* newest first */
			if (listed(g, self))
				print_g(&o, g, 0, head);
	}
	out_flush(&o);
	if (owner)
		atomic_store(&dumper, 0);
}

__attribute__((noinline)) void gr_dump_all(int fd, const char *why)
{
	dump_all(fd, why, (uintptr_t)__builtin_frame_address(0));
}

__attribute__((noinline)) void gr_dump_g(int fd, struct gr_g *g)
{
	struct out o;
	o.fd = fd;
	o.len = 0;
	print_g(&o, g, (uintptr_t)__builtin_frame_address(0), __atomic_load_n(&gr_allg, __ATOMIC_ACQUIRE));
	out_flush(&o);
}

/* After "fatal error: ..." (throw.c): a blank line and every G, the
 * thrower's stack starting at gr_throw. */
__attribute__((noinline)) void gr_dump_throw_hook(void)
{
	gr_write_all(2, "\n", 1);
	dump_all(2, NULL, (uintptr_t)__builtin_frame_address(0));
}
