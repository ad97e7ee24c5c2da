/*
 * test_listfile.c: policy list files (listfile.c, listfile_rpz.c,
 * listload.c): each format and its detection, comments, wildcards, RPZ
 * triggers skipped as warnings, errors with file:line:col, and the
 * domains-file / hosts-file / allow-file keys of a policy file.
 */
#include "helpers.h"

#include "config/dname.h"
#include "config/listfile.h"

/* What a parse gave: "kind name line:col" per name, and the diagnostics. */
typedef struct got {
	char names[64][1100];
	size_t n;
	cfg_diags errors, warnings;
} got;

static int collect(void *ctx, listfile_kind kind, const uint8_t *wire, size_t len, uint32_t line,
		   uint32_t col)
{
	got *g = ctx;
	char text[DNAME_STR_MAX];
	static const char *const kinds[] = {"domain", "host", "allow"};
	assert_int_equal(dname_wire_len(wire), len);
	dname_to_str(wire, text);
	if (g->n < 64)
		snprintf(g->names[g->n], sizeof(g->names[0]), "%s %s %u:%u", kinds[kind], text, line,
			 col);
	g->n++;
	return 0;
}

static int parse(got *g, const char *text, listfile_key key, listfile_format *f)
{
	memset(g, 0, sizeof(*g));
	listfile_sink sink = {collect, g, &g->errors, &g->warnings};
	return listfile_parse_buf(text, strlen(text), "l.txt", key, &sink, f);
}

static void got_free(got *g)
{
	cfg_diags_free(&g->errors);
	cfg_diags_free(&g->warnings);
}

static const char *diag_at(const cfg_diags *d, size_t i)
{
	static char buf[1500];
	const cfg_diag *g = &d->v[i];
	if (g->line)
		snprintf(buf, sizeof(buf), "%s:%u:%u: %s", g->file, g->line, g->col, g->msg);
	else
		snprintf(buf, sizeof(buf), "%s: %s", g->file, g->msg);
	return buf;
}

static void test_names_format(void **state)
{
	(void)state;
	got g;
	listfile_format f;
	/* comments, blank lines, a trailing dot, "*.", case, CRLF, no final newline */
	assert_int_equal(parse(&g,
			       "# a list\r\n"
			       "\r\n"
			       "Ads.Example.COM.\r\n"
			       "  *.tracker.example   # inline comment\r\n"
			       "\t\r\n"
			       "last.example",
			       LISTFILE_DOMAINS, &f),
			 0);
	assert_int_equal(f, LISTFILE_FMT_NAMES);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.names[0], "domain ads.example.com 3:1");
	assert_string_equal(g.names[1], "domain tracker.example 4:3");
	assert_string_equal(g.names[2], "domain last.example 6:1");
	assert_int_equal(g.errors.n, 0);
	assert_int_equal(g.warnings.n, 0);
	got_free(&g);

	/* in a hosts-file bare names are hosts, "*." still a domain */
	assert_int_equal(parse(&g, "a.example\n*.b.example\n", LISTFILE_HOSTS, &f), 0);
	assert_string_equal(g.names[0], "host a.example 1:1");
	assert_string_equal(g.names[1], "domain b.example 2:1");
	got_free(&g);

	/* in an allow-file everything is an allow entry */
	assert_int_equal(parse(&g, "a.example\n*.b.example\n", LISTFILE_ALLOW, &f), 0);
	assert_string_equal(g.names[0], "allow a.example 1:1");
	assert_string_equal(g.names[1], "allow b.example 2:1");
	got_free(&g);
}

static void test_names_errors(void **state)
{
	(void)state;
	got g;
	assert_int_equal(parse(&g,
			       "good.example\n"
			       "bad_-.example\n"
			       "two.example other.example\n"
			       "192.0.2.1\n"
			       "*.\n"
			       "x..example\n"
			       "after.example\n",
			       LISTFILE_DOMAINS, NULL),
			 -1);
	assert_int_equal(g.n, 2); /* the good lines are still read */
	assert_string_equal(g.names[1], "domain after.example 7:1");
	assert_int_equal(g.errors.n, 4);
	assert_string_equal(diag_at(&g.errors, 0),
			    "l.txt:2:1: bad name \"bad_-.example\": label ends with '-'");
	assert_string_equal(diag_at(&g.errors, 1),
			    "l.txt:3:13: expected one name per line, found \"other.example\" after "
			    "\"two.example\"");
	assert_string_equal(diag_at(&g.errors, 2), "l.txt:5:1: bad name \"\": empty name");
	assert_string_equal(diag_at(&g.errors, 3), "l.txt:6:1: bad name \"x..example\": empty label");
	assert_int_equal(g.warnings.n, 1);
	assert_string_equal(diag_at(&g.warnings, 0),
			    "l.txt:4:1: \"192.0.2.1\" is an address, not a name: skipped");
	got_free(&g);
}

static void test_error_cap(void **state)
{
	(void)state;
	char text[4096] = "";
	for (int i = 0; i < 30; i++)
		strcat(text, "no!\n");
	got g;
	assert_int_equal(parse(&g, text, LISTFILE_DOMAINS, NULL), -1);
	assert_int_equal(g.errors.n, LISTFILE_MAX_ERRORS + 1);
	assert_string_equal(diag_at(&g.errors, LISTFILE_MAX_ERRORS),
			    "l.txt: 10 more errors not shown");
	got_free(&g);
}

static void test_hosts_format(void **state)
{
	(void)state;
	got g;
	listfile_format f;
	assert_int_equal(parse(&g,
			       "# hosts\n"
			       "127.0.0.1 localhost localhost.localdomain local\n"
			       "255.255.255.255 broadcasthost\n"
			       "::1 ip6-localhost ip6-loopback\n"
			       "fe80::1%lo0 localhost\n"
			       "0.0.0.0 0.0.0.0\n"
			       "0.0.0.0 ads.example tracker.example # two\n"
			       "127.0.0.1\tone.example\r\n"
			       ":: v6.example\n"
			       "0.0.0.0 *.wild.example",
			       LISTFILE_HOSTS, &f),
			 0);
	assert_int_equal(f, LISTFILE_FMT_HOSTS);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.names[0], "host ads.example 7:9");
	assert_string_equal(g.names[1], "host tracker.example 7:21");
	assert_string_equal(g.names[2], "host one.example 8:11");
	assert_string_equal(g.names[3], "host v6.example 9:4");
	assert_string_equal(g.names[4], "domain wild.example 10:9");
	assert_int_equal(g.errors.n, 0);
	got_free(&g);

	/* a domains-file in hosts format: the names are domains */
	assert_int_equal(parse(&g, "0.0.0.0 a.example\n", LISTFILE_DOMAINS, &f), 0);
	assert_string_equal(g.names[0], "domain a.example 1:9");
	got_free(&g);

	assert_int_equal(parse(&g, "0.0.0.0 a.example\nb.example\n0.0.0.0\n0.0.0.0 -x.example\n",
			       LISTFILE_HOSTS, &f),
			 -1);
	assert_int_equal(g.errors.n, 3);
	assert_string_equal(diag_at(&g.errors, 0),
			    "l.txt:2:1: expected an address, found \"b.example\" (a hosts file: "
			    "ADDRESS NAME...)");
	assert_string_equal(diag_at(&g.errors, 1), "l.txt:3:7: an address without names");
	assert_string_equal(diag_at(&g.errors, 2),
			    "l.txt:4:9: bad name \"-x.example\": label begins with '-'");
	got_free(&g);
}

static void test_detect(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		listfile_format f;
	} cases[] = {
		{"", LISTFILE_FMT_NAMES},
		{"\n\n# only comments\n", LISTFILE_FMT_NAMES},
		{"a.example\n", LISTFILE_FMT_NAMES},
		{"# x\n0.0.0.0 a.example\n", LISTFILE_FMT_HOSTS},
		{"::1 a.example\n", LISTFILE_FMT_HOSTS},
		{"$TTL 300\n", LISTFILE_FMT_RPZ},
		{"; zone\n$ORIGIN rpz.example.\n", LISTFILE_FMT_RPZ},
		{"rpz.example. 300 IN SOA a. b. 1 2 3 4 5\n", LISTFILE_FMT_RPZ},
		{"@ IN SOA a. b. (1 2 3 4 5)\n", LISTFILE_FMT_RPZ},
		{"a.example CNAME .\nrpz. SOA a. b. 1 2 3 4 5\n", LISTFILE_FMT_RPZ},
		{"0.0.0.0 soa\n", LISTFILE_FMT_HOSTS},
		{"soa\n", LISTFILE_FMT_NAMES},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		listfile_format f = listfile_detect(cases[i].text, strlen(cases[i].text));
		if (f != cases[i].f)
			fail_msg("case %zu (%s): got %s", i, cases[i].text, listfile_format_name(f));
	}
}

static const char zone[] =
	"$TTL 300\n"                                            /* 1 */
	"$ORIGIN rpz.example.\n"                                /* 2 */
	"@ IN SOA ns.rpz.example. admin.rpz.example. (\n"       /* 3 */
	"        1 3600 600 86400 60 )\n"                       /* 4 */
	"  IN NS ns.rpz.example.\n"                             /* 5 */
	"; both forms: one domain\n"                            /* 6 */
	"both.example CNAME .\n"                                /* 7 */
	"*.both.example CNAME .\n"                              /* 8 */
	"\n"                                                    /* 9 */
	"Bare.Example A 0.0.0.0\n"                              /* 10 */
	"bare.example AAAA ::\n"                                /* 11 */
	"*.wild.example CNAME *.\n"                             /* 12 */
	"pass.example CNAME rpz-passthru.\n"                    /* 13 */
	"self.example CNAME self.example.\n"                    /* 14 */
	"drop.example CNAME rpz-drop.\n"                        /* 15 */
	"24.0.2.0.192.rpz-ip CNAME .\n"                         /* 16 */
	"ns.bad.example.rpz-nsdname CNAME .\n"                  /* 17 */
	"32.1.0.0.127.rpz-client-ip CNAME rpz-drop.\n"          /* 18 */
	"elsewhere.example. CNAME .\n"                          /* 19 */
	"rewrite.example CNAME walled.garden.example.\n"        /* 20 */
	"txt.example 60 IN TXT \"blocked\"\n";                  /* 21 */

static void test_rpz_block(void **state)
{
	(void)state;
	got g;
	listfile_format f;
	assert_int_equal(parse(&g, zone, LISTFILE_DOMAINS, &f), 0);
	assert_int_equal(f, LISTFILE_FMT_RPZ);
	assert_int_equal(g.n, 5);
	/* domains first: "*.name" (with or without the bare name), then bare names */
	assert_string_equal(g.names[0], "domain both.example 8:1");
	assert_string_equal(g.names[1], "domain wild.example 12:1");
	assert_string_equal(g.names[2], "host bare.example 10:1");
	assert_string_equal(g.names[3], "host rewrite.example 20:1");
	assert_string_equal(g.names[4], "host txt.example 21:1");
	got_free(&g);
}

static void test_rpz_warnings(void **state)
{
	(void)state;
	got g;
	assert_int_equal(parse(&g, zone, LISTFILE_HOSTS, NULL), 0);
	assert_int_equal(g.errors.n, 0);
	assert_int_equal(g.warnings.n, 7);
	assert_string_equal(diag_at(&g.warnings, 0),
			    "l.txt:13:1: \"pass.example\": rpz-passthru does not block: skipped");
	assert_string_equal(diag_at(&g.warnings, 1),
			    "l.txt:14:1: \"self.example\": rpz-passthru does not block: skipped");
	assert_string_equal(diag_at(&g.warnings, 2),
			    "l.txt:15:1: \"drop.example\": rpz-drop does not block: skipped");
	assert_string_equal(diag_at(&g.warnings, 3),
			    "l.txt:16:1: \"24.0.2.0.192.rpz-ip\": rpz-ip triggers are not supported "
			    "(only QNAME triggers): skipped");
	assert_string_equal(diag_at(&g.warnings, 4),
			    "l.txt:17:1: \"ns.bad.example.rpz-nsdname\": rpz-nsdname triggers are not "
			    "supported (only QNAME triggers): skipped");
	assert_string_equal(diag_at(&g.warnings, 5),
			    "l.txt:18:1: \"32.1.0.0.127.rpz-client-ip\": rpz-client-ip triggers are "
			    "not supported (only QNAME triggers): skipped");
	assert_string_equal(diag_at(&g.warnings, 6),
			    "l.txt:19:1: \"elsewhere.example\" is outside the zone: skipped");
	got_free(&g);
}

static void test_rpz_allow(void **state)
{
	(void)state;
	got g;
	assert_int_equal(parse(&g, zone, LISTFILE_ALLOW, NULL), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.names[0], "allow pass.example 13:1");
	assert_string_equal(g.names[1], "allow self.example 14:1");
	/* the blocking triggers are the warnings now */
	assert_string_equal(diag_at(&g.warnings, 0),
			    "l.txt:7:1: \"both.example\": block is not an exception (an allow-file "
			    "takes rpz-passthru triggers): skipped");
	got_free(&g);
}

static void test_rpz_origin_and_errors(void **state)
{
	(void)state;
	got g;
	/* no $ORIGIN: names relative to the SOA owner, which is absolute */
	assert_int_equal(parse(&g,
			       "rpz.test. 300 IN SOA a. b. 1 2 3 4 5\n"
			       "a.example CNAME .\n"
			       "b.example.rpz.test. CNAME .\n"
			       "*.rpz.test. CNAME .\n"
			       "c.example BOGUS x\n"
			       "$INCLUDE other.zone\n"
			       "bad_-.example CNAME .\n"
			       "d.example\tCNAME .\r\n"
			       "e.example CNAME .",
			       LISTFILE_HOSTS, NULL),
			 -1);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.names[0], "host a.example 2:1");
	assert_string_equal(g.names[1], "host b.example 3:1");
	assert_string_equal(g.names[2], "host d.example 8:1");
	assert_string_equal(g.names[3], "host e.example 9:1");
	assert_int_equal(g.errors.n, 4);
	assert_string_equal(diag_at(&g.errors, 0),
			    "l.txt:4:1: \"*\" at the zone's apex would match every name");
	assert_true(!strncmp(diag_at(&g.errors, 1), "l.txt:5:1: bad record: ", 23));
	assert_string_equal(diag_at(&g.errors, 2),
			    "l.txt:6:1: $INCLUDE is not supported in a list file");
	assert_string_equal(diag_at(&g.errors, 3),
			    "l.txt:7:1: bad name \"bad_-.example\": label ends with '-'");
	got_free(&g);

	/* $TTL only, no SOA: triggers are absolute names */
	assert_int_equal(parse(&g, "$TTL 60\nx.example. CNAME .\ny.example CNAME .\n",
			       LISTFILE_DOMAINS, NULL),
			 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.names[0], "host x.example 2:1");
	assert_string_equal(g.names[1], "host y.example 3:1");
	got_free(&g);
}

static void test_empty_and_binary(void **state)
{
	(void)state;
	got g;
	assert_int_equal(parse(&g, "", LISTFILE_HOSTS, NULL), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(g.errors.n, 0);
	got_free(&g);

	/* NULs and odd octets are errors, never a crash */
	static const char bin[] = "a.exa\0mple\n\xff\xfe.example\n";
	memset(&g, 0, sizeof(g));
	listfile_sink sink = {NULL, NULL, &g.errors, &g.warnings};
	assert_int_equal(listfile_parse_buf(bin, sizeof(bin) - 1, "b", LISTFILE_DOMAINS, &sink, NULL),
			 -1);
	assert_int_equal(g.errors.n, 2);
	got_free(&g);
}

/* --- the policy file keys --- */

static const char policy[] =
	"vendor: acme\n"
	"rules:\n"
	"  - id: one\n"
	"    effective: 2024-01-01\n"
	"    action: refuse\n"
	"    hosts: [dup.example]\n"
	"    hosts-file: lists/hosts.txt\n"
	"    domains-file: [lists/plain.txt, /ABS/lists/zone.rpz]\n"
	"  - id: two\n"
	"    effective: 2024-01-01\n"
	"    action: nxdomain\n"
	"    hosts-file: [lists/more.txt]\n"
	"allow-file: lists/allow.txt\n";

static const char *sub_abs(tctx *t, const char *text)
{
	static char buf[2048];
	const char *p = strstr(text, "/ABS/");
	snprintf(buf, sizeof(buf), "%.*s%s/pol/%s", (int)(p - text), text, t->dir, p + 5);
	return buf;
}

static void test_policy_keys(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	tmkdir(t, "pol");
	tmkdir(t, "pol/lists");
	twrite(t, "pol/lists/hosts.txt", "0.0.0.0 a.example dup.example\n0.0.0.0 b.example\n");
	twrite(t, "pol/lists/plain.txt", "c.example\n*.d.example\n");
	twrite(t, "pol/lists/zone.rpz", "$ORIGIN rpz.\n@ SOA a. b. 1 2 3 4 5\ne.example CNAME .\n");
	twrite(t, "pol/lists/more.txt", "b.example\nf.example\n");
	twrite(t, "pol/lists/allow.txt", "ok.example\n");
	assert_int_equal(tvendor(t, "pol/acme.yaml", sub_abs(t, policy), &v), 0);
	texpect(t, NULL);
	assert_int_equal(v.n_lists, 5);
	assert_string_equal(v.lists[0].path, tpath(t, "pol/lists/hosts.txt"));
	assert_string_equal(v.lists[0].format, "hosts");
	assert_int_equal(v.lists[0].n_names, 2); /* dup.example is the YAML's */
	assert_string_equal(v.lists[2].format, "rpz");
	assert_string_equal(v.lists[4].format, "names");
	const cfg_rule *r = &v.rules[0];
	assert_int_equal(r->hosts.n, 4); /* dup, a, b, and e (a bare RPZ trigger) */
	assert_int_equal(r->domains.n, 2);
	/* positions of list names are in their own file */
	assert_int_equal(r->hosts.line[2], 2);
	assert_int_equal(cfg_pos_col(r->hosts.col[2]), 9);
	assert_string_equal(cfg_vendor_source(&v, r->hosts.col[2]), tpath(t, "pol/lists/hosts.txt"));
	assert_string_equal(cfg_vendor_source(&v, r->hosts.col[0]), tpath(t, "pol/acme.yaml"));
	assert_string_equal(cfg_vendor_source(&v, r->hosts.col[3]), tpath(t, "pol/lists/zone.rpz"));
	/* b.example is rule one's host already: rule two keeps f.example only */
	assert_int_equal(v.rules[1].hosts.n, 1);
	assert_int_equal(v.allow.n, 1);
	assert_int_equal(v.warnings.n, 2);
	char want[1024];
	snprintf(want, sizeof(want), "duplicate host \"dup.example\" (first at %s:6:13, rule one): ignored",
		 tpath(t, "pol/acme.yaml"));
	assert_string_equal(v.warnings.v[0].msg, want);
	assert_int_equal(v.warnings.v[0].line, 1);
	assert_int_equal(v.warnings.v[0].col, 19);
	snprintf(want, sizeof(want),
		 "duplicate host \"b.example\" (first at %s:2:9, rule one): ignored",
		 tpath(t, "pol/lists/hosts.txt"));
	assert_string_equal(v.warnings.v[1].msg, want);
	cfg_vendor_clear(&v);
}

static void test_policy_errors(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	twrite(t, "bad.txt", "ok.example\nnot ok\n");
	twrite(t, "empty.txt", "");
	assert_int_equal(tvendor(t, "p.yaml",
				 "vendor: acme\n"
				 "rules:\n"
				 "  - id: one\n"
				 "    effective: 2024-01-01\n"
				 "    action: refuse\n"
				 "    hosts-file: [missing.txt, bad.txt, empty.txt]\n"
				 "  - id: broken\n"
				 "    effective: 2024-01-01\n"
				 "    action: explode\n"
				 "    hosts-file: missing-too.txt\n"
				 "allow-file: \"\"\n",
				 &v),
			 -1);
	/* the rule with an error is still read, list files and all, to find the rest */
	char want[600], want2[600];
	snprintf(want, sizeof(want), "p.yaml:6:18: %s: cannot read: No such file or directory",
		 tpath(t, "missing.txt"));
	snprintf(want2, sizeof(want2), "p.yaml:10:17: %s: cannot read: No such file or directory",
		 tpath(t, "missing-too.txt"));
	texpect(t, "p.yaml:9:13: action: unknown action \"explode\" (expected refuse, nxdomain, "
		   "nodata, sinkhole or audit)",
		"p.yaml:11:13: expected a file name, found nothing", want,
		"bad.txt:2:5: expected one name per line, found \"ok\" after \"not\"", want2, NULL);
}

static void test_policy_empty_file(void **state)
{
	tctx *t = *state;
	cfg_vendor v;
	twrite(t, "empty.txt", "# nothing yet\n");
	/* a rule whose only names are in an empty file is valid: a warning */
	assert_int_equal(tvendor(t, "p.yaml",
				 "vendor: acme\n"
				 "rules:\n"
				 "  - id: one\n"
				 "    effective: 2024-01-01\n"
				 "    action: refuse\n"
				 "    domains-file: empty.txt\n",
				 &v),
			 0);
	assert_int_equal(v.warnings.n, 1);
	assert_string_equal(v.warnings.v[0].msg, "no names in this file");
	assert_int_equal(v.warnings.v[0].line, 0);
	cfg_vendor_clear(&v);
}

static void test_cfg_load_gathers_warnings(void **state)
{
	tctx *t = *state;
	tmkdir(t, "policies");
	twrite(t, "policies/l.txt", "0.0.0.0 a.example a.example\n");
	twrite(t, "policies/acme.yaml",
	       "vendor: acme\n"
	       "rules:\n"
	       "  - id: one\n"
	       "    effective: 2024-01-01\n"
	       "    action: refuse\n"
	       "    hosts-file: l.txt\n");
	cfg *c = cfg_load(twrite(t, "embargo.yaml", "policies: [policies/]\n"), &t->diags);
	assert_non_null(c);
	assert_int_equal(c->warnings.n, 1);
	assert_int_equal(c->vendors[0].warnings.n, 0);
	assert_int_equal(c->warnings.v[0].col, 19);
	cfg_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_format),
		cmocka_unit_test(test_names_errors),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_hosts_format),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_rpz_block),
		cmocka_unit_test(test_rpz_warnings),
		cmocka_unit_test(test_rpz_allow),
		cmocka_unit_test(test_rpz_origin_and_errors),
		cmocka_unit_test(test_empty_and_binary),
		cmocka_unit_test_setup_teardown(test_policy_keys, tctx_setup, tctx_teardown),
		cmocka_unit_test_setup_teardown(test_policy_errors, tctx_setup, tctx_teardown),
		cmocka_unit_test_setup_teardown(test_policy_empty_file, tctx_setup, tctx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_load_gathers_warnings, tctx_setup,
						tctx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
