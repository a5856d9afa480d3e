/* tls: per-G glibc TCBs (see tls.h).
 *
 * Discovery, at start-up, on the initial thread:
 *  - libthread_db descriptors give sizeof(struct pthread) and the offsets
 *    of list, tid, specific, cancelhandling;
 *  - get_robust_list gives &robust_head; specific[0] points at
 *    specific_1stblock; __rseq_offset and the __resp TLS symbol give the
 *    rseq area and the resolver pointer;
 *  - the remaining offsets (stackblock, res, cleanup_jmp_buf, user_stack)
 *    come from the layout table, used only when everything above agrees
 *    with the same table row.
 * Fields a G's struct pthread needs (each misbehaved when missing, DESIGN
 * section 3): tcb/self, stack_guard and pointer_guard, multiple_threads, the
 * list, a unique tid, the robust list head, specific[0], stackblock,
 * rseq cpu_id = -2 (sched_getcpu falls back to the vDSO), __resp.
 *
 * Invariant: a TCB on glibc's dl_stack_user list stays mapped while listed
 * (pooled TCBs stay listed), so a concurrent walker in ld.so never follows
 * a pointer into unmapped memory. gr_tls_list_lock serializes our edits.
 */
#include "core/tls.h"
#include "core/lock.h"
#include "core/sys.h"
#include "arch/x86_64/arch.h"

#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <stdlib.h>
#include <string.h>

struct gr_tls_layout gr_tls;

static void *(*dl_allocate_tls)(void *);
static void *(*dl_allocate_tls_init)(void *, bool);
static void (*dl_deallocate_tls)(void *, bool);
static struct gr_lock list_lock;
static uintptr_t stack_guard, pointer_guard, sysinfo;
static uint32_t feature_1;
static long robust_futex_offset;

/* Fields the descriptors do not describe, per known layout. */
struct layout_row {
	const char *version;
	size_t sizeof_pthread, off_list, off_tid, off_specific, off_cancelhandling;
	size_t off_robust_head, off_specific_1st, off_cleanup_jmp_buf, off_user_stack;
	size_t off_stackblock, off_res;
};
static const struct layout_row rows[] = {
	/* glibc 2.36, x86_64 (Debian 12): measured with a real pthread. */
	{ "2.36", 2368, 0x2c0, 0x2d0, 0x510, 0x308, 0x2e0, 0x310, 0x300, 0x612, 0x690, 0x6b8 },
};

/* A libthread_db field descriptor is {bits, count, offset}. */
static int descriptor(const char *name, uint32_t *off, uint32_t *unused)
{
	const uint32_t *d = dlsym(RTLD_DEFAULT, name);
	if (!d)
		return -1;
	*off = d[2];
	return 0;
}

#define U(tp, off, type) (*(type *)((char *)(tp) + (off)))

extern ptrdiff_t __rseq_offset __attribute__((weak));

int gr_tls_init(char *why, size_t n)
{
	char *tp = gr_arch_get_tp();
	uint32_t size, list, tid, specific, cancel, user_head;
	const char *ver = gnu_get_libc_version();

	dl_allocate_tls = dlsym(RTLD_DEFAULT, "_dl_allocate_tls");
	dl_allocate_tls_init = dlsym(RTLD_DEFAULT, "_dl_allocate_tls_init");
	dl_deallocate_tls = dlsym(RTLD_DEFAULT, "_dl_deallocate_tls");
	void (*static_info)(size_t *, size_t *) = dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
	void *rtld_global = dlsym(RTLD_DEFAULT, "_rtld_global");
	void **resp = dlsym(RTLD_DEFAULT, "__resp");
	const uint32_t *sizeof_pthread = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
	if (!sizeof_pthread ||!dl_allocate_tls || !dl_allocate_tls_init || !dl_deallocate_tls || !static_info ||
	    !rtld_global || !resp || !&__rseq_offset ||
	    descriptor("_thread_db_pthread_list", &list, NULL) < 0 ||
	    descriptor("_thread_db_pthread_tid", &tid, NULL) < 0 ||
	    descriptor("_thread_db_pthread_specific", &specific, NULL) < 0 ||
	    descriptor("_thread_db_pthread_cancelhandling", &cancel, NULL) < 0 ||
	    descriptor("_thread_db_rtld_global__dl_stack_user", &user_head, NULL) < 0) {
		gr_fmt(why, n, "glibc %s lacks the ld.so/libthread_db interfaces libgrun needs", ver);
		return -1;
	}
	size = *sizeof_pthread;	/* a plain uint32_t, not a {bits,count,offset} triple */

	void *robust_head = NULL;
	size_t robust_len = 0;
	long r = gr_sys(SYS_get_robust_list, 0, &robust_head, &robust_len);
	const struct layout_row *row = NULL;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct layout_row *c = &rows[i];
		if (strcmp(c->version, ver) == 0 && c->sizeof_pthread == size && c->off_list == list &&
		    c->off_tid == tid && c->off_specific == specific && c->off_cancelhandling == cancel &&
		    r == 0 && (char *)robust_head == tp + c->off_robust_head &&
		    U(tp, specific, char *) == tp + c->off_specific_1st &&
		    U(tp, 0, char *) == tp && U(tp, 0x10, char *) == tp)
			row = c;
	}
	if (!row) {
		gr_fmt(why, n, "unrecognized glibc %s thread layout (sizeof(struct pthread)=%u)", ver, size);
		return -1;
	}
	gr_tls.sizeof_pthread = size;
	gr_tls.off_list = list;
	gr_tls.off_tid = tid;
	gr_tls.off_specific = specific;
	gr_tls.off_cancelhandling = cancel;
	gr_tls.off_robust_head = row->off_robust_head;
	gr_tls.off_robust_prev = row->off_robust_head - 8;
	gr_tls.off_specific_1st = row->off_specific_1st;
	gr_tls.off_cleanup_jmp_buf = row->off_cleanup_jmp_buf;
	gr_tls.off_user_stack = row->off_user_stack;
	gr_tls.off_stackblock = row->off_stackblock;
	gr_tls.off_stackblock_size = row->off_stackblock + 8;
	gr_tls.off_guardsize = row->off_stackblock + 16;
	gr_tls.off_res = row->off_res;
	gr_tls.rseq_off = __rseq_offset;
	gr_tls.resp_off = (char *)resp - tp;
	static_info(&gr_tls.static_size, &gr_tls.static_align);
	gr_tls.stack_user_head = (char *)rtld_global + user_head;

	/* The initial thread must be the only one on dl_stack_user. */
	void **head = gr_tls.stack_user_head;
	if (head[0] != tp + list || head[1] != tp + list) {
		gr_fmt(why, n, "glibc %s: the initial thread is not alone on dl_stack_user", ver);
		return -1;
	}
	stack_guard = U(tp, 0x28, uintptr_t);
	pointer_guard = U(tp, 0x30, uintptr_t);
	sysinfo = U(tp, 0x20, uintptr_t);
	feature_1 = U(tp, 0x48, uint32_t);
	robust_futex_offset = U(tp, row->off_robust_head + 8, long);
	return 0;
}

size_t gr_tls_block_size(void)
{
	size_t a = gr_tls.static_align < 64 ? 64 : gr_tls.static_align;
	return (gr_tls.static_size + a - 1 + a) & ~(a - 1);
}

static char *tp_for_top(void *top)
{
	uintptr_t a = gr_tls.static_align < 64 ? 64 : gr_tls.static_align;
	return (char *)(((uintptr_t)top - gr_tls.sizeof_pthread) & ~(a - 1));
}

void *gr_tls_create(void *top)
{
	char *tp = tp_for_top(top);
	memset(tp, 0, gr_tls.sizeof_pthread);
	return dl_allocate_tls(tp);
}

void gr_tls_free(void *tp)
{
	dl_deallocate_tls(tp, false);
}

void gr_tls_reset(void *tp)
{
	char **dtvp = &U(tp, 8, char *);
	char *dtv = *dtvp;
	size_t max = *(size_t *)(dtv - 16);	/* dtv[-1].counter */
	for (size_t i = 1; i <= max; i++) {
		void **slot = (void **)(dtv + i * 16);
		if (slot[1]) {			/* pointer.to_free: dynamic TLS */
			free(slot[1]);
			slot[1] = NULL;
		}
		slot[0] = (void *)-1;		/* TLS_DTV_UNALLOCATED */
	}
	/* Keep the DTV and the links of glibc's thread list: a pooled TCB
	 * stays listed (tls.h), and walkers may be on it right now. */
	char *keep = *dtvp;
	memset(tp, 0, gr_tls.off_list);
	memset((char *)tp + gr_tls.off_list + 16, 0, gr_tls.sizeof_pthread - gr_tls.off_list - 16);
	*dtvp = keep;
	dl_allocate_tls_init(tp, false);
}

void gr_tls_setup(void *tpv, int vtid, void *stack_lo, size_t stack_size, size_t guard,
		  void *curg, void *curm)
{
	char *tp = tpv;
	U(tp, 0x00, void *) = tp;		/* header.tcb */
	U(tp, 0x10, void *) = tp;		/* header.self */
	U(tp, 0x18, int) = 1;			/* header.multiple_threads */
	U(tp, 0x20, uintptr_t) = sysinfo;
	U(tp, 0x28, uintptr_t) = stack_guard;	/* canary at %fs:0x28 */
	U(tp, 0x30, uintptr_t) = pointer_guard;	/* PTR_MANGLE key */
	U(tp, 0x48, uint32_t) = feature_1;
	U(tp, gr_tls.off_tid, int) = vtid;
	char *rh = tp + gr_tls.off_robust_head;
	U(rh, 0, void *) = rh;			/* robust_head.list -> itself */
	U(rh, 8, long) = robust_futex_offset;
	U(rh, 16, void *) = NULL;
	U(tp, gr_tls.off_robust_prev, void *) = rh;
	U(tp, gr_tls.off_specific, void *) = tp + gr_tls.off_specific_1st;
	U(tp, gr_tls.off_user_stack, bool) = true;	/* glibc does not own the stack */
	U(tp, gr_tls.off_stackblock, void *) = (char *)stack_lo - guard;
	U(tp, gr_tls.off_stackblock_size, size_t) = stack_size + guard;
	U(tp, gr_tls.off_guardsize, size_t) = guard;
	U(tp, gr_tls.off_guardsize + 8, size_t) = guard;	/* reported_guardsize */
	U(tp, gr_tls.rseq_off + 4, int32_t) = -2;	/* rseq cpu_id: registration failed */
	U(tp, gr_tls.resp_off, void *) = tp + gr_tls.off_res;
	U(tp, gr_tls.curg_off, void *) = curg;
	U(tp, gr_tls.curm_off, void *) = curm;
}

void gr_tls_list_add(void *tp)
{
	void **node = (void **)((char *)tp + gr_tls.off_list);
	void **head = gr_tls.stack_user_head;
	gr_lock(&list_lock);
	node[0] = head[0];
	node[1] = head;
	((void **)head[0])[1] = node;
	__atomic_store_n(&head[0], node, __ATOMIC_RELEASE);
	gr_unlock(&list_lock);
}

void gr_tls_list_del(void *tp)
{
	void **node = (void **)((char *)tp + gr_tls.off_list);
	gr_lock(&list_lock);
	((void **)node[0])[1] = node[1];
	__atomic_store_n(&((void **)node[1])[0], node[0], __ATOMIC_RELEASE);
	gr_unlock(&list_lock);
}

int gr_tls_move_rseq(void *from_tp, void *to_tp)
{
	extern unsigned int __rseq_size __attribute__((weak));
	const uint32_t sig = 0x53053053;	/* glibc's RSEQ_SIG on x86 */
	if (!&__rseq_size || __rseq_size == 0)
		return 0;			/* glibc did not register rseq */
	char *from = (char *)from_tp + gr_tls.rseq_off;
	char *to = (char *)to_tp + gr_tls.rseq_off;
	long r = gr_sys6(SYS_rseq, (long)from, 32, 1 /* RSEQ_FLAG_UNREGISTER */, sig, 0, 0);
	if (r < 0)
		return (int)r;
	U(from, 4, int32_t) = -2;
	memset(to, 0, 32);
	U(to, 4, int32_t) = -1;
	r = gr_sys6(SYS_rseq, (long)to, 32, 0, sig, 0, 0);
	if (r < 0)
		U(to, 4, int32_t) = -2;
	return r < 0 ? (int)r : 0;
}

/* fork: keep the list consistent across fork (see fork.c). */
void gr_tls_fork_prepare(void) { gr_lock(&list_lock); }
void gr_tls_fork_parent(void) { gr_unlock(&list_lock); }
void gr_tls_fork_child(void) { memset(&list_lock, 0, sizeof list_lock); }
