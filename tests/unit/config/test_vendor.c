/*
 * test_vendor.c: policy files (vendor.c, names.c), valid and every class of
 * error, with exact positions.
 */
#include "helpers.h"

#include "config/dname.h"

static const char kaspersky[] =
	"vendor: kaspersky                # id\n"
	"name: Kaspersky Lab\n"
	"basis: U.S. Commerce BIS Final Determination ICTS-2021-002 (89 FR 52434)\n"
	"url: https://www.federalregister.gov/d/2024-13532\n"
	"ede: 16\n"
	"rules:\n"
	"  - id: sales\n"
	"    effective: 2024-07-20T00:00:00-04:00\n"
	"    action: refuse\n"
	"    domains: [store.kaspersky.com]\n"
	"  - id: updates\n"
	"    effective: 2024-09-29T00:00:00-04:00\n"
	"    until: null\n"
	"    action: sinkhole\n"
	"    before: allow\n"
	"    domains:\n"
	"      - upd.kaspersky.com\n"
	"      - Kaspersky-Labs.COM.\n"
	"    hosts:\n"
	"      - dnl-01.geo.kaspersky.com\n"
	"  - id: later\n"
	"    effective: 2025-01-01\n"
	"    until: 2025-06-01T00:00:00Z\n"
	"    action: nxdomain\n"
	"    hosts: [a.example]\n"
	"allow:\n"
	"  - support.kaspersky.com\n";

static void name_is(const cfg_names *l, size_t i, const char *want)
{
	char buf[DNAME_STR_MAX];
	dname_to_str(cfg_names_at(l, i), buf);
	assert_string_equal(buf, want);
}

static void test_valid(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	assert_int_equal(tvendor(t, "k.yaml", kaspersky, &v), 0);
	texpect(t, NULL);
	assert_string_equal(v.file, tpath(t, "k.yaml"));
	assert_string_equal(v.id, "kaspersky");
	assert_int_equal(v.line, 1);
	assert_int_equal(v.col, 9);
	assert_string_equal(v.name, "Kaspersky Lab");
	assert_string_equal(v.url, "https://www.federalregister.gov/d/2024-13532");
	assert_non_null(strstr(v.basis, "ICTS-2021-002"));
	assert_int_equal(v.ede, 16);
	assert_int_equal(v.n_rules, 3);

	const cfg_rule *r = &v.rules[0];
	assert_string_equal(r->id, "sales");
	assert_int_equal(r->line, 7);
	assert_int_equal(r->col, 5);
	assert_int_equal(r->effective, 1721448000); /* 2024-07-20T04:00:00Z */
	assert_true(r->until == CFG_TIME_NEVER);
	assert_int_equal(r->action, CFG_ACT_REFUSE);
	assert_int_equal(r->before, CFG_BEFORE_AUDIT);
	assert_int_equal(r->domains.n, 1);
	assert_int_equal(r->hosts.n, 0);
	name_is(&r->domains, 0, "store.kaspersky.com");
	assert_int_equal(r->domains.line[0], 10);
	assert_int_equal(r->domains.col[0], 15);

	r = &v.rules[1];
	assert_string_equal(r->id, "updates");
	assert_int_equal(r->effective, 1727582400);
	assert_true(r->until == CFG_TIME_NEVER);
	assert_int_equal(r->action, CFG_ACT_SINKHOLE);
	assert_int_equal(r->before, CFG_BEFORE_ALLOW);
	assert_int_equal(r->domains.n, 2);
	name_is(&r->domains, 1, "kaspersky-labs.com");
	assert_memory_equal(cfg_names_at(&r->domains, 1), "\016kaspersky-labs\3com", 20);
	assert_int_equal(r->domains.line[1], 18);
	assert_int_equal(r->domains.col[1], 9);
	assert_int_equal(r->hosts.n, 1);
	name_is(&r->hosts, 0, "dnl-01.geo.kaspersky.com");

	r = &v.rules[2];
	assert_int_equal(r->effective, 1735689600); /* bare date: 00:00 UTC */
	assert_int_equal(r->until, 1748736000);
	assert_int_equal(r->action, CFG_ACT_NXDOMAIN);

	assert_int_equal(v.allow.n, 1);
	name_is(&v.allow, 0, "support.kaspersky.com");
	cfg_vendor_clear(&v);
	assert_null(v.rules);
	assert_string_equal(cfg_action_name(CFG_ACT_AUDIT), "audit");
	assert_string_equal(cfg_action_name(CFG_ACT_NODATA), "nodata");
}

static void test_defaults(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	assert_int_equal(tvendor(t, "v.yaml",
				 "vendor: x\nrules:\n- id: r\n  effective: 2024-01-01\n  action: audit\n  hosts: [h.example]\n",
				 &v), 0);
	assert_int_equal(v.ede, 15);
	assert_null(v.name);
	assert_int_equal(v.rules[0].action, CFG_ACT_AUDIT);
	assert_int_equal(v.allow.n, 0);
	cfg_vendor_clear(&v);
	texpect(t, NULL);
}

static void test_unknown_key_and_required(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	assert_int_equal(tvendor(t, "kaspersky.yaml",
				 "# a comment\n"
				 "\n"
				 "vendr: kaspersky\n"
				 "rules:\n"
				 "  - id: a\n"
				 "    domains: [x.example]\n"
				 "    colour: red\n"
				 "  - effective: 2024-01-01\n"
				 "    action: refuse\n"
				 "    hosts: [y.example]\n",
				 &v), -1);
	assert_null(v.rules); /* nothing is handed out on error */
	texpect(t,
		"kaspersky.yaml:3:1: unknown key \"vendr\"",
		"kaspersky.yaml:7:5: unknown key \"colour\"",
		"kaspersky.yaml:5:5: missing required key \"effective\"",
		"kaspersky.yaml:5:5: missing required key \"action\"",
		"kaspersky.yaml:8:5: missing required key \"id\"",
		"kaspersky.yaml:3:1: missing required key \"vendor\"",
		NULL);

	cfg_diags_free(&t->diags);
	assert_int_equal(tvendor(t, "norules.yaml", "vendor: x\nname: X\n", &v), -1);
	assert_int_equal(tvendor(t, "null.yaml", "~\n", &v), -1);
	assert_int_equal(tvendor(t, "empty.yaml", "", &v), -1);
	texpect(t,
		"norules.yaml:1:1: missing required key \"rules\"",
		"null.yaml:1:1: missing required key \"vendor\"",
		"null.yaml:1:1: missing required key \"rules\"",
		"empty.yaml:1:1: empty file",
		NULL);
}

static void test_ids(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	assert_int_equal(tvendor(t, "v.yaml",
				 "vendor: Kaspersky_Lab\n"
				 "rules:\n"
				 "  - id: sales\n"
				 "    effective: 2024-01-01\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n"
				 "  - id: Sales!\n"
				 "    effective: 2024-01-01\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n"
				 "  - id: sales\n"
				 "    effective: 2024-01-01\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n"
				 "  - id: \"\"\n"
				 "    effective: 2024-01-01\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n",
				 &v), -1);
	texpect(t,
		"v.yaml:1:9: vendor: bad vendor id \"Kaspersky_Lab\" (use a-z, 0-9 and '-')",
		"v.yaml:7:9: id: bad rule id \"Sales!\" (use a-z, 0-9 and '-')",
		"v.yaml:11:9: id: duplicate rule id \"sales\" (first at line 3)",
		"v.yaml:15:9: id: bad rule id \"\" (use a-z, 0-9 and '-')",
		NULL);
}

static void test_ede(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	static const char rules[] =
		"rules: [{id: r, effective: 2024-01-01, action: refuse, hosts: [a.example]}]\n";
	char text[256];
	const char *eds[] = {"70000", "-1", "sixteen", "99999999999999999999999", "[15]"};
	for (size_t i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "vendor: v\nede: %s\n%s", eds[i], rules);
		char name[32];
		snprintf(name, sizeof(name), "e%zu.yaml", i);
		assert_int_equal(tvendor(t, name, text, &v), -1);
	}
	snprintf(text, sizeof(text), "vendor: v\nede: 65535\n%s", rules);
	assert_int_equal(tvendor(t, "ok.yaml", text, &v), 0);
	assert_int_equal(v.ede, 65535);
	cfg_vendor_clear(&v);
	texpect(t,
		"e0.yaml:2:6: ede: info-code out of range 0..65535 (found 70000)",
		"e1.yaml:2:6: ede: info-code out of range 0..65535 (found -1)",
		"e2.yaml:2:6: ede: expected a non-negative integer, found \"sixteen\"",
		"e3.yaml:2:6: ede: info-code out of range 0..65535 (found 99999999999999999999999)",
		"e4.yaml:2:6: ede: expected an integer, found a list",
		NULL);
}

static void test_times(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	assert_int_equal(tvendor(t, "t.yaml",
				 "vendor: v\n"
				 "rules:\n"
				 "  - id: no-offset\n"
				 "    effective: 2024-09-29T00:00:00\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n"
				 "  - id: bad-day\n"
				 "    effective: 2024-09-31\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n"
				 "  - id: not-leap\n"
				 "    effective: \"2023-02-29T00:00:00Z\"\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n"
				 "  - id: backwards\n"
				 "    effective: 2024-09-29T00:00:00-04:00\n"
				 "    until: 2024-09-29T04:00:00Z\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n"
				 "  - id: ok\n"
				 "    effective: 2024-02-29\n"
				 "    until: 2024-02-29T00:00:01Z\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n"
				 "  - id: list\n"
				 "    effective: [2024-01-01]\n"
				 "    until: tomorrow\n"
				 "    action: refuse\n"
				 "    hosts: [a.example]\n",
				 &v), -1);
	texpect(t,
		"t.yaml:4:16: effective: bad time \"2024-09-29T00:00:00\": missing UTC offset (add Z or +hh:mm/-hh:mm)",
		"t.yaml:8:16: effective: bad time \"2024-09-31\": day out of range for the month",
		"t.yaml:12:16: effective: bad time \"2023-02-29T00:00:00Z\": day out of range for the month",
		"t.yaml:17:12: until 2024-09-29T04:00:00Z is not after effective 2024-09-29T04:00:00Z",
		"t.yaml:26:16: effective: expected a time, found a list",
		"t.yaml:27:12: until: bad time \"tomorrow\": expected YYYY-MM-DD or RFC 3339 (2024-09-29T04:00:00Z)",
		NULL);
}

static void test_action_before(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	assert_int_equal(tvendor(t, "a.yaml",
				 "vendor: v\n"
				 "rules:\n"
				 "  - id: r\n"
				 "    effective: 2024-01-01\n"
				 "    action: block\n"
				 "    before: deny\n"
				 "    hosts: [a.example]\n",
				 &v), -1);
	texpect(t,
		"a.yaml:5:13: action: unknown action \"block\" (expected refuse, nxdomain, nodata, sinkhole or audit)",
		"a.yaml:6:13: before: unknown value \"deny\" (expected audit or allow)",
		NULL);
}

static void test_bad_names(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	char long_label[64 + 1], long_name[260], text[2048];
	memset(long_label, 'a', 64);
	long_label[64] = 0;
	/* 254 characters: 127 two-character labels "a." minus the last dot */
	for (int i = 0; i < 127; i++)
		memcpy(long_name + 2 * i, "a.", 2);
	long_name[253] = 0;
	assert_int_equal(strlen(long_name), 253);
	long_name[252] = 'b';
	long_name[253] = 'c';
	long_name[254] = 0;
	snprintf(text, sizeof(text),
		 "vendor: v\n"
		 "rules:\n"
		 "  - id: r\n"
		 "    effective: 2024-01-01\n"
		 "    action: refuse\n"
		 "    domains:\n"
		 "      - a..example\n"
		 "      - %s.example\n"
		 "      - %s\n"
		 "      - b\xc3\xbc" "cher.example\n"
		 "      - -lead.example\n"
		 "      - .\n"
		 "      - \"\"\n"
		 "      - good.example\n"
		 "      - [nested]\n"
		 "allow: [\"two words.example\"]\n",
		 long_label, long_name);
	assert_int_equal(tvendor(t, "n.yaml", text, &v), -1);
	char want_long[512];
	snprintf(want_long, sizeof(want_long),
		 "n.yaml:9:9: domains: bad name \"%s\": name longer than 253 characters", long_name);
	char want_label[512];
	snprintf(want_label, sizeof(want_label),
		 "n.yaml:8:9: domains: bad name \"%s.example\": label longer than 63 characters",
		 long_label);
	texpect(t,
		"n.yaml:7:9: domains: bad name \"a..example\": empty label",
		want_label,
		want_long,
		"n.yaml:10:9: domains: bad name \"b\xc3\xbc" "cher.example\": non-ASCII character (write IDNs as A-labels, xn--...)",
		"n.yaml:11:9: domains: bad name \"-lead.example\": label begins with '-'",
		"n.yaml:12:9: domains: \".\" is the root: it would match every name",
		"n.yaml:13:9: domains: bad name \"\": empty name",
		"n.yaml:15:9: domains: expected a domain name, found a list",
		"n.yaml:16:9: allow: bad name \"two words.example\": invalid character (use letters, digits, '-' and '_')",
		NULL);
}

static void test_rules_shape(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	assert_int_equal(tvendor(t, "r.yaml",
				 "vendor: v\n"
				 "rules:\n"
				 "  - id: nothing\n"
				 "    effective: 2024-01-01\n"
				 "    action: refuse\n"
				 "  - id: empty-lists\n"
				 "    effective: 2024-01-01\n"
				 "    action: refuse\n"
				 "    domains: []\n"
				 "    hosts:\n"
				 "  - a string\n",
				 &v), -1);
	assert_int_equal(tvendor(t, "e.yaml", "vendor: v\nrules: []\n", &v), -1);
	assert_int_equal(tvendor(t, "n.yaml", "vendor: v\nrules:\n", &v), -1);
	assert_int_equal(tvendor(t, "m.yaml", "vendor: v\nrules: {id: r}\n", &v), -1);
	texpect(t,
		"r.yaml:3:5: rule \"nothing\" has no domains or hosts",
		"r.yaml:6:5: rule \"empty-lists\" has no domains or hosts",
		"r.yaml:11:5: rules: expected a mapping, found \"a string\"",
		"e.yaml:2:8: rules: must not be empty",
		"n.yaml:2:7: rules: must not be empty",
		"m.yaml:2:8: rules: expected a list, found a mapping",
		NULL);
}

static void test_many_errors_and_alias(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	assert_int_equal(tvendor(t, "x.yaml",
				 "vendor: x\n"
				 "ede: big\n"
				 "rules:\n"
				 "  - id: r1\n"
				 "    effective: 2024-13-01\n"
				 "    action: refuse\n"
				 "    domains: &d [a.example]\n"
				 "    action: nodata\n"
				 "  - id: r2\n"
				 "    effective: 2024-01-01T00:00:00Z\n"
				 "    action: audit\n"
				 "    hosts: *d\n"
				 "allow: [ok.example, bad_.-x]\n",
				 &v), -1);
	texpect(t,
		"x.yaml:2:6: ede: expected a non-negative integer, found \"big\"",
		"x.yaml:5:16: effective: bad time \"2024-13-01\": month out of range 01..12",
		"x.yaml:7:14: anchors and aliases are not supported",
		"x.yaml:8:5: duplicate key \"action\"",
		"x.yaml:12:12: aliases are not supported",
		"x.yaml:9:5: rule \"r2\" has no domains or hosts",
		"x.yaml:13:21: allow: bad name \"bad_.-x\": label begins with '-'",
		NULL);
}

static void test_syntax_error(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	assert_int_equal(tvendor(t, "s.yaml",
				 "vendor: v\n"
				 "rules:\n"
				 "  - id: r\n"
				 "   effective: 2024-01-01\n",
				 &v), -1);
	texpect(t,
		"s.yaml:4:4: syntax error: did not find expected '-' indicator (while parsing a block collection at line 3, column 3)",
		NULL);
}

static void test_names_arena(void **state)
{
	(void)state;
	cfg_names l = {0};
	uint8_t w[DNAME_MAX];
	size_t len;
	const char *why;
	char text[64], out[DNAME_STR_MAX];
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(text, sizeof(text), "d%u.Example-Zone.com", i);
		assert_int_equal(dname_from_str(text, w, &len, &why), 0);
		assert_int_equal(cfg_names_add(&l, w, len, i + 1, 7), 0);
	}
	assert_int_equal(l.n, 5000);
	dname_to_str(cfg_names_at(&l, 4321), out);
	assert_string_equal(out, "d4321.example-zone.com");
	assert_int_equal(l.line[4321], 4322);
	assert_int_equal(l.col[4321], 7);
	cfg_names_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_valid),
		TEST(test_defaults),
		TEST(test_unknown_key_and_required),
		TEST(test_ids),
		TEST(test_ede),
		TEST(test_times),
		TEST(test_action_before),
		TEST(test_bad_names),
		TEST(test_rules_shape),
		TEST(test_many_errors_and_alias),
		TEST(test_syntax_error),
		TEST(test_names_arena),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
