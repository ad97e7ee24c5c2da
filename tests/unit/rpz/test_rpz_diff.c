/*
 * test_rpz_diff.c: two versions of the zone: rpz_diff (what an IXFR sends),
 * rpz_same_content (whether a new serial is due), and the serial rule.
 */
#include "rpz_test.h"

#include <stdlib.h>
#include <string.h>

#define NEVER CFG_TIME_NEVER

static cfg *two_cutoffs(void)
{
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", "b");
	tc_domain(tc_rule(v, "sales", CFG_ACT_REFUSE, TC_T0 - 1000, NEVER, CFG_BEFORE_AUDIT), "store.example");
	cfg_rule *u = tc_rule(v, "updates", CFG_ACT_SINKHOLE, TC_T0, TC_T0 + 1000, CFG_BEFORE_AUDIT);
	tc_domain(u, "upd.example");
	tc_host(u, "dl.example");
	return c;
}

/* Whether list l holds a record "owner TYPE" (owner relative to RT_ORIGIN). */
static bool list_has(const ldns_rr_list *l, const char *owner, ldns_rr_type type)
{
	char text[300];
	snprintf(text, sizeof text, "%s.%s", owner, RT_ORIGIN);
	ldns_rdf *o = ldns_dname_new_frm_str(text);
	bool found = false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(l) && !found; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);
		found = ldns_dname_compare(ldns_rr_owner(rr), o) == 0 && ldns_rr_get_type(rr) == type;
	}
	ldns_rdf_deep_free(o);
	return found;
}

static void diff_at_cutoffs(void **state)
{
	(void)state;
	cfg *c = two_cutoffs();
	policy *p = tc_build(c);
	rpz_zone *before = rt_build(p, TC_T0 - 1), *during = rt_build(p, TC_T0), *after = rt_build(p, TC_T0 + 1000);
	ldns_rr_list *del, *add;

	/* the cutoff adds the update triggers: 3 names, A and AAAA each */
	assert_int_equal(rpz_diff(before, during, &del, &add), 0);
	assert_int_equal(ldns_rr_list_rr_count(del), 0);
	assert_int_equal(ldns_rr_list_rr_count(add), 6);
	assert_true(list_has(add, "upd.example", LDNS_RR_TYPE_A));
	assert_true(list_has(add, "*.upd.example", LDNS_RR_TYPE_AAAA));
	assert_true(list_has(add, "dl.example", LDNS_RR_TYPE_A));
	assert_false(list_has(add, "*.dl.example", LDNS_RR_TYPE_A));
	ldns_rr_list_deep_free(del);
	ldns_rr_list_deep_free(add);

	/* `until` removes them again */
	assert_int_equal(rpz_diff(during, after, &del, &add), 0);
	assert_int_equal(ldns_rr_list_rr_count(del), 6);
	assert_int_equal(ldns_rr_list_rr_count(add), 0);
	assert_true(list_has(del, "upd.example", LDNS_RR_TYPE_AAAA));
	ldns_rr_list_deep_free(del);
	ldns_rr_list_deep_free(add);

	/* no change: empty lists */
	assert_int_equal(rpz_diff(before, after, &del, &add), 0);
	assert_int_equal(ldns_rr_list_rr_count(del) + ldns_rr_list_rr_count(add), 0);
	ldns_rr_list_deep_free(del);
	ldns_rr_list_deep_free(add);

	assert_true(rpz_same_content(before, after));
	assert_false(rpz_same_content(before, during));
	assert_false(rpz_same_content(during, after));

	rpz_free(before);
	rpz_free(during);
	rpz_free(after);
	policy_free(p);
	tc_free(c);
}

static void diff_of_two_policies(void **state)
{
	(void)state;
	cfg *c1 = tc_new(), *c2 = tc_new();
	cfg_vendor *v1 = tc_vendor(c1, "acme", "b"), *v2 = tc_vendor(c2, "acme", "b");
	tc_domain(tc_rule(v1, "r", CFG_ACT_NXDOMAIN, TC_T0, NEVER, CFG_BEFORE_AUDIT), "a.example");
	tc_domain(tc_rule(v1, "s", CFG_ACT_NODATA, TC_T0, NEVER, CFG_BEFORE_AUDIT), "m.example");
	tc_domain(tc_rule(v2, "r", CFG_ACT_NXDOMAIN, TC_T0, NEVER, CFG_BEFORE_AUDIT), "a.example");
	tc_domain(tc_rule(v2, "s", CFG_ACT_SINKHOLE, TC_T0, NEVER, CFG_BEFORE_AUDIT), "m.example");
	tc_host(&v2->rules[1], "z.example");
	policy *p1 = tc_build(c1), *p2 = tc_build(c2);
	rpz_zone *z1 = rt_build(p1, TC_T0), *z2 = rt_build(p2, TC_T0);
	ldns_rr_list *del, *add;

	assert_int_equal(rpz_diff(z1, z2, &del, &add), 0);
	/* m.example changed action: its CNAMEs go, A/AAAA come; z.example is new */
	assert_int_equal(ldns_rr_list_rr_count(del), 2);
	assert_true(list_has(del, "m.example", LDNS_RR_TYPE_CNAME));
	assert_true(list_has(del, "*.m.example", LDNS_RR_TYPE_CNAME));
	assert_int_equal(ldns_rr_list_rr_count(add), 6);
	assert_true(list_has(add, "*.m.example", LDNS_RR_TYPE_A));
	assert_true(list_has(add, "z.example", LDNS_RR_TYPE_AAAA));
	assert_false(list_has(add, "a.example", LDNS_RR_TYPE_CNAME));
	ldns_rr_list_deep_free(del);
	ldns_rr_list_deep_free(add);
	rpz_free(z1);
	rpz_free(z2);
	policy_free(p1);
	policy_free(p2);
	tc_free(c1);
	tc_free(c2);
}

static void same_content_ignores_serial_only(void **state)
{
	(void)state;
	cfg *c = two_cutoffs();
	policy *p = tc_build(c);
	char err[256];
	rpz_params prm = { .origin = RT_ORIGIN, .serial = 7, .ttl = 300 };
	prm.sink4.family = 4;
	prm.sink6.family = 6;
	rpz_zone *a = rpz_build(p, TC_T0, &prm, err, sizeof err);
	prm.serial = 8;
	rpz_zone *b = rpz_build(p, TC_T0, &prm, err, sizeof err);
	prm.ttl = 60;
	rpz_zone *d = rpz_build(p, TC_T0, &prm, err, sizeof err);
	prm.ttl = 300;
	prm.origin = "other.test.";
	rpz_zone *e = rpz_build(p, TC_T0, &prm, err, sizeof err);
	prm.origin = RT_ORIGIN;
	prm.sink4.addr[3] = 1;
	rpz_zone *f = rpz_build(p, TC_T0, &prm, err, sizeof err);
	assert_true(a && b && d && e && f);

	assert_int_equal(rpz_serial(a), 7);
	assert_int_equal(rpz_serial(b), 8);
	assert_true(rpz_same_content(a, b));
	assert_false(rpz_same_content(a, d));   /* TTLs */
	assert_false(rpz_same_content(a, e));   /* origin */
	assert_false(rpz_same_content(a, f));   /* sinkhole address */

	/* a TTL change is a delete and an add of every record */
	ldns_rr_list *del, *add;
	assert_int_equal(rpz_diff(a, d, &del, &add), 0);
	assert_int_equal(ldns_rr_list_rr_count(del), rpz_rr_count(a));
	assert_int_equal(ldns_rr_list_rr_count(add), rpz_rr_count(d));
	ldns_rr_list_deep_free(del);
	ldns_rr_list_deep_free(add);
	/* another sinkhole address: the A records only */
	assert_int_equal(rpz_diff(a, f, &del, &add), 0);
	assert_int_equal(ldns_rr_list_rr_count(del), 3);
	assert_int_equal(ldns_rr_list_rr_count(add), 3);
	assert_true(list_has(add, "dl.example", LDNS_RR_TYPE_A));
	ldns_rr_list_deep_free(del);
	ldns_rr_list_deep_free(add);

	rpz_free(a);
	rpz_free(b);
	rpz_free(d);
	rpz_free(e);
	rpz_free(f);
	policy_free(p);
	tc_free(c);
}

static void next_serial(void **state)
{
	(void)state;
	/* the clock when it is ahead, else one more */
	assert_int_equal(rpz_next_serial(5, 100), 100);
	assert_int_equal(rpz_next_serial(100, 100), 101);
	assert_int_equal(rpz_next_serial(100, 3), 101);
	assert_int_equal(rpz_next_serial(1727582400u, 1727582400), 1727582401u);
	/* 32-bit wrap: prev + 1 wraps to 0, which RFC 1982 counts as greater */
	assert_int_equal(rpz_next_serial(UINT32_MAX, 0), 0);
	assert_int_equal(rpz_next_serial(UINT32_MAX, 10), 10);
	/* 2106: the clock itself wraps; its low 32 bits are still ahead */
	assert_int_equal(rpz_next_serial(0xFFFFFFF0u, INT64_C(0x100000005)), 5);
	/* a clock more than 2^31 behind in serial arithmetic does not count */
	assert_int_equal(rpz_next_serial(10, INT64_C(10) + INT64_C(0x80000000)), 11);
	assert_int_equal(rpz_next_serial(2000000000u, 100), 2000000001u);
	/* every result is greater than prev in RFC 1982 terms */
	uint32_t prev = 4000000000u;
	for (int64_t now = 0; now < INT64_C(0x200000000); now += 123456789) {
		uint32_t next = rpz_next_serial(prev, now);
		assert_true((int32_t)(next - prev) > 0);
		prev = next;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(diff_at_cutoffs),
		cmocka_unit_test(diff_of_two_policies),
		cmocka_unit_test(same_content_ignores_serial_only),
		cmocka_unit_test(next_serial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
