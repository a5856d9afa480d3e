/* traceback: walking a G's stack and naming the addresses found there.
 *
 * Walking. A running thread is walked from here; a G that is not running
 * is walked from the context gr_arch_switch saved at g->sp (switch.S:
 * from low to high [MXCSR|x87 CW][r15][r14][r13][r12][rbx][rbp][return
 * address], resumed rsp = g->sp + 64). The walker is libunwind (DWARF CFI,
 * so programs built without frame pointers unwind too), fed a ucontext_t
 * built by hand from those saved registers. Without libunwind we follow the
 * frame-pointer chain; libgrun itself keeps frame pointers, programs may
 * not, so that walk may stop early or skip frames.
 *
 * libunwind is dlopened RTLD_LOCAL on first use and reached only through
 * dlsym'd pointers: linked normally, its _Unwind_* would come before
 * libgcc_s's in global scope and break C++ exceptions (DESIGN.md 14). Its
 * cache is turned off (UNW_CACHE_NONE) so a step takes no lock of its own.
 *
 * Safety. A dump must not crash the process it describes. Every word the
 * frame-pointer walker reads is checked against the walked stack's bounds
 * ([stack_lo, map_top), or stack_hi for G1), and for another G's stack,
 * which may be freed under us if it runs and exits, is read through
 * process_vm_readv on ourselves, which fails with EFAULT instead of
 * faulting. libunwind validates its own reads (conservative checks);
 * we also stop it when the stack pointer leaves the stack or stops
 * growing. Rejected: a SIGSEGV recovery handler (the signal code owns
 * SIGSEGV, and longjmp out of a fault in a lock-holding libc is worse).
 *
 * Signal frames. A dump usually runs in a signal handler. The kernel's
 * signal frame is recognised by its return address, glibc's __restore_rt,
 * which the kernel reports as sa_restorer of any handler glibc installed
 * (libunwind's unw_is_signal_frame answers one frame late in 1.6). The
 * frame below it is the interrupted pc itself, not a return address; the
 * frame-pointer walker resumes from the ucontext the kernel saved there.
 *
 * Naming. dladdr1 gives the module (link_map) of a pc. Per module we read
 * the file's .symtab (or the debug file found by build-id under
 * /usr/lib/debug, or .dynsym) once, into a sorted table in mmap'd memory,
 * so static functions get names too; the file stays mapped for the
 * strings. Files are read with raw system calls; nothing here calls
 * malloc or an interposed libc function (dlopen/dladdr themselves may
 * allocate and take the loader lock). Rejected: libelf, which mallocs its
 * descriptors and would be a second dlopen for a hundred lines of ELF.
 *
 * Shared state: the module table is append-only; a slot is filled under
 * modlock (a trylock: a thread that finds it busy names the pc through
 * dladdr alone) and published by the release store of nmods.
 */
#include "core/traceback.h"
#include "core/proc.h"
#include "core/sys.h"
#include "arch/x86_64/arch.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <ucontext.h>

bool gr_traceback_fponly;

/* --- reading memory that may not be there --- */

static _Atomic int pvr_state;	/* 0 unknown, 1 works, -1 not allowed here */

/* 1 read, 0 unreadable, -1 process_vm_readv unavailable (seccomp, ENOSYS). */
static int pvr_read(uintptr_t addr, uintptr_t *out)
{
	if (atomic_load_explicit(&pvr_state, memory_order_relaxed) < 0)
		return -1;
	struct iovec l = { out, sizeof *out }, r = { (void *)addr, sizeof *out };
	long pid = gr_sys(SYS_getpid, 0, 0, 0);
	long n = gr_sys6(SYS_process_vm_readv, pid, (long)&l, 1, (long)&r, 1, 0);
	if (n == (long)sizeof *out) {
		atomic_store_explicit(&pvr_state, 1, memory_order_relaxed);
		return 1;
	}
	if (n == -ENOSYS || n == -EPERM || n == -EACCES) {
		atomic_store_explicit(&pvr_state, -1, memory_order_relaxed);
		return -1;
	}
	return 0;
}

bool gr_traceback_peek(const void *addr, void *out, size_t n)
{
	if ((uintptr_t)addr < 4096)
		return false;
	if (atomic_load_explicit(&pvr_state, memory_order_relaxed) >= 0) {
		struct iovec l = { out, n }, r = { (void *)addr, n };
		long pid = gr_sys(SYS_getpid, 0, 0, 0);
		long got = gr_sys6(SYS_process_vm_readv, pid, (long)&l, 1, (long)&r, 1, 0);
		if (got == (long)n)
			return true;
		if (got != -ENOSYS && got != -EPERM && got != -EACCES)
			return false;
		atomic_store_explicit(&pvr_state, -1, memory_order_relaxed);
	}
	memcpy(out, addr, n);	/* caller vouches that addr is mapped */
	return true;
}

/* The stack being walked. In "free" mode (the calling thread on a stack we
 * know nothing about: g0, sysmon, a signal stack) words are read only
 * through process_vm_readv; once a frame lands in the G's stack the walk
 * stays there ("strict"). */
struct walk {
	uintptr_t lo, hi;	/* the G's stack; 0, 0 when unknown */
	bool strict;		/* every frame must be inside [lo, hi] */
	bool racy;		/* another G's stack: it may run, exit, be unmapped */
	uintptr_t tramp;	/* __restore_rt, or 0 if unknown */
};

static bool in_stack(const struct walk *w, uintptr_t a, size_t len)
{
	return w->hi && a >= w->lo && a <= w->hi && w->hi - a >= len;
}

static bool read_word(const struct walk *w, uintptr_t addr, uintptr_t *out)
{
	if (addr & 7)
		return false;
	bool inside = in_stack(w, addr, 8);
	if (!inside && w->strict)
		return false;
	if (inside && !w->racy) {
		*out = *(const uintptr_t *)addr;
		return true;
	}
	int r = pvr_read(addr, out);
	if (r >= 0)
		return r == 1;
	if (!inside)
		return false;
	*out = *(const volatile uintptr_t *)addr;
	return true;
}

/* May the walk go on with a frame whose stack pointer is sp (prev: the
 * previous frame's, 0 for the first)? Frames move strictly up a stack; the
 * one allowed jump is from the starting stack onto the G's (a signal
 * frame, or g0 -> G is not walked). */
static bool next_sp_ok(struct walk *w, uintptr_t prev, uintptr_t sp)
{
	if (sp & 7)
		return false;
	if (w->strict)
		return in_stack(w, sp, 0) && (prev == 0 || sp > prev);
	if (in_stack(w, sp, 0) && (prev == 0 || !in_stack(w, prev, 0))) {
		w->strict = true;
		return true;
	}
	return prev == 0 || (sp > prev && sp - prev < (1u << 20));
}

/* --- signal frames --- */

/* glibc's __restore_rt: the return address the kernel gives a signal
 * handler. The kernel reports it as sa_restorer of any handler glibc
 * installed; we look once at every signal. 0: unknown (yet). */
static _Atomic uintptr_t restorer;

static uintptr_t sig_restorer(void)
{
	uintptr_t r = atomic_load_explicit(&restorer, memory_order_relaxed);
	if (r)
		return r;
	for (int sig = 1; sig <= 64 && !r; sig++) {
		struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } ka;
		if (sig == SIGKILL || sig == SIGSTOP ||
		    gr_sys6(SYS_rt_sigaction, sig, 0, (long)&ka, 8, 0, 0) != 0)
			continue;
		if ((ka.flags & 0x04000000 /* SA_RESTORER */) && (uintptr_t)ka.restorer >= 4096)
			r = (uintptr_t)ka.restorer;
	}
	atomic_store_explicit(&restorer, r, memory_order_relaxed);
	return r;
}

static bool is_sigtramp(const struct walk *w, uintptr_t pc)
{
	return w->tramp && pc == w->tramp;
}

/* Asynchronous preemption (switch.S, gr_arch_preempt_tramp) is entered as
 * if called from the interrupted instruction: the frame below it is an
 * exact pc. gr_arch_preempt_ret labels the return address of its call
 * into the scheduler (weak: 0 until switch.S defines it). The trampoline
 * sets rbp to its rsp after pushing flags and the 15 registers, so at
 * that rbp: the interrupted rbp at +64, the interrupted pc at +128, and
 * the interrupted rsp is rbp + 264 (the 128-byte red-zone gap included).
 * Must match the push order in switch.S. */
extern const char gr_arch_preempt_ret[] __attribute__((weak, visibility("hidden")));
#define PREEMPT_RBP_OFF 64
#define PREEMPT_PC_OFF 128
#define PREEMPT_SP_OFF 264

static bool is_preempt_ret(uintptr_t pc)
{
	return gr_arch_preempt_ret && pc == (uintptr_t)gr_arch_preempt_ret;
}

/* --- collected frames --- */

struct frames {
	uintptr_t *pcs;
	uint8_t *kinds;			/* NULL or max entries */
	int n, max;
	uintptr_t skip_fp;	/* drop frames with sp <= this, until one is kept */
	bool keeping;
};

/* Record a frame: pc is a return address, sp the stack pointer just above
 * the slot it was stored in (the caller's sp after the return). Returns
 * false when full. */
static bool add_frame(struct frames *f, uintptr_t pc, uintptr_t sp, int kind)
{
	if (!f->keeping) {
		if (sp <= f->skip_fp)
			return true;
		f->keeping = true;
	}
	if (f->n >= f->max)
		return false;
	if (f->kinds)
		f->kinds[f->n] = (uint8_t)kind;
	f->pcs[f->n++] = pc;
	return f->n < f->max;
}

/* A frame returned into the preemption trampoline, whose rbp is blk (the
 * register block): add the interrupted pc and continue from its rsp and
 * rbp. sp: the stack pointer above the trampoline's return slot. */
static bool cross_preempt(struct walk *w, struct frames *f, uintptr_t sp, uintptr_t blk,
			  uintptr_t *isp, uintptr_t *ifp)
{
	uintptr_t ip;
	*isp = blk + PREEMPT_SP_OFF;
	return next_sp_ok(w, sp, blk) && read_word(w, blk + PREEMPT_PC_OFF, &ip) &&
	       read_word(w, blk + PREEMPT_RBP_OFF, ifp) && ip >= 4096 &&
	       next_sp_ok(w, blk, *isp) && add_frame(f, ip, *isp, GR_FRAME_EXACT);
}

/* Follow the rbp chain from frame pointer fp; sp is the stack pointer of
 * the frame that fp belongs to (a frame pointer is never below it). */
static void fp_walk(struct walk *w, uintptr_t fp, uintptr_t sp, struct frames *f)
{
	for (int guard = 0; guard < 4096; guard++) {
		uintptr_t next, ret;
		bool was_strict = w->strict;
		if (!next_sp_ok(w, sp, fp + 16) || (was_strict && fp < sp) ||
		    !read_word(w, fp, &next) || !read_word(w, fp + 8, &ret))
			return;
		if (ret < 4096)
			return;
		if (is_sigtramp(w, ret)) {
			/* A handler's frame: its return address is __restore_rt
			 * and the kernel's ucontext follows it; resume the walk
			 * from the interrupted registers. */
			uintptr_t uc = fp + 16, gregs = uc + offsetof(ucontext_t, uc_mcontext.gregs);
			uintptr_t ip, isp, ifp;
			if (!add_frame(f, ret, fp + 16, GR_FRAME_SIGNAL) ||
			    !read_word(w, gregs + 8 * REG_RIP, &ip) ||
			    !read_word(w, gregs + 8 * REG_RSP, &isp) ||
			    !read_word(w, gregs + 8 * REG_RBP, &ifp) || ip < 4096 ||
			    !next_sp_ok(w, w->strict ? fp + 16 : 0, isp) ||
			    !add_frame(f, ip, isp, GR_FRAME_EXACT))
				return;
			sp = isp;
			fp = ifp;
			continue;
		}
		if (!add_frame(f, ret, fp + 16, GR_FRAME_RET))
			return;
		if (is_preempt_ret(ret)) {
			if (!cross_preempt(w, f, fp + 16, next, &sp, &fp))
				return;
			continue;
		}
		if (next == 0)
			return;		/* outermost frame (gr_arch_gstart clears rbp) */
		sp = fp + 16;
		fp = next;
	}
}

/* --- libunwind, through dlopen --- */

#define UNW_CURSOR_WORDS 160	/* libunwind's is 127 (UNW_TDEP_CURSOR_LEN) */
#define UNW_RBP 6
#define UNW_RSP 7
#define UNW_RIP 16

static struct {
	int (*init_local)(void *cursor, ucontext_t *uc);
	int (*step)(void *cursor);
	int (*get_reg)(void *cursor, int reg, uint64_t *val);
	int (*getcontext)(ucontext_t *uc);
} unw;
static _Atomic int unw_state;	/* 0 not tried, 1 loading, 2 ready, -1 unavailable */

static bool unw_ready(void)
{
	int st = atomic_load_explicit(&unw_state, memory_order_acquire);
	if (st == 2)
		return !gr_traceback_fponly;
	if (st != 0 || gr_traceback_fponly)
		return false;
	if (!atomic_compare_exchange_strong(&unw_state, &st, 1))
		return false;	/* another thread is loading it: use frame pointers this time */
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (h) {
		unw.init_local = (int (*)(void *, ucontext_t *))dlsym(h, "_ULx86_64_init_local");
		unw.step = (int (*)(void *))dlsym(h, "_ULx86_64_step");
		unw.get_reg = (int (*)(void *, int, uint64_t *))dlsym(h, "_ULx86_64_get_reg");
		unw.getcontext = (int (*)(ucontext_t *))dlsym(h, "_Ux86_64_getcontext");
		int (*policy)(void *, int) = (int (*)(void *, int))dlsym(h, "_ULx86_64_set_caching_policy");
		void **as = dlsym(h, "_ULx86_64_local_addr_space");
		if (policy && as && *as)
			policy(*as, 0);	/* UNW_CACHE_NONE: no global cache, no lock */
	}
	bool ok = h && unw.init_local && unw.step && unw.get_reg && unw.getcontext;
	atomic_store_explicit(&unw_state, ok ? 2 : -1, memory_order_release);
	return ok;
}

void gr_traceback_init(void)
{
	(void)unw_ready();
}

static void unw_walk(ucontext_t *uc, struct walk *w, struct frames *f)
{
	uint64_t cursor[UNW_CURSOR_WORDS] __attribute__((aligned(16)));
	if (unw.init_local(cursor, uc) < 0)
		return;
	uintptr_t prev = 0;
	int kind = GR_FRAME_RET;
	for (int guard = 0; guard < 4096; guard++) {
		uint64_t ip, sp, fp;
		if (unw.get_reg(cursor, UNW_RIP, &ip) < 0 || unw.get_reg(cursor, UNW_RSP, &sp) < 0)
			return;
		/* Below the kernel's signal frame is the interrupted pc itself.
		 * (unw_is_signal_frame answers one frame late in 1.6.) */
		bool sig = is_sigtramp(w, ip);
		if (sig)
			kind = GR_FRAME_SIGNAL;
		/* Across a signal frame the stack may change (alternate signal
		 * stack -> g0 or G stack): the sp of the interrupted frame is
		 * not compared with the handler's, unless we are in the G's. */
		uintptr_t after = kind == GR_FRAME_EXACT && !w->strict ? 0 : prev;
		if (ip < 4096 || !next_sp_ok(w, after, sp) || !add_frame(f, ip, sp, kind))
			return;
		kind = sig || is_preempt_ret(ip) ? GR_FRAME_EXACT : GR_FRAME_RET;
		prev = sp;
		int r = unw.step(cursor);
		if (r > 0)
			continue;
		/* r == 0: the outermost frame. r < 0: no unwind information
		 * here (JIT code, a stripped .eh_frame): try the rbp chain. */
		if (r < 0 && unw.get_reg(cursor, UNW_RBP, &fp) == 0)
			fp_walk(w, fp, sp, f);
		return;
	}
}

/* --- the two starting points --- */

static void stack_bounds(const struct gr_g *g, struct walk *w)
{
	w->lo = w->hi = 0;
	w->tramp = sig_restorer();
	if (!g || !g->stack_lo)
		return;
	uintptr_t hi = (uintptr_t)(g->map_top ? g->map_top : g->stack_hi);
	if (hi > (uintptr_t)g->stack_lo) {
		w->lo = (uintptr_t)g->stack_lo;
		w->hi = hi;
	}
}

static __attribute__((noinline)) void walk_self(struct gr_g *g, struct frames *f)
{
	struct walk w;
	stack_bounds(g, &w);
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	w.strict = in_stack(&w, sp, 0);
	w.racy = false;
	if (unw_ready()) {
		ucontext_t uc;
		if (unw.getcontext(&uc) == 0) {
			unw_walk(&uc, &w, f);
			return;
		}
	}
	fp_walk(&w, sp, sp, f);
}

static void walk_saved(struct gr_g *g, struct frames *f)
{
	struct walk w;
	stack_bounds(g, &w);
	w.strict = true;
	w.racy = true;
	uintptr_t sp = (uintptr_t)g->sp;
	uintptr_t s[8];
	if (!in_stack(&w, sp, sizeof s))
		return;
	for (int i = 0; i < 8; i++)
		if (!read_word(&w, sp + 8 * (uintptr_t)i, &s[i]))
			return;
	if (s[7] == (uintptr_t)gr_arch_gstart) {
		add_frame(f, s[7], sp + 64, GR_FRAME_EXACT);	/* never ran: nothing to unwind */
		return;
	}
	if (unw_ready()) {
		ucontext_t uc;
		memset(&uc, 0, sizeof uc);
		greg_t *r = uc.uc_mcontext.gregs;
		r[REG_R15] = (greg_t)s[1];
		r[REG_R14] = (greg_t)s[2];
		r[REG_R13] = (greg_t)s[3];
		r[REG_R12] = (greg_t)s[4];
		r[REG_RBX] = (greg_t)s[5];
		r[REG_RBP] = (greg_t)s[6];
		r[REG_RIP] = (greg_t)s[7];
		r[REG_RSP] = (greg_t)(sp + 64);
		uc.uc_mcontext.fpregs = &uc.__fpregs_mem;
		unw_walk(&uc, &w, f);
		return;
	}
	if (s[7] < 4096 || !add_frame(f, s[7], sp + 64, GR_FRAME_RET))
		return;
	uintptr_t fp = s[6], fsp = sp + 64;
	if (is_preempt_ret(s[7]) && !cross_preempt(&w, f, sp + 64, s[6], &fsp, &fp))
		return;		/* parked right from the trampoline (a tail call) */
	fp_walk(&w, fp, fsp, f);
}

int gr_traceback_skip(struct gr_g *g, uintptr_t *pcs, uint8_t *kinds, int max, uintptr_t skip_fp)
{
	if (max <= 0)
		return 0;
	struct frames f = { pcs, kinds, 0, max, 0, true };
	struct gr_g *self = gr_curg;
	if (!g || g == self) {
		f.skip_fp = skip_fp;
		f.keeping = false;
		walk_self(self, &f);
		return f.n;
	}
	int st = atomic_load(&g->status);
	/* On g0 of the M whose current G this is, that G is switched out. */
	struct gr_m *m = gr_curm;
	bool switched_out = st == G_RUNNING && !self && m && m->curg == g;
	if (st == G_WAITING || st == G_RUNNABLE || switched_out)
		walk_saved(g, &f);
	return f.n;
}

int gr_traceback(struct gr_g *g, uintptr_t *pcs, int max)
{
	return gr_traceback_skip(g, pcs, NULL, max, (uintptr_t)__builtin_frame_address(0));
}

/* --- symbols --- */

struct sym {
	uint64_t addr;			/* link-time address (st_value) */
	uint32_t size : 30, global : 1, ugly : 1;	/* ugly: "name@VER", "__GI_name" */
	uint32_t name;			/* offset in the module's string table */
};

#define NMODS 128

struct mod {
	const void *lm;			/* key: link_map, load bias and path */
	uintptr_t bias;
	char path[256];			/* file read ("/proc/self/exe" for the program) */
	char name[64];			/* shown: base name */
	const struct sym *syms;		/* sorted by addr; NULL if none */
	uint32_t nsyms;
	const char *strtab;
	size_t strsz;
};

static struct mod mods[NMODS];
static _Atomic int nmods;		/* slots [0, nmods) are filled, never changed */
static _Atomic int modlock;

static const char *base_name(const char *p)
{
	const char *b = p;
	for (; *p; p++)
		if (*p == '/')
			b = p + 1;
	return b;
}

static void copy_str(char *dst, size_t n, const char *src, size_t max)
{
	size_t i = 0;
	for (; i + 1 < n && i < max && src[i]; i++)
		dst[i] = src[i];
	dst[i] = 0;
}

/* Map a whole file read-only; NULL on any failure. */
static const unsigned char *map_file(const char *path, size_t *size)
{
	long fd = gr_sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	void *p = (void *)-1;
	if (gr_sys(SYS_fstat, fd, &st, 0) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= (off_t)sizeof(Elf64_Ehdr))
		p = gr_mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, (int)fd, 0);
	gr_sys(SYS_close, fd, 0, 0);	/* the mapping keeps the file */
	if (p == (void *)-1)
		return NULL;
	*size = (size_t)st.st_size;
	return p;
}

static bool sym_less(const struct sym *a, const struct sym *b)
{
	if (a->addr != b->addr)
		return a->addr < b->addr;
	/* Aliases: global over local (the glibc debug file has locals like
	 * __libc_start_main_alias_2), then a plain name over "name@VERSION"
	 * and glibc's internal "__GI_name". */
	if (a->global != b->global)
		return a->global;
	if (a->ugly != b->ugly)
		return !a->ugly;
	return a->size > b->size;
}

static void sift(struct sym *s, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && sym_less(&s[c], &s[c + 1]))
			c++;
		if (!sym_less(&s[i], &s[c]))
			return;
		struct sym t = s[i];
		s[i] = s[c];
		s[c] = t;
		i = c;
	}
}

/* Heapsort (qsort may malloc). */
static void sort_syms(struct sym *s, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(s, i, n);
	for (size_t k = n; k-- > 1;) {
		struct sym t = s[0];
		s[0] = s[k];
		s[k] = t;
		sift(s, 0, k);
	}
}

static bool sec_ok(const Elf64_Shdr *s, size_t size)
{
	return s->sh_type != SHT_NOBITS && !(s->sh_flags & SHF_COMPRESSED) &&
	       s->sh_offset <= size && s->sh_size <= size - s->sh_offset;
}

/* /usr/lib/debug/.build-id/xx/yyyy.debug from the file's build-id note. */
static bool debug_path(const unsigned char *img, size_t size, const Elf64_Shdr *sh, int nsh,
		       char *out, size_t n)
{
	for (int i = 0; i < nsh; i++) {
		if (sh[i].sh_type != SHT_NOTE || !sec_ok(&sh[i], size))
			continue;
		const unsigned char *p = img + sh[i].sh_offset, *end = p + sh[i].sh_size;
		while ((size_t)(end - p) >= sizeof(Elf64_Nhdr)) {
			const Elf64_Nhdr *nh = (const void *)p;
			size_t nsz = (nh->n_namesz + 3) & ~3u, dsz = (nh->n_descsz + 3) & ~3u;
			const unsigned char *name = p + sizeof *nh, *desc = name + nsz;
			if ((size_t)(end - name) < nsz || (size_t)(end - desc) < dsz)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0 && nh->n_descsz >= 2 && nh->n_descsz <= 64) {
				size_t k = gr_fmt(out, n, "/usr/lib/debug/.build-id/%02x/", desc[0]);
				for (uint32_t j = 1; j < nh->n_descsz && k + 3 < n; j++)
					k += gr_fmt(out + k, n - k, "%02x", desc[j]);
				gr_fmt(out + k, n - k, ".debug");
				return true;
			}
			p = desc + dsz;
		}
	}
	return false;
}

/* Read the function symbols of path into m. depth 1: a debug file. */
static bool load_syms(struct mod *m, const char *path, int depth)
{
	size_t size;
	const unsigned char *img = map_file(path, &size);
	if (!img)
		return false;
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Shdr *sh = NULL;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
	    eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shoff && eh->e_shnum &&
	    eh->e_shoff <= size && (size - eh->e_shoff) / sizeof(Elf64_Shdr) >= eh->e_shnum)
		sh = (const void *)(img + eh->e_shoff);
	int nsh = sh ? eh->e_shnum : 0, symtab = -1, dynsym = -1;
	for (int i = 0; i < nsh; i++) {
		if (sh[i].sh_type == SHT_SYMTAB)
			symtab = i;
		else if (sh[i].sh_type == SHT_DYNSYM)
			dynsym = i;
	}
	if (symtab < 0 && depth == 0) {
		char dbg[160];
		if (debug_path(img, size, sh, nsh, dbg, sizeof dbg) && load_syms(m, dbg, 1)) {
			gr_munmap((void *)img, size);
			return true;
		}
	}
	int use = symtab >= 0 ? symtab : dynsym;
	if (use < 0 || !sec_ok(&sh[use], size) || sh[use].sh_entsize != sizeof(Elf64_Sym) ||
	    sh[use].sh_link >= (uint32_t)nsh || sh[sh[use].sh_link].sh_type != SHT_STRTAB ||
	    !sec_ok(&sh[sh[use].sh_link], size))
		goto out_unmap;
	const Elf64_Sym *es = (const void *)(img + sh[use].sh_offset);
	size_t nes = sh[use].sh_size / sizeof(Elf64_Sym);
	const Elf64_Shdr *str = &sh[sh[use].sh_link];
	const char *strs = (const char *)img + str->sh_offset;
	size_t n = 0;
	for (size_t i = 0; i < nes; i++) {
		int t = ELF64_ST_TYPE(es[i].st_info);
		if ((t == STT_FUNC || t == STT_GNU_IFUNC) && es[i].st_shndx != SHN_UNDEF &&
		    es[i].st_value && es[i].st_name && es[i].st_name < str->sh_size)
			n++;
	}
	if (n == 0 || n > (1u << 24))
		goto out_unmap;
	struct sym *s = gr_mmap(NULL, n * sizeof *s, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == (void *)-1)
		goto out_unmap;
	size_t k = 0;
	for (size_t i = 0; i < nes && k < n; i++) {
		int t = ELF64_ST_TYPE(es[i].st_info);
		if (!((t == STT_FUNC || t == STT_GNU_IFUNC) && es[i].st_shndx != SHN_UNDEF &&
		      es[i].st_value && es[i].st_name && es[i].st_name < str->sh_size))
			continue;
		s[k].addr = es[i].st_value;
		s[k].size = es[i].st_size < (1u << 30) ? (uint32_t)es[i].st_size : 0;
		s[k].global = ELF64_ST_BIND(es[i].st_info) != STB_LOCAL;
		const char *nm = strs + es[i].st_name;
		s[k].ugly = memchr(nm, '@', strnlen(nm, str->sh_size - es[i].st_name)) != NULL ||
			    strncmp(nm, "__GI_", 5) == 0;
		s[k].name = (uint32_t)es[i].st_name;
		k++;
	}
	sort_syms(s, k);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || s[i].addr != s[u - 1].addr)
			s[u++] = s[i];
	m->syms = s;
	m->nsyms = (uint32_t)u;
	m->strtab = (const char *)img + str->sh_offset;
	m->strsz = str->sh_size;
	return true;
out_unmap:
	gr_munmap((void *)img, size);
	return false;
}

static struct mod *mod_find(const void *lm, uintptr_t bias, const char *path)
{
	int n = atomic_load_explicit(&nmods, memory_order_acquire);
	for (int i = 0; i < n; i++)
		if (mods[i].lm == lm && mods[i].bias == bias && strcmp(mods[i].path, path) == 0)
			return &mods[i];
	return NULL;
}

/* The module of link map lm, its symbols loaded on first sight. NULL when
 * another thread is loading one or the table is full. */
static struct mod *mod_get(const struct link_map *lm)
{
	char path[256];
	bool exe = lm->l_name[0] == 0;
	copy_str(path, sizeof path, exe ? "/proc/self/exe" : lm->l_name, sizeof path);
	struct mod *m = mod_find(lm, lm->l_addr, path);
	if (m)
		return m;
	int z = 0;
	if (!atomic_compare_exchange_strong(&modlock, &z, 1))
		return NULL;
	int n = atomic_load(&nmods);
	m = mod_find(lm, lm->l_addr, path);
	if (!m && n < NMODS) {
		m = &mods[n];
		memset(m, 0, sizeof *m);
		m->lm = lm;
		m->bias = lm->l_addr;
		memcpy(m->path, path, sizeof path);
		const char *shown = path;
		char exe_path[256];
		if (exe) {
			long r = gr_sys(SYS_readlink, "/proc/self/exe", exe_path, sizeof exe_path - 1);
			if (r > 0) {
				exe_path[r] = 0;
				shown = exe_path;
			}
		}
		copy_str(m->name, sizeof m->name, base_name(shown), sizeof m->name);
		(void)load_syms(m, path, 0);	/* without symbols: module+offset */
		atomic_store_explicit(&nmods, n + 1, memory_order_release);
	}
	atomic_store_explicit(&modlock, 0, memory_order_release);
	return m;
}

/* The function symbol containing link-time address a, or NULL. */
static const struct sym *sym_find(const struct mod *m, uint64_t a)
{
	if (!m->syms || m->nsyms == 0 || a < m->syms[0].addr)
		return NULL;
	size_t lo = 0, hi = m->nsyms;	/* last i with addr <= a is in [lo, hi) */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->syms[mid].addr <= a)
			lo = mid;
		else
			hi = mid;
	}
	/* Sized symbols: containment. Unsized (assembly without .size): up to
	 * the next symbol, within reason. A few steps back for nested ones. */
	for (size_t i = lo + 1, k = 0; i-- > 0 && k < 4; k++) {
		const struct sym *s = &m->syms[i];
		if (s->size ? a - s->addr < s->size
			    : (k == 0 && a - s->addr < 65536 &&
			       (i + 1 == m->nsyms || a < m->syms[i + 1].addr)))
			return s;
	}
	return NULL;
}

static void symbolize(uintptr_t pc, bool ret, char *buf, size_t n)
{
	if (n == 0)
		return;
	uintptr_t look = ret ? pc - 1 : pc;
	Dl_info info;
	struct link_map *lm = NULL;
	if (pc < 4096 || !dladdr1((void *)look, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm) {
		gr_fmt(buf, n, "%p", (void *)pc);
		return;
	}
	struct mod *m = mod_get(lm);
	uintptr_t bias = lm->l_addr;
	const char *mname = m ? m->name : base_name(info.dli_fname ? info.dli_fname : "?");
	const struct sym *s = m ? sym_find(m, look - bias) : NULL;
	if (s) {
		char name[160];
		copy_str(name, sizeof name, m->strtab + s->name, m->strsz - s->name);
		char *at = strchr(name, '@');	/* "name@@GLIBC_2.34": the name */
		if (at && at != name)
			*at = 0;
		gr_fmt(buf, n, "%s+0x%lx (%s)", name, (unsigned long)(pc - bias - s->addr), mname);
	} else if ((!m || !m->syms) && info.dli_sname && info.dli_saddr && look >= (uintptr_t)info.dli_saddr) {
		gr_fmt(buf, n, "%s+0x%lx (%s)", info.dli_sname,
		       (unsigned long)(pc - (uintptr_t)info.dli_saddr), mname);
	} else {
		gr_fmt(buf, n, "%s+0x%lx", mname, (unsigned long)(pc - bias));
	}
}

void gr_symbolize(uintptr_t pc, char *buf, size_t n)
{
	symbolize(pc, false, buf, n);
}

void gr_symbolize_ret(uintptr_t pc, char *buf, size_t n)
{
	symbolize(pc, true, buf, n);
}
