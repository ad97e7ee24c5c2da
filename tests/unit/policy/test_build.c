/*
 * test_build.c: building a snapshot: conflicts reported with positions, the
 * copies a snapshot keeps (so the cfg can go), rule texts, and the read-only
 * walks over vendors, rules and entries.
 */
#include "helpers.h"

#include <string.h>

static bool has_diag(const cfg_diags *d, const char *file, uint32_t line, uint32_t col, const char *part)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].file, file) == 0 && d->v[i].line == line && d->v[i].col == col &&
		    strstr(d->v[i].msg, part))
			return true;
	return false;
}

static void conflicts(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *k = tc_vendor(c, "kaspersky", NULL);
	cfg_rule *a = tc_rule(k, "sales", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	cfg_rule *b = tc_rule(k, "updates", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain_at(a, "store.kaspersky.com", 10, 9);
	tc_domain_at(b, "Store.Kaspersky.com.", 20, 11);   /* other rule, same name */
	tc_domain_at(a, "twice.example", 11, 9);
	tc_domain_at(a, "twice.example", 12, 9);           /* one list, twice */
	tc_allow_at(k, "ok.example", 30, 5);
	tc_allow_at(k, "ok.example", 31, 5);
	tc_host(a, "store.kaspersky.com");                 /* host and domain: no conflict */
	tc_allow(k, "twice.example");                      /* allow and domain: no conflict */
	cfg_vendor *o = tc_vendor(c, "other", NULL);      /* another vendor: no conflict */
	tc_domain(tc_rule(o, "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT),
		  "store.kaspersky.com");
	tc_allow(o, "ok.example");

	cfg_diags d = {0};
	assert_null(policy_new(c, &d));
	if (d.n != 3)
		cfg_diags_print(&d, stderr);
	assert_int_equal(d.n, 3);
	assert_true(has_diag(&d, "policies/kaspersky.yaml", 20, 11, "policies/kaspersky.yaml:10:9"));
	assert_true(has_diag(&d, "policies/kaspersky.yaml", 20, 11, "\"store.kaspersky.com\""));
	assert_true(has_diag(&d, "policies/kaspersky.yaml", 20, 11, "rule sales"));
	assert_true(has_diag(&d, "policies/kaspersky.yaml", 12, 9, "policies/kaspersky.yaml:11:9"));
	assert_true(has_diag(&d, "policies/kaspersky.yaml", 31, 5, "allow"));
	assert_true(has_diag(&d, "policies/kaspersky.yaml", 31, 5, "policies/kaspersky.yaml:30:5"));
	cfg_diags_free(&d);
	tc_free(c);
}

static void copies_and_texts(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *k = tc_vendor(c, "kaspersky", "U.S. Commerce BIS Final Determination");
	k->ede = 16;
	k->url = strdup("https://example.org/d");
	cfg_rule *r = tc_rule(k, "updates", CFG_ACT_SINKHOLE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain_at(r, "upd.kaspersky.com", 14, 9);
	tc_host(r, "dnl.kaspersky.com");
	tc_allow(k, "support.kaspersky.com");
	cfg_vendor *n = tc_vendor(c, "nobasis", NULL);
	tc_domain(tc_rule(n, "r1", CFG_ACT_REFUSE, TC_T0, 2 * TC_T0, CFG_BEFORE_ALLOW), "upd.kaspersky.com");
	uint32_t rule_line = r->line;
	policy *p = tc_build(c);
	tc_free(c);

	assert_int_equal(policy_vendor_count(p), 2);
	assert_int_equal(policy_rule_count(p), 2);
	assert_int_equal(policy_entry_count(p), 4);
	assert_int_equal(policy_name_count(p), 3);
	assert_true(policy_memory(p) > 0);
	assert_null(policy_vendor_at(p, 2));
	assert_null(policy_rule_at(p, 2));
	const policy_vendor *v = policy_vendor_at(p, 0);
	assert_string_equal(v->id, "kaspersky");
	assert_string_equal(v->url, "https://example.org/d");
	assert_string_equal(v->file, "policies/kaspersky.yaml");
	assert_int_equal(v->ede, 16);
	const policy_rule *pr = policy_rule_at(p, 0);
	assert_ptr_equal(pr->vendor, v);
	assert_string_equal(pr->ede_text, "kaspersky/updates: U.S. Commerce BIS Final Determination");
	assert_int_equal(pr->n_domains, 1);
	assert_int_equal(pr->n_hosts, 1);
	assert_int_equal(pr->line, rule_line);
	assert_int_equal(pr->action, CFG_ACT_SINKHOLE);
	assert_string_equal(policy_rule_at(p, 1)->ede_text, "nobasis/r1");
	assert_null(policy_vendor_at(p, 1)->basis);
	assert_int_equal(policy_rule_at(p, 1)->until, 2 * TC_T0);

	policy_match m = tc_decide(p, "x.upd.kaspersky.com", 1, NULL, TC_T0);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_int_equal(m.entry_line, 14);
	assert_int_equal(m.entry_col, 9);
	assert_ptr_equal(m.rule, pr);
	policy_free(p);
}

typedef struct walk_ctx {
	int n, allow, host, domain, shared;
	int stop_at;
} walk_ctx;

static int count_entry(const policy_entry *e, void *ctx)
{
	walk_ctx *w = ctx;
	char text[DNAME_STR_MAX];
	dname_to_str(e->name, text);
	w->n++;
	if (e->kind == POLICY_ENTRY_ALLOW) {
		w->allow++;
		assert_null(e->rule);
	} else {
		assert_ptr_equal(e->rule->vendor, e->vendor);
		if (e->kind == POLICY_ENTRY_HOST)
			w->host++;
		else
			w->domain++;
	}
	if (strcmp(text, "shared.example") == 0)
		w->shared++;
	return w->n == w->stop_at ? 7 : 0;
}

static void entry_walk(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *a = tc_vendor(c, "a", NULL);
	cfg_rule *r = tc_rule(a, "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(r, "shared.example");
	tc_domain(r, "one.example");
	tc_host(r, "shared.example");
	tc_allow(a, "shared.example");
	cfg_vendor *b = tc_vendor(c, "b", NULL);
	tc_domain(tc_rule(b, "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT), "shared.example");
	policy *p = tc_build(c);

	walk_ctx w = {0};
	assert_int_equal(policy_entry_walk(p, count_entry, &w), 0);
	assert_int_equal(w.n, 5);
	assert_int_equal(w.allow, 1);
	assert_int_equal(w.host, 1);
	assert_int_equal(w.domain, 3);
	assert_int_equal(w.shared, 4);
	walk_ctx stop = {.stop_at = 2};
	assert_int_equal(policy_entry_walk(p, count_entry, &stop), 7);
	assert_int_equal(stop.n, 2);

	/* a's allow at the name itself beats a's host and domain; b still blocks */
	policy_match m = tc_decide(p, "shared.example", 1, NULL, TC_T0);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(m.rule->vendor->id, "b");
	policy_free(p);
	tc_free(c);
}

static void bad_wire_in_cfg(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_rule *r = tc_rule(tc_vendor(c, "v", NULL), "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER,
			      CFG_BEFORE_AUDIT);
	tc_domain_wire(r, (const uint8_t *)"\100x", 3);
	cfg_diags d = {0};
	assert_null(policy_new(c, &d));
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].file, "policies/v.yaml");
	cfg_diags_free(&d);
	tc_free(c);
}

/* policy_new_lean: the same decisions and entries, without positions;
 * shared names (runs in multi) and names on both sides of one another. */
static void lean_same(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *a = tc_vendor(c, "a", NULL);
	cfg_rule *r = tc_rule(a, "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	cfg_rule *later = tc_rule(a, "later", CFG_ACT_NXDOMAIN, TC_T0 + 100, CFG_TIME_NEVER,
				  CFG_BEFORE_AUDIT);
	static const char *const names[] = {
		"shared.example", "one.example", "deep.below.one.example", "x.example",
		"a-rather-long-label-for-the-record.example.org", "org",
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		tc_domain_at(i % 2 ? later : r, names[i], (uint32_t)(10 + i), 3);
	tc_host(r, "shared.example");
	tc_allow_at(a, "ok.one.example", 40, 5);
	tc_domain(tc_rule(tc_vendor(c, "b", NULL), "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER,
			  CFG_BEFORE_AUDIT), "shared.example");
	policy *full = tc_build(c);
	cfg_diags d = {0};
	policy *lean = policy_new_lean(c, &d);
	assert_non_null(lean);
	assert_int_equal(d.n, 0);
	assert_true(policy_memory(lean) < policy_memory(full));
	assert_int_equal(policy_name_count(lean), policy_name_count(full));

	static const char *const q[] = {
		"shared.example", "www.shared.example", "one.example", "a.b.deep.below.one.example",
		"ok.one.example", "x.ok.one.example", "x.example", "y.example", "org", "q.org",
		"a-rather-long-label-for-the-record.example.org", "com", ".",
	};
	for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
		for (int64_t t = TC_T0 - 1; t <= TC_T0 + 101; t += 51) {
			policy_match mf = tc_decide(full, q[i], 1, NULL, t);
			policy_match ml = tc_decide(lean, q[i], 1, NULL, t);
			assert_int_equal(ml.verdict, mf.verdict);
			assert_int_equal(ml.answer, mf.answer);
			assert_string_equal(ml.rule ? ml.rule->id : "-", mf.rule ? mf.rule->id : "-");
			assert_int_equal(ml.entry_kind, mf.entry_kind);
			assert_int_equal(ml.entry == NULL, mf.entry == NULL);
			char ef[DNAME_STR_MAX];
			snprintf(ef, sizeof ef, "%s", tc_entry(&mf));
			assert_string_equal(tc_entry(&ml), ef);
			if (mf.entry && strcmp(ef, "shared.example") != 0) {
				assert_int_not_equal(mf.entry_line, 0);
				assert_int_equal(ml.entry_line, 0);  /* lean: no positions */
				assert_int_equal(ml.entry_col, 0);
			}
		}
	}
	walk_ctx wf = {0}, wl = {0};
	assert_int_equal(policy_entry_walk(full, count_entry, &wf), 0);
	assert_int_equal(policy_entry_walk(lean, count_entry, &wl), 0);
	assert_int_equal(wl.n, wf.n);
	assert_int_equal(wl.shared, wf.shared);
	assert_int_equal(wl.domain, wf.domain);
	cfg_diags_free(&d);
	policy_free(lean);
	policy_free(full);
	tc_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conflicts),
		cmocka_unit_test(copies_and_texts),
		cmocka_unit_test(entry_walk),
		cmocka_unit_test(lean_same),
		cmocka_unit_test(bad_wire_in_cfg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
