/* config: GRUN_* parsing (see config.h).
 *
 * Accepted values are listed next to each variable in the table below and
 * in the error message, so the message and the code cannot drift apart.
 */
#include "core/config.h"

#include <string.h>
#include <limits.h>

struct gr_config gr_cfg;

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int gr_parse_size(const char *s, uint64_t *out)
{
	static const struct { const char *suffix; uint64_t mult; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1ull << 10 }, { "KB", 1ull << 10 }, { "KiB", 1ull << 10 },
		{ "M", 1ull << 20 }, { "MB", 1ull << 20 }, { "MiB", 1ull << 20 },
		{ "G", 1ull << 30 }, { "GB", 1ull << 30 }, { "GiB", 1ull << 30 },
		{ "T", 1ull << 40 }, { "TB", 1ull << 40 }, { "TiB", 1ull << 40 },
	};
	if (!s)
		return -1;
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits > 19)
		return -1;
	char num[20];
	memcpy(num, s, digits);
	num[digits] = 0;
	uint64_t v;
	if (parse_uint(num, UINT64_MAX, &v) < 0)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(s + digits, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].mult)
				return -1;
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -1;
}

static int bad(char *err, size_t errlen, const char *var, const char *val, const char *accepted)
{
	gr_fmt(err, errlen, "libgrun: invalid %s=\"%s\": accepted values are %s", var, val, accepted);
	return -1;
}

static int parse_bool01(const char *v, bool *out)
{
	if (strcmp(v, "0") == 0) { *out = false; return 0; }
	if (strcmp(v, "1") == 0) { *out = true; return 0; }
	return -1;
}

/* One GRUN_DEBUG key=value. Returns 0, 1 for an unknown key, -1 for a bad value. */
static int parse_debug_kv(struct gr_config *cfg, const char *key, const char *val,
			  const char **accepted)
{
	uint64_t n;
	if (strcmp(key, "schedtrace") == 0) {
		*accepted = "schedtrace=MS with MS a whole number of milliseconds (0 = off)";
		if (parse_uint(val, INT_MAX, &n) < 0)
			return -1;
		cfg->schedtrace_ms = (int)n;
		return 0;
	}
	if (strcmp(key, "dumpsig") == 0) {
		*accepted = "dumpsig=N with N a signal number from 1 to 64 other than 7, 9, 11, 19 and the preemption signal (23, SIGURG)";
		if (parse_uint(val, 64, &n) < 0 || n == 0 || n == 9 || n == 19 || n == 11 || n == 7 ||
		    n == (uint64_t)(cfg->rtsig ? cfg->rtsig : 23))
			return -1;
		cfg->dumpsig = (int)n;
		return 0;
	}
	if (strcmp(key, "preemptsignal") == 0) {
		*accepted = "preemptsignal=N with N a signal number from 1 to 64 other than 4, 5, 7, 8, 9, 11 and 19";
		if (parse_uint(val, 64, &n) < 0 || n == 0 || n == 4 || n == 5 || n == 7 || n == 8 || n == 9 ||
		    n == 11 || n == 19)
			return -1;
		cfg->rtsig = (int)n;
		return 0;
	}
	if (strcmp(key, "deadlock") == 0) {
		*accepted = "deadlock=exit or deadlock=wait";
		if (strcmp(val, "exit") == 0)
			cfg->deadlock_wait = false;
		else if (strcmp(val, "wait") == 0)
			cfg->deadlock_wait = true;
		else
			return -1;
		return 0;
	}
	if (strcmp(key, "allocsample") == 0) {
		*accepted = "allocsample=N with N a size in bytes (64K, 1M, ...; 1 = every allocation, 0 = none)";
		uint64_t b;
		if (gr_parse_size(val, &b) < 0)
			return -1;
		cfg->allocsample = b;
		return 0;
	}
	if (strcmp(key, "gcworkers") == 0) {
		*accepted = "gcworkers=N with N from 1 to 64 (the collector's mark threads)";
		uint64_t n;
		if (parse_uint(val, 64, &n) < 0 || n == 0)
			return -1;
		cfg->gcworkers = (int)n;
		return 0;
	}
	if (strcmp(key, "gctrace") == 0) {
		*accepted = "gctrace=0, 1 or 2 (2 adds the termination pause's phases)";
		uint64_t n;
		if (parse_uint(val, 2, &n) < 0)
			return -1;
		cfg->gctrace = (int)n;
		return 0;
	}
	if (strcmp(key, "blockprofile") == 0) {
		*accepted = "blockprofile=0 or blockprofile=1";
		bool b;
		if (parse_bool01(val, &b) < 0)
			return -1;
		cfg->blockprofile = b;
		return 0;
	}
	static const struct { const char *key; size_t off; } bools[] = {
		{ "scheddetail", offsetof(struct gr_config, scheddetail) },
		{ "asyncpreempt", offsetof(struct gr_config, asyncpreempt) },
		{ "retaketrace", offsetof(struct gr_config, retaketrace) },
		{ "native", offsetof(struct gr_config, native) },
		{ "memstats", offsetof(struct gr_config, memstats) },
		{ "leakreport", offsetof(struct gr_config, leakreport) },
		{ "gcconcurrent", offsetof(struct gr_config, gcconcurrent) },
	};
	for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
		if (strcmp(key, bools[i].key) == 0) {
			*accepted = "0 or 1";
			return parse_bool01(val, (bool *)((char *)cfg + bools[i].off));
		}
	}
	return 1;
}

static int parse_debug(struct gr_config *cfg, const char *s, char *err, size_t errlen,
		       char *warn, size_t warnlen)
{
	char buf[1024];
	size_t wlen = strlen(warn);
	if (strlen(s) >= sizeof buf)
		return bad(err, errlen, "GRUN_DEBUG", "...", "a comma-separated list of key=value shorter than 1024 bytes");
	strcpy(buf, s);
	for (char *save = 0, *item = strtok_r(buf, ",", &save); item; item = strtok_r(0, ",", &save)) {
		char *eq = strchr(item, '=');
		const char *val = eq ? eq + 1 : "";
		if (eq)
			*eq = 0;
		const char *accepted = "";
		int r = parse_debug_kv(cfg, item, val, &accepted);
		if (r < 0) {
			char what[160];
			gr_fmt(what, sizeof what, "GRUN_DEBUG %s", item);
			gr_fmt(err, errlen, "libgrun: invalid %s=\"%s\": accepted values are %s", what, val, accepted);
			return -1;
		}
		if (r > 0 && wlen + 1 < warnlen)
			wlen += gr_fmt(warn + wlen, warnlen - wlen,
				       "libgrun: warning: unknown GRUN_DEBUG key \"%s\" ignored\n", item);
	}
	return 0;
}

int gr_config_parse(struct gr_config *cfg, gr_getenv_fn getenv_fn,
		    char *err, size_t errlen, char *warn, size_t warnlen)
{
	const char *v;
	uint64_t n;

	memset(cfg, 0, sizeof *cfg);
	cfg->gc = GR_GC_OFF;	/* not set: off until the collector is validated (README) */
	cfg->gcpercent = 100;
	cfg->allocsample = 512 << 10;
	cfg->gcconcurrent = true;
	cfg->inherit = true;
	cfg->asyncpreempt = true;
	cfg->rtsig = 23;	/* SIGURG */
	cfg->heap = true;
	if (warnlen)
		warn[0] = 0;

	if ((v = getenv_fn("GRUN_MAXPROCS")) && *v) {
		if (parse_uint(v, 1024, &n) < 0 || n == 0)
			return bad(err, errlen, "GRUN_MAXPROCS", v, "a whole number from 1 to 1024");
		cfg->maxprocs = (int)n;
	}
	if ((v = getenv_fn("GRUN_GC")) && *v) {
		static const char *modes[] = { "leak", "collect", "quarantine", "off" };
		int found = -1;
		for (int i = 0; i < 4; i++)
			if (strcmp(v, modes[i]) == 0)
				found = i;
		if (found < 0)
			return bad(err, errlen, "GRUN_GC", v, "leak, collect, quarantine, off");
		cfg->gc = (enum gr_gcmode)found;
	}
	if ((v = getenv_fn("GRUN_GCPERCENT")) && *v) {
		if (strcmp(v, "off") == 0)
			cfg->gcpercent = -1;
		else if (parse_uint(v, 1000000, &n) < 0)
			return bad(err, errlen, "GRUN_GCPERCENT", v, "a whole number from 0 to 1000000, or off");
		else
			cfg->gcpercent = (int)n;
	}
	if ((v = getenv_fn("GRUN_MEMLIMIT")) && *v) {
		if (gr_parse_size(v, &cfg->memlimit) < 0)
			return bad(err, errlen, "GRUN_MEMLIMIT", v, "a size in bytes with an optional K/KiB/M/MiB/G/GiB/T/TiB suffix");
	}
	if ((v = getenv_fn("GRUN_STACK")) && *v) {
		if (gr_parse_size(v, &n) < 0 || n < 16384 || n > (1ull << 34))
			return bad(err, errlen, "GRUN_STACK", v, "a size from 16KiB to 16GiB with an optional K/KiB/M/MiB/G/GiB suffix");
		cfg->stack = (size_t)n;
	}
	if ((v = getenv_fn("GRUN_SCHED")) && *v) {
		if (strcmp(v, "fifo") == 0)
			cfg->sched = GR_SCHED_FIFO;
		else if (strcmp(v, "random") == 0)
			cfg->sched = GR_SCHED_RANDOM;
		else if (strcmp(v, "pct") == 0)
			cfg->sched = GR_SCHED_PCT;
		else
			return bad(err, errlen, "GRUN_SCHED", v, "fifo, random, pct");
	}
	if ((v = getenv_fn("GRUN_SEED")) && *v) {
		if (parse_uint(v, UINT64_MAX, &cfg->seed) < 0)
			return bad(err, errlen, "GRUN_SEED", v, "a whole number from 0 to 18446744073709551615");
		cfg->seed_set = true;
	}
	if ((v = getenv_fn("GRUN_INHERIT")) && *v) {
		if (parse_bool01(v, &cfg->inherit) < 0)
			return bad(err, errlen, "GRUN_INHERIT", v, "0 or 1");
	}
	/* Heap (issue 6): GRUN_HEAP=0 serves malloc from glibc, for bisecting.
	 * heap.c acts on it at the first allocation, before this runs; here
	 * it is only validated and recorded. */
	if ((v = getenv_fn("GRUN_HEAP")) && *v) {
		if (parse_bool01(v, &cfg->heap) < 0)
			return bad(err, errlen, "GRUN_HEAP", v, "0 or 1");
	}
	if ((v = getenv_fn("GRUN_DEBUG")) && *v)
		return parse_debug(cfg, v, err, errlen, warn, warnlen);
	return 0;
}
