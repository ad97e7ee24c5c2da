/*
 * test_cache_minimal.c: minimal-responses (wire_reply_to_client and what
 * the cache stores: the same answer from the cache or not), and the OPT:
 * ours written at hit time, the upstream's EDE kept.
 */
#include "cache_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ldns encodes p (freed) into buf; returns the length. */
static size_t encode(ldns_pkt *p, uint8_t *buf, size_t cap)
{
	uint8_t *w = NULL;
	size_t n = 0;

	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	assert_true(n <= cap);
	memcpy(buf, w, n);
	free(w);
	return n;
}

/* An A answer whose authority and additional TTLs equal the answer's, so
 * that clamping to the entry's lifetime changes nothing. */
static ldns_pkt *full_reply(const char *name, uint32_t ttl)
{
	char rr[256];
	ldns_pkt *p = ct_reply(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);

	snprintf(rr, sizeof(rr), "%s. %u IN A 192.0.2.1", name, ttl);
	ct_push(p, LDNS_SECTION_ANSWER, rr);
	snprintf(rr, sizeof(rr), "example.com. %u IN NS ns.example.com.", ttl);
	ct_push(p, LDNS_SECTION_AUTHORITY, rr);
	snprintf(rr, sizeof(rr), "ns.example.com. %u IN A 192.0.2.53", ttl);
	ct_push(p, LDNS_SECTION_ADDITIONAL, rr);
	return p;
}

/* Sets the OPT's options to an EDE (INFO-CODE 3, "old") and a cookie. */
static void set_options(ldns_pkt *p)
{
	static const uint8_t opts[] = {
		0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,      /* COOKIE (client part) */
		0, 15, 0, 5, 0, 3, 'o', 'l', 'd',         /* EDE 3 "old" */
	};
	ldns_pkt_set_edns_data(p, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, sizeof(opts), opts));
}

typedef struct pair {
	uint8_t fwd[2048], hit[2048];
	size_t n_fwd, n_hit;
} pair;

/*
 * The reply buf/n (to upstream question uq) sent to client cq by the
 * forwarder (wire_reply_to_client) and then, stored at T0, by the cache
 * at T0 (so no TTL has moved).
 */
static void both(const uint8_t *buf, size_t n, const wire_query *uq, const wire_query *cq,
		 bool minimal, pair *o)
{
	wire_reply r;
	cache_hit hit;
	cache *c = ct_cache(16, &(cache_opts){ .minimal = minimal });

	assert_int_equal(wire_check_reply(buf, n, 0x1234, uq->qname, uq->qtype, uq->qclass, &r),
			 WIRE_OK);
	o->n_fwd = wire_reply_to_client(buf, n, &r, cq, minimal, o->fwd, 1232);
	assert_true(o->n_fwd > 0);
	cache_insert(c, uq, buf, n, &r, T0);
	assert_int_equal(cache_get_stats(c)->entries, 1);
	o->n_hit = ct_answer_raw(c, cq, T0, o->hit, 1232, &hit, false);
	assert_true(o->n_hit > 0);
	cache_free(c);
}

static void assert_same(const pair *o)
{
	assert_int_equal(o->n_fwd, o->n_hit);
	assert_memory_equal(o->fwd, o->hit, o->n_fwd);
}

static void test_minimal_trims(void **state)
{
	(void)state;
	uint8_t buf[2048];
	size_t n = encode(full_reply("www.example.com", 300), buf, sizeof(buf));
	wire_query uq, cq;
	pair o;

	/* DO=0, no EDNS: header, question, answer. */
	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	ct_parse(&cq, "WWW.example.com", LDNS_RR_TYPE_A, &(ct_query){ .id = 5, .rd = true });
	both(buf, n, &uq, &cq, true, &o);
	assert_same(&o);
	ldns_pkt *p = ct_ldns(o.hit, o.n_hit);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	assert_int_equal(ldns_pkt_arcount(p), 0);
	assert_false(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_id(p), 5);
	ldns_pkt_free(p);
	assert_int_equal(o.n_hit, 12 + 17 + 4 + 16);

	/* DO=0 with EDNS: the same and our OPT. */
	ct_parse(&cq, "www.example.com", LDNS_RR_TYPE_A,
		 &(ct_query){ .id = 6, .rd = true, .edns = true });
	both(buf, n, &uq, &cq, true, &o);
	assert_same(&o);
	p = ct_ldns(o.hit, o.n_hit);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	assert_int_equal(ldns_pkt_arcount(p), 0);   /* ldns counts the OPT apart */
	assert_true(ldns_pkt_edns(p));
	assert_false(ldns_pkt_edns_do(p));
	assert_int_equal(ldns_pkt_edns_udp_size(p), 1232);
	ldns_pkt_free(p);

	/* minimal-responses off: everything. */
	both(buf, n, &uq, &cq, false, &o);
	assert_same(&o);
	p = ct_ldns(o.hit, o.n_hit);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	assert_int_equal(ldns_pkt_arcount(p), 1);
	ldns_pkt_free(p);

	/* DO=1: everything (wildcard proofs live in authority). */
	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, true, false);
	ct_parse(&cq, "www.example.com", LDNS_RR_TYPE_A,
		 &(ct_query){ .id = 7, .rd = true, .edns = true, .dnssec_ok = true });
	both(buf, n, &uq, &cq, true, &o);
	assert_same(&o);
	p = ct_ldns(o.hit, o.n_hit);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	assert_int_equal(ldns_pkt_arcount(p), 1);
	assert_true(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);
}

static void test_minimal_keeps_negative(void **state)
{
	(void)state;
	uint8_t buf[2048];
	wire_query uq, cq;
	pair o;
	const ldns_pkt_rcode rcodes[] = { LDNS_RCODE_NXDOMAIN, LDNS_RCODE_NOERROR };

	/* NXDOMAIN and NODATA keep their SOA (and whatever else came). */
	for (size_t i = 0; i < 2; i++) {
		ldns_pkt *r = ct_reply("nx.example.com", LDNS_RR_TYPE_A, rcodes[i]);
		ct_push(r, LDNS_SECTION_AUTHORITY,
			"example.com. 60 IN SOA ns.example.com. host.example.com. 1 3600 600 86400 60");
		ct_push(r, LDNS_SECTION_ADDITIONAL, "ns.example.com. 60 IN A 192.0.2.53");
		size_t n = encode(r, buf, sizeof(buf));
		ct_upstream_q(&uq, "nx.example.com", LDNS_RR_TYPE_A, false, false);
		ct_parse(&cq, "nx.example.com", LDNS_RR_TYPE_A, &(ct_query){ .rd = true });
		both(buf, n, &uq, &cq, true, &o);
		assert_same(&o);
		ldns_pkt *p = ct_ldns(o.hit, o.n_hit);
		assert_int_equal(ldns_pkt_ancount(p), 0);
		assert_int_equal(ldns_pkt_nscount(p), 1);
		assert_int_equal(ldns_pkt_arcount(p), 1);
		ldns_pkt_free(p);
	}
}

/* A trimmed entry lives as long as its answer says, whatever the dropped
 * authority said; an untrimmed one as long as the shortest of both. */
static void test_minimal_lifetime(void **state)
{
	(void)state;
	wire_query uq;
	cache_hit hit;

	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	for (int minimal = 0; minimal < 2; minimal++) {
		cache *c = ct_cache(16, &(cache_opts){ .minimal = minimal });
		ldns_pkt *r = ct_reply("www.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
		ct_push(r, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.1");
		ct_push(r, LDNS_SECTION_AUTHORITY, "example.com. 100 IN NS ns.example.com.");
		assert_true(ct_insert(c, &uq, r, T0));
		ldns_pkt *p = ct_answer(c, &uq, T0 + 1000, 1232, &hit);
		assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), minimal ? 299 : 99);
		ldns_pkt_free(p);
		cache_free(c);
	}
}

/* Switching minimal-responses (a reload) flushes what was stored the
 * other way. */
static void test_set_minimal(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query uq;
	cache_hit hit;

	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &uq, full_reply("www.example.com", 300), T0));
	cache_set_minimal(c, false);   /* no change: kept */
	assert_int_equal(cache_get_stats(c)->entries, 1);
	cache_set_minimal(c, true);
	assert_int_equal(cache_get_stats(c)->entries, 0);
	assert_int_equal(cache_get_stats(c)->flushes, 1);
	assert_true(ct_insert(c, &uq, full_reply("www.example.com", 300), T0));
	ldns_pkt *p = ct_answer(c, &uq, T0, 1232, &hit);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	ldns_pkt_free(p);
	cache_set_minimal(NULL, true);
	cache_free(c);
}

/* The upstream's OPT is not stored: an entry costs less than the reply
 * with it, and a client with EDNS still gets our OPT. The TTL offsets are
 * stored only when some owner is not a compression pointer. */
static void test_opt_not_stored(void **state)
{
	(void)state;
	uint8_t buf[2048];
	wire_query uq;
	cache_hit hit;

	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	for (int other = 0; other < 2; other++) {
		cache *c = ct_cache(16, NULL);
		ldns_pkt *r = full_reply("www.example.com", 300);
		if (other)   /* an owner that shares no suffix: written out */
			ct_push(r, LDNS_SECTION_ADDITIONAL, "glue.other.test. 300 IN A 192.0.2.54");
		size_t n = encode(r, buf, sizeof(buf));
		assert_true(ct_insert_raw(c, &uq, buf, n, T0));
		/* 5 octets of entry header, the reply less its 11-octet OPT, and
		 * with the written-out owner 4 TTL offsets; rounded up to 4. */
		size_t want = 5 + (n - 11) + (other ? 4 * 2 : 0);
		assert_int_equal(cache_get_stats(c)->bytes, (want + 3) / 4 * 4);
		ldns_pkt *p = ct_answer(c, &uq, T0 + 2000, 1232, &hit);
		assert_true(ldns_pkt_edns(p));
		assert_int_equal(ldns_pkt_arcount(p), other ? 2 : 1);
		ct_assert_ttls(p, 298);
		ldns_pkt_free(p);
		cache_free(c);
	}
}

/* The upstream's EDE is its word on the answer: kept, in our OPT, from the
 * forwarder and from the cache alike; its cookie is not. */
static void test_upstream_ede_kept(void **state)
{
	(void)state;
	uint8_t buf[2048];
	wire_query uq, cq;
	pair o;

	for (int minimal = 0; minimal < 2; minimal++) {
		ldns_pkt *r = full_reply("www.example.com", 300);
		set_options(r);
		size_t n = encode(r, buf, sizeof(buf));
		ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
		ct_parse(&cq, "www.example.com", LDNS_RR_TYPE_A,
			 &(ct_query){ .id = 9, .rd = true, .edns = true });
		both(buf, n, &uq, &cq, minimal, &o);
		assert_same(&o);
		ldns_pkt *p = ct_ldns(o.hit, o.n_hit);
		const ldns_rdf *d = ldns_pkt_edns_data(p);
		assert_non_null(d);
		assert_int_equal(ldns_rdf_size(d), 9);
		assert_memory_equal(ldns_rdf_data(d), "\0\17\0\5\0\3old", 9);
		assert_int_equal(ldns_pkt_nscount(p), minimal ? 0 : 1);
		ldns_pkt_free(p);

		/* Without EDNS, no OPT at all, from either. */
		ct_parse(&cq, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .id = 9, .rd = true });
		both(buf, n, &uq, &cq, minimal, &o);
		assert_same(&o);
		p = ct_ldns(o.hit, o.n_hit);
		assert_false(ldns_pkt_edns(p));
		ldns_pkt_free(p);
	}
}

/* cache_add_ede on a hit whose stored OPT has the upstream's EDE: a
 * second option after it. */
static void test_stale_ede_after_upstream_ede(void **state)
{
	(void)state;
	uint8_t buf[2048], out[1232];
	cache *c = ct_cache(16, &(cache_opts){ .stale_max = 60, .minimal = true });
	wire_query uq, cq;
	cache_hit hit;

	ldns_pkt *r = full_reply("www.example.com", 10);
	set_options(r);
	size_t n = encode(r, buf, sizeof(buf));
	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert_raw(c, &uq, buf, n, T0));
	ct_parse(&cq, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .edns = true });
	size_t m = ct_answer_raw(c, &cq, T0 + 20000, out, sizeof(out), &hit, true);
	assert_true(hit.stale);
	m = cache_add_ede(out, m, sizeof(out), &hit, CACHE_EDE_STALE_ANSWER, NULL);
	ldns_pkt *p = ct_ldns(out, m);
	const ldns_rdf *d = ldns_pkt_edns_data(p);
	assert_int_equal(ldns_rdf_size(d), 15);
	assert_memory_equal(ldns_rdf_data(d), "\0\17\0\5\0\3old\0\17\0\2\0\3", 15);
	ct_assert_ttls(p, CACHE_STALE_TTL);
	ldns_pkt_free(p);
	cache_free(c);
}

/* Too big for the client: a trimmed answer still drops to TC. */
static void test_minimal_too_big(void **state)
{
	(void)state;
	uint8_t buf[4096], out[1232];
	ldns_pkt *r = ct_reply("big.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	for (int i = 0; i < 40; i++) {
		char rr[128];
		snprintf(rr, sizeof(rr), "big.example.com. 300 IN A 192.0.2.%d", i + 1);
		ct_push(r, LDNS_SECTION_ANSWER, rr);
	}
	ct_push(r, LDNS_SECTION_AUTHORITY, "example.com. 300 IN NS ns.example.com.");
	size_t n = encode(r, buf, sizeof(buf));
	wire_query uq, cq;
	wire_reply wr;
	ct_upstream_q(&uq, "big.example.com", LDNS_RR_TYPE_A, false, false);
	ct_parse(&cq, "big.example.com", LDNS_RR_TYPE_A, &(ct_query){ .id = 3 });
	assert_int_equal(wire_check_reply(buf, n, 0x1234, uq.qname, 1, 1, &wr), WIRE_OK);
	size_t m = wire_reply_to_client(buf, n, &wr, &cq, true, out, 512);
	ldns_pkt *p = ct_ldns(out, m);
	assert_true(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
	m = wire_reply_to_client(buf, n, &wr, &cq, true, out, sizeof(out));
	p = ct_ldns(out, m);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 40);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	ldns_pkt_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_trims),
		cmocka_unit_test(test_minimal_keeps_negative),
		cmocka_unit_test(test_minimal_lifetime),
		cmocka_unit_test(test_set_minimal),
		cmocka_unit_test(test_opt_not_stored),
		cmocka_unit_test(test_upstream_ede_kept),
		cmocka_unit_test(test_stale_ede_after_upstream_ede),
		cmocka_unit_test(test_minimal_too_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
