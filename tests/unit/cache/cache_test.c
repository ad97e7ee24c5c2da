/*
 * cache_test.c: see cache_test.h.
 */
#include "cache_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_u16(uint8_t *b, size_t *n, uint16_t v)
{
	b[(*n)++] = (uint8_t)(v >> 8);
	b[(*n)++] = (uint8_t)v;
}

void ct_parse(wire_query *q, const char *name, uint16_t type, const ct_query *o)
{
	static const ct_query none;
	uint8_t b[512];
	size_t n = 0;

	if (o == NULL)
		o = &none;
	uint16_t flags = (uint16_t)((o->rd ? WIRE_FLAG_RD : 0) | (o->cd ? WIRE_FLAG_CD : 0) |
				    (o->ad ? WIRE_FLAG_AD : 0));
	put_u16(b, &n, o->id);
	put_u16(b, &n, flags);
	put_u16(b, &n, 1);
	put_u16(b, &n, 0);
	put_u16(b, &n, 0);
	put_u16(b, &n, o->edns ? 1 : 0);
	/* The name by hand, so the case is exactly as written. */
	const char *s = name;
	while (*s && strcmp(s, ".") != 0) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		b[n++] = (uint8_t)l;
		memcpy(b + n, s, l);
		n += l;
		s += l;
		if (*s == '.')
			s++;
	}
	b[n++] = 0;
	put_u16(b, &n, type);
	put_u16(b, &n, LDNS_RR_CLASS_IN);
	if (o->edns) {
		b[n++] = 0;
		put_u16(b, &n, LDNS_RR_TYPE_OPT);
		put_u16(b, &n, o->udp ? o->udp : 1232);
		put_u16(b, &n, 0);
		put_u16(b, &n, o->dnssec_ok ? 0x8000 : 0);
		put_u16(b, &n, 0);
	}
	assert_int_equal(wire_parse_query(b, n, q), WIRE_OK);
}

void ct_upstream_q(wire_query *q, const char *name, uint16_t type, bool dnssec_ok, bool cd)
{
	ct_query o = { .id = 0x1234, .rd = true, .cd = cd, .edns = true, .dnssec_ok = dnssec_ok };
	ct_parse(q, name, type, &o);
}

ldns_pkt *ct_reply(const char *qname, uint16_t type, ldns_pkt_rcode rcode)
{
	ldns_pkt *p = NULL;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, qname, (ldns_rr_type)type, LDNS_RR_CLASS_IN,
						    LDNS_RD),
			 LDNS_STATUS_OK);
	ldns_pkt_set_id(p, 0x1234);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	ldns_pkt_set_edns_udp_size(p, 1232);
	return p;
}

void ct_push(ldns_pkt *p, ldns_pkt_section s, const char *rr_text)
{
	ldns_rr *rr = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&rr, rr_text, 3600, NULL, NULL), LDNS_STATUS_OK);
	assert_true(ldns_pkt_push_rr(p, s, rr));
}

bool ct_insert_raw(cache *c, const wire_query *q, const uint8_t *buf, size_t n, uint64_t now)
{
	wire_reply r;
	uint64_t before = cache_get_stats(c)->inserts;

	assert_int_equal(wire_check_reply(buf, n, 0x1234, q->qname, q->qtype, q->qclass, &r), WIRE_OK);
	cache_insert(c, q, buf, n, &r, now);
	return cache_get_stats(c)->inserts != before;
}

bool ct_insert(cache *c, const wire_query *q, ldns_pkt *p, uint64_t now)
{
	uint8_t *w = NULL;
	size_t n = 0;

	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	bool stored = ct_insert_raw(c, q, w, n, now);
	free(w);
	return stored;
}

cache *ct_cache(uint32_t entries, const cache_opts *o)
{
	cache_opts d = {
		.entries = entries,
		.min_ttl = 0,
		.max_ttl = 86400,
		.servfail_ttl = 5,
		.stale_max = 0,
		.seed = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL },
	};
	if (o) {
		d.min_ttl = o->min_ttl;
		if (o->max_ttl)
			d.max_ttl = o->max_ttl;
		d.servfail_ttl = o->servfail_ttl;
		d.stale_max = o->stale_max;
		d.minimal = o->minimal;
	}
	cache *c = cache_new(&d);
	assert_non_null(c);
	return c;
}

ldns_pkt *ct_ldns(const uint8_t *buf, size_t len)
{
	ldns_pkt *p = NULL;

	assert_true(len > 0);
	assert_int_equal(ldns_wire2pkt(&p, buf, len), LDNS_STATUS_OK);
	assert_non_null(p);
	return p;
}

size_t ct_answer_raw(cache *c, const wire_query *q, uint64_t now, uint8_t *out, size_t cap,
		     cache_hit *hit, bool stale)
{
	size_t n = stale ? cache_answer_stale(c, q, now, out, cap, hit)
			 : cache_answer(c, q, now, out, cap, hit);
	assert_true(n <= cap);
	assert_int_equal(hit->hit, n > 0);
	return n;
}

ldns_pkt *ct_answer(cache *c, const wire_query *q, uint64_t now, size_t cap, cache_hit *hit)
{
	uint8_t out[WIRE_TCP_MAX];
	size_t n = ct_answer_raw(c, q, now, out, cap, hit, false);

	return n ? ct_ldns(out, n) : NULL;
}

uint32_t ct_ttl(const ldns_pkt *p, ldns_pkt_section s, size_t i)
{
	ldns_rr_list *l = ldns_pkt_get_section_clone(p, s);

	assert_non_null(l);
	assert_true(i < ldns_rr_list_rr_count(l));
	uint32_t t = ldns_rr_ttl(ldns_rr_list_rr(l, i));
	ldns_rr_list_deep_free(l);
	return t;
}

void ct_assert_ttls(const ldns_pkt *p, uint32_t ttl)
{
	ldns_rr_list *l = ldns_pkt_all_noquestion(p);
	size_t n = ldns_rr_list_rr_count(l);

	assert_true(n > 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(l, i)), ttl);
	ldns_rr_list_deep_free(l);
}

ldns_pkt *ct_a_reply(const char *name, uint32_t ttl)
{
	char rr[512];
	ldns_pkt *p = ct_reply(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);

	snprintf(rr, sizeof(rr), "%s. %u IN A 192.0.2.1", name, ttl);
	ct_push(p, LDNS_SECTION_ANSWER, rr);
	snprintf(rr, sizeof(rr), "example.com. %u IN NS ns.example.com.", ttl + 100);
	ct_push(p, LDNS_SECTION_AUTHORITY, rr);
	snprintf(rr, sizeof(rr), "ns.example.com. %u IN A 192.0.2.53", ttl / 2);
	ct_push(p, LDNS_SECTION_ADDITIONAL, rr);
	return p;
}
