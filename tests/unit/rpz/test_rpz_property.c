/*
 * test_rpz_property.c: the zone decides like policy_decide. An RPZ consumer
 * (exact owner first, else the longest wildcard; rt_consume) reads the zone
 * for many names, at every instant the policy changes and either side of
 * it, and must reach the same outcome as policy_decide: refuse and nxdomain
 * as NXDOMAIN, nodata as NODATA, sinkhole as A/AAAA, with the comment naming
 * the same vendor/rule; pass and audit as no trigger or rpz-passthru.
 * Policies: the bundled one (config/policies/, through the real loader),
 * and random multi-vendor ones over a few labels, so that names, vendors,
 * kinds and windows collide at every depth.
 */
#include "rpz_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NEVER CFG_TIME_NEVER

/* Every instant at which some decision can change, +-1, and a far past. */
static size_t instants(const policy *p, int64_t *out, size_t max)
{
	size_t n = 0;
	out[n++] = 0;
	for (int64_t t = policy_next_change(p, 0); t != NEVER && n + 3 <= max; t = policy_next_change(p, t)) {
		out[n++] = t - 1;
		out[n++] = t;
		out[n++] = t + 1;
	}
	return n;
}

/* Names to ask: each entry's name, one and two labels below, its parent,
 * and lookalikes. */
typedef struct probe {
	char (*v)[DNAME_STR_MAX + 16];
	size_t n, cap;
} probe;

static void probe_add(probe *pr, const char *fmt, const char *name)
{
	if (pr->n == pr->cap) {
		pr->cap = pr->cap ? pr->cap * 2 : 256;
		pr->v = realloc(pr->v, pr->cap * sizeof *pr->v);
		assert_non_null(pr->v);
	}
	int n = snprintf(pr->v[pr->n], sizeof pr->v[0], fmt, name);
	if (n > 0 && n < 250)
		pr->n++;
}

static int probe_entry(const policy_entry *e, void *ctx)
{
	char text[DNAME_STR_MAX];
	dname_to_str(e->name, text);
	if (!strcmp(text, "."))
		return 0;
	probe_add(ctx, "%s", text);
	probe_add(ctx, "x.%s", text);
	probe_add(ctx, "a.b.%s", text);
	probe_add(ctx, "not%s", text);
	const char *dot = strchr(text, '.');
	if (dot)
		probe_add(ctx, "%s", dot + 1);
	return 0;
}

static size_t check_all(const policy *p, const probe *pr)
{
	int64_t at[512];
	size_t n_at = instants(p, at, 512), checks = 0;

	for (size_t t = 0; t < n_at; t++) {
		rpz_zone *z = rt_build(p, at[t]);
		for (size_t i = 0; i < pr->n; i++)
			rt_agree(p, z, pr->v[i], at[t]);
		checks += pr->n;
		rpz_free(z);
	}
	return checks;
}

static void bundled_policy(void **state)
{
	(void)state;
	const char *src = getenv("EMBARGO_SRC");
	char dir[] = "/tmp/embargo-rpz-test.XXXXXX", conf[128];
	assert_non_null(src);
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/embargo.yaml", dir);
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "policies:\n  - %s/config/policies/\n", src);
	fclose(f);
	cfg_diags d = { 0 };
	cfg *c = cfg_load(conf, &d);
	if (!c)
		cfg_diags_print(&d, stderr);
	assert_non_null(c);
	policy *p = policy_new(c, &d);
	assert_non_null(p);
	cfg_diags_free(&d);
	unlink(conf);
	rmdir(dir);

	probe pr = { 0 };
	policy_entry_walk(p, probe_entry, &pr);
	const char *extra[] = { "kaspersky.com", "www.kaspersky.com", "support.kaspersky.com",
				"a.support.kaspersky.com", "opentip.kaspersky.com", "dnl-07.geo.kaspersky.com",
				"s01.upd.kaspersky.com", "store.kaspersky.com", "x.store.kaspersky.com",
				"www.e2e.test", "example.org", "com", "kaspersky.com.evil.example" };
	for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
		probe_add(&pr, "%s", extra[i]);
	assert_true(pr.n > 200);
	size_t checks = check_all(p, &pr);
	print_message("bundled policy: %zu names x instants agree\n", checks);

	/* and the zone is not empty after the cutoff: the test tests something */
	rpz_zone *z = rt_build(p, TC_T0);
	assert_int_equal(rt_consume(z, "s01.upd.kaspersky.com").kind, RT_SINK);
	assert_int_equal(rt_consume(z, "store.kaspersky.com").kind, RT_NXDOMAIN);
	assert_int_equal(rt_consume(z, "support.kaspersky.com").kind, RT_PASS);
	rpz_free(z);
	free(pr.v);
	policy_free(p);
	cfg_free(c);
}

/* A small deterministic generator (xorshift), so failures reproduce. */
static uint64_t rnd_state;
static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state % n);
}

static const char *labels[] = { "a", "b", "c", "d" };

static void rnd_name(char *out, size_t len)
{
	int depth = 1 + (int)rnd(4);
	size_t o = 0;
	for (int i = 0; i < depth; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "." : "", labels[rnd(4)]);
}

/* Whether the vendor already has name as that kind (policy_new refuses it). */
static bool taken(char seen[][3][64], size_t n, int kind, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(seen[i][kind], name))
			return true;
	return false;
}

static void random_policies(void **state)
{
	(void)state;
	static const cfg_action actions[] = { CFG_ACT_REFUSE, CFG_ACT_NXDOMAIN, CFG_ACT_NODATA,
					      CFG_ACT_SINKHOLE, CFG_ACT_AUDIT };
	const char *vendors[] = { "acme", "bolt", "cargo", "delta" };
	size_t total = 0;

	/* every name over the alphabet up to 5 labels, and an unrelated one */
	probe pr = { 0 };
	char name[64];
	for (int depth = 1; depth <= 5; depth++) {
		int count = 1 << (2 * depth);
		for (int k = 0; k < count; k++) {
			size_t o = 0;
			for (int i = 0, x = k; i < depth; i++, x >>= 2)
				o += (size_t)snprintf(name + o, sizeof name - o, "%s%s", i ? "." : "", labels[x & 3]);
			probe_add(&pr, "%s", name);
		}
	}
	probe_add(&pr, "%s", "unrelated.example");

	for (uint64_t seed = 1; seed <= 30; seed++) {
		rnd_state = seed * 0x9E3779B97F4A7C15ull;
		cfg *c = tc_new();
		for (size_t vi = 0; vi < 1 + rnd(4); vi++) {
			cfg_vendor *v = tc_vendor(c, vendors[vi], "basis");
			char seen[64][3][64];
			size_t n_seen = 0;
			memset(seen, 0, sizeof seen);
			for (int ri = 0; ri < 1 + (int)rnd(4); ri++) {
				char id[8];
				snprintf(id, sizeof id, "r%d", ri);
				int64_t eff = TC_T0 + 100 * (int64_t)rnd(3);
				int64_t until = rnd(3) == 0 ? eff + 150 : NEVER;
				cfg_rule *r = tc_rule(v, id, actions[rnd(5)], eff, until,
						      rnd(3) == 0 ? CFG_BEFORE_ALLOW : CFG_BEFORE_AUDIT);
				for (int k = (int)rnd(5); k > 0 && n_seen < 60; k--) {
					int kind = (int)rnd(2);
					rnd_name(name, sizeof name);
					if (taken(seen, n_seen, kind, name))
						continue;
					snprintf(seen[n_seen++][kind], 64, "%s", name);
					if (kind == 0)
						tc_domain(r, name);
					else
						tc_host(r, name);
				}
			}
			for (int k = (int)rnd(3); k > 0 && n_seen < 60; k--) {
				rnd_name(name, sizeof name);
				if (taken(seen, n_seen, 2, name))
					continue;
				snprintf(seen[n_seen++][2], 64, "%s", name);
				tc_allow(v, name);
			}
		}
		policy *p = tc_build(c);
		total += check_all(p, &pr);
		policy_free(p);
		tc_free(c);
	}
	print_message("random policies: %zu names x instants agree\n", total);
	free(pr.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bundled_policy),
		cmocka_unit_test(random_policies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
