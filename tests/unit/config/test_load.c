/*
 * test_load.c: cfg_load over a config and its policy files, and the checks
 * that span files (load.c).
 */
#include "helpers.h"

static const char vendor_a[] =
	"vendor: alpha\n"
	"rules:\n"
	"  - id: r1\n"
	"    effective: 2024-01-01\n"
	"    action: refuse\n"
	"    domains: [alpha.example]\n";

static const char vendor_b[] =
	"vendor: beta\n"
	"rules:\n"
	"  - id: updates\n"
	"    effective: 2024-01-01\n"
	"    action: nxdomain\n"
	"    hosts: [beta.example]\n";

static void test_load_ok(void **state)
{
	tctx *t = *state;
	tmkdir(t, "policies");
	twrite(t, "policies/20-beta.yaml", vendor_b);
	twrite(t, "policies/10-alpha.yaml", vendor_a);
	const char *p = twrite(t, "embargo.yaml",
			       "policies: [policies/]\n"
			       "groups:\n"
			       "  - name: lab\n"
			       "    networks: [10.0.0.0/8]\n"
			       "    exempt: [alpha, beta/updates]\n");
	cfg *c = cfg_load(p, &t->diags);
	texpect(t, NULL);
	assert_non_null(c);
	assert_int_equal(c->n_vendors, 2);
	assert_string_equal(c->vendors[0].id, "alpha"); /* sorted by file name */
	assert_string_equal(c->vendors[1].id, "beta");
	assert_string_equal(c->vendors[1].file, tpath(t, "policies/20-beta.yaml"));
	assert_int_equal(c->vendors[1].rules[0].action, CFG_ACT_NXDOMAIN);
	cfg_free(c);
}

/* cfg_drop_names frees the name lists and keeps the rest; cfg_free after
 * it frees nothing twice (the ASan build checks). */
static void test_drop_names(void **state)
{
	tctx *t = *state;
	twrite(t, "a.yaml", vendor_a);
	twrite(t, "b.yaml", vendor_b);
	const char *p = twrite(t, "embargo.yaml", "policies: [a.yaml, b.yaml]\n");
	cfg *c = cfg_load(p, &t->diags);
	texpect(t, NULL);
	assert_non_null(c);
	assert_int_equal(c->vendors[0].rules[0].domains.n, 1);
	cfg_drop_names(c);
	assert_int_equal(c->vendors[0].rules[0].domains.n, 0);
	assert_null(c->vendors[0].rules[0].domains.buf);
	assert_int_equal(c->vendors[1].rules[0].hosts.n, 0);
	assert_string_equal(c->vendors[1].rules[0].id, "updates");
	assert_int_equal(c->vendors[1].rules[0].action, CFG_ACT_NXDOMAIN);
	cfg_drop_names(c);  /* twice is harmless */
	cfg_free(c);
	cfg_drop_names(NULL);
}

/* A policy folder with no *.yaml in it is no error: no vendors (it once
 * handed qsort a NULL array; the ASan + UBSan build checks; fuzz_config). */
static void test_empty_policy_folder(void **state)
{
	tctx *t = *state;
	tmkdir(t, "empty");
	twrite(t, "empty/notes.txt", "not a policy\n");
	const char *p = twrite(t, "embargo.yaml", "policies: [empty/]\n");
	cfg *c = cfg_load(p, &t->diags);
	texpect(t, NULL);
	assert_non_null(c);
	assert_int_equal(c->n_policy_paths, 0);
	assert_int_equal(c->n_vendors, 0);
	cfg_free(c);
}

static void test_duplicate_vendor(void **state)
{
	tctx *t = *state;
	tmkdir(t, "policies");
	twrite(t, "policies/a.yaml", vendor_a);
	twrite(t, "policies/b.yaml", "# the same vendor again\nvendor: alpha\nrules:\n"
				     "  - {id: r9, effective: 2024-01-01, action: audit, hosts: [b.example]}\n");
	const char *p = twrite(t, "embargo.yaml", "policies: [policies]\n");
	assert_null(cfg_load(p, &t->diags));
	char want[600];
	snprintf(want, sizeof(want),
		 "policies/b.yaml:2:9: duplicate vendor \"alpha\" (first defined at %s:1:9)",
		 tpath(t, "policies/a.yaml"));
	texpect(t, want, NULL);
}

static void test_exempt_unknown(void **state)
{
	tctx *t = *state;
	twrite(t, "a.yaml", vendor_a);
	twrite(t, "b.yaml", vendor_b);
	const char *p = twrite(t, "embargo.yaml",
			       "policies: [a.yaml, b.yaml]\n"
			       "groups:\n"
			       "  - name: lab\n"
			       "    networks: [10.0.0.0/8]\n"
			       "    exempt:\n"
			       "      - alpha\n"
			       "      - gamma\n"
			       "      - beta/nope\n"
			       "      - beta/updates\n"
			       "      - delta/r1\n");
	assert_null(cfg_load(p, &t->diags));
	texpect(t,
		"embargo.yaml:7:9: groups.exempt: unknown vendor \"gamma\"",
		"embargo.yaml:8:9: groups.exempt: vendor \"beta\" has no rule \"nope\"",
		"embargo.yaml:10:9: groups.exempt: unknown vendor \"delta\"",
		NULL);
}

static void test_errors_everywhere(void **state)
{
	tctx *t = *state;
	/* Errors in the config and in two policy files all come out of one load. */
	tmkdir(t, "p");
	twrite(t, "p/a.yaml", "vendor: alpha\nrules:\n  - id: r1\n    effective: 2024-01-01\n"
			      "    action: refus\n    hosts: [a.example]\n");
	twrite(t, "p/b.yaml", "vendor: beta\nrules: []\n");
	twrite(t, "p/c.yaml", "vendor: [x\n");
	const char *p = twrite(t, "embargo.yaml",
			       "timeout: 1 s\n"
			       "policies: [p, gone/]\n"
			       "groups:\n"
			       "  - name: lab\n"
			       "    networks: [10.0.0.0/8]\n"
			       "    exempt: [alpha/r1]\n");
	assert_null(cfg_load(p, &t->diags));
	char want[600];
	snprintf(want, sizeof(want),
		 "embargo.yaml:2:15: policies: cannot open \"%s\": No such file or directory",
		 tpath(t, "gone/"));
	texpect(t,
		"embargo.yaml:1:10: timeout: bad duration \"1 s\": unknown unit (expected ms, s, m, h or d)",
		want,
		"p/a.yaml:5:13: action: unknown action \"refus\" (expected refuse, nxdomain, nodata, sinkhole or audit)",
		"p/b.yaml:2:8: rules: must not be empty",
		"p/c.yaml:2:1: syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 9)",
		NULL);
}

static void test_no_config(void **state)
{
	tctx *t = *state;
	assert_null(cfg_load(tpath(t, "absent.yaml"), &t->diags));
	texpect(t, "absent.yaml: cannot open: No such file or directory", NULL);
	cfg_free(NULL); /* harmless */
}

static void test_diags_print(void **state)
{
	tctx *t = *state;
	cfg_diags d = {0};
	cfg_diags_add(&d, "a.yaml", 3, 7, "bad %s", "thing");
	cfg_diags_add(&d, "b.yaml", 0, 0, "cannot open: %s", "nope");
	cfg_diags_add(&d, NULL, 0, 0, "plain");
	const char *p = tpath(t, "out.txt");
	FILE *f = fopen(p, "w+");
	assert_non_null(f);
	cfg_diags_print(&d, f);
	rewind(f);
	char buf[256] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	assert_string_equal(buf, "a.yaml:3:7: bad thing\nb.yaml: cannot open: nope\nplain\n");
	assert_int_equal(d.n, 3);
	cfg_diags_free(&d);
	assert_int_equal(d.n, 0);
	assert_null(d.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_load_ok),
		TEST(test_drop_names),
		TEST(test_empty_policy_folder),
		TEST(test_duplicate_vendor),
		TEST(test_exempt_unknown),
		TEST(test_errors_everywhere),
		TEST(test_no_config),
		TEST(test_diags_print),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
