/*
 * test_time.c: rule windows (effective inclusive, until exclusive), the
 * before: setting, audit rules, fail-closed walks, the next instant of
 * change, and the answer each action gives per qtype.
 */
#include "helpers.h"

#define DAY INT64_C(86400)

static void window_edges(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "v", NULL);
	cfg_rule *a = tc_rule(v, "audited", CFG_ACT_REFUSE, TC_T0, TC_T0 + DAY, CFG_BEFORE_AUDIT);
	cfg_rule *b = tc_rule(v, "silent", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_ALLOW);
	tc_domain(a, "a.example");
	tc_domain(b, "b.example");
	policy *p = tc_build(c);

	policy_match m = tc_decide(p, "x.a.example", 1, NULL, TC_T0 - 1);
	assert_int_equal(m.verdict, POLICY_AUDIT);
	assert_string_equal(m.rule->id, "audited");
	assert_int_equal(m.answer, POLICY_ANS_NONE);
	assert_int_equal(tc_decide(p, "x.a.example", 1, NULL, TC_T0).verdict, POLICY_BLOCK);
	assert_int_equal(tc_decide(p, "x.a.example", 1, NULL, TC_T0 + DAY - 1).verdict, POLICY_BLOCK);
	m = tc_decide(p, "x.a.example", 1, NULL, TC_T0 + DAY);
	assert_int_equal(m.verdict, POLICY_PASS);
	assert_null(m.rule);

	assert_int_equal(tc_decide(p, "b.example", 1, NULL, TC_T0 - 1).verdict, POLICY_PASS);
	assert_int_equal(tc_decide(p, "b.example", 1, NULL, TC_T0).verdict, POLICY_BLOCK);
	assert_int_equal(tc_decide(p, "b.example", 1, NULL, INT64_MAX - 1).verdict, POLICY_BLOCK);

	const policy_rule *r = policy_rule_at(p, 0);
	assert_false(policy_rule_in_force(r, TC_T0 - 1));
	assert_true(policy_rule_in_force(r, TC_T0));
	assert_false(policy_rule_in_force(r, TC_T0 + DAY));
	assert_int_equal(policy_rule_state(r, TC_T0 - 1), POLICY_STATE_AUDIT);
	assert_int_equal(policy_rule_state(policy_rule_at(p, 1), TC_T0 - 1), POLICY_STATE_INACTIVE);
	policy_free(p);
	tc_free(c);
}

static void audit_action(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_rule *r = tc_rule(tc_vendor(c, "v", NULL), "watch", CFG_ACT_AUDIT, TC_T0, CFG_TIME_NEVER,
			      CFG_BEFORE_ALLOW);
	tc_domain(r, "watch.example");
	policy *p = tc_build(c);

	assert_int_equal(tc_decide(p, "watch.example", 1, NULL, TC_T0 - 1).verdict, POLICY_PASS);
	policy_match m = tc_decide(p, "watch.example", 1, NULL, TC_T0);
	assert_int_equal(m.verdict, POLICY_AUDIT);
	assert_int_equal(m.answer, POLICY_ANS_NONE);
	assert_string_equal(m.rule->id, "watch");
	assert_true(policy_rule_in_force(m.rule, TC_T0));
	policy_free(p);
	tc_free(c);
}

/* An audited specific entry must not shadow a broader block in force. */
static void fail_closed(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "v", NULL);
	cfg_rule *now = tc_rule(v, "now", CFG_ACT_REFUSE, TC_T0 - DAY, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	cfg_rule *later = tc_rule(v, "later", CFG_ACT_SINKHOLE, TC_T0 + DAY, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	cfg_rule *watch = tc_rule(v, "watch", CFG_ACT_AUDIT, TC_T0 - DAY, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(now, "vendor.example");
	tc_domain(later, "upd.vendor.example");
	tc_domain(watch, "w.upd.vendor.example");
	tc_domain(later, "solo.example");
	tc_domain(watch, "a.solo.example");
	policy *p = tc_build(c);

	policy_match m = tc_decide(p, "x.w.upd.vendor.example", 1, NULL, TC_T0);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(m.rule->id, "now");
	assert_string_equal(tc_entry(&m), "vendor.example");
	/* with nothing in force above it, the first (most specific) audit speaks */
	m = tc_decide(p, "a.solo.example", 1, NULL, TC_T0);
	assert_int_equal(m.verdict, POLICY_AUDIT);
	assert_string_equal(m.rule->id, "watch");
	m = tc_decide(p, "b.solo.example", 1, NULL, TC_T0);
	assert_int_equal(m.verdict, POLICY_AUDIT);
	assert_string_equal(m.rule->id, "later");
	m = tc_decide(p, "a.solo.example", 28, NULL, TC_T0 + DAY);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(m.rule->id, "later");
	assert_int_equal(m.answer, POLICY_ANS_SINK_AAAA);
	policy_free(p);
	tc_free(c);
}

static void next_change(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "v", NULL);
	tc_rule(v, "a", CFG_ACT_REFUSE, 100, 300, CFG_BEFORE_AUDIT);
	tc_rule(v, "b", CFG_ACT_REFUSE, 200, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_rule(v, "c", CFG_ACT_REFUSE, 300, 400, CFG_BEFORE_AUDIT); /* 300 twice: reported once */
	policy *p = tc_build(c);

	const int64_t expect[][2] = {{INT64_MIN, 100}, {0, 100}, {99, 100}, {100, 200}, {150, 200},
				     {200, 300}, {299, 300}, {300, 400}, {399, 400}};
	for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
		assert_int_equal(policy_next_change(p, expect[i][0]), expect[i][1]);
	assert_int_equal(policy_next_change(p, 400), CFG_TIME_NEVER);
	assert_int_equal(policy_next_change(p, INT64_MAX), CFG_TIME_NEVER);

	int64_t t = INT64_MIN, seen[8];
	size_t n = 0;
	while ((t = policy_next_change(p, t)) != CFG_TIME_NEVER && n < 8)
		seen[n++] = t;
	assert_int_equal(n, 4);
	assert_int_equal(seen[3], 400);
	policy_free(p);
	tc_free(c);
}

static void answers(void **state)
{
	(void)state;
	const cfg_action acts[] = {CFG_ACT_REFUSE, CFG_ACT_NXDOMAIN, CFG_ACT_NODATA, CFG_ACT_SINKHOLE};
	const uint16_t qtypes[] = {1, 28, 16, 255};
	const policy_answer expect[4][4] = {
		{POLICY_ANS_REFUSED, POLICY_ANS_REFUSED, POLICY_ANS_REFUSED, POLICY_ANS_REFUSED},
		{POLICY_ANS_NXDOMAIN, POLICY_ANS_NXDOMAIN, POLICY_ANS_NXDOMAIN, POLICY_ANS_NXDOMAIN},
		{POLICY_ANS_NODATA, POLICY_ANS_NODATA, POLICY_ANS_NODATA, POLICY_ANS_NODATA},
		{POLICY_ANS_SINK_A, POLICY_ANS_SINK_AAAA, POLICY_ANS_NODATA, POLICY_ANS_NODATA},
	};
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "v", NULL);
	const char *names[] = {"refuse.example", "nxdomain.example", "nodata.example", "sink.example"};
	for (size_t a = 0; a < 4; a++)
		tc_domain(tc_rule(v, names[a], acts[a], TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT), names[a]);
	policy *p = tc_build(c);
	for (size_t a = 0; a < 4; a++)
		for (size_t q = 0; q < 4; q++) {
			policy_match m = tc_decide(p, names[a], qtypes[q], NULL, TC_T0);
			assert_int_equal(m.verdict, POLICY_BLOCK);
			assert_int_equal(m.answer, expect[a][q]);
			assert_int_equal(policy_answer_for(acts[a], qtypes[q]), expect[a][q]);
		}
	assert_int_equal(policy_answer_for(CFG_ACT_AUDIT, 1), POLICY_ANS_NONE);
	assert_string_equal(policy_answer_name(POLICY_ANS_SINK_AAAA), "sinkhole-aaaa");
	assert_string_equal(policy_verdict_name(POLICY_EXEMPT), "exempt");
	assert_string_equal(policy_verdict_name(POLICY_PASS), "pass");
	policy_free(p);
	tc_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(window_edges),
		cmocka_unit_test(audit_action),
		cmocka_unit_test(fail_closed),
		cmocka_unit_test(next_change),
		cmocka_unit_test(answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
