/*
 * test_groups.c: client groups. The longest prefix over all groups picks the
 * group; its exempt list skips a vendor or one rule, reported as EXEMPT when
 * nothing else decides.
 */
#include "helpers.h"

#include <string.h>

#define NOW (TC_T0 + 1)

/* kaspersky (rules updates, sales) and acme; groups lab, lab-inner, v6lab. */
static cfg *groups_cfg(void)
{
	cfg *c = tc_new();
	cfg_vendor *k = tc_vendor(c, "kaspersky", NULL);
	tc_domain(tc_rule(k, "updates", CFG_ACT_SINKHOLE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT),
		  "upd.kaspersky.com");
	tc_domain(tc_rule(k, "sales", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT),
		  "store.kaspersky.com");
	tc_domain(tc_rule(k, "later", CFG_ACT_REFUSE, TC_T0 + 1000, CFG_TIME_NEVER, CFG_BEFORE_AUDIT),
		  "later.kaspersky.com");
	cfg_vendor *a = tc_vendor(c, "acme", NULL);
	tc_domain(tc_rule(a, "all", CFG_ACT_NXDOMAIN, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT), "acme.example");
	tc_domain(tc_rule(a, "deep", CFG_ACT_NXDOMAIN, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT),
		  "upd.kaspersky.com.acme.example");

	cfg_group *lab = tc_group(c, "lab");
	tc_net(lab, "10.66.0.0/16");
	tc_net(lab, "fd00:66::/32");
	tc_exempt(lab, "kaspersky");
	cfg_group *inner = tc_group(c, "lab-inner"); /* listed later, but a longer prefix */
	tc_net(inner, "10.66.7.0/24");
	tc_exempt(inner, "kaspersky/sales");
	cfg_group *none = tc_group(c, "wide"); /* shorter prefix, exempts acme */
	tc_net(none, "10.0.0.0/8");
	tc_exempt(none, "acme");
	return c;
}

static void exempt_vendor(void **state)
{
	(void)state;
	cfg *c = groups_cfg();
	policy *p = tc_build(c);
	tc_free(c);

	policy_match m = tc_decide(p, "a.upd.kaspersky.com", 1, "10.66.1.2", NOW);
	assert_int_equal(m.verdict, POLICY_EXEMPT);
	assert_string_equal(m.group, "lab");
	assert_string_equal(m.rule->id, "updates");
	assert_string_equal(tc_entry(&m), "upd.kaspersky.com");
	assert_int_equal(m.answer, POLICY_ANS_NONE);
	/* audited (before its effective instant) but exempt: still EXEMPT */
	m = tc_decide(p, "later.kaspersky.com", 1, "10.66.1.2", TC_T0 + 999);
	assert_int_equal(m.verdict, POLICY_EXEMPT);
	assert_string_equal(m.rule->id, "later");
	assert_int_equal(tc_decide(p, "later.kaspersky.com", 1, NULL, TC_T0 + 999).verdict, POLICY_AUDIT);
	/* acme is not exempt for lab: its block under the exempt entry still applies */
	m = tc_decide(p, "upd.kaspersky.com.acme.example", 1, "10.66.1.2", NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(m.rule->vendor->id, "acme");
	/* outside any group */
	m = tc_decide(p, "a.upd.kaspersky.com", 1, "192.0.2.1", NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_null(m.group);
	policy_free(p);
}

/* The most specific of exempt and audited entries decides: a lab exempt from
 * kaspersky/updates is EXEMPT on an update host even though a vendor-wide
 * audit rule covers it too; a name only the audit rule covers is AUDIT. */
static void exempt_beats_broader_audit(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *k = tc_vendor(c, "kaspersky", NULL);
	tc_domain(tc_rule(k, "updates", CFG_ACT_SINKHOLE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT),
		  "upd.kaspersky.com");
	tc_domain(tc_rule(k, "web", CFG_ACT_AUDIT, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT),
		  "kaspersky.com");
	tc_domain(tc_rule(k, "deep", CFG_ACT_AUDIT, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT),
		  "x.upd.kaspersky.com");
	cfg_group *lab = tc_group(c, "lab");
	tc_net(lab, "10.66.0.0/16");
	tc_exempt(lab, "kaspersky/updates");
	policy *p = tc_build(c);
	tc_free(c);

	policy_match m = tc_decide(p, "s01.upd.kaspersky.com", 1, "10.66.1.2", NOW);
	assert_int_equal(m.verdict, POLICY_EXEMPT);
	assert_string_equal(m.rule->id, "updates");
	m = tc_decide(p, "www.kaspersky.com", 1, "10.66.1.2", NOW);
	assert_int_equal(m.verdict, POLICY_AUDIT);
	assert_string_equal(m.rule->id, "web");
	/* an audit entry more specific than the exempt one decides */
	m = tc_decide(p, "a.x.upd.kaspersky.com", 1, "10.66.1.2", NOW);
	assert_int_equal(m.verdict, POLICY_AUDIT);
	assert_string_equal(m.rule->id, "deep");
	/* outside the lab the update host is blocked */
	assert_int_equal(tc_decide(p, "s01.upd.kaspersky.com", 1, "10.1.1.1", NOW).verdict, POLICY_BLOCK);
	policy_free(p);
}

static void exempt_rule_longest_prefix(void **state)
{
	(void)state;
	cfg *c = groups_cfg();
	policy *p = tc_build(c);

	/* 10.66.7.9 is in lab (/16) and lab-inner (/24): lab-inner wins */
	policy_match m = tc_decide(p, "store.kaspersky.com", 1, "10.66.7.9", NOW);
	assert_string_equal(m.group, "lab-inner");
	assert_int_equal(m.verdict, POLICY_EXEMPT);
	assert_string_equal(m.rule->id, "sales");
	m = tc_decide(p, "upd.kaspersky.com", 1, "10.66.7.9", NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK); /* only sales is exempt there */
	assert_int_equal(m.answer, POLICY_ANS_SINK_A);
	/* 10.1.2.3 is only in wide (/8): acme exempt, kaspersky enforced */
	m = tc_decide(p, "www.acme.example", 1, "10.1.2.3", NOW);
	assert_string_equal(m.group, "wide");
	assert_int_equal(m.verdict, POLICY_EXEMPT);
	assert_int_equal(tc_decide(p, "store.kaspersky.com", 1, "10.1.2.3", NOW).verdict, POLICY_BLOCK);
	/* 10.66.1.2: lab (/16) beats wide (/8), so acme is enforced */
	assert_int_equal(tc_decide(p, "www.acme.example", 1, "10.66.1.2", NOW).verdict, POLICY_BLOCK);
	/* the edges of 10.66.7.0/24 */
	assert_string_equal(tc_decide(p, "x.example", 1, "10.66.7.255", NOW).group, "lab-inner");
	assert_string_equal(tc_decide(p, "x.example", 1, "10.66.8.0", NOW).group, "lab");
	assert_string_equal(tc_decide(p, "x.example", 1, "10.66.6.255", NOW).group, "lab");
	policy_free(p);
	tc_free(c);
}

static void ipv6_and_null(void **state)
{
	(void)state;
	cfg *c = groups_cfg();
	policy *p = tc_build(c);

	policy_match m = tc_decide(p, "upd.kaspersky.com", 28, "fd00:66:1::5", NOW);
	assert_string_equal(m.group, "lab");
	assert_int_equal(m.verdict, POLICY_EXEMPT);
	m = tc_decide(p, "upd.kaspersky.com", 28, "fd00:67::5", NOW);
	assert_null(m.group);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_int_equal(m.answer, POLICY_ANS_SINK_AAAA);
	/* an IPv4 client on a dual-stack socket */
	m = tc_decide(p, "upd.kaspersky.com", 1, "::ffff:10.66.1.2", NOW);
	assert_string_equal(m.group, "lab");
	assert_int_equal(m.verdict, POLICY_EXEMPT);
	/* no client: no group */
	m = tc_decide(p, "upd.kaspersky.com", 1, NULL, NOW);
	assert_null(m.group);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	/* a v6 address whose first bytes equal a v4 network is not in it */
	m = tc_decide(p, "upd.kaspersky.com", 1, "a42::1", NOW);
	assert_null(m.group);
	policy_free(p);
	tc_free(c);
}

static void unknown_exempt(void **state)
{
	(void)state;
	cfg *c = groups_cfg();
	tc_exempt(&c->groups[0], "kaspersky/nosuch");
	tc_exempt(&c->groups[0], "nobody");
	cfg_diags d = {0};
	assert_null(policy_new(c, &d));
	assert_int_equal(d.n, 2);
	assert_string_equal(d.v[0].file, "embargo.yaml");
	assert_int_equal(d.v[0].line, c->groups[0].exempt_line[1]);
	assert_non_null(strstr(d.v[0].msg, "kaspersky/nosuch"));
	assert_non_null(strstr(d.v[1].msg, "nobody"));
	cfg_diags_free(&d);
	tc_free(c);
}

/*
 * A client in a group that exempts nothing gets every decision a client in
 * no group gets, group name aside: the first takes the walk, the second the
 * matcher's shortcut for a lone blocking entry.
 */
static void empty_group_same_as_none(void **state)
{
	(void)state;
	cfg *c = groups_cfg();
	cfg_group *plain = tc_group(c, "plain");
	tc_net(plain, "192.0.2.0/24");
	policy *p = tc_build(c);
	const char *names[] = {"upd.kaspersky.com", "a.upd.kaspersky.com", "store.kaspersky.com",
			       "later.kaspersky.com", "x.acme.example", "upd.kaspersky.com.acme.example",
			       "a.upd.kaspersky.com.acme.example", "kaspersky.com", "other.example", "."};
	const int64_t times[] = {TC_T0 - 1, NOW, TC_T0 + 1000};
	const uint16_t types[] = {1, 28, 16};

	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		for (size_t t = 0; t < 3; t++) {
			policy_match a = tc_decide(p, names[i], types[t], NULL, times[t]);
			policy_match b = tc_decide(p, names[i], types[t], "192.0.2.9", times[t]);
			assert_null(a.group);
			assert_string_equal(b.group, "plain");
			assert_int_equal(a.verdict, b.verdict);
			assert_int_equal(a.answer, b.answer);
			assert_ptr_equal(a.rule, b.rule);
			assert_ptr_equal(a.entry, b.entry);
			assert_int_equal(a.entry_kind, b.entry_kind);
			assert_int_equal(a.entry_line, b.entry_line);
			assert_int_equal(a.entry_col, b.entry_col);
			assert_ptr_equal(a.allowed_by, b.allowed_by);
		}
	policy_free(p);
	tc_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exempt_vendor),
		cmocka_unit_test(exempt_rule_longest_prefix),
		cmocka_unit_test(exempt_beats_broader_audit),
		cmocka_unit_test(ipv6_and_null),
		cmocka_unit_test(unknown_exempt),
		cmocka_unit_test(empty_group_same_as_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
