/*
 * rpz_zone.c: reading a built zone: its records and comments, whether two
 * versions hold the same records, their difference for IXFR (one merge:
 * both are sorted in the same order), the serial rule, and the zone text.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/rpz_internal.h"

/* --- reading --- */

uint32_t rpz_serial(const rpz_zone *z)
{
	return z->serial;
}

const ldns_rdf *rpz_origin(const rpz_zone *z)
{
	return z->origin;
}

const ldns_rr *rpz_soa(const rpz_zone *z)
{
	return z->soa;
}

size_t rpz_rr_count(const rpz_zone *z)
{
	return z->n_items;
}

const ldns_rr *rpz_rr_at(const rpz_zone *z, size_t i)
{
	return i < z->n_items ? z->items[i].rr : NULL;
}

const char *rpz_rr_comment(const rpz_zone *z, size_t i)
{
	return i < z->n_items ? z->items[i].comment : NULL;
}

size_t rpz_skipped(const rpz_zone *z)
{
	return z->skipped;
}

int64_t rpz_at(const rpz_zone *z)
{
	return z->at;
}

/* Order of the zone: owner (canonical), type, rdata; the TTL is not a key. */
static int rpz_rr_order(const ldns_rr *a, const ldns_rr *b)
{
	int c = ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b));

	if (c)
		return c;
	if (ldns_rr_get_type(a) != ldns_rr_get_type(b))
		return ldns_rr_get_type(a) < ldns_rr_get_type(b) ? -1 : 1;
	size_t n = ldns_rr_rd_count(a) < ldns_rr_rd_count(b) ? ldns_rr_rd_count(a) : ldns_rr_rd_count(b);
	for (size_t i = 0; i < n; i++) {
		c = ldns_rdf_compare(ldns_rr_rdf(a, i), ldns_rr_rdf(b, i));
		if (c)
			return c;
	}
	return (int)ldns_rr_rd_count(a) - (int)ldns_rr_rd_count(b);
}

static bool rpz_rr_equal(const ldns_rr *a, const ldns_rr *b)
{
	return rpz_rr_order(a, b) == 0 && ldns_rr_ttl(a) == ldns_rr_ttl(b);
}

bool rpz_same_content(const rpz_zone *a, const rpz_zone *b)
{
	if (a->n_items != b->n_items || ldns_rr_ttl(a->soa) != ldns_rr_ttl(b->soa) ||
	    ldns_dname_compare(a->origin, b->origin) != 0)
		return false;
	/* the SOA's fields but the serial (rdata 2) */
	for (size_t i = 0; i < ldns_rr_rd_count(a->soa); i++)
		if (i != 2 && ldns_rdf_compare(ldns_rr_rdf(a->soa, i), ldns_rr_rdf(b->soa, i)) != 0)
			return false;
	for (size_t i = 0; i < a->n_items; i++)
		if (!rpz_rr_equal(a->items[i].rr, b->items[i].rr))
			return false;
	return true;
}

static int rpz_list_add(ldns_rr_list *l, const ldns_rr *rr)
{
	ldns_rr *c = ldns_rr_clone(rr);

	if (!c || !ldns_rr_list_push_rr(l, c)) {
		ldns_rr_free(c);
		return -1;
	}
	return 0;
}

int rpz_diff(const rpz_zone *from, const rpz_zone *to, ldns_rr_list **deleted, ldns_rr_list **added)
{
	ldns_rr_list *del = ldns_rr_list_new(), *add = ldns_rr_list_new();
	size_t i = 0, j = 0;
	int rc = del && add ? 0 : -1;

	/* both are sorted by rpz_rr_order: one merge */
	while (rc == 0 && (i < from->n_items || j < to->n_items)) {
		const ldns_rr *a = i < from->n_items ? from->items[i].rr : NULL;
		const ldns_rr *b = j < to->n_items ? to->items[j].rr : NULL;
		int c = !a ? 1 : !b ? -1 : rpz_rr_order(a, b);
		if (c < 0) {
			rc = rpz_list_add(del, a);
			i++;
		} else if (c > 0) {
			rc = rpz_list_add(add, b);
			j++;
		} else {
			/* same record, other TTL: replaced */
			if (ldns_rr_ttl(a) != ldns_rr_ttl(b))
				rc = rpz_list_add(del, a) < 0 ? -1 : rpz_list_add(add, b);
			i++;
			j++;
		}
	}
	if (rc < 0) {
		ldns_rr_list_deep_free(del);
		ldns_rr_list_deep_free(add);
		*deleted = *added = NULL;
		return -1;
	}
	*deleted = del;
	*added = add;
	return 0;
}

uint32_t rpz_next_serial(uint32_t prev, int64_t now)
{
	uint32_t n = (uint32_t)now, next = prev + 1;

	/* RFC 1982: n is greater than prev when n - prev, as a signed 32-bit
	 * number, is positive (2^31 apart is undefined, and negative here:
	 * prev + 1 is taken) */
	return (int32_t)(n - prev) > 0 ? n : next;
}

/* --- text --- */

static int rpz_put_rr(FILE *out, ldns_buffer *buf, const ldns_rr *rr, const char *comment)
{
	ldns_buffer_clear(buf);
	if (ldns_rr2buffer_str(buf, rr) != LDNS_STATUS_OK)
		return -1;
	size_t n = ldns_buffer_position(buf);
	const char *s = (const char *)ldns_buffer_begin(buf);
	while (n > 0 && s[n - 1] == '\n')
		n--;
	if (fwrite(s, 1, n, out) != n)
		return -1;
	if (comment && fprintf(out, "\t; %s", comment) < 0)
		return -1;
	return fputc('\n', out) == EOF ? -1 : 0;
}

int rpz_print(FILE *out, const rpz_zone *z)
{
	char t[CFG_TIME_BUF], *origin = ldns_rdf2str(z->origin);
	ldns_buffer *buf = ldns_buffer_new(512);
	size_t triggers = z->n_items ? z->n_items - 1 : 0;
	int rc = origin && buf ? 0 : -1;

	if (rc == 0 &&
	    fprintf(out, "; embargo: the policy in force at %s as a Response Policy Zone\n"
			 "; %zu records besides SOA and NS; comments name vendor/rule: basis\n"
			 "$ORIGIN %s\n$TTL %u\n",
		    cfg_time_format(z->at, t), triggers, origin, ldns_rr_ttl(z->soa)) < 0)
		rc = -1;
	if (rc == 0)
		rc = rpz_put_rr(out, buf, z->soa, NULL);
	for (size_t i = 0; rc == 0 && i < z->n_items; i++)
		rc = rpz_put_rr(out, buf, z->items[i].rr, z->items[i].comment);
	if (rc == 0 && fflush(out) != 0)
		rc = -1;
	free(origin);
	ldns_buffer_free(buf);
	return ferror(out) ? -1 : rc;
}
