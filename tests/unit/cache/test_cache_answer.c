/*
 * test_cache_answer.c: what a hit writes: TTLs counting down, expiry, the
 * min/max clamps, the client's ID, case and flags, the OPT for clients
 * without EDNS, answers too big for the client, CNAME chains, serve-stale
 * and its EDE.
 */
#include "cache_test.h"

#include <stdlib.h>
#include <string.h>

static void test_ttl_decrement(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query uq, q;
	cache_hit hit;

	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &uq, ct_a_reply("www.example.com", 300), T0));
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .id = 7, .edns = true });

	ldns_pkt *p = ct_answer(c, &q, T0, 1232, &hit);
	assert_non_null(p);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 300);
	assert_int_equal(hit.ttl_left, 300);
	ldns_pkt_free(p);

	/* 3.999 s later: three whole seconds off every record. */
	p = ct_answer(c, &q, T0 + 3999, 1232, &hit);
	assert_non_null(p);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 297);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_AUTHORITY, 0), 297);   /* 400, capped at 300 */
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ADDITIONAL, 0), 147);
	assert_int_equal(hit.ttl_left, 297);
	assert_false(hit.stale);
	ldns_pkt_free(p);

	/* The stored copy is untouched: a later hit counts from the original. */
	p = ct_answer(c, &q, T0 + 10000, 1232, &hit);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 290);
	ldns_pkt_free(p);
	assert_int_equal(cache_get_stats(c)->hits, 3);
	cache_free(c);
}

static void test_expiry_at_ttl(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;
	cache_hit hit;

	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, ct_a_reply("www.example.com", 60), T0));
	ldns_pkt *p = ct_answer(c, &q, T0 + 59999, 1232, &hit);
	assert_non_null(p);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 1);
	ldns_pkt_free(p);
	assert_null(ct_answer(c, &q, T0 + 60000, 1232, &hit));
	assert_false(hit.hit);
	/* Without serve-stale the expired entry went at once. */
	assert_int_equal(cache_get_stats(c)->entries, 0);
	assert_int_equal(cache_get_stats(c)->expired, 1);
	assert_int_equal(cache_get_stats(c)->misses, 1);
	assert_int_equal(cache_get_stats(c)->bytes, 0);
	cache_free(c);
}

static void test_min_ttl_clamp(void **state)
{
	(void)state;
	cache *c = ct_cache(16, &(cache_opts){ .min_ttl = 60, .max_ttl = 3600, .servfail_ttl = 5 });
	wire_query q;
	cache_hit hit;

	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	/* TTL 10 (NS 110, glue 5): raised to 60 and lives 60 s. */
	assert_true(ct_insert(c, &q, ct_a_reply("www.example.com", 10), T0));
	ldns_pkt *p = ct_answer(c, &q, T0, 1232, &hit);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 60);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_AUTHORITY, 0), 60);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ADDITIONAL, 0), 60);
	ldns_pkt_free(p);
	p = ct_answer(c, &q, T0 + 30000, 1232, &hit);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 30);
	ldns_pkt_free(p);
	p = ct_answer(c, &q, T0 + 59999, 1232, &hit);
	assert_non_null(p);
	ldns_pkt_free(p);
	assert_null(ct_answer(c, &q, T0 + 60000, 1232, &hit));
	cache_free(c);
}

static void test_max_ttl_clamp(void **state)
{
	(void)state;
	cache *c = ct_cache(16, &(cache_opts){ .max_ttl = 100, .servfail_ttl = 5 });
	wire_query q;
	cache_hit hit;

	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, ct_a_reply("www.example.com", 86400), T0));
	ldns_pkt *p = ct_answer(c, &q, T0 + 1000, 1232, &hit);
	ct_assert_ttls(p, 99);   /* no client may keep it longer than we do */
	ldns_pkt_free(p);
	p = ct_answer(c, &q, T0 + 99999, 1232, &hit);
	assert_non_null(p);
	ldns_pkt_free(p);
	assert_null(ct_answer(c, &q, T0 + 100000, 1232, &hit));
	cache_free(c);
}

static void test_case_id_flags(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query uq, q;
	cache_hit hit;
	uint8_t out[1232];

	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = ct_a_reply("www.example.com", 300);
	ldns_pkt_set_aa(r, true);
	ldns_pkt_set_ad(r, true);
	assert_true(ct_insert(c, &uq, r, T0));

	ct_parse(&q, "WwW.ExAmPlE.CoM", LDNS_RR_TYPE_A,
		 &(ct_query){ .id = 0xBEEF, .rd = false, .edns = true });
	size_t n = ct_answer_raw(c, &q, T0 + 1000, out, sizeof(out), &hit, false);
	assert_true(n > 0);
	assert_memory_equal(out + 12, "\3WwW\7ExAmPlE\3CoM", 17);
	ldns_pkt *p = ct_ldns(out, n);
	assert_int_equal(ldns_pkt_id(p), 0xBEEF);
	assert_true(ldns_pkt_qr(p));
	assert_true(ldns_pkt_ra(p));
	assert_false(ldns_pkt_aa(p));
	assert_false(ldns_pkt_rd(p));   /* the client's RD, not the first asker's */
	assert_false(ldns_pkt_ad(p));   /* neither AD nor DO asked */
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 1);
	/* The answer's owner is a pointer to the question: the client's case. */
	char *owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(p), 0)));
	assert_string_equal(owner, "WwW.ExAmPlE.CoM.");
	free(owner);
	ldns_pkt_free(p);

	/* An AD-aware client with RD set gets both. */
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A,
		 &(ct_query){ .id = 1, .rd = true, .ad = true, .edns = true });
	p = ct_answer(c, &q, T0, sizeof(out), &hit);
	assert_true(ldns_pkt_rd(p));
	assert_true(ldns_pkt_ad(p));
	ldns_pkt_free(p);
	cache_free(c);
}

static void test_opt_for_client(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query uq, q;
	cache_hit hit;
	uint8_t out[1232];

	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &uq, ct_a_reply("www.example.com", 300), T0));

	/* Without EDNS: the OPT is cut off, the glue stays. */
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .id = 2 });
	size_t n = ct_answer_raw(c, &q, T0 + 2000, out, 512, &hit, false);
	ldns_pkt *p = ct_ldns(out, n);
	assert_false(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_arcount(p), 1);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ADDITIONAL, 0), 148);
	assert_int_equal(hit.opt_rdlen_at, 0);
	ldns_pkt_free(p);
	/* cache_add_ede leaves an answer without OPT alone. */
	assert_int_equal(cache_add_ede(out, n, sizeof(out), &hit, CACHE_EDE_STALE_ANSWER, "x"), n);

	/* With EDNS: the OPT is there, one octet-exact answer longer by 11. */
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .id = 3, .edns = true });
	size_t n2 = ct_answer_raw(c, &q, T0 + 2000, out, sizeof(out), &hit, false);
	assert_int_equal(n2, n + 11);
	p = ct_ldns(out, n2);
	assert_true(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_edns_udp_size(p), 1232);
	assert_int_equal(ldns_pkt_arcount(p), 1);   /* ldns counts the OPT apart */
	assert_int_equal(out[11], 2);
	ldns_pkt_free(p);
	cache_free(c);
}

/* The OPT's DO bit answers the client's (RFC 3225), whatever upstream said. */
static void test_do_bit(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query uq, q;
	cache_hit hit;

	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = ct_a_reply("www.example.com", 300);
	ldns_pkt_set_edns_do(r, true);
	assert_true(ct_insert(c, &uq, r, T0));
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .edns = true });
	ldns_pkt *p = ct_answer(c, &q, T0, 1232, &hit);
	assert_true(ldns_pkt_edns(p));
	assert_false(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);

	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, true, false);
	assert_true(ct_insert(c, &uq, ct_a_reply("www.example.com", 300), T0));
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .edns = true, .dnssec_ok = true });
	p = ct_answer(c, &q, T0, 1232, &hit);
	assert_true(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);
	cache_free(c);
}

/* Records after the OPT (not from ldns: by hand) are not kept. */
static void test_records_after_opt(void **state)
{
	(void)state;
	static const uint8_t reply[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 2,
		3, 'f', 'o', 'o', 0, 0, 1, 0, 1,
		0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 100, 0, 4, 192, 0, 2, 9,
		0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0,          /* OPT */
		0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 100, 0, 2, 1, 'x', /* TXT after it */
	};
	cache *c = ct_cache(16, NULL);
	wire_query q;
	cache_hit hit;
	uint8_t out[1232];

	ct_upstream_q(&q, "foo", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert_raw(c, &q, reply, sizeof(reply), T0));
	size_t n = ct_answer_raw(c, &q, T0 + 1000, out, sizeof(out), &hit, false);
	assert_int_equal(n, sizeof(reply) - 14);
	ldns_pkt *p = ct_ldns(out, n);
	assert_int_equal(ldns_pkt_arcount(p), 0);   /* ldns counts the OPT apart */
	assert_true(ldns_pkt_edns(p));
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 99);
	ldns_pkt_free(p);
	/* The OPT is last, so EDE can be appended. */
	size_t m = cache_add_ede(out, n, sizeof(out), &hit, 3, NULL);
	assert_int_equal(m, n + 6);
	p = ct_ldns(out, m);
	ldns_pkt_free(p);
	cache_free(c);
}

/* An answer of `n_a` A records. */
static ldns_pkt *big_reply(const char *name, size_t n_a, bool glue)
{
	char rr[256];
	ldns_pkt *p = ct_reply(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);

	for (size_t i = 0; i < n_a; i++) {
		snprintf(rr, sizeof(rr), "%s. 300 IN A 192.0.2.%zu", name, i + 1);
		ct_push(p, LDNS_SECTION_ANSWER, rr);
	}
	for (size_t i = 0; glue && i < 20; i++) {
		snprintf(rr, sizeof(rr), "ns%zu.example.com. 900 IN A 198.51.100.%zu", i, i + 1);
		ct_push(p, LDNS_SECTION_ADDITIONAL, rr);
	}
	return p;
}

static void test_too_big(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query uq, q;
	cache_hit hit;
	uint8_t out[WIRE_TCP_MAX];

	/* 20 A (16 octets each) + 20 glue A (~30 each): ~1000 octets. */
	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &uq, big_reply("www.example.com", 20, true), T0));

	/* 512 without EDNS: the additional section goes, no TC, TTLs still
	 * counted down. */
	ct_parse(&q, "WWW.example.com", LDNS_RR_TYPE_A, &(ct_query){ .id = 9 });
	size_t n = ct_answer_raw(c, &q, T0 + 5000, out, wire_udp_limit(&q), &hit, false);
	assert_true(n > 0 && n <= 512);
	ldns_pkt *p = ct_ldns(out, n);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_id(p), 9);
	assert_int_equal(ldns_pkt_ancount(p), 20);
	assert_int_equal(ldns_pkt_arcount(p), 0);
	assert_false(ldns_pkt_edns(p));
	ct_assert_ttls(p, 295);
	assert_memory_equal(out + 12, "\3WWW", 4);
	ldns_pkt_free(p);

	/* The same for an EDNS client with a small buffer: our own OPT, and
	 * cache_add_ede can extend it. */
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A,
		 &(ct_query){ .id = 10, .edns = true, .udp = 512 });
	n = ct_answer_raw(c, &q, T0 + 5000, out, wire_udp_limit(&q), &hit, false);
	p = ct_ldns(out, n);
	assert_false(ldns_pkt_tc(p));
	assert_true(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_ancount(p), 20);
	ldns_pkt_free(p);
	size_t m = cache_add_ede(out, n, 512, &hit, 3, NULL);
	assert_int_equal(m, n + 6);
	p = ct_ldns(out, m);
	const ldns_rdf *d = ldns_pkt_edns_data(p);
	assert_non_null(d);
	assert_int_equal(ldns_rdf_size(d), 6);
	assert_memory_equal(ldns_rdf_data(d), "\0\17\0\2\0\3", 6);
	ldns_pkt_free(p);

	/* 40 A records do not fit in 512 even alone: TC, question only. */
	ct_upstream_q(&uq, "big.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &uq, big_reply("big.example.com", 40, false), T0));
	ct_parse(&q, "big.example.com", LDNS_RR_TYPE_A, &(ct_query){ .id = 11 });
	n = ct_answer_raw(c, &q, T0, out, 512, &hit, false);
	p = ct_ldns(out, n);
	assert_true(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_id(p), 11);
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
	/* Over TCP it all fits. */
	n = ct_answer_raw(c, &q, T0, out, WIRE_TCP_MAX, &hit, false);
	p = ct_ldns(out, n);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 40);
	ldns_pkt_free(p);
	/* A cap below a header: nothing fits, a miss for the caller. */
	assert_int_equal(cache_answer(c, &q, T0, out, 11, &hit), 0);
	assert_false(hit.hit);
	cache_free(c);
}

static void assert_chain_name(const uint8_t *got, const char *want)
{
	uint8_t w[WIRE_NAME_MAX];
	ldns_rdf *r = ldns_dname_new_frm_str(want);
	size_t n = ldns_rdf_size(r);

	memcpy(w, ldns_rdf_data(r), n);
	ldns_rdf_deep_free(r);
	assert_memory_equal(got, w, n);
	assert_int_equal(cache_chain_next(got) - got, n);
}

static void test_chain(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;
	cache_hit hit;

	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = ct_reply("www.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	ct_push(r, LDNS_SECTION_ANSWER, "www.example.com. 600 IN CNAME cdn.Tracker.NET.");
	ct_push(r, LDNS_SECTION_ANSWER, "cdn.Tracker.NET. 300 IN CNAME edge.example.com.");
	ct_push(r, LDNS_SECTION_ANSWER, "edge.example.com. 900 IN A 192.0.2.7");
	assert_true(ct_insert(c, &q, r, T0));

	ldns_pkt *p = ct_answer(c, &q, T0 + 1000, 1232, &hit);
	assert_non_null(p);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 299);   /* clamped to 300, -1 */
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 1), 299);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 2), 299);
	ldns_pkt_free(p);
	assert_int_equal(hit.n_chain, 2);
	assert_non_null(hit.chain);
	assert_chain_name(hit.chain, "cdn.tracker.net");
	assert_chain_name(cache_chain_next(hit.chain), "edge.example.com");

	/* A plain answer has no chain. */
	ct_upstream_q(&q, "plain.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, ct_a_reply("plain.example.com", 300), T0));
	p = ct_answer(c, &q, T0, 1232, &hit);
	ldns_pkt_free(p);
	assert_int_equal(hit.n_chain, 0);
	assert_null(hit.chain);
	cache_free(c);
}

/* cache_insert_plain marks an entry plain unless it has a chain; a
 * replacement by cache_insert drops the mark; a flush drops the entry. */
static void test_plain(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;
	wire_reply r;
	cache_hit hit;
	uint8_t *w = NULL, out[1232];
	size_t n = 0;

	ct_upstream_q(&q, "plain.example.com", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *p = ct_a_reply("plain.example.com", 300);
	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	assert_int_equal(wire_check_reply(w, n, 0x1234, q.qname, q.qtype, q.qclass, &r), WIRE_OK);
	cache_insert_plain(c, &q, w, n, &r, T0);
	assert_true(ct_answer_raw(c, &q, T0, out, sizeof(out), &hit, false) > 0);
	assert_true(hit.plain);
	cache_insert(c, &q, w, n, &r, T0);
	assert_true(ct_answer_raw(c, &q, T0, out, sizeof(out), &hit, false) > 0);
	assert_false(hit.plain);
	cache_insert_plain(c, &q, w, n, &r, T0);
	cache_flush(c);
	assert_int_equal(ct_answer_raw(c, &q, T0, out, sizeof(out), &hit, false), 0);
	assert_false(hit.plain);
	free(w);

	/* With a CNAME chain the policy must see the targets: never plain. */
	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	p = ct_reply("www.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	ct_push(p, LDNS_SECTION_ANSWER, "www.example.com. 600 IN CNAME cdn.tracker.net.");
	ct_push(p, LDNS_SECTION_ANSWER, "cdn.tracker.net. 300 IN A 192.0.2.7");
	w = NULL;
	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	assert_int_equal(wire_check_reply(w, n, 0x1234, q.qname, q.qtype, q.qclass, &r), WIRE_OK);
	cache_insert_plain(c, &q, w, n, &r, T0);
	assert_true(ct_answer_raw(c, &q, T0, out, sizeof(out), &hit, false) > 0);
	assert_int_equal(hit.n_chain, 1);
	assert_false(hit.plain);
	free(w);
	cache_free(c);
}

static void test_serve_stale(void **state)
{
	(void)state;
	cache *c = ct_cache(16, &(cache_opts){ .max_ttl = 86400, .servfail_ttl = 5, .stale_max = 60 });
	wire_query uq, q;
	cache_hit hit;
	uint8_t out[1232];

	ct_upstream_q(&uq, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &uq, ct_a_reply("www.example.com", 10), T0));
	ct_parse(&q, "www.example.com", LDNS_RR_TYPE_A, &(ct_query){ .id = 5, .edns = true });

	/* Fresh: cache_answer_stale serves it as usual. */
	size_t n = ct_answer_raw(c, &q, T0 + 2000, out, sizeof(out), &hit, true);
	assert_true(n > 0);
	assert_false(hit.stale);

	/* Expired: a miss for cache_answer, but the entry stays... */
	assert_int_equal(ct_answer_raw(c, &q, T0 + 10000, out, sizeof(out), &hit, false), 0);
	assert_int_equal(cache_get_stats(c)->entries, 1);
	/* ... for cache_answer_stale: every TTL 30. */
	n = ct_answer_raw(c, &q, T0 + 10000, out, sizeof(out), &hit, true);
	assert_true(hit.stale);
	assert_int_equal(hit.ttl_left, 0);
	ldns_pkt *p = ct_ldns(out, n);
	ct_assert_ttls(p, CACHE_STALE_TTL);
	assert_false(ldns_pkt_edns_data(p) != NULL);
	ldns_pkt_free(p);

	/* EDE 3 with its text. */
	size_t m = cache_add_ede(out, n, sizeof(out), &hit, CACHE_EDE_STALE_ANSWER, "stale");
	assert_int_equal(m, n + 6 + 5);
	p = ct_ldns(out, m);
	const ldns_rdf *d = ldns_pkt_edns_data(p);
	assert_non_null(d);
	assert_int_equal(ldns_rdf_size(d), 11);
	assert_memory_equal(ldns_rdf_data(d), "\0\17\0\7\0\3stale", 11);
	ct_assert_ttls(p, CACHE_STALE_TTL);
	ldns_pkt_free(p);
	/* Too tight for the text: the code alone; tighter still: nothing. */
	n = ct_answer_raw(c, &q, T0 + 10000, out, sizeof(out), &hit, true);
	assert_int_equal(cache_add_ede(out, n, n + 8, &hit, 3, "stale"), n + 6);
	n = ct_answer_raw(c, &q, T0 + 10000, out, sizeof(out), &hit, true);
	assert_int_equal(cache_add_ede(out, n, n + 5, &hit, 3, "stale"), n);

	/* Up to stale_max after expiry, and not beyond. */
	assert_true(ct_answer_raw(c, &q, T0 + 70000, out, sizeof(out), &hit, true) > 0);
	assert_true(hit.stale);
	assert_int_equal(ct_answer_raw(c, &q, T0 + 70001, out, sizeof(out), &hit, true), 0);
	assert_false(hit.hit);
	assert_int_equal(cache_get_stats(c)->entries, 0);
	assert_int_equal(cache_get_stats(c)->expired, 1);
	assert_int_equal(cache_get_stats(c)->stale_hits, 4);
	cache_free(c);
}

static void test_stale_disabled(void **state)
{
	(void)state;
	cache *c = ct_cache(16, NULL);
	wire_query q;
	cache_hit hit;
	uint8_t out[1232];

	ct_upstream_q(&q, "www.example.com", LDNS_RR_TYPE_A, false, false);
	assert_true(ct_insert(c, &q, ct_a_reply("www.example.com", 10), T0));
	assert_int_equal(ct_answer_raw(c, &q, T0 + 10000, out, sizeof(out), &hit, true), 0);
	assert_int_equal(cache_get_stats(c)->entries, 0);
	cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_decrement),
		cmocka_unit_test(test_expiry_at_ttl),
		cmocka_unit_test(test_min_ttl_clamp),
		cmocka_unit_test(test_max_ttl_clamp),
		cmocka_unit_test(test_case_id_flags),
		cmocka_unit_test(test_opt_for_client),
		cmocka_unit_test(test_do_bit),
		cmocka_unit_test(test_records_after_opt),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_serve_stale),
		cmocka_unit_test(test_stale_disabled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
