/* check_config: unit tests for core/config (GRUN_* parsing).
 *
 * Covers the contract in config.h: gr_config_parse fills every field from
 * a lookup callback (here a fake environment, so no real GRUN_* variable
 * can leak in), with the documented defaults; a bad value returns -1 with a
 * one-line message (no newline) naming the variable, the value and the
 * accepted values; an unknown GRUN_DEBUG key is one warning line naming the
 * key, not an error. Also gr_parse_size: the unit suffixes, malformed input
 * and overflow.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

/* --- fake environment ---------------------------------------------------- */

static const char *const *fake_env;	/* "NAME=value" strings, NULL-terminated */

static const char *fake_getenv(const char *name)
{
	size_t n = strlen(name);
	for (const char *const *e = fake_env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static struct gr_config cfg;
static char err[GR_CONFIG_ERRLEN], warn[512];

/* Parse the given environment (NULL-terminated list of "NAME=value"). */
#define PARSE(...) parse((const char *const[]){ __VA_ARGS__, NULL })
static int parse(const char *const *env)
{
	fake_env = env;
	memset(err, 0, sizeof err);
	memset(warn, 0x7f, sizeof warn);	/* parse must reset it */
	return gr_config_parse(&cfg, fake_getenv, err, sizeof err, warn, sizeof warn);
}

/* One setting must be rejected with a message naming var and accepted. */
static void expect_rejected(const char *setting, const char *var, const char *accepted)
{
	int r = PARSE(setting);
	ck_assert_msg(r == -1, "%s accepted (returned %d)", setting, r);
	ck_assert_msg(strstr(err, var) != NULL, "%s: message does not name %s: %s", setting, var, err);
	ck_assert_msg(strstr(err, accepted) != NULL, "%s: message does not list \"%s\": %s", setting,
		      accepted, err);
	const char *val = strchr(setting, '=') + 1;
	if (strcmp(var, "GRUN_DEBUG") != 0)	/* GRUN_DEBUG: see its own cases */
		ck_assert_msg(strstr(err, val) != NULL, "%s: message does not quote the value: %s",
			      setting, err);
	ck_assert_msg(strchr(err, '\n') == NULL, "%s: message is not one line: %s", setting, err);
}

static void expect_ok(const char *setting)
{
	int r = PARSE(setting);
	ck_assert_msg(r == 0, "%s rejected: %s", setting, err);
	ck_assert_msg(warn[0] == 0, "%s warned: %s", setting, warn);
}

/* --- defaults ------------------------------------------------------------ */

START_TEST(test_config_defaults)
{
	memset(&cfg, 0x55, sizeof cfg);	/* every field must be (re)set */
	ck_assert_int_eq(parse(NULL), 0);
	ck_assert_int_eq(cfg.maxprocs, 0);
	ck_assert_int_eq(cfg.gcpercent, 100);
	ck_assert_int_eq(cfg.gc, GR_GC_OFF);	/* not set: off for now (README) */
	ck_assert_uint_eq(cfg.memlimit, 0);
	ck_assert_uint_eq(cfg.stack, 0);
	ck_assert(cfg.inherit);
	ck_assert(cfg.asyncpreempt);
	ck_assert(!cfg.seed_set);
	ck_assert_int_eq(cfg.schedtrace_ms, 0);
	ck_assert(!cfg.scheddetail);
	ck_assert(!cfg.gctrace);
	ck_assert(!cfg.retaketrace);
	ck_assert(!cfg.native);
	ck_assert_int_eq(cfg.blockprofile, 0);
	ck_assert_str_eq(warn, "");
}
END_TEST

/* --- GRUN_MAXPROCS ------------------------------------------------------- */

START_TEST(test_config_maxprocs_rejected)
{
	static const char *bad[] = { "GRUN_MAXPROCS=0", "GRUN_MAXPROCS=abc", "GRUN_MAXPROCS=-1",
				     "GRUN_MAXPROCS=1025", "GRUN_MAXPROCS=4x", "GRUN_MAXPROCS= 4",
				     "GRUN_MAXPROCS=99999999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_rejected(bad[i], "GRUN_MAXPROCS", "1 to 1024");
}
END_TEST

START_TEST(test_config_maxprocs_accepted)
{
	expect_ok("GRUN_MAXPROCS=4");
	ck_assert_int_eq(cfg.maxprocs, 4);
	expect_ok("GRUN_MAXPROCS=1");
	ck_assert_int_eq(cfg.maxprocs, 1);
	expect_ok("GRUN_MAXPROCS=1024");
	ck_assert_int_eq(cfg.maxprocs, 1024);
}
END_TEST

/* --- GRUN_GC, GRUN_GCPERCENT, GRUN_MEMLIMIT ------------------------------- */

START_TEST(test_config_gc_modes)
{
	expect_ok("GRUN_GC=leak");
	ck_assert_int_eq(cfg.gc, GR_GC_LEAK);
	expect_ok("GRUN_GC=collect");
	ck_assert_int_eq(cfg.gc, GR_GC_COLLECT);
	expect_ok("GRUN_GC=quarantine");
	ck_assert_int_eq(cfg.gc, GR_GC_QUARANTINE);
	expect_ok("GRUN_GC=off");
	ck_assert_int_eq(cfg.gc, GR_GC_OFF);
}
END_TEST

START_TEST(test_config_gc_rejected)
{
	expect_rejected("GRUN_GC=foo", "GRUN_GC", "leak, collect, quarantine, off");
	expect_rejected("GRUN_GC=LEAK", "GRUN_GC", "leak, collect, quarantine, off");
}
END_TEST

START_TEST(test_config_gcpercent)
{
	expect_ok("GRUN_GCPERCENT=off");
	ck_assert_int_eq(cfg.gcpercent, -1);
	expect_ok("GRUN_GCPERCENT=50");
	ck_assert_int_eq(cfg.gcpercent, 50);
	expect_ok("GRUN_GCPERCENT=0");
	ck_assert_int_eq(cfg.gcpercent, 0);
	expect_rejected("GRUN_GCPERCENT=abc", "GRUN_GCPERCENT", "or off");
	expect_rejected("GRUN_GCPERCENT=-5", "GRUN_GCPERCENT", "or off");
}
END_TEST

START_TEST(test_config_memlimit)
{
	expect_ok("GRUN_MEMLIMIT=64MiB");
	ck_assert_uint_eq(cfg.memlimit, 67108864);
	expect_ok("GRUN_MEMLIMIT=1G");
	ck_assert_uint_eq(cfg.memlimit, 1ull << 30);
	expect_ok("GRUN_MEMLIMIT=12345");
	ck_assert_uint_eq(cfg.memlimit, 12345);
	expect_rejected("GRUN_MEMLIMIT=64XB", "GRUN_MEMLIMIT", "GiB");
	expect_rejected("GRUN_MEMLIMIT=64mib", "GRUN_MEMLIMIT", "GiB");
	expect_rejected("GRUN_MEMLIMIT=1.5G", "GRUN_MEMLIMIT", "GiB");
}
END_TEST

/* --- GRUN_STACK, GRUN_SCHED, GRUN_SEED, GRUN_INHERIT ---------------------- */

START_TEST(test_config_stack)
{
	expect_rejected("GRUN_STACK=4K", "GRUN_STACK", "16KiB");
	expect_rejected("GRUN_STACK=16383", "GRUN_STACK", "16KiB");
	expect_rejected("GRUN_STACK=32GiB", "GRUN_STACK", "16GiB");
	expect_rejected("GRUN_STACK=8Q", "GRUN_STACK", "16KiB");
	expect_ok("GRUN_STACK=16K");
	ck_assert_uint_eq(cfg.stack, 16384);
	expect_ok("GRUN_STACK=8MiB");
	ck_assert_uint_eq(cfg.stack, 8u << 20);
}
END_TEST

START_TEST(test_config_sched_seed_inherit)
{
	ck_assert_int_eq(PARSE("GRUN_SCHED=random", "GRUN_SEED=42", "GRUN_INHERIT=0"), 0);
	ck_assert_int_eq(cfg.sched, GR_SCHED_RANDOM);
	ck_assert(cfg.seed_set);
	ck_assert_uint_eq(cfg.seed, 42);
	ck_assert(!cfg.inherit);
	expect_ok("GRUN_SEED=18446744073709551615");
	ck_assert_uint_eq(cfg.seed, UINT64_MAX);
	expect_rejected("GRUN_SCHED=lifo", "GRUN_SCHED", "fifo, random, pct");
	expect_rejected("GRUN_SEED=18446744073709551616", "GRUN_SEED", "18446744073709551615");
	expect_rejected("GRUN_INHERIT=yes", "GRUN_INHERIT", "0 or 1");
}
END_TEST

/* --- GRUN_DEBUG ---------------------------------------------------------- */

START_TEST(test_config_debug_parsed)
{
	expect_ok("GRUN_DEBUG=schedtrace=100,scheddetail=1");
	ck_assert_int_eq(cfg.schedtrace_ms, 100);
	ck_assert(cfg.scheddetail);
	ck_assert(!cfg.gctrace);
	expect_ok("GRUN_DEBUG=asyncpreempt=0,gctrace=1,retaketrace=1,native=1,blockprofile=1");
	ck_assert(!cfg.asyncpreempt);
	ck_assert(cfg.gctrace);
	ck_assert(cfg.retaketrace);
	ck_assert(cfg.native);
	ck_assert_int_eq(cfg.blockprofile, 1);
	ck_assert_int_eq(cfg.schedtrace_ms, 0);	/* not carried over from the last parse */
}
END_TEST

START_TEST(test_config_debug_bad_value_rejected)
{
	expect_rejected("GRUN_DEBUG=schedtrace=xyz", "GRUN_DEBUG", "milliseconds");
	ck_assert_msg(strstr(err, "schedtrace") != NULL, "message does not name the key: %s", err);
	ck_assert_msg(strstr(err, "xyz") != NULL, "message does not quote the value: %s", err);
	expect_rejected("GRUN_DEBUG=scheddetail=2", "GRUN_DEBUG", "0 or 1");
	expect_rejected("GRUN_DEBUG=gctrace=1,schedtrace=-3", "GRUN_DEBUG", "milliseconds");
}
END_TEST

START_TEST(test_config_debug_unknown_key_warns)
{
	int r = PARSE("GRUN_DEBUG=nosuchkey=1,schedtrace=5");
	ck_assert_msg(r == 0, "unknown key is an error: %s", err);
	ck_assert_str_eq(err, "");
	ck_assert_msg(strstr(warn, "nosuchkey") != NULL, "warning does not name the key: %s", warn);
	size_t len = strlen(warn);
	ck_assert_msg(len > 0 && warn[len - 1] == '\n' && strchr(warn, '\n') == warn + len - 1,
		      "not exactly one line: \"%s\"", warn);
	ck_assert_int_eq(cfg.schedtrace_ms, 5);	/* the rest is still parsed */

	/* Two unknown keys: two lines. */
	ck_assert_int_eq(PARSE("GRUN_DEBUG=foo=1,bar"), 0);
	ck_assert_msg(strstr(warn, "foo") && strstr(warn, "bar"), "warnings: %s", warn);
	int lines = 0;
	for (const char *p = warn; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 2);
}
END_TEST

/* --- error buffer -------------------------------------------------------- */

START_TEST(test_config_err_truncated_to_errlen)
{
	char small[24];
	memset(small, 'x', sizeof small);
	fake_env = (const char *const[]){ "GRUN_GC=foo", NULL };
	ck_assert_int_eq(gr_config_parse(&cfg, fake_getenv, small, 16, warn, sizeof warn), -1);
	ck_assert_uint_lt(strlen(small), 16);
	for (size_t i = 16; i < sizeof small; i++)
		ck_assert_msg(small[i] == 'x', "wrote past errlen at %zu", i);
}
END_TEST

/* --- gr_parse_size ------------------------------------------------------- */

static uint64_t size_of(const char *s)
{
	uint64_t v = 0xdeadbeef;
	ck_assert_msg(gr_parse_size(s, &v) == 0, "\"%s\" rejected", s);
	return v;
}

static void size_rejected(const char *s)
{
	uint64_t v = 0;
	ck_assert_msg(gr_parse_size(s, &v) == -1, "\"%s\" accepted as %llu", s,
		      (unsigned long long)v);
}

START_TEST(test_config_parse_size_units)
{
	ck_assert_uint_eq(size_of("0"), 0);
	ck_assert_uint_eq(size_of("64"), 64);
	ck_assert_uint_eq(size_of("64B"), 64);
	ck_assert_uint_eq(size_of("64K"), 64ull << 10);
	ck_assert_uint_eq(size_of("64KB"), 64ull << 10);
	ck_assert_uint_eq(size_of("64KiB"), 64ull << 10);
	ck_assert_uint_eq(size_of("8M"), 8ull << 20);
	ck_assert_uint_eq(size_of("64MiB"), 67108864);
	ck_assert_uint_eq(size_of("1GiB"), 1ull << 30);
	ck_assert_uint_eq(size_of("3T"), 3ull << 40);
}
END_TEST

START_TEST(test_config_parse_size_malformed_rejected)
{
	size_rejected("");
	size_rejected("K");
	size_rejected("12Q");
	size_rejected("12 K");
	size_rejected(" 12");
	size_rejected("-1");
	size_rejected("1.5M");
	size_rejected("12KK");
	size_rejected(NULL);
}
END_TEST

START_TEST(test_config_parse_size_overflow_rejected)
{
	ck_assert_uint_eq(size_of("9999999999999999999"), 9999999999999999999ull);
	size_rejected("18446744073709551616");		/* 2^64 */
	size_rejected("99999999999999999999999999");
	size_rejected("17179869184G");			/* 2^34 GiB = 2^64 */
	size_rejected("16777216T");			/* 2^24 TiB = 2^64 */
	size_rejected("9999999999999999999K");
	ck_assert_uint_eq(size_of("16777215T"), 16777215ull << 40);
	ck_assert_uint_eq(size_of("17179869183GiB"), 17179869183ull << 30);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_maxprocs_rejected);
	tcase_add_test(tc, test_config_maxprocs_accepted);
	tcase_add_test(tc, test_config_gc_modes);
	tcase_add_test(tc, test_config_gc_rejected);
	tcase_add_test(tc, test_config_gcpercent);
	tcase_add_test(tc, test_config_memlimit);
	tcase_add_test(tc, test_config_stack);
	tcase_add_test(tc, test_config_sched_seed_inherit);
	tcase_add_test(tc, test_config_debug_parsed);
	tcase_add_test(tc, test_config_debug_bad_value_rejected);
	tcase_add_test(tc, test_config_debug_unknown_key_warns);
	tcase_add_test(tc, test_config_err_truncated_to_errlen);
	suite_add_tcase(s, tc);

	TCase *ts = tcase_create("size");
	tcase_add_test(ts, test_config_parse_size_units);
	tcase_add_test(ts, test_config_parse_size_malformed_rejected);
	tcase_add_test(ts, test_config_parse_size_overflow_rejected);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	/* Fork mode stays on (Check's default): a gr_throw fails one case. */
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
