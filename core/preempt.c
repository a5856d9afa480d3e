/* preempt: asynchronous preemption of Gs that run too long.
 *
 * sysmon asks (gr_preempt_request) when a G has run program code for 10 ms
 * without entering the runtime and its kernel thread is running: it marks
 * the M and sends it the runtime signal. The handler (shims/signal.c)
 * calls gr_preempt_on_signal, which preempts only at a safe point:
 *  - the M is running that G's program code (P in P_USER, owned by it);
 *  - the G is not pinned and its no-preempt count is zero;
 *  - the interrupted PC is not in libc, ld.so, the vDSO, libgrun, libgcc_s
 *    or libunwind (they may hold locks or be mid-way through the runtime);
 *  - the signal frame is on the M's alternate stack, not the G's stack.
 * Then the context is redirected to the arch trampoline, which saves
 * everything and yields (gr_preempt_park). Nothing here allocates, locks
 * or calls into libc: the unsafe ranges are a lock-free snapshot that
 * sysmon refreshes from dl_iterate_phdr (so libraries dlopen'd later,
 * such as libgcc_s, are covered within a second).
 */
#include "core/proc.h"
#include "core/sig.h"
#include "core/config.h"
#include "core/sys.h"
#include "core/realc.h"
#include "arch/x86_64/arch.h"

#include <errno.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define MAXR 32
struct ranges { int n; uintptr_t lo[MAXR], hi[MAXR]; };
static struct ranges buf[2];
static _Atomic int cur;		/* index of the published snapshot */

static const char *const unsafe_names[] = {
	"libc.so", "ld-linux", "libgrun", "linux-vdso", "libgcc_s", "libunwind", "libpthread.so",
};

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct ranges *r = arg;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	bool unsafe = false;
	for (size_t i = 0; i < sizeof unsafe_names / sizeof unsafe_names[0]; i++)
		if (strstr(name, unsafe_names[i]))
			unsafe = true;
	if (!unsafe)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && r->n < MAXR; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			r->lo[r->n] = info->dlpi_addr + ph->p_vaddr;
			r->hi[r->n] = r->lo[r->n] + ph->p_memsz;
			r->n++;
		}
	}
	return 0;
}

void gr_preempt_refresh(void)
{
	int next = !atomic_load(&cur);
	buf[next].n = 0;
	gr_real.dl_iterate_phdr(collect, &buf[next]);
	atomic_store_explicit(&cur, next, memory_order_release);
}

static bool safe_pc(uintptr_t pc)
{
	const struct ranges *r = &buf[atomic_load_explicit(&cur, memory_order_acquire)];
	for (int i = 0; i < r->n; i++)
		if (pc >= r->lo[i] && pc < r->hi[i])
			return false;
	return pc != 0;
}

_Atomic long gr_preempt_count;

void gr_preempt_request(struct gr_m *m)
{
	if (!gr_cfg.asyncpreempt || atomic_exchange(&m->preempt_pending, 1))
		return;
	gr_sig_send_tagged(m->tid, GR_RTSIG);
}

bool gr_preempt_on_signal(struct gr_m *m, void *uc)
{
	if (!atomic_exchange(&m->preempt_pending, 0))
		return false;	/* not a preemption request */
	struct gr_g *g = gr_curg;
	if (!g || g->m != m || g->pinned || g->nopreempt || m->curg != g)
		return true;
	struct gr_p *p = m->p;
	if (!p || atomic_load(&p->status) != GR_PWORD(m, P_USER))
		return true;
	char here;
	if (&here >= (char *)g->stack_lo && &here < (char *)g->map_top)
		return true;	/* no alternate stack: the frame is on the G's stack */
	if (!safe_pc(gr_arch_uc_pc(uc))) {
		g->preempt_coop = true;	/* yield at the next cooperative point */
		return true;
	}
	uintptr_t sp = gr_arch_uc_sp(uc);
	if (sp - 256 < (uintptr_t)g->stack_lo || sp > (uintptr_t)g->map_top)
		return true;	/* not on its own stack (a coroutine library?) */
	gr_arch_preempt_redirect(uc);
	atomic_fetch_add(&gr_preempt_count, 1);
	return true;
}

/* Called by the trampoline on the G's stack, all registers saved. */
GR_HIDDEN void gr_preempt_park(void);
void gr_preempt_park(void)
{
	int saved = errno;
	gr_gosched();
	errno = saved;
}
