/*
 * test_cache_store.c: what is cached and for how long (negative answers,
 * SERVFAIL, uncacheable replies), the key (DO, CD, case), replacement,
 * CLOCK eviction, prefetch, flush, and a disabled cache.
 */
#include "cache_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Whether q is answered at now. */
static bool hits(cache *c, const wire_query *q, uint64_t now)
{
	uint8_t out[WIRE_TCP_MAX];
	cache_hit hit;

	return ct_answer_raw(c, q, now, out, sizeof(out), &hit, false) > 0;
}

static ldns_pkt *negative(const char *name, ldns_pkt_rcode rcode, bool soa, uint32_t soa_ttl,
			  uint32_t soa_min)
{
	char rr[256];
	ldns_pkt *p = ct_reply(name, LDNS_RR_TYPE_A, rcode);

	if (soa) {
		snprintf(rr, sizeof(rr),
			 "example.com. %u IN SOA ns.example.com. host.example.com. 1 3600 600 86400 %u",
			 soa_ttl, soa_min);
		ct_push(p, LDNS_SECTION_AUTHORITY, rr);
	}
	return p;
}

static void test_nxdomain(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;
	cache_hit hit;

	/* SOA TTL 3600, MINIMUM 300: kept 300 s (RFC 2308 5). */
	ct_upstream_q(&q, "nx.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, negative("nx.example.com", LDNS_RCODE_NXDOMAIN, true, 3600, 300), T0));
	ldns_pkt *p = ct_answer(c, &q, T0 + 100000, 1232, &hit);
	assert_non_null(p);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(hit.rcode, WIRE_RCODE_NXDOMAIN);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_AUTHORITY, 0), 200);
	ldns_pkt_free(p);
	assert_true(hits(c, &q, T0 + 299999));
	assert_false(hits(c, &q, T0 + 300000));

	/* SOA TTL below MINIMUM: the TTL wins. */
	assert_true(ct_insert(c, &q, negative("nx.example.com", LDNS_RCODE_NXDOMAIN, true, 30, 300), T0));
	assert_true(hits(c, &q, T0 + 29999));
	assert_false(hits(c, &q, T0 + 30000));

	/* No SOA: not cached. */
	assert_false(ct_insert(c, &q, negative("nx.example.com", LDNS_RCODE_NXDOMAIN, false, 0, 0), T0));
	assert_false(hits(c, &q, T0));
	assert_int_equal(cache_get_stats(c)->uncacheable, 1);
	cache_free(c);
}

static void test_nodata(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;
	cache_hit hit;

	ct_upstream_q(&q, "nodata.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, negative("nodata.example.com", LDNS_RCODE_NOERROR, true, 900, 60), T0));
	ldns_pkt *p = ct_answer(c, &q, T0 + 1000, 1232, &hit);
	assert_non_null(p);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_AUTHORITY, 0), 59);
	ldns_pkt_free(p);
	assert_false(hits(c, &q, T0 + 60000));

	/* NODATA without SOA (a referral, say): not cached. */
	ldns_pkt *r = ct_reply("nodata.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	ct_push(r, LDNS_SECTION_AUTHORITY, "example.com. 3600 IN NS ns.example.com.");
	assert_false(ct_insert(c, &q, r, T0));
	assert_false(ct_insert(c, &q, negative("nodata.example.com", LDNS_RCODE_NOERROR, false, 0, 0), T0));
	assert_false(hits(c, &q, T0));
	cache_free(c);
}

static void test_servfail(void **state)
{
	(void)state;
	cache *c = ct_cache(16, &(cache_opts){ .min_ttl = 60, .max_ttl = 3600, .servfail_ttl = 5 });
	wire_query q;
	cache_hit hit;

	/* No records, and min-ttl does not apply: 5 s. */
	ct_upstream_q(&q, "sf.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, ct_reply("sf.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL), T0));
	ldns_pkt *p = ct_answer(c, &q, T0 + 4999, 1232, &hit);
	assert_non_null(p);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	assert_false(hits(c, &q, T0 + 5000));

	/* A SERVFAIL carrying a SOA of TTL 2 lives 2 s. */
	assert_true(ct_insert(c, &q, negative("sf.example.com", LDNS_RCODE_SERVFAIL, true, 2, 300), T0));
	assert_true(hits(c, &q, T0 + 1999));
	assert_false(hits(c, &q, T0 + 2000));
	cache_free(c);

	/* servfail_ttl 0: never. */
	c = ct_cache(16, &(cache_opts){ .max_ttl = 3600, .servfail_ttl = 0 });
	assert_false(ct_insert(c, &q, ct_reply("sf.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL), T0));
	assert_false(hits(c, &q, T0));
	cache_free(c);
}

static void test_not_cached(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;
	const ldns_pkt_rcode bad[] = { LDNS_RCODE_REFUSED, LDNS_RCODE_FORMERR, LDNS_RCODE_NOTIMPL };

	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ldns_pkt *r = ct_a_reply("www.example.com", 300);
		ldns_pkt_set_rcode(r, (uint8_t)bad[i]);
		assert_false(ct_insert(c, &q, r, T0));
	}
	/* TC. */
	ldns_pkt *r = ct_a_reply("www.example.com", 300);
	ldns_pkt_set_tc(r, true);
	assert_false(ct_insert(c, &q, r, T0));
	/* TTL 0, even on one record. */
	r = ct_a_reply("www.example.com", 300);
	ct_push(r, LDNS_SECTION_ANSWER, "www.example.com. 0 IN A 192.0.2.2");
	assert_false(ct_insert(c, &q, r, T0));
	/* A CNAME chain longer than wire.c checks. */
	r = ct_reply("c0.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	for (int i = 0; i < WIRE_CHAIN_MAX + 1; i++) {
		char rr[128];
		snprintf(rr, sizeof(rr), "c%d.example.com. 300 IN CNAME c%d.example.com.", i, i + 1);
		ct_push(r, LDNS_SECTION_ANSWER, rr);
	}
	wire_query cq;
	ct_upstream_q(&cq, "c0.example.com", LDNS_RR_TYPE_A, false, false);
	assert_false(ct_insert(c, &cq, r, T0));

	assert_false(hits(c, &q, T0));
	assert_false(hits(c, &cq, T0));
	const cache_stats *st = cache_get_stats(c);
	assert_int_equal(st->inserts, 0);
	assert_int_equal(st->uncacheable, 6);
	assert_int_equal(st->entries, 0);
	assert_int_equal(st->bytes, 0);

	/* A reply to another question than q is refused too. */
	uint8_t *w = NULL;
	size_t n = 0;
	wire_reply wr;
	r = ct_a_reply("other.example.com", 300);
	assert_int_equal(ldns_pkt2wire(&w, r, &n), LDNS_STATUS_OK);
	ldns_pkt_free(r);
	uint8_t other[WIRE_NAME_MAX] = "\5other\7example\3com";
	assert_int_equal(wire_check_reply(w, n, 0x1234, other, 1, 1, &wr), WIRE_OK);
	cache_insert(c, &q, w, n, &wr, T0);
	free(w);
	assert_int_equal(st->inserts, 0);
	assert_int_equal(st->uncacheable, 7);
	cache_free(c);
}

static void test_key_do_cd_case(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query up, q;

	/* Stored for a DO query. */
	ct_upstream_q(&up, "www.example.com", LDNS_RR_TYPE_A, true, false);
	ldns_pkt *r = ct_a_reply("www.example.com", 300);
	ldns_pkt_set_edns_do(r, true);
	assert_true(ct_insert(c, &up, r, T0));

	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .edns = true });
	assert_false(hits(c, &q, T0));                  /* no DO */
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, NULL);
	assert_false(hits(c, &q, T0));                  /* no EDNS at all */
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A,
		 &(ct_query){ .edns = true, .dnssec_ok = true, .cd = true });
	assert_false(hits(c, &q, T0));                  /* DO but CD */
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_AAAA,
		 &(ct_query){ .edns = true, .dnssec_ok = true });
	assert_false(hits(c, &q, T0));                  /* another type */
	ct_parse(&q, "WWW.EXAMPLE.COM", LDNS_RR_TYPE_A,
		 &(ct_query){ .edns = true, .dnssec_ok = true });
	assert_true(hits(c, &q, T0));                   /* case does not matter */

	/* A non-DO entry is shared by clients with and without EDNS. */
	ct_upstream_q(&up, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &up, ct_a_reply("www.example.com", 300), T0));
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, NULL);
	assert_true(hits(c, &q, T0));
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .edns = true });
	assert_true(hits(c, &q, T0));
	assert_int_equal(cache_get_stats(c)->entries, 2);
	cache_free(c);
}

static void test_replace(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;
	cache_hit hit;

	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, ct_a_reply("www.example.com", 300), T0));
	assert_true(ct_insert(c, &q, ct_a_reply("WWW.example.com", 600), T0 + 1000));
	assert_int_equal(cache_get_stats(c)->entries, 1);
	ldns_pkt *p = ct_answer(c, &q, T0 + 2000, 1232, &hit);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 599);
	ldns_pkt_free(p);
	cache_free(c);
}

static void name_q(wire_query *q, int i)
{
	char name[64];
	snprintf(name, sizeof(name), "n%d.example.com", i);
	ct_upstream_q(q, name, LDNS_RR_TYPE_A, false, false);
}

static void insert_name(cache *c, int i, uint32_t ttl, uint64_t now)
{
	char name[64];
	wire_query q;
	snprintf(name, sizeof(name), "n%d.example.com", i);
	ct_upstream_q(&q, name, LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, ct_a_reply(name, ttl), now));
}

static void test_clock_eviction(void **state)
{
	(void)state;
	cache *c = ct_cache(4, NULL);
	wire_query q;

	for (int i = 0; i < 4; i++)
		insert_name(c, i, 300, T0);
	/* n0 and n2 are hit: they get a second chance. */
	name_q(&q, 0);
	assert_true(hits(c, &q, T0));
	name_q(&q, 2);
	assert_true(hits(c, &q, T0));

	insert_name(c, 4, 300, T0);   /* evicts n1 */
	insert_name(c, 5, 300, T0);   /* evicts n3 */
	const cache_stats *st = cache_get_stats(c);
	assert_int_equal(st->entries, 4);
	assert_int_equal(st->evictions, 2);
	for (int i = 0; i < 6; i++) {
		name_q(&q, i);
		assert_int_equal(hits(c, &q, T0), i != 1 && i != 3);
	}
	/* Everything was hit just now; n4 and n5 once more. The hand clears
	 * all bits in one turn, then takes the first unreferenced entry. */
	name_q(&q, 4);
	assert_true(hits(c, &q, T0));
	insert_name(c, 6, 300, T0);
	assert_int_equal(st->entries, 4);
	assert_int_equal(st->evictions, 3);
	name_q(&q, 6);
	assert_true(hits(c, &q, T0));
	cache_free(c);
}

static void test_eviction_prefers_dead(void **state)
{
	(void)state;
	cache *c = ct_cache(4, NULL);
	wire_query q;

	/* n2 expires first; full at T0+20s, the hand finds it dead. */
	for (int i = 0; i < 4; i++)
		insert_name(c, i, i == 2 ? 10 : 300, T0);
	for (int i = 0; i < 4; i++) {
		name_q(&q, i);
		assert_true(hits(c, &q, T0 + 5000));
	}
	insert_name(c, 9, 300, T0 + 20000);
	const cache_stats *st = cache_get_stats(c);
	assert_int_equal(st->expired, 1);
	assert_int_equal(st->evictions, 0);
	for (int i = 0; i < 4; i++) {
		name_q(&q, i);
		assert_int_equal(hits(c, &q, T0 + 20000), i != 2);
	}
	cache_free(c);
}

static void test_many(void **state)
{
	(void)state;
	cache *c = ct_cache(100, NULL);
	wire_query q;

	for (int i = 0; i < 1000; i++)
		insert_name(c, i, 300, T0 + (uint64_t)i);
	const cache_stats *st = cache_get_stats(c);
	assert_int_equal(st->entries, 100);
	assert_int_equal(st->inserts, 1000);
	assert_int_equal(st->evictions, 900);
	assert_true(st->bytes > 100 * 60 && st->bytes < 100 * 400);
	/* The last 100 are the ones left (nothing was hit). */
	int n = 0;
	for (int i = 0; i < 1000; i++) {
		name_q(&q, i);
		if (hits(c, &q, T0 + 1000)) {
			assert_true(i >= 900);
			n++;
		}
	}
	assert_int_equal(n, 100);
	cache_free(c);
}

static void test_prefetch(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;
	cache_hit hit;
	uint8_t out[1232];

	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, ct_a_reply("www.example.com", 100), T0));
	assert_true(ct_answer_raw(c, &q, T0 + 50000, out, sizeof(out), &hit, false) > 0);
	assert_false(hit.prefetch);
	assert_true(ct_answer_raw(c, &q, T0 + 89999, out, sizeof(out), &hit, false) > 0);
	assert_false(hit.prefetch);
	/* The last tenth: once. */
	assert_true(ct_answer_raw(c, &q, T0 + 90000, out, sizeof(out), &hit, false) > 0);
	assert_true(hit.prefetch);
	assert_true(ct_answer_raw(c, &q, T0 + 95000, out, sizeof(out), &hit, false) > 0);
	assert_false(hit.prefetch);
	assert_int_equal(cache_get_stats(c)->prefetches, 1);
	/* The refresh arrives: a new entry, which may ask again later. */
	assert_true(ct_insert(c, &q, ct_a_reply("www.example.com", 100), T0 + 96000));
	assert_true(ct_answer_raw(c, &q, T0 + 97000, out, sizeof(out), &hit, false) > 0);
	assert_false(hit.prefetch);
	assert_true(ct_answer_raw(c, &q, T0 + 96000 + 95000, out, sizeof(out), &hit, false) > 0);
	assert_true(hit.prefetch);
	assert_int_equal(cache_get_stats(c)->prefetches, 2);
	cache_free(c);
}

static void test_flush(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;

	for (int i = 0; i < 10; i++)
		insert_name(c, i, 300, T0);
	assert_int_equal(cache_get_stats(c)->entries, 10);
	cache_flush(c);
	const cache_stats *st = cache_get_stats(c);
	assert_int_equal(st->entries, 0);
	assert_int_equal(st->bytes, 0);
	assert_int_equal(st->flushes, 1);
	for (int i = 0; i < 10; i++) {
		name_q(&q, i);
		assert_false(hits(c, &q, T0));
	}
	/* Usable again afterwards. */
	insert_name(c, 3, 300, T0);
	name_q(&q, 3);
	assert_true(hits(c, &q, T0));
	cache_free(c);
}

static void test_disabled(void **state)
{
	(void)state;
	cache_opts o = { .entries = 0, .max_ttl = 3600 };
	cache *c = cache_new(&o);
	wire_query q;
	uint8_t out[512];
	cache_hit hit;

	assert_non_null(c);
	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	ct_insert(c, &q, ct_a_reply("www.example.com", 300), T0);
	assert_int_equal(cache_answer(c, &q, T0, out, sizeof(out), &hit), 0);
	assert_false(hit.hit);
	assert_int_equal(cache_answer_stale(c, &q, T0, out, sizeof(out), &hit), 0);
	assert_int_equal(cache_get_stats(c)->entries, 0);
	assert_int_equal(cache_get_stats(c)->inserts, 0);
	cache_flush(c);
	cache_free(c);

	/* NULL is a disabled cache too. */
	assert_int_equal(cache_answer(NULL, &q, T0, out, sizeof(out), &hit), 0);
	assert_int_equal(cache_get_stats(NULL)->hits, 0);
	cache_flush(NULL);
	cache_free(NULL);

	/* min above max is refused. */
	o = (cache_opts){ .entries = 10, .min_ttl = 100, .max_ttl = 10 };
	errno = 0;
	assert_null(cache_new(&o));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_nodata),
		cmocka_unit_test(test_servfail),
		cmocka_unit_test(test_not_cached),
		cmocka_unit_test(test_key_do_cd_case),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_clock_eviction),
		cmocka_unit_test(test_eviction_prefers_dead),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_prefetch),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_disabled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
