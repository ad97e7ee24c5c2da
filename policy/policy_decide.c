/*
 * policy_decide.c: one lookup, (qname, qtype, client, time) -> verdict.
 *
 * The hot path of the daemon: no allocation, no locks, no clock. The qname's
 * labels are found and it is copied into a stack buffer lower-cased; then
 * its suffixes are hashed and probed from the shortest up, extending the
 * hash one label at a time, until a name with no entry below it (a leaf).
 * What was found is then applied from the most specific down, following the
 * rules of the walk described at the top of policy.h; a lone blocking entry,
 * the common case, skips the walk's bookkeeping.
 */
#include <string.h>

#include "policy/policy_internal.h"

/* ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket: match it as IPv4. */
static const cfg_ip *policy_unmap(const cfg_ip *ip, cfg_ip *tmp)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (ip->family != 6 || memcmp(ip->addr, mapped, sizeof mapped) != 0)
		return ip;
	memset(tmp, 0, sizeof *tmp);
	tmp->family = 4;
	memcpy(tmp->addr, ip->addr + 12, 4);
	return tmp;
}

static bool policy_net_has(const cfg_net *n, const cfg_ip *ip)
{
	unsigned full = n->prefix / 8, bits = n->prefix % 8;

	if (n->ip.family != ip->family || full > 16)
		return false;
	if (memcmp(n->ip.addr, ip->addr, full) != 0)
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xFF00u >> bits);
	return ((n->ip.addr[full] ^ ip->addr[full]) & mask) == 0;
}

/* The client's group, by the longest prefix over all groups, or NULL. */
static const policy_group *policy_group_of(const policy *p, const cfg_ip *client)
{
	cfg_ip tmp;

	if (!client || p->n_nets == 0)
		return NULL;
	client = policy_unmap(client, &tmp);
	for (size_t i = 0; i < p->n_nets; i++)
		if (policy_net_has(&p->nets[i].net, client))
			return &p->groups[p->nets[i].group];
	return NULL;
}

/* The first entry of its kind that the walk met, with its name. */
typedef struct policy_seen {
	const uint8_t *name;
	policy_entry_rec e;
} policy_seen;

typedef struct policy_walk {
	const policy *p;
	const policy_group *group;
	int64_t now;
	uint64_t stopped[POLICY_MAX_VENDORS / 64];
	bool any_stopped;
	policy_seen block, audit, exempt, allow;
	bool exempt_first;  /* the exemption is more specific than any audit */
} policy_walk;

static bool policy_is_stopped(const policy_walk *w, uint32_t v)
{
	return w->any_stopped && (w->stopped[v / 64] >> (v % 64) & 1);
}

static void policy_stop(policy_walk *w, uint32_t v)
{
	if (!w->any_stopped) {
		/* zeroed only here: most lookups never meet an allow entry */
		memset(w->stopped, 0, sizeof w->stopped);
		w->any_stopped = true;
	}
	w->stopped[v / 64] |= UINT64_C(1) << (v % 64);
}

/* Applies one entry at one name; true when it decides (a block). */
static bool policy_apply(policy_walk *w, const uint8_t *name, policy_entry_rec e, bool full)
{
	const policy *p = w->p;
	unsigned kind = policy_ref_kind(e.ref);
	uint32_t idx = e.ref & POLICY_REF_INDEX;

	if (kind == POLICY_ENTRY_ALLOW) {
		if (!policy_is_stopped(w, idx)) {
			policy_stop(w, idx);
			if (!w->allow.name)
				w->allow = (policy_seen){name, e};
		}
		return false;
	}
	if (kind == POLICY_ENTRY_HOST && !full)
		return false;
	if (policy_is_stopped(w, p->rule_vendor[idx]))
		return false;
	policy_state st = policy_state_at(&p->rules[idx], w->now);
	if (st == POLICY_STATE_INACTIVE)
		return false;
	if (w->group && w->group->exempt[idx]) {
		if (!w->exempt.name) {
			w->exempt = (policy_seen){name, e};
			w->exempt_first = !w->audit.name;
		}
		return false;
	}
	if (st == POLICY_STATE_BLOCK) {
		w->block = (policy_seen){name, e};
		return true;
	}
	if (!w->audit.name)
		w->audit = (policy_seen){name, e};
	return false;
}

/* Applies every entry of the record at rec; true when one blocks. One call
 * site for policy_apply, so the compiler inlines it into the walk. */
static bool policy_apply_rec(policy_walk *w, uint32_t rec, size_t len, bool full)
{
	const policy *p = w->p;
	const uint8_t *name = p->recs + rec;
	policy_entry_rec e = policy_rec_entry(p, rec, len);
	const policy_entry_rec *run = &e;
	uint32_t n = 1;

	if (policy_ref_kind(e.ref) == POLICY_REF_MULTI) {
		/* a shared name: the run is already in allow, host, domain order */
		run = policy_run(p, e, &n);
	}
	for (uint32_t i = 0; i < n; i++)
		if (policy_apply(w, name, run[i], full))
			return true;
	return false;
}

static void policy_fill(const policy *p, const policy_seen *s, policy_match *out)
{
	unsigned kind = policy_ref_kind(s->e.ref);

	out->entry = s->name;
	out->entry_kind = (policy_entry_kind)kind;
	out->entry_line = s->e.line;
	out->entry_col = s->e.col;
	if (kind == POLICY_ENTRY_ALLOW)
		out->allowed_by = &p->vendors[s->e.ref & POLICY_REF_INDEX];
	else
		out->rule = &p->rules[s->e.ref & POLICY_REF_INDEX];
}

/* policy_lower_word on 16 octets at once, from src to dst. */
static inline void policy_lower16(uint8_t *dst, const uint8_t *src)
{
	policy_v16 v;
	memcpy(&v, src, 16);
	/* unsigned lanes: 'A' <= v <= 'Z' is one subtraction and compare */
	v |= (policy_v16)((policy_v16)(v - 'A') < 26) & 0x20;
	memcpy(dst, &v, 16);
}

/*
 * Copies a name of len octets (1 to DNAME_MAX) lower-cased, then zeroes the
 * 8 octets after it, which the hash and the comparison may read.
 * Whole blocks, the last one overlapping (lowering twice changes nothing),
 * never past the source's end: the qname sits in a packet buffer whose size
 * is unknown here.
 */
static inline void policy_copy_lower(uint8_t *buf, const uint8_t *src, size_t len)
{
	static const uint8_t zero[8];
	uint64_t w;

	if (len >= 16) {
		policy_lower16(buf, src);
		for (size_t i = 16; i + 16 < len; i += 16)
			policy_lower16(buf + i, src + i);
		policy_lower16(buf + len - 16, src + len - 16);
	} else if (len >= 8) {
		memcpy(&w, src, 8);
		w = policy_lower_word(w);
		memcpy(buf, &w, 8);
		memcpy(&w, src + len - 8, 8);
		w = policy_lower_word(w);
		memcpy(buf + len - 8, &w, 8);
	} else {
		memcpy(buf, zero, 8);
		for (size_t i = 0; i < len; i++)
			buf[i] = src[i];
		memcpy(&w, buf, 8);
		w = policy_lower_word(w);
		memcpy(buf, &w, 8);
	}
	memcpy(buf + len, zero, 8);
}

_Static_assert(sizeof(((policy_prep *)0)->buf) == POLICY_NAME_BUF, "policy_prep.buf");
_Static_assert(sizeof(((policy_prep *)0)->off) == POLICY_MAX_LABELS + 1, "policy_prep.off");

/* The work before the probes: labels, the lower-cased copy, and the hashes
 * of the first POLICY_PREP_PROBES suffixes whose label count some entry
 * has (with their slots, when ask: policy_prepare), shortest first. */
static inline void policy_prep_name(const policy *p, const uint8_t *qname, policy_prep *pp,
				    bool ask)
{
	size_t len;
	int n = policy_labels(qname, pp->off, &len);
	pp->n = n;
	pp->n_probes = 0;
	if (n < 0)
		return; /* not a name any entry can match */
	pp->len = (uint32_t)len;
	policy_copy_lower(pp->buf, qname, len);
	int first = n > p->max_depth ? n - p->max_depth : 0;
	uint64_t hash = POLICY_HASH_ROOT;
	int i = n - 1, d = 0;
	for (; i >= first && pp->n_probes < POLICY_PREP_PROBES; i--, d++) {
		hash = policy_hash_label(hash, pp->buf + pp->off[i]);
		if (!(p->depths >> (d & 63) & 1))
			continue;
		unsigned k = pp->n_probes++;
		pp->probe_at[k] = (uint8_t)i;
		pp->probe_hash[k] = hash;
		if (ask) {
			size_t slot = policy_slot_of(hash, p->n_slots);
			pp->probe_slot[k] = (uint32_t)slot;
			pp->probe_tag[k] = policy_tag_of(hash);
			__builtin_prefetch(p->tags + slot);
			__builtin_prefetch(p->offs + slot);
		}
	}
	pp->next_i = i;   /* < first: nothing left to probe */
	pp->next_d = d;
	pp->next_hash = hash;
}

void policy_prepare(const policy *p, const uint8_t *qname, policy_prep *pp)
{
	policy_prep_name(p, qname, pp, true);
}

void policy_prepare_recs(const policy *p, const policy_prep *pp)
{
	for (unsigned k = 0; k < pp->n_probes; k++) {
		/* the probe's run of slots, as policy_find walks it: a name
		 * is not in its home slot about a quarter of the time, and its
		 * record would then be fetched only when the lookup needs it */
		size_t i = pp->probe_slot[k];
		uint16_t t;
		while ((t = p->tags[i]) != 0) {
			if (t == pp->probe_tag[k]) {
				uint32_t o = p->offs[i];
				__builtin_prefetch(p->recs + (o & POLICY_OFF_MASK));
				if (o & POLICY_OFF_LEAF)
					return;
				break;
			}
			if (++i == p->n_slots)
				i = 0;
		}
	}
}

void policy_decide(const policy *p, const uint8_t *qname, uint16_t qtype,
		   const cfg_ip *client, int64_t now, policy_match *out)
{
	policy_prep pp;
	policy_prep_name(p, qname, &pp, false);
	policy_decide_prepared(p, &pp, qtype, client, now, out);
}

void policy_decide_prepared(const policy *p, const policy_prep *pp, uint16_t qtype,
			    const cfg_ip *client, int64_t now, policy_match *out)
{
	const uint8_t *buf = pp->buf, *off = pp->off;
	size_t len = pp->len;
	policy_walk w;

	memset(out, 0, sizeof *out);
	w.group = policy_group_of(p, client);
	if (w.group)
		out->group = w.group->name;
	/* an empty policy needs no test of its own: no depth has an entry */
	int n = pp->n;
	if (n < 0)
		return; /* not a name any entry can match */

	/*
	 * The suffixes are hashed and probed from the root down, the hash
	 * chain extended one label at a time, and the walk stops at a leaf: no
	 * longer suffix can match, so the labels left of it are not even
	 * hashed. Labels left of the deepest entry's depth are in no suffix
	 * that can match either. A suffix whose label count no entry has is
	 * not probed; depths past 63 only get here when an entry has 64
	 * labels or more, and then every bit of depths is set. The probes'
	 * loads do not depend on one another, so the core overlaps their
	 * misses without asking. The first probes were hashed by
	 * policy_prep_name.
	 */
	const uint32_t *offs = p->offs;
	const uint64_t depths = p->depths;
	int first = n > p->max_depth ? n - p->max_depth : 0;
	uint32_t hit_rec[POLICY_MAX_LABELS + 1];
	uint8_t hit_at[POLICY_MAX_LABELS + 1];
	int n_hit = 0;
	size_t k;
	if (p->has_root && (k = policy_find(p, POLICY_HASH_ROOT, buf + len - 1, 1)) != SIZE_MAX) {
		hit_rec[n_hit] = offs[k] & POLICY_OFF_MASK;
		hit_at[n_hit++] = (uint8_t)(len - 1);
	}
	if (n_hit == 0 || !(offs[k] & POLICY_OFF_LEAF)) {
		bool leaf = false;
		for (unsigned j = 0; j < pp->n_probes && !leaf; j++) {
			size_t at = off[pp->probe_at[j]];
			k = policy_find(p, pp->probe_hash[j], buf + at, len - at);
			if (k == SIZE_MAX)
				continue;
			hit_rec[n_hit] = offs[k] & POLICY_OFF_MASK;
			hit_at[n_hit++] = (uint8_t)at;
			leaf = offs[k] & POLICY_OFF_LEAF;
		}
		/* past the prepared probes, hashing on from where they stopped */
		uint64_t hash = pp->next_hash;
		for (int i = pp->next_i, d = pp->next_d; !leaf && i >= first; i--, d++) {
			hash = policy_hash_label(hash, buf + off[i]);
			if (!(depths >> (d & 63) & 1))
				continue;
			size_t at = off[i];
			k = policy_find(p, hash, buf + at, len - at);
			if (k == SIZE_MAX)
				continue;
			hit_rec[n_hit] = offs[k] & POLICY_OFF_MASK;
			hit_at[n_hit++] = (uint8_t)at;
			leaf = offs[k] & POLICY_OFF_LEAF;
		}
	}

	if (n_hit == 0)
		return; /* PASS */
	/* The common case, one name found, its one entry blocking, for a
	 * client in no group: decided without the walk's bookkeeping, exactly
	 * as the walk would decide it. */
	if (n_hit == 1 && !w.group) {
		size_t at = hit_at[0];
		policy_seen hit = {p->recs + hit_rec[0], policy_rec_entry(p, hit_rec[0], len - at)};
		unsigned kind = policy_ref_kind(hit.e.ref);
		if (kind == POLICY_ENTRY_DOMAIN || (kind == POLICY_ENTRY_HOST && at == 0)) {
			const policy_rule *r = &p->rules[hit.e.ref & POLICY_REF_INDEX];
			if (policy_state_at(r, now) == POLICY_STATE_BLOCK) {
				policy_fill(p, &hit, out);
				out->verdict = POLICY_BLOCK;
				out->answer = policy_answer_of(r->action, qtype);
				return;
			}
		}
	}

	w.p = p;
	w.now = now;
	w.any_stopped = false;
	w.exempt_first = false;
	w.block.name = w.audit.name = w.exempt.name = w.allow.name = NULL;
	/* the most specific first; host entries apply to the whole name
	 * only, the suffix at offset 0 (the root's is at 0 when the qname is
	 * the root) */
	while (n_hit-- > 0) {
		size_t at = hit_at[n_hit];
		if (policy_apply_rec(&w, hit_rec[n_hit], len - at, at == 0))
			break;
	}

	const policy_seen *seen = NULL;
	policy_verdict verdict = POLICY_PASS;
	if (w.block.name) {
		seen = &w.block;
		verdict = POLICY_BLOCK;
	} else if (w.audit.name && !(w.exempt.name && w.exempt_first)) {
		seen = &w.audit;
		verdict = POLICY_AUDIT;
	} else if (w.exempt.name) {
		seen = &w.exempt;
		verdict = POLICY_EXEMPT;
	} else if (w.allow.name) {
		seen = &w.allow; /* a pass that names its allow entry */
	}
	if (!seen)
		return;
	policy_fill(p, seen, out);
	out->verdict = verdict;
	if (verdict == POLICY_BLOCK)
		out->answer = policy_answer_of(out->rule->action, qtype);
}
