/*
 * rpz_test.c: the RPZ tests' zone builder and consumer (see rpz_test.h).
 */
#include "rpz_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rpz_zone *rt_build(const policy *p, int64_t at)
{
	char err[256] = "";
	rpz_params prm = { .origin = RT_ORIGIN, .serial = 1, .ttl = 300 };
	const char *why = NULL;

	assert_int_equal(cfg_ip_parse("0.0.0.0", &prm.sink4, &why), 0);
	assert_int_equal(cfg_ip_parse("::", &prm.sink6, &why), 0);
	rpz_zone *z = rpz_build(p, at, &prm, err, sizeof err);
	if (!z)
		fail_msg("rpz_build: %s", err);
	return z;
}

/* The first record whose owner is `owner`, by binary search: the zone is
 * sorted, and this relies on it. */
static size_t rt_find(const rpz_zone *z, const ldns_rdf *owner, size_t *end)
{
	size_t lo = 0, hi = rpz_rr_count(z);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ldns_dname_compare(ldns_rr_owner(rpz_rr_at(z, mid)), owner) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*end = lo;
	while (*end < rpz_rr_count(z) && ldns_dname_compare(ldns_rr_owner(rpz_rr_at(z, *end)), owner) == 0)
		(*end)++;
	return lo;
}

static ldns_rdf *rt_owner(const char *rel)
{
	char text[1100];
	snprintf(text, sizeof text, "%s%s%s", rel, strcmp(rel, "") ? "." : "", RT_ORIGIN);
	ldns_rdf *d = ldns_dname_new_frm_str(text);
	assert_non_null(d);
	return d;
}

/* The outcome of the records [i, end) at one owner. */
static rt_outcome rt_read(const rpz_zone *z, size_t i, size_t end)
{
	rt_outcome o = { RT_OTHER, "" };
	bool a = false, aaaa = false;

	const char *c = rpz_rr_comment(z, i);
	if (c) {
		size_t n = strcspn(c, ": ");
		snprintf(o.who, sizeof o.who, "%.*s", (int)n, c);
	}
	for (size_t k = i; k < end; k++) {
		const ldns_rr *rr = rpz_rr_at(z, k);
		char *rd = ldns_rdf2str(ldns_rr_rdf(rr, 0));
		assert_non_null(rd);
		switch (ldns_rr_get_type(rr)) {
		case LDNS_RR_TYPE_CNAME:
			if (end - i != 1)
				o.kind = RT_OTHER;
			else if (!strcmp(rd, "."))
				o.kind = RT_NXDOMAIN;
			else if (!strcmp(rd, "*."))
				o.kind = RT_NODATA;
			else if (!strcmp(rd, "rpz-passthru.")) {
				o.kind = RT_PASS;
				o.who[0] = 0;
			}
			break;
		case LDNS_RR_TYPE_A: a = !strcmp(rd, "0.0.0.0"); break;
		case LDNS_RR_TYPE_AAAA: aaaa = !strcmp(rd, "::"); break;
		default: break;
		}
		free(rd);
	}
	if (a && aaaa && end - i == 2)
		o.kind = RT_SINK;
	return o;
}

rt_outcome rt_consume(const rpz_zone *z, const char *name)
{
	uint8_t wire[DNAME_MAX];
	char text[DNAME_STR_MAX + 4];
	size_t len, end;
	const char *why = NULL;

	assert_int_equal(dname_from_str(name, wire, &len, &why), 0);
	/* the exact owner */
	dname_to_str(wire, text);
	ldns_rdf *o = rt_owner(wire[0] ? text : "");
	size_t i = rt_find(z, o, &end);
	ldns_rdf_deep_free(o);
	if (wire[0] && i < end)
		return rt_read(z, i, end);
	/* the longest wildcard: *.parent, then up to *.origin */
	const uint8_t *w = wire;
	while (*w) {
		w += 1 + *w;
		char suffix[DNAME_STR_MAX + 8];
		if (*w) {
			dname_to_str(w, text);
			snprintf(suffix, sizeof suffix, "*.%s", text);
		} else {
			snprintf(suffix, sizeof suffix, "*");
		}
		o = rt_owner(suffix);
		i = rt_find(z, o, &end);
		ldns_rdf_deep_free(o);
		if (i < end)
			return rt_read(z, i, end);
	}
	return (rt_outcome){ RT_PASS, "" };
}

rt_outcome rt_expect(const policy *p, const char *name, int64_t at)
{
	policy_match m = tc_decide(p, name, LDNS_RR_TYPE_A, NULL, at);
	rt_outcome o = { RT_PASS, "" };

	if (m.verdict != POLICY_BLOCK)
		return o;
	snprintf(o.who, sizeof o.who, "%s/%s", m.rule->vendor->id, m.rule->id);
	switch (m.rule->action) {
	case CFG_ACT_REFUSE:
	case CFG_ACT_NXDOMAIN: o.kind = RT_NXDOMAIN; break;
	case CFG_ACT_NODATA: o.kind = RT_NODATA; break;
	case CFG_ACT_SINKHOLE: o.kind = RT_SINK; break;
	case CFG_ACT_AUDIT: o.kind = RT_OTHER; break;
	}
	return o;
}

void rt_agree(const policy *p, const rpz_zone *z, const char *name, int64_t at)
{
	rt_outcome want = rt_expect(p, name, at), got = rt_consume(z, name);

	if (want.kind != got.kind || strcmp(want.who, got.who) != 0)
		fail_msg("%s at %lld: policy_decide says %d (%s), the zone %d (%s)", name, (long long)at,
			 want.kind, want.who, got.kind, got.who);
}

const char *rt_at(const rpz_zone *z, const char *owner)
{
	static char out[4096];
	size_t end, n = 0;
	ldns_rdf *o = rt_owner(owner);
	size_t i = rt_find(z, o, &end);

	ldns_rdf_deep_free(o);
	out[0] = 0;
	for (; i < end; i++) {
		const ldns_rr *rr = rpz_rr_at(z, i);
		char *t = ldns_rr_type2str(ldns_rr_get_type(rr));
		char *rd = ldns_rdf2str(ldns_rr_rdf(rr, 0));
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s %s", n ? "\n" : "", t, rd);
		free(t);
		free(rd);
	}
	return out;
}

bool rt_has(const rpz_zone *z, const char *name)
{
	char star[DNAME_STR_MAX + 4];
	snprintf(star, sizeof star, "*.%s", name);
	return rt_at(z, name)[0] || rt_at(z, star)[0];
}
