/*
 * policy_build.c: builds an immutable snapshot from a loaded config.
 *
 * Copies everything the snapshot needs (strings into a chunked arena, rules,
 * every name into the record area), so the cfg can be freed right after.
 * Builds the name table in one pass over the entries; names shared by more
 * than one entry are collected on the side, checked for conflicts (the same
 * name twice in one vendor's entries of one kind) and moved to the multi
 * array in precedence order. Build-time allocations are sized up front from
 * the cfg so a million names cost a handful of mallocs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policy/policy_internal.h"

struct policy_chunk {
	policy_chunk *next;
	size_t len, cap;
	char data[];
};

static char *policy_strdup(policy *p, const char *s)
{
	size_t n = strlen(s) + 1;
	policy_chunk *c = p->arena;

	if (!c || c->cap - c->len < n) {
		size_t cap = n > 4000 ? n : 4000;
		c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->next = p->arena;
		c->len = 0;
		c->cap = cap;
		p->arena = c;
		p->bytes += sizeof *c + cap;
	}
	char *out = memcpy(c->data + c->len, s, n);
	c->len += n;
	return out;
}

/* NULL stays NULL; otherwise a copy, and *ok goes false on OOM. */
static const char *policy_strdup_opt(policy *p, const char *s, bool *ok)
{
	if (!s)
		return NULL;
	const char *out = policy_strdup(p, s);
	if (!out)
		*ok = false;
	return out;
}

static void *policy_calloc(policy *p, size_t n, size_t size)
{
	p->bytes += n * size;
	return calloc(n ? n : 1, size);
}

void policy_free(policy *p)
{
	if (!p)
		return;
	for (policy_chunk *c = p->arena, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	for (size_t i = 0; i < p->n_groups; i++)
		free(p->groups[i].exempt);
	free(p->groups);
	free(p->nets);
	free(p->changes);
	free(p->multi);
	if (p->table) {
		free(p->table);
	} else {
		free(p->recs);
		free(p->offs);
		free(p->tags);
	}
	free(p->rule_vendor);
	free(p->rules);
	free(p->vendors);
	free(p);
}

static bool policy_copy_vendors(policy *p, const cfg *c)
{
	bool ok = true;
	size_t r = 0;

	for (size_t v = 0; v < c->n_vendors && ok; v++) {
		const cfg_vendor *cv = &c->vendors[v];
		policy_vendor *pv = &p->vendors[v];
		pv->id = policy_strdup_opt(p, cv->id ? cv->id : "", &ok);
		pv->name = policy_strdup_opt(p, cv->name, &ok);
		pv->basis = policy_strdup_opt(p, cv->basis, &ok);
		pv->url = policy_strdup_opt(p, cv->url, &ok);
		pv->file = policy_strdup_opt(p, cv->file, &ok);
		pv->ede = cv->ede;
		for (size_t i = 0; i < cv->n_rules && ok; i++, r++) {
			const cfg_rule *cr = &cv->rules[i];
			policy_rule *pr = &p->rules[r];
			char text[1024];
			pr->id = policy_strdup_opt(p, cr->id ? cr->id : "", &ok);
			pr->vendor = pv;
			pr->effective = cr->effective;
			pr->until = cr->until;
			pr->action = cr->action;
			pr->before = cr->before;
			pr->n_domains = cr->domains.n;
			pr->n_hosts = cr->hosts.n;
			pr->line = cr->line;
			pr->col = cr->col;
			/* EXTRA-TEXT is for people; a very long basis is cut, not refused */
			if (cv->basis)
				snprintf(text, sizeof text, "%s/%s: %s", pv->id, pr->id, cv->basis);
			else
				snprintf(text, sizeof text, "%s/%s", pv->id, pr->id);
			pr->ede_text = policy_strdup_opt(p, text, &ok);
			p->rule_vendor[r] = (uint32_t)v;
		}
	}
	return ok;
}

/* One entry seen on a name that already has a record; resolved after the pass. */
typedef struct policy_dup {
	uint32_t rec;        /* offset of the record */
	uint32_t seq;        /* order of appearance, to keep config order */
	policy_entry_rec e;
} policy_dup;

typedef struct policy_builder {
	policy *p;
	const cfg *c;
	cfg_diags *diags;
	size_t recs_cap;
	policy_dup *dups;
	size_t n_dups, cap_dups;
	uint32_t seq;
	bool failed;
} policy_builder;

static const char *policy_kind_word(unsigned kind)
{
	return kind == POLICY_ENTRY_HOST ? "host" : kind == POLICY_ENTRY_ALLOW ? "allow entry" : "domain";
}

static uint32_t policy_entry_vendor(const policy *p, policy_entry_rec e)
{
	uint32_t idx = e.ref & POLICY_REF_INDEX;
	return policy_ref_kind(e.ref) == POLICY_ENTRY_ALLOW ? idx : p->rule_vendor[idx];
}

static void policy_bad_name(policy_builder *b, uint32_t vendor, uint32_t line, uint32_t col, const char *why)
{
	cfg_diags_add(b->diags, b->p->vendors[vendor].file, line, col, "%s", why);
	b->failed = true;
}

/* Adds one entry: a new record for a new name, a dup for a known one. */
static void policy_add_entry(policy_builder *b, const uint8_t *name, uint32_t vendor, unsigned kind,
			     uint32_t index, uint32_t line, uint32_t col)
{
	policy *p = b->p;
	uint8_t buf[POLICY_NAME_BUF] = {0}; /* zeroes past the name, for the hash */
	uint8_t off[POLICY_MAX_LABELS];
	size_t len;
	int n = policy_labels(name, off, &len);
	policy_entry_rec e = {policy_ref_make(kind, index), line, col};

	if (n < 0) {
		policy_bad_name(b, vendor, line, col, "malformed name in policy");
		return;
	}
	memcpy(buf, name, len);
	policy_lower(buf, len);
	uint64_t h = POLICY_HASH_ROOT;
	for (int i = n - 1; i >= 0; i--)
		h = policy_hash_label(h, buf + off[i]);
	if (n == 0)
		p->has_root = true;
	else /* a name of 64 labels or more: every depth is probed */
		p->depths |= n < 64 ? UINT64_C(1) << (n - 1) : ~UINT64_C(0);
	if (n > p->max_depth)
		p->max_depth = n;
	p->n_entries++;
	b->seq++;

	size_t found = policy_find(p, h, buf, len);
	if (found != SIZE_MAX) {
		uint32_t rec = p->offs[found] & POLICY_OFF_MASK;
		if (b->n_dups == b->cap_dups) {
			size_t cap = b->cap_dups ? b->cap_dups * 2 : 64;
			policy_dup *d = realloc(b->dups, cap * sizeof *d);
			if (!d) {
				b->failed = true;
				return;
			}
			b->dups = d;
			b->cap_dups = cap;
		}
		b->dups[b->n_dups++] = (policy_dup){rec, b->seq, e};
		return;
	}
	if (p->recs_len + len + sizeof e > POLICY_OFF_MASK || p->recs_len + len + sizeof e > b->recs_cap) {
		policy_bad_name(b, vendor, line, col, "too many names in the policy");
		return;
	}
	uint32_t rec = (uint32_t)p->recs_len;
	memcpy(p->recs + rec, buf, len);
	memcpy(p->recs + rec + len, &e, sizeof e);
	p->recs_len += len + sizeof e;
	p->n_names++;

	size_t i = policy_slot_of(h, p->n_slots);
	while (p->tags[i] != 0)
		if (++i == p->n_slots)
			i = 0;
	p->tags[i] = policy_tag_of(h);
	p->offs[i] = rec | POLICY_OFF_LEAF;
}

static void policy_add_list(policy_builder *b, const cfg_names *l, uint32_t vendor, unsigned kind, uint32_t index)
{
	for (size_t i = 0; i < l->n && !b->failed; i++)
		policy_add_entry(b, cfg_names_at(l, i), vendor, kind, index,
				 l->line ? l->line[i] : 0, l->col ? l->col[i] : 0);
}

static int policy_dup_cmp(const void *a, const void *b)
{
	const policy_dup *x = a, *y = b;
	if (x->rec != y->rec)
		return x->rec < y->rec ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* allow first, then host, then domain: the precedence at one name */
static unsigned policy_rank(policy_entry_rec e)
{
	static const unsigned rank[] = {[POLICY_ENTRY_ALLOW] = 0, [POLICY_ENTRY_HOST] = 1, [POLICY_ENTRY_DOMAIN] = 2};
	return rank[policy_ref_kind(e.ref)];
}

/* Reports every pair of one vendor's entries of one kind on one name. */
static void policy_check_run(policy_builder *b, const uint8_t *name, const policy_entry_rec *run, size_t n)
{
	const policy *p = b->p;

	for (size_t j = 1; j < n; j++) {
		for (size_t i = 0; i < j; i++) {
			if (policy_ref_kind(run[i].ref) != policy_ref_kind(run[j].ref))
				continue;
			uint32_t v = policy_entry_vendor(p, run[i]);
			if (v != policy_entry_vendor(p, run[j]))
				continue;
			const policy_vendor *pv = &p->vendors[v];
			char text[DNAME_STR_MAX];
			char rule[256] = "";
			dname_to_str(name, text);
			if (policy_ref_kind(run[i].ref) != POLICY_ENTRY_ALLOW)
				snprintf(rule, sizeof rule, ", rule %s", p->rules[run[i].ref & POLICY_REF_INDEX].id);
			cfg_diags_add(b->diags, pv->file, run[j].line, run[j].col,
				      "duplicate %s \"%s\" in vendor %s (first at %s:%u:%u%s)",
				      policy_kind_word(policy_ref_kind(run[j].ref)), text, pv->id,
				      pv->file ? pv->file : "", run[i].line, run[i].col, rule);
			b->failed = true;
			break; /* one report per later occurrence */
		}
	}
}

/* Moves every shared name's entries into multi[], checked and ordered. */
static bool policy_resolve_dups(policy_builder *b)
{
	policy *p = b->p;
	size_t n_recs = 0;

	if (b->n_dups == 0)
		return true;
	qsort(b->dups, b->n_dups, sizeof *b->dups, policy_dup_cmp);
	for (size_t i = 0; i < b->n_dups; i++)
		if (i == 0 || b->dups[i].rec != b->dups[i - 1].rec)
			n_recs++;
	/* each run: a header holding its length, the first entry, the dups */
	p->multi = policy_calloc(p, b->n_dups + 2 * n_recs, sizeof *p->multi);
	if (!p->multi)
		return false;
	for (size_t i = 0, j; i < b->n_dups; i = j) {
		uint32_t rec = b->dups[i].rec;
		const uint8_t *name = p->recs + rec;
		size_t len = dname_wire_len(name);
		policy_entry_rec *run = p->multi + p->n_multi + 1;
		size_t n = 0;

		run[n++] = policy_rec_entry(p, rec, len);
		for (j = i; j < b->n_dups && b->dups[j].rec == rec; j++)
			run[n++] = b->dups[j].e;
		policy_check_run(b, name, run, n);
		/* stable insertion sort: runs are a few entries long */
		for (size_t k = 1; k < n; k++) {
			policy_entry_rec e = run[k];
			size_t m = k;
			for (; m > 0 && policy_rank(run[m - 1]) > policy_rank(e); m--)
				run[m] = run[m - 1];
			run[m] = e;
		}
		if (n > UINT32_MAX || p->n_multi > POLICY_REF_INDEX)
			return false;
		p->multi[p->n_multi] = (policy_entry_rec){(uint32_t)n, 0, 0};
		policy_entry_rec head = {policy_ref_make(POLICY_REF_MULTI, (uint32_t)p->n_multi), 0, 0};
		memcpy(p->recs + rec + len, &head, sizeof head);
		p->n_multi += n + 1;
	}
	return true;
}

static int policy_time_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static bool policy_build_changes(policy *p)
{
	p->changes = policy_calloc(p, 2 * p->n_rules, sizeof *p->changes);
	if (!p->changes)
		return false;
	for (size_t i = 0; i < p->n_rules; i++) {
		p->changes[p->n_changes++] = p->rules[i].effective;
		if (p->rules[i].until != CFG_TIME_NEVER)
			p->changes[p->n_changes++] = p->rules[i].until;
	}
	qsort(p->changes, p->n_changes, sizeof *p->changes, policy_time_cmp);
	size_t n = 0;
	for (size_t i = 0; i < p->n_changes; i++)
		if (n == 0 || p->changes[n - 1] != p->changes[i])
			p->changes[n++] = p->changes[i];
	p->n_changes = n;
	return true;
}

static int policy_net_cmp(const void *a, const void *b)
{
	const policy_net *x = a, *y = b;
	if (x->net.prefix != y->net.prefix)
		return x->net.prefix > y->net.prefix ? -1 : 1;
	return (x->group > y->group) - (x->group < y->group);
}

/* Marks the rules an exempt item names: "vendor" or "vendor/rule". */
static bool policy_mark_exempt(const policy *p, uint8_t *flags, const char *item)
{
	const char *slash = strchr(item, '/');
	size_t vlen = slash ? (size_t)(slash - item) : strlen(item);
	bool found = false;

	for (size_t r = 0; r < p->n_rules; r++) {
		const policy_rule *pr = &p->rules[r];
		if (strlen(pr->vendor->id) != vlen || memcmp(pr->vendor->id, item, vlen) != 0)
			continue;
		if (slash && strcmp(pr->id, slash + 1) != 0)
			continue;
		flags[r] = 1;
		found = true;
	}
	if (!slash) /* a vendor without rules is still a valid exemption */
		for (size_t v = 0; v < p->n_vendors && !found; v++)
			found = strlen(p->vendors[v].id) == vlen && memcmp(p->vendors[v].id, item, vlen) == 0;
	return found;
}

static bool policy_build_groups(policy_builder *b)
{
	policy *p = b->p;
	const cfg *c = b->c;
	size_t n_nets = 0;

	p->groups = policy_calloc(p, c->n_groups, sizeof *p->groups);
	if (!p->groups)
		return false;
	p->n_groups = c->n_groups;
	for (size_t g = 0; g < c->n_groups; g++) {
		const cfg_group *cg = &c->groups[g];
		bool ok = true;
		p->groups[g].name = policy_strdup_opt(p, cg->name ? cg->name : "", &ok);
		p->groups[g].exempt = policy_calloc(p, p->n_rules, 1);
		if (!ok || !p->groups[g].exempt)
			return false;
		for (size_t i = 0; i < cg->n_exempt; i++)
			if (!policy_mark_exempt(p, p->groups[g].exempt, cg->exempt[i])) {
				cfg_diags_add(b->diags, c->path, cg->exempt_line ? cg->exempt_line[i] : 0,
					      cg->exempt_col ? cg->exempt_col[i] : 0,
					      "group %s exempts \"%s\", which no policy defines",
					      p->groups[g].name, cg->exempt[i]);
				b->failed = true;
			}
		n_nets += cg->n_nets;
	}
	p->nets = policy_calloc(p, n_nets, sizeof *p->nets);
	if (!p->nets)
		return false;
	for (size_t g = 0; g < c->n_groups; g++)
		for (size_t i = 0; i < c->groups[g].n_nets; i++)
			p->nets[p->n_nets++] = (policy_net){c->groups[g].nets[i], (uint32_t)g};
	/* longest prefix first, so the first network that holds a client wins */
	qsort(p->nets, p->n_nets, sizeof *p->nets, policy_net_cmp);
	return true;
}

/*
 * The table and the records are read at random: with 4 KiB pages each probe
 * of a large policy misses the TLB as well as the cache, and the batch's
 * prefetches, which hide the cache misses, stall on the page walks (the
 * bench's 100,000 names, a microbenchmark that evicts the caches between
 * batches of 10 lookups: 30-60 ns of about 220 a lookup). So a large
 * policy's tags, offs and recs share one block that starts on a 2 MiB
 * boundary, with its whole huge pages advised (where the kernel leaves that
 * to madvise). One block rather than three: each array on huge pages of its
 * own would round up to megabytes more RSS. Built in place, so loading
 * needs no second copy. False when out of memory.
 */
static bool policy_alloc_block(policy *p, size_t recs_size)
{
	const size_t huge = (size_t)2 << 20;
	/* tags first, then offs at a multiple of 4 octets */
	size_t tags = (p->n_slots * sizeof *p->tags + 3) & ~(size_t)3;
	size_t offs = p->n_slots * sizeof *p->offs;
	size_t size = tags + offs + recs_size;
	void *block;

	if (size < huge) {
		/* small: three allocations, nothing to gain from huge pages */
		p->tags = policy_calloc(p, p->n_slots, sizeof *p->tags);
		p->offs = policy_calloc(p, p->n_slots, sizeof *p->offs);
		/* malloc, not calloc: only the part written is ever touched */
		p->recs = malloc(recs_size);
		return p->tags && p->offs && p->recs;
	}
	if (posix_memalign(&block, huge, size) != 0)
		return false;
#ifdef MADV_HUGEPAGE
	/* before the first write, so the faults take huge pages */
	(void)madvise(block, size & ~(huge - 1), MADV_HUGEPAGE);
#endif
	uint8_t *at = block;
	p->table = block;
	p->table_size = size;
	p->tags = memset(at, 0, p->n_slots * sizeof *p->tags);
	p->offs = (uint32_t *)(void *)(at + tags);
	p->recs = at + tags + offs;
	p->bytes += tags + offs;
	return true;
}

/*
 * Gives back what the record area reserved beyond p->recs_len, and zeroes
 * the DNAME_MAX octets after it that policy_find may read. In a block, its
 * whole pages past the records go back to the kernel: resident where a huge
 * page covers them, or where policy_drop_positions moved the records down.
 */
static void policy_trim_recs(policy *p)
{
	size_t keep = p->recs_len + DNAME_MAX;

	if (p->table) {
		uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
		uintptr_t from = ((uintptr_t)p->recs + keep + page - 1) & ~(page - 1);
		uintptr_t to = ((uintptr_t)p->table + p->table_size) & ~(page - 1);
		if (to > from)
			(void)madvise((void *)from, to - from, MADV_DONTNEED);
	} else {
		uint8_t *shrunk = realloc(p->recs, keep);
		if (shrunk)
			p->recs = shrunk;
	}
	memset(p->recs + p->recs_len, 0, DNAME_MAX);
}

/* Sizes the record area and the table from the cfg, before any entry. */
static bool policy_alloc_table(policy_builder *b)
{
	policy *p = b->p;
	const cfg *c = b->c;
	size_t n = 0, bytes = 1;

	for (size_t v = 0; v < c->n_vendors; v++) {
		const cfg_vendor *cv = &c->vendors[v];
		n += cv->allow.n;
		bytes += cv->allow.len;
		for (size_t r = 0; r < cv->n_rules; r++) {
			n += cv->rules[r].domains.n + cv->rules[r].hosts.n;
			bytes += cv->rules[r].domains.len + cv->rules[r].hosts.len;
		}
	}
	if (n > UINT32_MAX / 3)
		return false;
	/* Load factor at most 0.45, in 6 octets a slot: the memory of 8-octet
	 * slots at 0.6. Unsuccessful probes stay short, and read only the
	 * tags, 2 octets a slot: small enough to stay in a core's L2 cache for
	 * a policy of a few 100,000 names. */
	p->n_slots = n + n * 6 / 5 + 8;
	b->recs_cap = bytes + n * sizeof(policy_entry_rec);
	p->recs_len = 1; /* offset 0 is a dummy byte, never a record */
	p->ent_size = sizeof(policy_entry_rec); /* positions until policy_drop_positions */
	return policy_alloc_block(p, b->recs_cap + DNAME_MAX);
}

/*
 * Clears the leaf flag of every name that has another name below it, so a
 * walk may stop at a leaf: nothing longer can match. One pass over the
 * records, probing every proper suffix of each name (the root included).
 */
static void policy_mark_leaves(policy *p)
{
	size_t pos = 1;

	while (pos < p->recs_len) {
		uint8_t buf[POLICY_NAME_BUF] = {0}; /* zeroes past the name, for the hash */
		uint8_t off[POLICY_MAX_LABELS];
		size_t len;
		int n = policy_labels(p->recs + pos, off, &len);
		if (n < 0)
			return; /* never: every record was checked on the way in */
		memcpy(buf, p->recs + pos, len);
		uint64_t h = POLICY_HASH_ROOT;
		for (int i = n; i >= 1; i--) {
			size_t at = i < n ? off[i] : len - 1;
			if (i < n)
				h = policy_hash_label(h, buf + at);
			else if (!p->has_root)
				continue;
			size_t s = policy_find(p, h, buf + at, len - at);
			if (s != SIZE_MAX)
				p->offs[s] &= ~POLICY_OFF_LEAF;
		}
		pos += len + p->ent_size;
	}
}

static bool policy_build_names(policy_builder *b)
{
	policy *p = b->p;
	const cfg *c = b->c;
	size_t r = 0;

	if (!policy_alloc_table(b))
		return false;
	p->recs[0] = 0;
	for (size_t v = 0; v < c->n_vendors && !b->failed; v++) {
		const cfg_vendor *cv = &c->vendors[v];
		for (size_t i = 0; i < cv->n_rules; i++, r++) {
			policy_add_list(b, &cv->rules[i].domains, (uint32_t)v, POLICY_ENTRY_DOMAIN, (uint32_t)r);
			policy_add_list(b, &cv->rules[i].hosts, (uint32_t)v, POLICY_ENTRY_HOST, (uint32_t)r);
		}
		policy_add_list(b, &cv->allow, (uint32_t)v, POLICY_ENTRY_ALLOW, (uint32_t)v);
	}
	if (b->failed)
		return true; /* diagnosed; policy_new gives up */
	if (!policy_resolve_dups(b))
		return false;
	/* give back what the estimate over-reserved, then pad for policy_find */
	policy_trim_recs(p);
	p->bytes += p->recs_len + DNAME_MAX;
	policy_mark_leaves(p);
	return true;
}

static int policy_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/*
 * Keeps only the ref after each name: 8 octets a name less (0.8 MB in
 * 100,000 names), for the daemon, which never shows an entry's position.
 * The records move down, so every slot's offset is mapped to its record's
 * new one. Runs of shared names keep their positions (they live in multi).
 * False when out of memory (the snapshot is then left as it was).
 */
static bool policy_drop_positions(policy *p)
{
	const size_t cut = sizeof(policy_entry_rec) - sizeof(uint32_t);
	uint32_t *old = malloc((p->n_names + 1) * sizeof *old);
	size_t n = 0, rd = 1, wr = 1;

	if (!old)
		return false;
	while (rd < p->recs_len) {
		size_t len = dname_wire_len(p->recs + rd);
		old[n++] = (uint32_t)rd;
		memmove(p->recs + wr, p->recs + rd, len + sizeof(uint32_t));
		rd += len + sizeof(policy_entry_rec);
		wr += len + sizeof(uint32_t);
	}
	/* record k (0-based) moved down by k * cut octets; old[] is ascending */
	for (size_t i = 0; i < p->n_slots; i++) {
		if (!p->tags[i])
			continue;
		uint32_t o = p->offs[i] & POLICY_OFF_MASK;
		const uint32_t *at = bsearch(&o, old, n, sizeof *old, policy_u32_cmp);
		size_t k = at ? (size_t)(at - old) : 0;
		p->offs[i] = (uint32_t)(o - k * cut) | (p->offs[i] & ~POLICY_OFF_MASK);
	}
	free(old);
	p->bytes -= p->recs_len - wr;
	p->recs_len = wr;
	p->ent_size = sizeof(uint32_t);
	policy_trim_recs(p);
	return true;
}

policy *policy_new_lean(const cfg *c, cfg_diags *diags)
{
	policy *p = policy_new(c, diags);
	if (p && !policy_drop_positions(p)) {
		cfg_diags_add(diags, c->path, 0, 0, "out of memory building the policy");
		policy_free(p);
		return NULL;
	}
	return p;
}

policy *policy_new(const cfg *c, cfg_diags *diags)
{
	policy *p = calloc(1, sizeof *p);
	policy_builder b = {.p = p, .c = c, .diags = diags};
	size_t n_rules = 0;

	if (!p)
		return NULL;
	p->bytes = sizeof *p;
	for (size_t v = 0; v < c->n_vendors; v++)
		n_rules += c->vendors[v].n_rules;
	if (c->n_vendors > POLICY_MAX_VENDORS || n_rules > POLICY_REF_INDEX) {
		cfg_diags_add(diags, c->path, 0, 0, "too many vendors or rules (at most %u vendors)",
			      POLICY_MAX_VENDORS);
		policy_free(p);
		return NULL;
	}
	p->n_vendors = c->n_vendors;
	p->n_rules = n_rules;
	p->vendors = policy_calloc(p, p->n_vendors, sizeof *p->vendors);
	p->rules = policy_calloc(p, n_rules, sizeof *p->rules);
	p->rule_vendor = policy_calloc(p, n_rules, sizeof *p->rule_vendor);
	bool ok = p->vendors && p->rules && p->rule_vendor && policy_copy_vendors(p, c) &&
		  policy_build_names(&b) && policy_build_changes(p) && policy_build_groups(&b);
	free(b.dups);
	if (!ok)
		cfg_diags_add(diags, c->path, 0, 0, "out of memory building the policy");
	if (!ok || b.failed) {
		policy_free(p);
		return NULL;
	}
	return p;
}
