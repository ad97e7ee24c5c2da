/*
 * test_env.c: EMBARGO_* environment overrides (cfg_apply_env) with a table
 * of variables instead of the process environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

/* The variables a test sets; NULL-terminated pairs. */
static const char *const *vars;

static const char *get(const char *name)
{
	for (size_t i = 0; vars[i]; i += 2)
		if (!strcmp(vars[i], name))
			return vars[i + 1];
	return NULL;
}

static cfg *base_cfg(void)
{
	cfg *c = calloc(1, sizeof(*c));
	const char *why;
	c->listen = calloc(1, sizeof(cfg_addr));
	assert_int_equal(cfg_addr_parse("127.0.0.1:5335", 53, &c->listen[0], &why), 0);
	c->n_listen = 1;
	c->log.queries = CFG_LOGQ_BLOCKED;
	return c;
}

static void addr_is(const cfg_addr *a, const char *want)
{
	char buf[CFG_ADDR_BUF];
	assert_string_equal(cfg_addr_format(a, buf), want);
}

static void test_overrides(void **state)
{
	(void)state;
	static const char *const v[] = {
		"EMBARGO_LISTEN", "127.0.0.2:5300, [::1]:5300",
		"EMBARGO_UPSTREAMS", "192.0.2.1,tls://9.9.9.9#dns.quad9.net",
		"EMBARGO_HTTP", "127.0.0.1",
		"EMBARGO_LOG_QUERIES", "all",
		NULL,
	};
	vars = v;
	cfg *c = base_cfg();
	cfg_diags d = {0};
	assert_int_equal(cfg_apply_env(c, get, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(c->n_listen, 2);
	addr_is(&c->listen[0], "127.0.0.2:5300");
	addr_is(&c->listen[1], "[::1]:5300");
	assert_int_equal(c->n_upstreams, 2);
	addr_is(&c->upstreams[0].addr, "192.0.2.1:53");
	addr_is(&c->upstreams[1].addr, "9.9.9.9:853");
	assert_true(c->upstreams[1].tls);
	assert_string_equal(c->upstreams[1].tls_name, "dns.quad9.net");
	assert_true(c->http_set);
	addr_is(&c->http, "127.0.0.1:9153");
	assert_int_equal(c->log.queries, CFG_LOGQ_ALL);
	cfg_free(c);
}

static void test_unset_keeps_file_values(void **state)
{
	(void)state;
	static const char *const v[] = { NULL };
	vars = v;
	cfg *c = base_cfg();
	cfg_diags d = {0};
	assert_int_equal(cfg_apply_env(c, get, &d), 0);
	assert_int_equal(c->n_listen, 1);
	addr_is(&c->listen[0], "127.0.0.1:5335");
	assert_int_equal(c->log.queries, CFG_LOGQ_BLOCKED);
	cfg_free(c);
}

static void test_bad_values_named_and_file_kept(void **state)
{
	(void)state;
	static const char *const v[] = {
		"EMBARGO_LISTEN", "127.0.0.1:5300,localhost",
		"EMBARGO_UPSTREAMS", " , ",
		"EMBARGO_LOG_QUERIES", "loud",
		NULL,
	};
	vars = v;
	cfg *c = base_cfg();
	cfg_diags d = {0};
	assert_int_equal(cfg_apply_env(c, get, &d), -1);
	assert_int_equal(d.n, 3);
	assert_non_null(strstr(d.v[0].msg, "EMBARGO_LISTEN: bad address \"localhost\""));
	assert_string_equal(d.v[1].msg, "EMBARGO_UPSTREAMS: empty list");
	assert_non_null(strstr(d.v[2].msg, "EMBARGO_LOG_QUERIES: unknown value \"loud\""));
	/* the file's values stay */
	assert_int_equal(c->n_listen, 1);
	addr_is(&c->listen[0], "127.0.0.1:5335");
	assert_int_equal(c->log.queries, CFG_LOGQ_BLOCKED);
	cfg_diags_free(&d);
	cfg_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_unset_keeps_file_values),
		cmocka_unit_test(test_bad_values_named_and_file_kept),
	};
	return cmocka_run_group_tests_name("config-env", tests, NULL, NULL);
}
