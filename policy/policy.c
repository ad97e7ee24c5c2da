/*
 * policy.c: the small read-only questions a snapshot answers: rule states,
 * answers per qtype, the next instant of change, and walks over vendors,
 * rules and entries for `check`, metrics and RPZ export.
 */
#include "policy/policy_internal.h"

policy_state policy_rule_state(const policy_rule *r, int64_t t)
{
	return policy_state_at(r, t);
}

bool policy_rule_in_force(const policy_rule *r, int64_t t)
{
	return r->effective <= t && t < r->until;
}

policy_answer policy_answer_for(cfg_action action, uint16_t qtype)
{
	return policy_answer_of(action, qtype);
}

int64_t policy_next_change(const policy *p, int64_t now)
{
	size_t lo = 0, hi = p->n_changes;

	/* first instant strictly after now */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->changes[mid] <= now)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->n_changes ? p->changes[lo] : CFG_TIME_NEVER;
}

size_t policy_vendor_count(const policy *p)
{
	return p->n_vendors;
}

const policy_vendor *policy_vendor_at(const policy *p, size_t i)
{
	return i < p->n_vendors ? &p->vendors[i] : NULL;
}

size_t policy_rule_count(const policy *p)
{
	return p->n_rules;
}

const policy_rule *policy_rule_at(const policy *p, size_t i)
{
	return i < p->n_rules ? &p->rules[i] : NULL;
}

size_t policy_entry_count(const policy *p)
{
	return p->n_entries;
}

size_t policy_name_count(const policy *p)
{
	return p->n_names;
}

size_t policy_memory(const policy *p)
{
	return p->bytes;
}

static int policy_visit(const policy *p, const uint8_t *name, policy_entry_rec e, policy_entry_fn fn, void *ctx)
{
	unsigned kind = policy_ref_kind(e.ref);
	uint32_t idx = e.ref & POLICY_REF_INDEX;
	policy_entry out = {
		.name = name,
		.kind = (policy_entry_kind)kind,
		.rule = kind == POLICY_ENTRY_ALLOW ? NULL : &p->rules[idx],
		.vendor = kind == POLICY_ENTRY_ALLOW ? &p->vendors[idx] : p->rules[idx].vendor,
		.line = e.line,
		.col = e.col,
	};
	return fn(&out, ctx);
}

int policy_entry_walk(const policy *p, policy_entry_fn fn, void *ctx)
{
	size_t pos = 1;

	while (pos < p->recs_len) {
		const uint8_t *name = p->recs + pos;
		size_t len = dname_wire_len(name);
		policy_entry_rec e = policy_rec_entry(p, (uint32_t)pos, len);
		int rc = 0;
		if (policy_ref_kind(e.ref) != POLICY_REF_MULTI) {
			rc = policy_visit(p, name, e, fn, ctx);
		} else {
			uint32_t n;
			const policy_entry_rec *run = policy_run(p, e, &n);
			for (uint32_t i = 0; i < n && rc == 0; i++)
				rc = policy_visit(p, name, run[i], fn, ctx);
		}
		if (rc != 0)
			return rc;
		pos += len + p->ent_size;
	}
	return 0;
}

const char *policy_verdict_name(policy_verdict v)
{
	switch (v) {
	case POLICY_PASS:
		return "pass";
	case POLICY_AUDIT:
		return "audit";
	case POLICY_BLOCK:
		return "block";
	case POLICY_EXEMPT:
		return "exempt";
	}
	return "?";
}

const char *policy_answer_name(policy_answer a)
{
	switch (a) {
	case POLICY_ANS_NONE:
		return "none";
	case POLICY_ANS_REFUSED:
		return "refused";
	case POLICY_ANS_NXDOMAIN:
		return "nxdomain";
	case POLICY_ANS_NODATA:
		return "nodata";
	case POLICY_ANS_SINK_A:
		return "sinkhole-a";
	case POLICY_ANS_SINK_AAAA:
		return "sinkhole-aaaa";
	}
	return "?";
}
