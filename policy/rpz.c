/*
 * rpz.c: the policy in force at one instant as a Response Policy Zone.
 *
 * The zone is policy_decide sampled where an RPZ consumer looks: for every
 * name N that holds entries, the exact owner N and the wildcard *.N. An RPZ
 * consumer takes the exact owner if there is one, else the longest wildcard
 * above the name. So a record at N must say what policy_decide says for N,
 * and a record at *.N what it says for a name just below N that holds no
 * entry, which is policy_decide("*.N"): policy names never hold a '*' label
 * (dname_from_str refuses it, and rpz_build checks), so that name matches
 * exactly the entries N's children would. Asking policy_decide, rather than
 * applying the precedence again here, keeps one implementation of it: allow
 * over host over domain, a vendor's allow stopping only that vendor, audited
 * entries never hiding a broader block (fail closed).
 *
 * A record is written where it changes the outcome or states the policy:
 * when an entry at N itself decides the block (the mapping of DESIGN.md 7),
 * when N holds an allow entry and the name passes (CNAME rpz-passthru.), or
 * when the outcome differs from what the consumer would otherwise take from
 * the wildcard of N's parent, policy_decide("*.parent"): an allow of one
 * vendor under another vendor's block gives that block's record, an allow
 * under the same vendor's block gives rpz-passthru. Audited entries change
 * nothing a consumer can see and are left out.
 *
 * Names are sorted in canonical order (RFC 4034 6.1) once; '*' (0x2a) sorts
 * below every octet a policy label may hold, so *.N follows N directly and
 * the records come out sorted, which makes rpz_diff a linear merge.
 */
#include "policy/rpz_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config/dname.h"

#define RPZ_REFRESH 3600u
#define RPZ_RETRY 600u
#define RPZ_EXPIRE 86400u

/* --- building --- */

/* A distinct entry name of the snapshot (borrowed during rpz_build only). */
typedef struct rpz_name {
	const uint8_t *wire;
	bool has_allow;
} rpz_name;

typedef struct rpz_names {
	rpz_name *v;
	size_t n, cap;
	bool wildcard;             /* an entry has a '*' label: cannot be exported */
} rpz_names;

static bool rpz_has_star(const uint8_t *w)
{
	for (; *w; w += 1 + *w)
		if (*w == 1 && w[1] == '*')
			return true;
	return false;
}

static int rpz_collect(const policy_entry *e, void *ctx)
{
	rpz_names *l = ctx;

	/* the entries of one name come together, so a new pointer is a new name */
	if (l->n == 0 || l->v[l->n - 1].wire != e->name) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 256;
			rpz_name *v = realloc(l->v, cap * sizeof *v);
			if (!v)
				return -1;
			l->v = v;
			l->cap = cap;
		}
		l->v[l->n++] = (rpz_name){ .wire = e->name };
		if (rpz_has_star(e->name)) {
			l->wildcard = true;
			return -1;
		}
	}
	if (e->kind == POLICY_ENTRY_ALLOW)
		l->v[l->n - 1].has_allow = true;
	return 0;
}

/* Canonical order of two lower-cased wire names: labels compared from the
 * root, each as octets, a shorter label first when it is a prefix. */
static int rpz_name_cmp(const void *a, const void *b)
{
	const uint8_t *x = ((const rpz_name *)a)->wire, *y = ((const rpz_name *)b)->wire;
	uint8_t ox[128], oy[128];
	int nx = 0, ny = 0;

	for (size_t i = 0; x[i]; i += 1 + x[i])
		ox[nx++] = (uint8_t)i;
	for (size_t i = 0; y[i]; i += 1 + y[i])
		oy[ny++] = (uint8_t)i;
	while (nx > 0 && ny > 0) {
		const uint8_t *lx = x + ox[--nx], *ly = y + oy[--ny];
		size_t n = lx[0] < ly[0] ? lx[0] : ly[0];
		int c = memcmp(lx + 1, ly + 1, n);
		if (c)
			return c;
		if (lx[0] != ly[0])
			return lx[0] < ly[0] ? -1 : 1;
	}
	return nx - ny;
}

/* What the policy does with one name: the blocking rule, or none. */
typedef struct rpz_outcome {
	const policy_rule *rule;          /* NULL: passes */
	const uint8_t *entry;             /* the deciding entry's name, or NULL */
	const policy_vendor *allowed_by;  /* passes because of this vendor's allow */
} rpz_outcome;

static rpz_outcome rpz_decide(const policy *p, const uint8_t *wire, int64_t at)
{
	policy_match m;

	policy_decide(p, wire, LDNS_RR_TYPE_A, NULL, at, &m);
	if (m.verdict == POLICY_BLOCK)
		return (rpz_outcome){ .rule = m.rule, .entry = m.entry };
	return (rpz_outcome){ .allowed_by = m.allowed_by };
}

/* "*." + name (a name of at most 253 octets), into buf. */
static void rpz_star(const uint8_t *wire, size_t len, uint8_t buf[DNAME_MAX + 2])
{
	buf[0] = 1;
	buf[1] = '*';
	memcpy(buf + 2, wire, len);
}

/* Comments, interned so that every record of a rule points at one string. */
typedef struct rpz_note {
	const void *key;                  /* a policy_rule or (allow) policy_vendor */
	const char *text;
} rpz_note;

typedef struct rpz_builder {
	rpz_zone *z;
	const rpz_params *prm;
	rpz_note *notes;
	size_t n_notes, cap_notes;
	size_t origin_len;
	uint8_t origin[DNAME_MAX];
} rpz_builder;

/* Control characters would end a comment line: make them spaces. */
__attribute__((format(printf, 1, 2)))
static char *rpz_comment_new(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;

	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	for (char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = ' ';
	return s;
}

static const char *rpz_note_for(rpz_builder *b, const policy_rule *r, const policy_vendor *allow)
{
	const void *key = r ? (const void *)r : (const void *)allow;

	/* a passthru whose allow is hidden by another vendor's audit: no note */
	if (!key)
		return NULL;
	/* records come in runs of one rule: look from the newest note back */
	for (size_t i = b->n_notes; i-- > 0;)
		if (b->notes[i].key == key)
			return b->notes[i].text;
	if (b->n_notes == b->cap_notes) {
		size_t cap = b->cap_notes ? b->cap_notes * 2 : 16;
		rpz_note *v = realloc(b->notes, cap * sizeof *v);
		char **c = realloc(b->z->comments, cap * sizeof *c);
		if (v)
			b->notes = v;
		if (c)
			b->z->comments = c;
		if (!v || !c)
			return NULL;
		b->cap_notes = cap;
	}
	const char *basis;
	char *text;
	if (r) {
		basis = r->vendor->basis ? r->vendor->basis : "no basis given";
		if (r->action == CFG_ACT_REFUSE)
			text = rpz_comment_new("%s/%s: %s (refuse: RPZ has no REFUSED, NXDOMAIN is served)",
					       r->vendor->id, r->id, basis);
		else
			text = rpz_comment_new("%s/%s: %s", r->vendor->id, r->id, basis);
	} else {
		basis = allow->basis ? allow->basis : "no basis given";
		text = rpz_comment_new("%s (allow): %s", allow->id, basis);
	}
	if (!text)
		return NULL;
	b->z->comments[b->z->n_comments++] = text;
	b->notes[b->n_notes++] = (rpz_note){ key, text };
	return text;
}

static int rpz_push(rpz_zone *z, ldns_rr *rr, const char *comment)
{
	if (z->n_items == z->cap_items) {
		size_t cap = z->cap_items ? z->cap_items * 2 : 1024;
		rpz_item *v = realloc(z->items, cap * sizeof *v);
		if (!v) {
			ldns_rr_free(rr);
			return -1;
		}
		z->items = v;
		z->cap_items = cap;
	}
	z->items[z->n_items++] = (rpz_item){ rr, comment };
	return 0;
}

/* One record; takes rdata. NULL when out of memory (rdata freed). */
static ldns_rr *rpz_rr_new(const uint8_t *owner, size_t owner_len, ldns_rr_type type,
			   uint32_t ttl, ldns_rdf *rdata)
{
	ldns_rdf *o = rdata ? ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, owner_len, owner) : NULL;
	ldns_rr *rr = o ? ldns_rr_new() : NULL;

	if (!rr) {
		ldns_rdf_deep_free(o);
		ldns_rdf_deep_free(rdata);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl);
	if (!ldns_rr_push_rdf(rr, rdata)) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(rdata);
		return NULL;
	}
	return rr;
}

static ldns_rdf *rpz_target(const char *wire, size_t len)
{
	return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, wire);
}

/* The records of one outcome at one owner (wire, with the origin). */
static int rpz_emit(rpz_builder *b, const uint8_t *owner, size_t len, const rpz_outcome *o)
{
	const rpz_params *prm = b->prm;
	const char *note = rpz_note_for(b, o->rule, o->allowed_by);
	ldns_rr *rr;

	if (!note && (o->rule || o->allowed_by))
		return -1;
	if (!o->rule) {
		rr = rpz_rr_new(owner, len, LDNS_RR_TYPE_CNAME, prm->ttl,
				rpz_target("\014rpz-passthru", 14));
		return rr ? rpz_push(b->z, rr, note) : -1;
	}
	switch (o->rule->action) {
	case CFG_ACT_REFUSE:     /* RPZ has no REFUSED: NXDOMAIN, and the comment says so */
	case CFG_ACT_NXDOMAIN:
		rr = rpz_rr_new(owner, len, LDNS_RR_TYPE_CNAME, prm->ttl, rpz_target("", 1));
		return rr ? rpz_push(b->z, rr, note) : -1;
	case CFG_ACT_NODATA:
		rr = rpz_rr_new(owner, len, LDNS_RR_TYPE_CNAME, prm->ttl, rpz_target("\001*", 3));
		return rr ? rpz_push(b->z, rr, note) : -1;
	case CFG_ACT_SINKHOLE:
		/* A (1) sorts before AAAA (28) */
		rr = rpz_rr_new(owner, len, LDNS_RR_TYPE_A, prm->ttl,
				ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, prm->sink4.addr));
		if (!rr || rpz_push(b->z, rr, note) < 0)
			return -1;
		rr = rpz_rr_new(owner, len, LDNS_RR_TYPE_AAAA, prm->ttl,
				ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, prm->sink6.addr));
		return rr ? rpz_push(b->z, rr, note) : -1;
	case CFG_ACT_AUDIT:
		break; /* never a block */
	}
	return 0;
}

static bool rpz_same(const rpz_outcome *a, const rpz_outcome *b)
{
	return a->rule == b->rule;
}

static bool rpz_decided_at(const rpz_outcome *o, const uint8_t *name, size_t len)
{
	return o->rule && o->entry && dname_wire_len(o->entry) == len && memcmp(o->entry, name, len) == 0;
}

/* Appends name (without its root label) and the origin; 0 when too long. */
static size_t rpz_owner(const rpz_builder *b, const uint8_t *prefix, size_t prefix_len,
			uint8_t out[DNAME_MAX])
{
	if (prefix_len + b->origin_len > DNAME_MAX)
		return 0;
	memcpy(out, prefix, prefix_len);
	memcpy(out + prefix_len, b->origin, b->origin_len);
	return prefix_len + b->origin_len;
}

/* The records at N and *.N, where they are needed (see the top). */
static int rpz_name_records(rpz_builder *b, const policy *p, int64_t at, const rpz_name *n)
{
	uint8_t star[DNAME_MAX + 2], owner[DNAME_MAX];
	const uint8_t *w = n->wire;
	size_t len = dname_wire_len(w);
	bool root = len == 1;

	rpz_outcome fb = { 0 };
	if (!root) {
		const uint8_t *parent = w + 1 + w[0];
		rpz_star(parent, dname_wire_len(parent), star);
		fb = rpz_decide(p, star, at);
	}
	/* the exact owner; the root's would be the apex, which holds the SOA */
	if (!root) {
		rpz_outcome ex = rpz_decide(p, w, at);
		bool need = rpz_decided_at(&ex, w, len) || !rpz_same(&ex, &fb) || (!ex.rule && n->has_allow);
		if (need) {
			size_t olen = rpz_owner(b, w, len - 1, owner);
			if (!olen)
				b->z->skipped++;
			else if (rpz_emit(b, owner, olen, &ex) < 0)
				return -1;
		}
	}
	/* the wildcard below it; a name of 254-255 octets has no room for one */
	if (len + 2 > DNAME_MAX) {
		b->z->skipped++;
		return 0;
	}
	rpz_star(w, len, star);
	rpz_outcome wd = rpz_decide(p, star, at);
	if (rpz_decided_at(&wd, w, len) || !rpz_same(&wd, &fb) || (!wd.rule && n->has_allow)) {
		size_t olen = rpz_owner(b, star, len + 1, owner);
		if (!olen)
			b->z->skipped++;
		else if (rpz_emit(b, owner, olen, &wd) < 0)
			return -1;
	}
	return 0;
}

static int rpz_origin_parse(const char *text, rpz_builder *b, char *err, size_t errlen)
{
	const char *why = NULL;

	if (!text || dname_from_str(text, b->origin, &b->origin_len, &why) < 0) {
		snprintf(err, errlen, "bad origin \"%s\": %s", text ? text : "", why ? why : "none given");
		return -1;
	}
	if (b->origin_len == 1) {
		snprintf(err, errlen, "bad origin \"%s\": the root cannot be a policy zone", text);
		return -1;
	}
	/* the zone's longest owner is *.x plus the origin */
	if (b->origin_len + 4 > DNAME_MAX) {
		snprintf(err, errlen, "bad origin \"%s\": too long to hold any trigger", text);
		return -1;
	}
	return 0;
}

int rpz_origin_check(const char *origin, char *err, size_t errlen)
{
	rpz_builder b = { 0 };

	return rpz_origin_parse(origin, &b, err, errlen);
}

static ldns_rr *rpz_soa_new(const rpz_builder *b)
{
	static const uint8_t localhost[] = "\011localhost", hostmaster[] = "\012hostmaster\011localhost";
	const rpz_params *prm = b->prm;
	ldns_rr *rr = ldns_rr_new_frm_type(LDNS_RR_TYPE_SOA);
	ldns_rdf *o = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, b->origin_len, b->origin);
	ldns_rdf *rd[7] = {
		ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, sizeof localhost, localhost),
		ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, sizeof hostmaster, hostmaster),
		ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, prm->serial),
		ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, RPZ_REFRESH),
		ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, RPZ_RETRY),
		ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, RPZ_EXPIRE),
		ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, prm->ttl),
	};
	bool ok = rr && o;

	for (size_t i = 0; i < 7; i++)
		ok = ok && rd[i];
	if (!ok) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(o);
		for (size_t i = 0; i < 7; i++)
			ldns_rdf_deep_free(rd[i]);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, prm->ttl);
	for (size_t i = 0; i < 7; i++)
		ldns_rr_set_rdf(rr, rd[i], i);
	return rr;
}

rpz_zone *rpz_build(const policy *p, int64_t at, const rpz_params *prm, char *err, size_t errlen)
{
	rpz_builder b = { .prm = prm };
	rpz_names names = { 0 };
	rpz_zone *z;

	if (rpz_origin_parse(prm->origin, &b, err, errlen) < 0)
		return NULL;
	if (prm->sink4.family != 4 || prm->sink6.family != 6) {
		snprintf(err, errlen, "the sinkhole addresses must be one IPv4 and one IPv6 address");
		return NULL;
	}
	z = calloc(1, sizeof *z);
	if (!z)
		goto oom;
	b.z = z;
	z->serial = prm->serial;
	z->at = at;
	z->origin = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, b.origin_len, b.origin);
	z->soa = z->origin ? rpz_soa_new(&b) : NULL;
	if (!z->soa)
		goto oom;
	ldns_rr *ns = rpz_rr_new(b.origin, b.origin_len, LDNS_RR_TYPE_NS, prm->ttl,
				 rpz_target("\011localhost", 11));
	if (!ns || rpz_push(z, ns, NULL) < 0)
		goto oom;

	if (policy_entry_walk(p, rpz_collect, &names) != 0) {
		if (names.wildcard) {
			snprintf(err, errlen, "a policy name has a '*' label, which RPZ reads as a wildcard");
			goto fail;
		}
		goto oom;
	}
	if (names.n > 1)
		qsort(names.v, names.n, sizeof *names.v, rpz_name_cmp);
	for (size_t i = 0; i < names.n; i++)
		if (rpz_name_records(&b, p, at, &names.v[i]) < 0)
			goto oom;
	free(names.v);
	free(b.notes);
	return z;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(names.v);
	free(b.notes);
	rpz_free(z);
	return NULL;
}

void rpz_free(rpz_zone *z)
{
	if (!z)
		return;
	for (size_t i = 0; i < z->n_items; i++)
		ldns_rr_free(z->items[i].rr);
	free(z->items);
	for (size_t i = 0; i < z->n_comments; i++)
		free(z->comments[i]);
	free(z->comments);
	ldns_rr_free(z->soa);
	ldns_rdf_deep_free(z->origin);
	free(z);
}
