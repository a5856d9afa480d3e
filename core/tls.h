/* tls: a glibc-compatible thread control block (TCB) + static TLS per G.
 *
 * Every G owns a struct pthread and static TLS block built the way glibc
 * builds one for a new thread (ld.so's _dl_allocate_tls), placed at the top
 * of the G's stack mapping, so errno, __thread variables, the stack
 * protector canary, stdio lock owners, resolver state, C++ thread_local and
 * glibc's own THREAD_SELF all belong to the G and migrate with it.
 *
 * glibc's struct pthread is private: the offsets come from the libthread_db
 * descriptors that libc exports (_thread_db_*), cross-checked against what
 * the initial thread shows at run time, plus a table of the fields the
 * descriptors do not cover, kept per glibc layout. A libc that does not
 * match is "unknown": gr_tls_init fails and libgrun runs the program on
 * native threads (DESIGN section 3).
 */
#ifndef GR_TLS_H
#define GR_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "core/throw.h"

struct gr_tls_layout {
	size_t sizeof_pthread;
	size_t off_list, off_tid, off_robust_prev, off_robust_head, off_cleanup_jmp_buf;
	size_t off_cancelhandling, off_specific_1st, off_specific, off_user_stack;
	size_t off_stackblock, off_stackblock_size, off_guardsize, off_res;
	ptrdiff_t rseq_off;		/* __rseq_offset: rseq area relative to tp */
	ptrdiff_t resp_off;		/* the __resp TLS variable relative to tp */
	ptrdiff_t curg_off, curm_off;	/* libgrun's own slots relative to tp */
	size_t static_size, static_align;
	void *stack_user_head;		/* &_rtld_global._dl_stack_user */
};
GR_HIDDEN extern struct gr_tls_layout gr_tls;

/* Discover and check the layout. 0, or -1 with a reason in why. */
GR_HIDDEN int gr_tls_init(char *why, size_t n);

/* Bytes a TCB + static TLS block needs at the top of a stack. */
GR_HIDDEN size_t gr_tls_block_size(void);

/* Build a TCB in the highest gr_tls_block_size() bytes below top. Returns
 * the thread pointer, or NULL when ld.so cannot allocate the DTV. */
GR_HIDDEN void *gr_tls_create(void *top);
/* Reset a TCB from an exited G for a new one: frees dynamic TLS, zeroes
 * struct pthread, recopies every static TLS init image. */
GR_HIDDEN void gr_tls_reset(void *tp);
/* Fill the struct pthread fields of a fresh or reset TCB. */
GR_HIDDEN void gr_tls_setup(void *tp, int vtid, void *stack_lo, size_t stack_size, size_t guard,
			    void *curg, void *curm);
/* Put tp on glibc's list of user-stack threads (dlopen initializes new
 * static TLS of listed threads; dlclose waits for their lookups); remove. */
GR_HIDDEN void gr_tls_list_add(void *tp);
GR_HIDDEN void gr_tls_list_del(void *tp);
/* Free what ld.so allocated for the TCB (the DTV, dynamic TLS). */
GR_HIDDEN void gr_tls_free(void *tp);
/* Move the kernel's rseq registration from the initial thread's TCB (G1's,
 * which will migrate) to the TCB of the M that stays on that kernel
 * thread. Returns 0 or -errno. */
GR_HIDDEN int gr_tls_move_rseq(void *from_tp, void *to_tp);

GR_HIDDEN void gr_tls_fork_prepare(void);
GR_HIDDEN void gr_tls_fork_parent(void);
GR_HIDDEN void gr_tls_fork_child(void);

static inline void *gr_tls_slot(void *tp, ptrdiff_t off) { return (char *)tp + off; }

#endif
