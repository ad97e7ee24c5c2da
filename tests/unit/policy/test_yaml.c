/*
 * test_yaml.c: one end-to-end check through the real loader: a config and a
 * policy file on disk, cfg_load, policy_new, then the cfg is freed and the
 * snapshot answers with the positions the YAML gave.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], conf[128], pol[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	(void)state;
	char sub[160];
	strcpy(dir, "/tmp/embargo-policy-test.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof conf, "%s/embargo.yaml", dir);
	snprintf(sub, sizeof sub, "%s/policies", dir);
	snprintf(pol, sizeof pol, "%s/policies/acme.yaml", dir);
	return mkdir(sub, 0700);
}

static int teardown(void **state)
{
	(void)state;
	char sub[160];
	unlink(conf);
	unlink(pol);
	snprintf(sub, sizeof sub, "%s/policies", dir);
	rmdir(sub);
	rmdir(dir);
	return 0;
}

static void load_and_decide(void **state)
{
	(void)state;
	write_file(conf, "policies:\n"
			 "  - policies/\n"
			 "groups:\n"
			 "  - name: lab\n"
			 "    networks: [10.66.0.0/16]\n"
			 "    exempt: [acme/sales]\n");
	write_file(pol, "vendor: acme\n"                       /* 1 */
			"name: Acme Corp\n"                    /* 2 */
			"basis: Order 66\n"                    /* 3 */
			"ede: 16\n"                            /* 4 */
			"rules:\n"                             /* 5 */
			"  - id: sales\n"                      /* 6 */
			"    effective: 2024-07-20T00:00:00-04:00\n"
			"    action: refuse\n"                 /* 8 */
			"    domains:\n"                       /* 9 */
			"      - Store.Acme.example\n"         /* 10 */
			"  - id: updates\n"                    /* 11 */
			"    effective: 2024-09-29T04:00:00Z\n"
			"    until: 2025-01-01\n"              /* 13 */
			"    action: sinkhole\n"               /* 14 */
			"    before: allow\n"                  /* 15 */
			"    domains: [upd.acme.example, cdn.acme.example]\n"
			"    hosts:\n"                         /* 17 */
			"      - dl.acme.example\n"            /* 18 */
			"allow:\n"                             /* 19 */
			"  - ok.upd.acme.example\n");          /* 20 */
	cfg_diags d = {0};
	cfg *c = cfg_load(conf, &d);
	if (!c)
		cfg_diags_print(&d, stderr);
	assert_non_null(c);
	policy *p = policy_new(c, &d);
	assert_non_null(p);
	assert_int_equal(d.n, 0);
	cfg_free(c);

	const int64_t sales = 1721448000, updates = 1727582400, end = 1735689600;
	assert_int_equal(policy_next_change(p, 0), sales);
	assert_int_equal(policy_next_change(p, sales), updates);
	assert_int_equal(policy_next_change(p, updates), end);
	assert_int_equal(policy_next_change(p, end), CFG_TIME_NEVER);

	policy_match m = tc_decide(p, "www.store.acme.example", 1, NULL, sales);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_int_equal(m.answer, POLICY_ANS_REFUSED);
	assert_string_equal(m.rule->ede_text, "acme/sales: Order 66");
	assert_int_equal(m.rule->vendor->ede, 16);
	assert_int_equal(m.entry_line, 10);
	assert_int_equal(m.entry_col, 9);
	assert_non_null(strstr(m.rule->vendor->file, "acme.yaml"));
	assert_int_equal(tc_decide(p, "store.acme.example", 1, "10.66.0.1", sales).verdict, POLICY_EXEMPT);

	assert_int_equal(tc_decide(p, "a.cdn.acme.example", 28, NULL, updates - 1).verdict, POLICY_PASS);
	m = tc_decide(p, "a.cdn.acme.example", 28, NULL, updates);
	assert_int_equal(m.answer, POLICY_ANS_SINK_AAAA);
	assert_int_equal(m.entry_line, 16);
	assert_int_equal(tc_decide(p, "a.cdn.acme.example", 28, NULL, end).verdict, POLICY_PASS);
	assert_int_equal(tc_decide(p, "dl.acme.example", 1, NULL, updates).entry_kind, POLICY_ENTRY_HOST);
	assert_int_equal(tc_decide(p, "x.dl.acme.example", 1, NULL, updates).verdict, POLICY_PASS);
	m = tc_decide(p, "x.ok.upd.acme.example", 1, NULL, updates);
	assert_int_equal(m.verdict, POLICY_PASS);
	assert_non_null(m.allowed_by);
	assert_int_equal(m.entry_line, 20);
	policy_free(p);
	cfg_diags_free(&d);
}

/* A conflict only the snapshot sees: the same domain in two rules. */
static void conflict_from_yaml(void **state)
{
	(void)state;
	write_file(conf, "policies: [policies/acme.yaml]\n");
	write_file(pol, "vendor: acme\n"
			"rules:\n"
			"  - id: a\n"
			"    effective: 2024-01-01\n"
			"    action: refuse\n"
			"    domains: [x.example]\n"
			"  - id: b\n"
			"    effective: 2024-01-01\n"
			"    action: refuse\n"
			"    domains:\n"
			"      - y.example\n"
			"      - X.example\n");
	cfg_diags d = {0};
	cfg *c = cfg_load(conf, &d);
	assert_non_null(c);
	assert_null(policy_new(c, &d));
	if (d.n != 1 || !strstr(d.v[0].msg, "acme.yaml:6:15"))
		cfg_diags_print(&d, stderr);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, 12);
	assert_int_equal(d.v[0].col, 9);
	assert_non_null(strstr(d.v[0].msg, "acme.yaml:6:15"));
	cfg_free(c);
	cfg_diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(load_and_decide),
		cmocka_unit_test(conflict_from_yaml),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
