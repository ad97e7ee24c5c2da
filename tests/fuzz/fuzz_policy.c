/*
 * fuzz_policy.c: one vendor policy file, loaded (cfg_load_vendor) and built
 * into a snapshot next to the fixture's vendors, with a group exempting it;
 * then every name it lists, and a name below each, decided around each of
 * its rules' instants, and the timer's walk over the next changes.
 *
 * The loader takes a path: the input is written to a file in a private
 * folder. Invariants: a file that does not load says why; a BLOCK names a
 * rule in force at that time; next_change moves strictly forward.
 */
#include <string.h>

#include "config/dname.h"
#include "fuzz_util.h"

static void decide_around(const policy *p, const uint8_t *name, size_t len, int64_t t)
{
	static const uint16_t types[] = { 1, 28, 16 };
	uint8_t below[DNAME_MAX];
	const uint8_t *names[2] = { name, NULL };
	if (len + 2 <= sizeof(below)) {
		below[0] = 1;
		below[1] = 'X';
		memcpy(below + 2, name, len);
		names[1] = below;
	}
	int64_t times[] = { t == INT64_MIN ? t : t - 1, t };
	for (size_t n = 0; n < 2 && names[n]; n++)
		for (size_t i = 0; i < 2; i++)
			for (size_t k = 0; k < 4; k++) {
				policy_match m;
				policy_decide(p, names[n], types[k % 3], k == 3 ? NULL : fuzz_client(k),
					      times[i], &m);
				if (m.verdict == POLICY_BLOCK)
					FUZZ_CHECK(m.rule && policy_rule_state(m.rule, times[i]) ==
								     POLICY_STATE_BLOCK);
			}
}

static void decide_names(const policy *p, const cfg_names *l, int64_t t)
{
	for (size_t i = 0; i < l->n; i++) {
		const uint8_t *name = cfg_names_at(l, i);
		decide_around(p, name, dname_wire_len(name), t);
	}
}

static int count_entry(const policy_entry *e, void *ctx)
{
	FUZZ_CHECK(e->name != NULL && e->vendor != NULL);
	FUZZ_CHECK((e->kind == POLICY_ENTRY_ALLOW) == (e->rule == NULL));
	(*(size_t *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const cfg *fx = fuzz_cfg();
	const char *path = fuzz_write("vendor.yaml", data, size);
	cfg_diags d = { 0 };
	cfg_vendor v;
	if (cfg_load_vendor(path, &v, &d) < 0) {
		FUZZ_CHECK(d.n > 0);
		cfg_diags_free(&d);
		return 0;
	}
	FUZZ_CHECK(d.n == 0 && v.id != NULL);

	/* The fuzzed vendor among the fixture's (a shallow copy: borrowed). */
	cfg_vendor vendors[8];
	size_t nv = 0;
	vendors[nv++] = v;
	for (size_t i = 0; i < fx->n_vendors && nv < 8; i++)
		if (strcmp(fx->vendors[i].id, v.id))
			vendors[nv++] = fx->vendors[i];
	char *exempt[] = { v.id };
	uint32_t pos[] = { 1 };
	cfg_group g = { .name = "lab", .nets = fx->groups[0].nets, .n_nets = fx->groups[0].n_nets,
			.exempt = exempt, .exempt_line = pos, .exempt_col = pos, .n_exempt = 1 };
	cfg c = *fx;
	c.vendors = vendors;
	c.n_vendors = nv;
	c.groups = &g;
	c.n_groups = 1;

	policy *p = policy_new(&c, &d);
	if (p) {
		for (size_t r = 0; r < v.n_rules; r++) {
			const cfg_rule *rule = &v.rules[r];
			int64_t ts[] = { rule->effective, rule->until };
			for (size_t t = 0; t < 2; t++) {
				decide_names(p, &rule->domains, ts[t]);
				decide_names(p, &rule->hosts, ts[t]);
				decide_names(p, &v.allow, ts[t]);
			}
		}
		int64_t t = INT64_MIN;
		for (int i = 0; i < 64; i++) {
			int64_t next = policy_next_change(p, t);
			if (next == CFG_TIME_NEVER)
				break;
			FUZZ_CHECK(next > t);
			t = next;
		}
		size_t entries = 0;
		FUZZ_CHECK(policy_entry_walk(p, count_entry, &entries) == 0);
		FUZZ_CHECK(entries == policy_entry_count(p));
		policy_free(p);
	} else {
		FUZZ_CHECK(d.n > 0);
	}
	cfg_diags_free(&d);
	cfg_vendor_clear(&v);
	return 0;
}
