/* tls_mod.c - a dlopen'd module with a (general-dynamic) __thread variable.
 * Built twice (tls_mod_early.so, tls_mod_late.so) with a different INIT so
 * tls_torture can tell the two apart: one is opened before any thread exists,
 * the other after 32 threads are running. */
#ifndef TLS_MOD_INIT
#error "TLS_MOD_INIT must be defined"
#endif

static __thread int mod_var = TLS_MOD_INIT;
static __thread char mod_name[16] = "mod";

int mod_init_value(void) { return TLS_MOD_INIT; }
int mod_get(void) { return mod_var + (mod_name[0] != 'm'); }
void mod_set(int v) { mod_var = v; }
void *mod_addr(void) { return &mod_var; }
