/*
 * test_rpz_map.c: the mapping of policy entries to RPZ records: each action,
 * host and domain, allow, audit left out, time windows, precedence at one
 * name and across vendors, the order of the records, and the zone text.
 */
#include "rpz_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEVER CFG_TIME_NEVER

static void each_action(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", "Order 66");
	tc_domain(tc_rule(v, "sales", CFG_ACT_REFUSE, TC_T0, NEVER, CFG_BEFORE_AUDIT), "refuse.example");
	tc_domain(tc_rule(v, "gone", CFG_ACT_NXDOMAIN, TC_T0, NEVER, CFG_BEFORE_AUDIT), "nx.example");
	tc_domain(tc_rule(v, "quiet", CFG_ACT_NODATA, TC_T0, NEVER, CFG_BEFORE_AUDIT), "nodata.example");
	tc_domain(tc_rule(v, "updates", CFG_ACT_SINKHOLE, TC_T0, NEVER, CFG_BEFORE_AUDIT), "sink.example");
	tc_domain(tc_rule(v, "web", CFG_ACT_AUDIT, TC_T0, NEVER, CFG_BEFORE_AUDIT), "audit.example");
	policy *p = tc_build(c);
	rpz_zone *z = rt_build(p, TC_T0);

	assert_string_equal(rt_at(z, "refuse.example"), "CNAME .");
	assert_string_equal(rt_at(z, "*.refuse.example"), "CNAME .");
	assert_string_equal(rt_at(z, "nx.example"), "CNAME .");
	assert_string_equal(rt_at(z, "*.nx.example"), "CNAME .");
	assert_string_equal(rt_at(z, "nodata.example"), "CNAME *.");
	assert_string_equal(rt_at(z, "*.nodata.example"), "CNAME *.");
	assert_string_equal(rt_at(z, "sink.example"), "A 0.0.0.0\nAAAA ::");
	assert_string_equal(rt_at(z, "*.sink.example"), "A 0.0.0.0\nAAAA ::");
	/* an audit rule in force changes nothing a consumer sees */
	assert_false(rt_has(z, "audit.example"));
	/* SOA, NS, and 2 records for each of 3 CNAME names, 4 for the sinkhole */
	assert_int_equal(rpz_rr_count(z), 1 + 6 + 4);

	/* comments: vendor/rule: basis; refuse says it is served as NXDOMAIN */
	for (size_t i = 1; i < rpz_rr_count(z); i++) {
		const char *cm = rpz_rr_comment(z, i);
		char *owner = ldns_rdf2str(ldns_rr_owner(rpz_rr_at(z, i)));
		assert_non_null(cm);
		assert_non_null(strstr(cm, ": Order 66"));
		if (strstr(owner, "refuse.example")) {
			assert_true(strncmp(cm, "acme/sales: ", 12) == 0);
			assert_non_null(strstr(cm, "RPZ has no REFUSED, NXDOMAIN is served"));
		} else {
			assert_null(strstr(cm, "REFUSED"));
		}
		free(owner);
	}
	assert_null(rpz_rr_comment(z, 0)); /* the NS */
	assert_int_equal(ldns_rr_get_type(rpz_rr_at(z, 0)), LDNS_RR_TYPE_NS);
	assert_int_equal(ldns_rr_get_type(rpz_soa(z)), LDNS_RR_TYPE_SOA);
	assert_int_equal(rpz_serial(z), 1);
	assert_int_equal(rpz_skipped(z), 0);

	rpz_free(z);
	policy_free(p);
	tc_free(c);
}

static void host_and_domain(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", "b");
	tc_host(tc_rule(v, "hosts", CFG_ACT_NXDOMAIN, TC_T0, NEVER, CFG_BEFORE_AUDIT), "both.example");
	cfg_rule *d = tc_rule(v, "domains", CFG_ACT_SINKHOLE, TC_T0, NEVER, CFG_BEFORE_AUDIT);
	tc_domain(d, "both.example");
	tc_host(tc_rule(v, "only", CFG_ACT_NODATA, TC_T0, NEVER, CFG_BEFORE_AUDIT), "host.example");
	policy *p = tc_build(c);
	rpz_zone *z = rt_build(p, TC_T0);

	/* a host entry is its name only */
	assert_string_equal(rt_at(z, "host.example"), "CNAME *.");
	assert_string_equal(rt_at(z, "*.host.example"), "");
	/* at one name the host beats the domain; below it the domain applies */
	assert_string_equal(rt_at(z, "both.example"), "CNAME .");
	assert_string_equal(rt_at(z, "*.both.example"), "A 0.0.0.0\nAAAA ::");
	rt_agree(p, z, "both.example", TC_T0);
	rt_agree(p, z, "a.both.example", TC_T0);
	rt_agree(p, z, "a.host.example", TC_T0);

	rpz_free(z);
	policy_free(p);
	tc_free(c);
}

static void allow_entries(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *a = tc_vendor(c, "acme", "A");
	tc_domain(tc_rule(a, "updates", CFG_ACT_SINKHOLE, TC_T0, NEVER, CFG_BEFORE_AUDIT), "acme.example");
	tc_allow(a, "ok.acme.example");
	tc_allow(a, "free.example");           /* nothing to unblock: passthru all the same */
	tc_allow(a, "shared.bolt.example");    /* another vendor's block: fail closed */
	cfg_vendor *b = tc_vendor(c, "bolt", "B");
	tc_domain(tc_rule(b, "all", CFG_ACT_NXDOMAIN, TC_T0, NEVER, CFG_BEFORE_AUDIT), "bolt.example");
	/* both vendors block one name; acme's allow below it lets bolt's decide */
	tc_domain(tc_rule(a, "both", CFG_ACT_SINKHOLE, TC_T0, NEVER, CFG_BEFORE_AUDIT), "two.example");
	tc_domain(tc_rule(b, "both", CFG_ACT_NODATA, TC_T0, NEVER, CFG_BEFORE_AUDIT), "two.example");
	tc_allow(a, "x.two.example");
	policy *p = tc_build(c);
	rpz_zone *z = rt_build(p, TC_T0);

	assert_string_equal(rt_at(z, "ok.acme.example"), "CNAME rpz-passthru.");
	assert_string_equal(rt_at(z, "*.ok.acme.example"), "CNAME rpz-passthru.");
	assert_string_equal(rt_at(z, "free.example"), "CNAME rpz-passthru.");
	/* the allow of acme does not stop bolt: the consumer still takes
	 * *.bolt.example, so no record is needed at shared.bolt.example */
	assert_false(rt_has(z, "shared.bolt.example"));
	assert_int_equal(rt_consume(z, "shared.bolt.example").kind, RT_NXDOMAIN);
	/* two.example: acme's sinkhole first; under x.two.example bolt's nodata */
	assert_string_equal(rt_at(z, "*.two.example"), "A 0.0.0.0\nAAAA ::");
	assert_string_equal(rt_at(z, "x.two.example"), "CNAME *.");
	assert_string_equal(rt_at(z, "*.x.two.example"), "CNAME *.");
	const char *names[] = { "ok.acme.example", "a.ok.acme.example", "acme.example", "b.acme.example",
				"free.example", "shared.bolt.example", "q.shared.bolt.example",
				"two.example", "x.two.example", "y.x.two.example", "y.two.example" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		rt_agree(p, z, names[i], TC_T0);
	/* a passthru record names the allowing vendor */
	for (size_t i = 1; i < rpz_rr_count(z); i++) {
		char *rd = ldns_rdf2str(ldns_rr_rdf(rpz_rr_at(z, i), 0));
		if (!strcmp(rd, "rpz-passthru."))
			assert_true(strncmp(rpz_rr_comment(z, i), "acme (allow): A", 15) == 0);
		free(rd);
	}

	rpz_free(z);
	policy_free(p);
	tc_free(c);
}

static void time_windows(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", "b");
	tc_domain(tc_rule(v, "window", CFG_ACT_SINKHOLE, TC_T0, TC_T0 + 100, CFG_BEFORE_AUDIT), "win.example");
	tc_domain(tc_rule(v, "quiet", CFG_ACT_NXDOMAIN, TC_T0, NEVER, CFG_BEFORE_ALLOW), "quiet.example");
	/* a later, more specific rule is only audited at first: the broader
	 * block in force still decides (fail closed) */
	tc_host(tc_rule(v, "later", CFG_ACT_NXDOMAIN, TC_T0 + 50, NEVER, CFG_BEFORE_AUDIT), "h.win.example");
	policy *p = tc_build(c);

	rpz_zone *z = rt_build(p, TC_T0 - 1);
	assert_int_equal(rpz_rr_count(z), 1); /* the NS alone: nothing blocks yet */
	assert_int_equal(rt_consume(z, "a.win.example").kind, RT_PASS);
	rpz_free(z);

	z = rt_build(p, TC_T0);
	assert_string_equal(rt_at(z, "*.win.example"), "A 0.0.0.0\nAAAA ::");
	assert_string_equal(rt_at(z, "quiet.example"), "CNAME .");
	assert_false(rt_has(z, "h.win.example"));
	assert_int_equal(rt_consume(z, "h.win.example").kind, RT_SINK);
	rpz_free(z);

	z = rt_build(p, TC_T0 + 50);
	assert_string_equal(rt_at(z, "h.win.example"), "CNAME .");
	rt_agree(p, z, "h.win.example", TC_T0 + 50);
	rpz_free(z);

	/* until is exclusive */
	z = rt_build(p, TC_T0 + 99);
	assert_true(rt_has(z, "win.example"));
	rpz_free(z);
	z = rt_build(p, TC_T0 + 100);
	assert_false(rt_has(z, "win.example"));
	assert_string_equal(rt_at(z, "h.win.example"), "CNAME .");
	assert_true(rt_has(z, "quiet.example"));
	rpz_free(z);

	policy_free(p);
	tc_free(c);
}

static void canonical_order(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", "b");
	cfg_rule *r = tc_rule(v, "r", CFG_ACT_SINKHOLE, TC_T0, NEVER, CFG_BEFORE_AUDIT);
	const char *names[] = { "z.example", "a.example", "example", "b.a.example", "a-b.example", "_x.example",
				"0.example", "zz.a.example", "a.z", "example.com", "aa.example", "Ab.example" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		tc_domain(r, names[i]);
	tc_host(tc_rule(v, "h", CFG_ACT_NXDOMAIN, TC_T0, NEVER, CFG_BEFORE_AUDIT), "m.example");
	tc_allow(v, "ok.example");
	policy *p = tc_build(c);
	rpz_zone *z = rt_build(p, TC_T0);

	assert_true(rpz_rr_count(z) > 20);
	for (size_t i = 1; i < rpz_rr_count(z); i++) {
		const ldns_rr *a = rpz_rr_at(z, i - 1), *b = rpz_rr_at(z, i);
		int cmp = ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b));
		assert_true(cmp < 0 || (cmp == 0 && ldns_rr_get_type(a) < ldns_rr_get_type(b)));
		/* and ldns's own RR order agrees */
		assert_true(ldns_rr_compare(a, b) < 0);
	}
	rpz_free(z);
	policy_free(p);
	tc_free(c);
}

static void root_and_long_names(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", "b");
	tc_domain(tc_rule(v, "everything", CFG_ACT_NODATA, TC_T0, NEVER, CFG_BEFORE_AUDIT), ".");
	/* 4 labels of 60 and one of 8: 254 octets in wire form, no room for
	 * the origin */
	char longname[300];
	memset(longname, 'a', sizeof longname);
	for (int i = 0; i < 4; i++)
		longname[i * 61 + 60] = '.';
	snprintf(longname + 244, 20, "bbbbbbbb");
	tc_host(tc_rule(v, "long", CFG_ACT_NXDOMAIN, TC_T0, NEVER, CFG_BEFORE_AUDIT), longname);
	tc_allow(v, "ok.example");
	policy *p = tc_build(c);
	rpz_zone *z = rt_build(p, TC_T0);

	/* the root's triggers: the wildcard at the apex; the apex itself keeps
	 * only SOA and NS */
	assert_string_equal(rt_at(z, "*"), "CNAME *.");
	assert_int_equal(rt_consume(z, "anything.example").kind, RT_NODATA);
	assert_int_equal(rt_consume(z, "ok.example").kind, RT_PASS);
	rt_agree(p, z, "anything.example", TC_T0);
	rt_agree(p, z, "x.ok.example", TC_T0);
	assert_true(rpz_skipped(z) >= 1);
	rpz_free(z);
	policy_free(p);
	tc_free(c);
}

static void wildcard_label_refused(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", "b");
	static const uint8_t star[] = "\001*\007example";
	tc_domain_wire(tc_rule(v, "r", CFG_ACT_NXDOMAIN, TC_T0, NEVER, CFG_BEFORE_AUDIT), star, sizeof star);
	policy *p = tc_build(c);
	char err[256] = "";
	rpz_params prm = { .origin = RT_ORIGIN, .serial = 1, .ttl = 300 };
	prm.sink4.family = 4;
	prm.sink6.family = 6;
	assert_null(rpz_build(p, TC_T0, &prm, err, sizeof err));
	assert_non_null(strstr(err, "'*'"));
	policy_free(p);
	tc_free(c);
}

static void bad_origin(void **state)
{
	(void)state;
	cfg *c = tc_new();
	tc_vendor(c, "acme", "b");
	policy *p = tc_build(c);
	char err[256], longest[260];
	memset(longest, 'a', sizeof longest);
	for (int i = 0; i < 4; i++)
		longest[i * 61 + 60] = '.';
	longest[250] = 0; /* 250 characters: valid, but no room for a trigger */
	const char *bad[] = { "", ".", "a..b", "-a.example", "*.example", "rpz example", "r\xc3\xa9.example", longest };
	rpz_params prm = { .serial = 1, .ttl = 300 };
	prm.sink4.family = 4;
	prm.sink6.family = 6;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		prm.origin = bad[i];
		err[0] = 0;
		assert_null(rpz_build(p, TC_T0, &prm, err, sizeof err));
		assert_non_null(strstr(err, "bad origin"));
		assert_int_equal(rpz_origin_check(bad[i], err, sizeof err), -1);
	}
	prm.origin = NULL;
	assert_null(rpz_build(p, TC_T0, &prm, err, sizeof err));
	/* with or without the final dot */
	assert_int_equal(rpz_origin_check("rpz.example", err, sizeof err), 0);
	prm.origin = "RPZ.Example";
	rpz_zone *z = rpz_build(p, TC_T0, &prm, err, sizeof err);
	assert_non_null(z);
	char *o = ldns_rdf2str(rpz_origin(z));
	assert_string_equal(o, "rpz.example.");
	free(o);
	rpz_free(z);
	/* the sinkhole addresses must be of their families */
	prm.sink6.family = 4;
	assert_null(rpz_build(p, TC_T0, &prm, err, sizeof err));
	policy_free(p);
	tc_free(c);
}

static void zone_text(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", "Order\n66");
	tc_domain(tc_rule(v, "sales", CFG_ACT_REFUSE, TC_T0, NEVER, CFG_BEFORE_AUDIT), "store.example");
	tc_host(tc_rule(v, "updates", CFG_ACT_SINKHOLE, TC_T0, NEVER, CFG_BEFORE_AUDIT), "upd.example");
	tc_allow(v, "ok.store.example");
	policy *p = tc_build(c);
	rpz_zone *z = rt_build(p, TC_T0);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(rpz_print(f, z), 0);
	fclose(f);
	assert_non_null(strstr(text, "$ORIGIN rpz.test.\n"));
	assert_non_null(strstr(text, "rpz.test.\t300\tIN\tSOA\tlocalhost. hostmaster.localhost. 1 3600 600 86400 300\n"));
	assert_non_null(strstr(text, "rpz.test.\t300\tIN\tNS\tlocalhost.\n"));
	assert_non_null(strstr(text, "*.store.example.rpz.test.\t300\tIN\tCNAME\t.\t; acme/sales: Order 66 (refuse: "
				     "RPZ has no REFUSED, NXDOMAIN is served)\n"));
	assert_non_null(strstr(text, "upd.example.rpz.test.\t300\tIN\tAAAA\t::\t; acme/updates: Order 66\n"));
	assert_non_null(strstr(text, "ok.store.example.rpz.test.\t300\tIN\tCNAME\trpz-passthru.\t; acme (allow): Order 66\n"));

	/* ldns reads it back as the same records */
	f = fmemopen(text, len, "r");
	assert_non_null(f);
	ldns_zone *back = NULL;
	int line = 0;
	assert_int_equal(ldns_zone_new_frm_fp_l(&back, f, NULL, 0, LDNS_RR_CLASS_IN, &line), LDNS_STATUS_OK);
	fclose(f);
	assert_int_equal(ldns_rr_compare(ldns_zone_soa(back), rpz_soa(z)), 0);
	assert_int_equal(ldns_rr_list_rr_count(ldns_zone_rrs(back)), rpz_rr_count(z));
	for (size_t i = 0; i < rpz_rr_count(z); i++)
		assert_int_equal(ldns_rr_compare(ldns_rr_list_rr(ldns_zone_rrs(back), i), rpz_rr_at(z, i)), 0);
	ldns_zone_deep_free(back);
	free(text);
	rpz_free(z);
	policy_free(p);
	tc_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_action),
		cmocka_unit_test(host_and_domain),
		cmocka_unit_test(allow_entries),
		cmocka_unit_test(time_windows),
		cmocka_unit_test(canonical_order),
		cmocka_unit_test(root_and_long_names),
		cmocka_unit_test(wildcard_label_refused),
		cmocka_unit_test(bad_origin),
		cmocka_unit_test(zone_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
