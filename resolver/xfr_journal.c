/*
 * xfr_journal.c: the served zone and its recent deltas (see xfr_journal.h).
 */
#include "resolver/xfr_journal.h"

#include <stdlib.h>
#include <string.h>

xfr_zref *xfr_zref_take(xfr_zref *r)
{
	r->refs++;
	return r;
}

void xfr_zref_drop(xfr_zref *r)
{
	if (r && --r->refs == 0) {
		rpz_free(r->zone);
		free(r);
	}
}

static void delta_clear(xfr_delta *d)
{
	ldns_rr_free(d->soa_from);
	ldns_rr_list_deep_free(d->del);
	ldns_rr_list_deep_free(d->add);
	memset(d, 0, sizeof(*d));
}

static size_t delta_rrs(const xfr_delta *d)
{
	return ldns_rr_list_rr_count(d->del) + ldns_rr_list_rr_count(d->add);
}

void xfr_journal_init(xfr_journal *j)
{
	memset(j, 0, sizeof(*j));
}

static void drop_oldest(xfr_journal *j)
{
	j->rrs -= delta_rrs(&j->d[0]);
	delta_clear(&j->d[0]);
	memmove(&j->d[0], &j->d[1], (j->n - 1) * sizeof(j->d[0]));
	memset(&j->d[j->n - 1], 0, sizeof(j->d[0]));
	j->n--;
}

static void drop_deltas(xfr_journal *j)
{
	while (j->n)
		drop_oldest(j);
}

void xfr_journal_clear(xfr_journal *j)
{
	drop_deltas(j);
	xfr_zref_drop(j->cur);
	j->cur = NULL;
}

int xfr_journal_push(xfr_journal *j, rpz_zone *z, bool keep_history)
{
	xfr_zref *r = calloc(1, sizeof(*r));
	int rc = 0;
	if (!r) {
		rpz_free(z);
		return -1;
	}
	r->zone = z;
	r->refs = 1;
	if (!j->cur || !keep_history) {
		drop_deltas(j);
	} else {
		xfr_delta d = { .from = rpz_serial(j->cur->zone), .to = rpz_serial(z) };
		d.soa_from = ldns_rr_clone(rpz_soa(j->cur->zone));
		if (!d.soa_from || rpz_diff(j->cur->zone, z, &d.del, &d.add) < 0) {
			ldns_rr_free(d.soa_from);
			drop_deltas(j);
			rc = -1;
		} else {
			if (j->n == XFR_JOURNAL_MAX)
				drop_oldest(j);
			j->d[j->n++] = d;
			j->rrs += delta_rrs(&d);
			/* deltas larger than the zone: an AXFR is cheaper than any IXFR */
			size_t budget = rpz_rr_count(z) + 64;
			while (j->n > 1 && j->rrs > budget)
				drop_oldest(j);
		}
	}
	xfr_zref_drop(j->cur);
	j->cur = r;
	return rc;
}

/* One record's step in the deltas being folded. */
typedef struct step {
	const ldns_rr *rr;
	size_t seq;      /* order of the step */
	bool add;
} step;

static int step_cmp(const void *a, const void *b)
{
	const step *x = a, *y = b;
	int c = ldns_rr_compare(x->rr, y->rr);
	if (c)
		return c;
	/* ldns_rr_compare does not look at the TTL: a new TTL is a new record */
	if (ldns_rr_ttl(x->rr) != ldns_rr_ttl(y->rr))
		return ldns_rr_ttl(x->rr) < ldns_rr_ttl(y->rr) ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int push_clone(ldns_rr_list *l, const ldns_rr *rr)
{
	ldns_rr *c = ldns_rr_clone(rr);
	if (!c || !ldns_rr_list_push_rr(l, c)) {
		ldns_rr_free(c);
		return -1;
	}
	return 0;
}

/* Folds deltas d[first..n) into one: a record whose first step deletes it
 * was in the old version, one whose last step adds it is in the new. */
static int condense(const xfr_journal *j, size_t first, xfr_ixfr *out)
{
	size_t n = 0, k = 0;
	for (size_t i = first; i < j->n; i++)
		n += delta_rrs(&j->d[i]);
	step *s = malloc((n ? n : 1) * sizeof(*s));
	out->del = ldns_rr_list_new();
	out->add = ldns_rr_list_new();
	int rc = s && out->del && out->add ? 0 : -1;
	for (size_t i = first; rc == 0 && i < j->n; i++) {
		const xfr_delta *d = &j->d[i];
		for (size_t r = 0; r < ldns_rr_list_rr_count(d->del); r++, k++)
			s[k] = (step){ ldns_rr_list_rr(d->del, r), k, false };
		for (size_t r = 0; r < ldns_rr_list_rr_count(d->add); r++, k++)
			s[k] = (step){ ldns_rr_list_rr(d->add, r), k, true };
	}
	if (rc == 0)
		qsort(s, n, sizeof(*s), step_cmp);
	for (size_t a = 0; rc == 0 && a < n;) {
		size_t b = a + 1;
		while (b < n && ldns_rr_compare(s[a].rr, s[b].rr) == 0 &&
		       ldns_rr_ttl(s[a].rr) == ldns_rr_ttl(s[b].rr))
			b++;
		bool was = !s[a].add, is = s[b - 1].add;
		if (was && !is)
			rc = push_clone(out->del, s[a].rr);
		else if (!was && is)
			rc = push_clone(out->add, s[a].rr);
		a = b;
	}
	free(s);
	if (rc < 0) {
		ldns_rr_list_deep_free(out->del);
		ldns_rr_list_deep_free(out->add);
		out->del = out->add = NULL;
	}
	return rc;
}

int xfr_journal_ixfr(const xfr_journal *j, uint32_t from, xfr_ixfr *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = XFR_IXFR_FULL;
	if (!j->cur)
		return 0;
	if (from == rpz_serial(j->cur->zone)) {
		out->kind = XFR_IXFR_CURRENT;
		return 0;
	}
	for (size_t i = 0; i < j->n; i++) {
		if (j->d[i].from != from)
			continue;
		if (condense(j, i, out) < 0)
			return -1;
		out->kind = XFR_IXFR_DELTA;
		out->soa_from = j->d[i].soa_from;
		return 0;
	}
	return 0;
}
