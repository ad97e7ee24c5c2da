/*
 * test_xfr.c: the pure parts of the zone transfer server: the journal and
 * its condensed IXFR deltas (xfr_journal.c), the messages of a transfer
 * with their compression (xfr_msg.c), and TSIG (xfr_tsig.c), each checked
 * against ldns as an independent reader and verifier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "resolver/xfr_journal.h"
#include "resolver/xfr_msg.h"
#include "resolver/xfr_tsig.h"

#define ORIGIN "rpz.test."
#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
#define NEVER CFG_TIME_NEVER

/* Rules that change the zone at T0, T0+10 and T0+20. */
static cfg *timeline(void)
{
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", "basis");
	tc_domain(tc_rule(v, "always", CFG_ACT_NXDOMAIN, TC_T0 - 100, NEVER, CFG_BEFORE_AUDIT), "old.example");
	cfg_rule *a = tc_rule(v, "a", CFG_ACT_SINKHOLE, TC_T0, TC_T0 + 20, CFG_BEFORE_AUDIT);
	tc_domain(a, "a.example");
	tc_host(a, "host-a.example");
	cfg_rule *b = tc_rule(v, "b", CFG_ACT_NODATA, TC_T0 + 10, NEVER, CFG_BEFORE_AUDIT);
	tc_domain(b, "b.example");
	return c;
}

static rpz_zone *build(const policy *p, int64_t at, uint32_t serial)
{
	char err[256];
	rpz_params prm = { .origin = ORIGIN, .serial = serial, .ttl = 300 };
	prm.sink4.family = 4;
	prm.sink6.family = 6;
	rpz_zone *z = rpz_build(p, at, &prm, err, sizeof(err));
	assert_non_null(z);
	return z;
}

/* Whether list l holds a record equal to rr (TTL included). */
static bool list_has(const ldns_rr_list *l, const ldns_rr *rr)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		if (ldns_rr_compare(ldns_rr_list_rr(l, i), rr) == 0 &&
		    ldns_rr_ttl(ldns_rr_list_rr(l, i)) == ldns_rr_ttl(rr))
			return true;
	return false;
}

static void same_set(const ldns_rr_list *a, const ldns_rr_list *b)
{
	assert_int_equal(ldns_rr_list_rr_count(a), ldns_rr_list_rr_count(b));
	for (size_t i = 0; i < ldns_rr_list_rr_count(a); i++)
		assert_true(list_has(b, ldns_rr_list_rr(a, i)));
}

static void journal_condenses(void **state)
{
	(void)state;
	cfg *c = timeline();
	policy *p = tc_build(c);
	xfr_journal j;
	xfr_journal_init(&j);
	assert_int_equal(xfr_journal_push(&j, build(p, TC_T0 - 1, 100), true), 0);
	assert_int_equal(xfr_journal_push(&j, build(p, TC_T0, 101), true), 0);
	assert_int_equal(xfr_journal_push(&j, build(p, TC_T0 + 10, 102), true), 0);
	assert_int_equal(xfr_journal_push(&j, build(p, TC_T0 + 20, 103), true), 0);
	assert_int_equal(j.n, 3);

	xfr_ixfr x;
	assert_int_equal(xfr_journal_ixfr(&j, 103, &x), 0);
	assert_int_equal(x.kind, XFR_IXFR_CURRENT);
	assert_int_equal(xfr_journal_ixfr(&j, 99, &x), 0);
	assert_int_equal(x.kind, XFR_IXFR_FULL);

	/* from 100 to 103: a's records came and went again, so only b's */
	rpz_zone *z100 = build(p, TC_T0 - 1, 100), *z103 = build(p, TC_T0 + 20, 103);
	ldns_rr_list *del, *add;
	assert_int_equal(rpz_diff(z100, z103, &del, &add), 0);
	assert_int_equal(xfr_journal_ixfr(&j, 100, &x), 0);
	assert_int_equal(x.kind, XFR_IXFR_DELTA);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(x.soa_from, 2)), 100);
	same_set(x.del, del);
	same_set(x.add, add);
	assert_int_equal(ldns_rr_list_rr_count(x.del), 0);
	assert_int_equal(ldns_rr_list_rr_count(x.add), 2);   /* b.example and *.b.example */
	ldns_rr_list_deep_free(x.del);
	ldns_rr_list_deep_free(x.add);
	ldns_rr_list_deep_free(del);
	ldns_rr_list_deep_free(add);

	/* from 101 (a in force) to 103: a's deleted, b's added */
	assert_int_equal(xfr_journal_ixfr(&j, 101, &x), 0);
	assert_int_equal(x.kind, XFR_IXFR_DELTA);
	rpz_zone *z101 = build(p, TC_T0, 101);
	assert_int_equal(rpz_diff(z101, z103, &del, &add), 0);
	same_set(x.del, del);
	same_set(x.add, add);
	assert_true(ldns_rr_list_rr_count(x.del) > 0);
	ldns_rr_list_deep_free(x.del);
	ldns_rr_list_deep_free(x.add);
	ldns_rr_list_deep_free(del);
	ldns_rr_list_deep_free(add);

	/* a new origin: no history to send */
	char err[256];
	rpz_params prm = { .origin = "other.test.", .serial = 104, .ttl = 300 };
	prm.sink4.family = 4;
	prm.sink6.family = 6;
	rpz_zone *other = rpz_build(p, TC_T0 + 20, &prm, err, sizeof(err));
	assert_non_null(other);
	assert_int_equal(xfr_journal_push(&j, other, false), 0);
	assert_int_equal(j.n, 0);
	assert_int_equal(xfr_journal_ixfr(&j, 103, &x), 0);
	assert_int_equal(x.kind, XFR_IXFR_FULL);

	rpz_free(z100);
	rpz_free(z101);
	rpz_free(z103);
	xfr_journal_clear(&j);
	policy_free(p);
	tc_free(c);
}

static void journal_is_bounded(void **state)
{
	(void)state;
	/* a zone large enough that the count, not the size, bounds it */
	cfg *c = timeline();
	cfg_rule *many = tc_rule(&c->vendors[0], "many", CFG_ACT_NXDOMAIN, 0, NEVER, CFG_BEFORE_AUDIT);
	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof(name), "m%d.example", i);
		tc_host(many, name);
	}
	policy *p = tc_build(c);
	xfr_journal j;
	xfr_journal_init(&j);
	/* flip between two versions: every delta is small, the count bounds it */
	for (uint32_t s = 1; s <= XFR_JOURNAL_MAX + 5; s++)
		assert_int_equal(xfr_journal_push(&j, build(p, s % 2 ? TC_T0 - 1 : TC_T0, s), true), 0);
	assert_int_equal(j.n, XFR_JOURNAL_MAX);
	xfr_ixfr x;
	/* 20 deltas made, the last 16 kept: from 5 on */
	assert_int_equal(xfr_journal_ixfr(&j, 4, &x), 0);
	assert_int_equal(x.kind, XFR_IXFR_FULL);
	assert_int_equal(xfr_journal_ixfr(&j, 5, &x), 0);
	assert_int_equal(x.kind, XFR_IXFR_DELTA);
	ldns_rr_list_deep_free(x.del);
	ldns_rr_list_deep_free(x.add);
	/* a transfer keeps its version alive past a push */
	xfr_zref *r = xfr_zref_take(j.cur);
	assert_int_equal(xfr_journal_push(&j, build(p, TC_T0 + 20, 100), true), 0);
	assert_int_equal(rpz_serial(r->zone), XFR_JOURNAL_MAX + 5);
	xfr_zref_drop(r);
	/* deltas bigger than the zone: the oldest go, an AXFR is smaller */
	cfg *c2 = timeline();
	policy *p2 = tc_build(c2);
	xfr_journal_clear(&j);
	for (uint32_t s = 1; s <= XFR_JOURNAL_MAX; s++)
		assert_int_equal(xfr_journal_push(&j, build(p2, s % 2 ? TC_T0 - 1 : TC_T0, s), true), 0);
	assert_true(j.n < XFR_JOURNAL_MAX && j.n > 1);
	assert_true(j.rrs <= rpz_rr_count(j.cur->zone) + 64);
	policy_free(p2);
	tc_free(c2);
	xfr_journal_clear(&j);
	policy_free(p);
	tc_free(c);
}

/* A policy of n hosts, for transfers of several messages. */
static policy *bulk(cfg **cp, size_t n)
{
	cfg *c = tc_new();
	cfg_rule *r = tc_rule(tc_vendor(c, "bulk", "basis"), "all", CFG_ACT_NXDOMAIN, 0, NEVER,
			      CFG_BEFORE_AUDIT);
	for (size_t i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "h%05zu.p%zu.example", i, i % 13);
		tc_domain(r, name);
	}
	*cp = c;
	return tc_build(c);
}

static xfr_req request(uint16_t qtype, ldns_pkt **out)
{
	ldns_pkt *q = NULL;
	assert_int_equal(ldns_pkt_query_new_frm_str(&q, ORIGIN, qtype, LDNS_RR_CLASS_IN, 0),
			 LDNS_STATUS_OK);
	ldns_pkt_set_id(q, 4242);
	uint8_t *w = NULL;
	size_t len = 0;
	assert_int_equal(ldns_pkt2wire(&w, q, &len), LDNS_STATUS_OK);
	xfr_req r;
	assert_int_equal(xfr_req_parse(w, len, &r), XFR_REQ_OK);
	free(w);
	*out = q;
	return r;
}

static void axfr_messages(void **state)
{
	(void)state;
	cfg *c;
	policy *p = bulk(&c, 3000);
	xfr_journal j;
	xfr_journal_init(&j);
	assert_int_equal(xfr_journal_push(&j, build(p, TC_T0, 7), true), 0);
	ldns_pkt *q;
	xfr_req req = request(LDNS_RR_TYPE_AXFR, &q);
	assert_int_equal(req.qtype, LDNS_RR_TYPE_AXFR);

	xfr_stream s;
	xfr_stream_axfr(&s, &req, j.cur, NULL);
	uint8_t *buf = malloc(XFR_MSG_MAX);
	size_t got = 0, msgs = 0;
	long n;
	const rpz_zone *z = j.cur->zone;
	while ((n = xfr_stream_next(&s, 0, buf)) > 0) {
		assert_true(n <= XFR_MSG_FILL + 600);
		ldns_pkt *m = NULL;
		assert_int_equal(ldns_wire2pkt(&m, buf, (size_t)n), LDNS_STATUS_OK);
		assert_int_equal(ldns_pkt_id(m), 4242);
		assert_true(ldns_pkt_qr(m) && ldns_pkt_aa(m));
		assert_int_equal(ldns_pkt_qdcount(m), msgs == 0 ? 1 : 0);
		ldns_rr_list *an = ldns_pkt_answer(m);
		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++, got++) {
			const ldns_rr *want = got == 0 || got == rpz_rr_count(z) + 1 ? rpz_soa(z)
										  : rpz_rr_at(z, got - 1);
			assert_int_equal(ldns_rr_compare(ldns_rr_list_rr(an, i), want), 0);
		}
		ldns_pkt_free(m);
		msgs++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(got, rpz_rr_count(z) + 2);
	assert_true(msgs >= 3);
	assert_int_equal(s.msgs, msgs);
	/* compressed: well under the uncompressed size */
	size_t plain = 0;
	for (size_t i = 0; i < rpz_rr_count(z); i++)
		plain += ldns_rr_uncompressed_size(rpz_rr_at(z, i));
	assert_true(s.bytes * 2 < plain);
	xfr_stream_clear(&s);
	free(buf);
	xfr_req_clear(&req);
	ldns_pkt_free(q);
	xfr_journal_clear(&j);
	policy_free(p);
	tc_free(c);
}

static void ixfr_messages(void **state)
{
	(void)state;
	cfg *c = timeline();
	policy *p = tc_build(c);
	xfr_journal j;
	xfr_journal_init(&j);
	assert_int_equal(xfr_journal_push(&j, build(p, TC_T0, 1), true), 0);
	assert_int_equal(xfr_journal_push(&j, build(p, TC_T0 + 20, 2), true), 0);
	ldns_pkt *q;
	xfr_req req = request(LDNS_RR_TYPE_IXFR, &q);
	xfr_ixfr x;
	assert_int_equal(xfr_journal_ixfr(&j, 1, &x), 0);
	size_t nd = ldns_rr_list_rr_count(x.del), na = ldns_rr_list_rr_count(x.add);
	xfr_stream s;
	xfr_stream_ixfr(&s, &req, j.cur, &x, NULL);
	uint8_t *buf = malloc(XFR_MSG_MAX);
	long n = xfr_stream_next(&s, 0, buf);
	assert_true(n > 0);
	assert_int_equal(xfr_stream_next(&s, 0, buf + n), 0);
	ldns_pkt *m = NULL;
	assert_int_equal(ldns_wire2pkt(&m, buf, (size_t)n), LDNS_STATUS_OK);
	ldns_rr_list *an = ldns_pkt_answer(m);
	assert_int_equal(ldns_rr_list_rr_count(an), nd + na + 4);
	uint32_t serials[4], k = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(an, i)) == LDNS_RR_TYPE_SOA)
			serials[k++] = ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(an, i), 2));
	assert_int_equal(k, 4);
	assert_int_equal(serials[0], 2);
	assert_int_equal(serials[1], 1);
	assert_int_equal(serials[2], 2);
	assert_int_equal(serials[3], 2);
	ldns_pkt_free(m);
	xfr_stream_clear(&s);
	free(buf);
	xfr_req_clear(&req);
	ldns_pkt_free(q);
	xfr_journal_clear(&j);
	policy_free(p);
	tc_free(c);
}

static xfr_tsig_key key(const char *name, const char *secret)
{
	cfg_tsig_key ck = { .name = (char *)name, .algorithm = "hmac-sha256", .secret = (char *)secret };
	xfr_tsig_key k;
	char err[256];
	assert_int_equal(xfr_tsig_key_init(&k, &ck, err, sizeof(err)), 0);
	return k;
}

/* A request signed with k at time t, as wire in buf; its length. */
static size_t signed_request(const xfr_tsig_key *k, int64_t t, uint8_t *buf)
{
	ldns_pkt *q = NULL;
	ldns_pkt_query_new_frm_str(&q, ORIGIN, LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_set_id(q, 77);
	uint8_t *w = NULL;
	size_t len = 0;
	ldns_pkt2wire(&w, q, &len);
	memcpy(buf, w, len);
	free(w);
	ldns_pkt_free(q);
	xfr_tsig_signer s;
	xfr_tsig_signer_init(&s, k, NULL);
	len = xfr_tsig_sign(&s, buf, len, 1024, t);
	assert_true(len > 0);
	return len;
}

static void tsig_verify(void **state)
{
	(void)state;
	xfr_tsig_key keys[2] = { key("other.", "b3RoZXItb3RoZXItb3RoZXItb3RoZXI="), key("fleet-key.", SECRET) };
	const int64_t t = 1800000000;
	uint8_t buf[1024];
	size_t len = signed_request(&keys[1], t, buf);
	/* ldns, independently, agrees with the signature */
	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, buf, len), LDNS_STATUS_OK);
	assert_true(ldns_pkt_tsig_verify(p, buf, len, "fleet-key.", SECRET, NULL));
	ldns_pkt_free(p);

	xfr_req r;
	const xfr_tsig_key *k;
	assert_int_equal(xfr_req_parse(buf, len, &r), XFR_REQ_OK);
	assert_true(r.has_tsig);
	assert_int_equal(xfr_tsig_verify(keys, 2, buf, len, &r.tsig, NULL, 0, t + 10, &k), XFR_TSIG_OK);
	assert_ptr_equal(k, &keys[1]);
	/* clocks too far apart */
	assert_int_equal(xfr_tsig_verify(keys, 2, buf, len, &r.tsig, NULL, 0, t + 301, &k),
			 XFR_TSIG_BADTIME);
	/* unknown key, wrong secret */
	assert_int_equal(xfr_tsig_verify(keys, 1, buf, len, &r.tsig, NULL, 0, t, &k), XFR_TSIG_BADKEY);
	xfr_tsig_key wrong = key("fleet-key.", "d3JvbmctZ3Jvbmctd3Jvbmctd3JvbmchIQ==");
	assert_int_equal(xfr_tsig_verify(&wrong, 1, buf, len, &r.tsig, NULL, 0, t, &k), XFR_TSIG_BADSIG);
	/* a changed octet of the message */
	buf[3] ^= 0x01;
	assert_int_equal(xfr_tsig_verify(keys, 2, buf, len, &r.tsig, NULL, 0, t, &k), XFR_TSIG_BADSIG);
	xfr_req_clear(&r);
	/* a TSIG that is not the last record: FORMERR */
	buf[3] ^= 0x01;
	uint8_t twice[1200];
	memcpy(twice, buf, len);
	memcpy(twice + len, buf + r.tsig.start, len - r.tsig.start);
	twice[11]++;
	assert_int_equal(xfr_req_parse(twice, len + len - r.tsig.start, &r), XFR_REQ_FORMERR);
	xfr_req_clear(&r);
}

static void tsig_signs_every_message(void **state)
{
	(void)state;
	xfr_tsig_key k = key("fleet-key.", SECRET);
	const int64_t t = 1800000000;
	uint8_t rq[1024];
	size_t rlen = signed_request(&k, t, rq);
	xfr_req req;
	assert_int_equal(xfr_req_parse(rq, rlen, &req), XFR_REQ_OK);

	cfg *c;
	policy *p = bulk(&c, 2000);
	xfr_journal j;
	xfr_journal_init(&j);
	assert_int_equal(xfr_journal_push(&j, build(p, TC_T0, 9), true), 0);
	xfr_tsig_signer sg;
	xfr_tsig_signer_init(&sg, &k, &req.tsig);
	xfr_stream s;
	xfr_stream_axfr(&s, &req, j.cur, &sg);
	uint8_t *buf = malloc(XFR_MSG_MAX);
	ldns_rdf *mac = ldns_native2rdf_int16_data(req.tsig.mac_len, req.tsig.mac);
	long n;
	size_t msgs = 0;
	while ((n = xfr_stream_next(&s, t, buf)) > 0) {
		ldns_pkt *m = NULL;
		assert_int_equal(ldns_wire2pkt(&m, buf, (size_t)n), LDNS_STATUS_OK);
		/* ldns checks the chain: request MAC first, then each prior MAC
		 * with the timers only (RFC 8945 5.3.1) */
		assert_true(ldns_pkt_tsig_verify_next(m, buf, (size_t)n, "fleet-key.", SECRET, mac, msgs > 0));
		ldns_rdf_deep_free(mac);
		mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(m), 3));
		ldns_pkt_free(m);
		msgs++;
	}
	assert_int_equal(n, 0);
	assert_true(msgs >= 2);
	ldns_rdf_deep_free(mac);
	free(buf);
	xfr_stream_clear(&s);
	xfr_req_clear(&req);
	xfr_journal_clear(&j);
	policy_free(p);
	tc_free(c);
}

static void bad_requests(void **state)
{
	(void)state;
	xfr_req r;
	uint8_t shortmsg[5] = { 0 };
	assert_int_equal(xfr_req_parse(shortmsg, 5, &r), XFR_REQ_DROP);
	uint8_t resp[12] = { 1, 2, 0x80 };
	assert_int_equal(xfr_req_parse(resp, 12, &r), XFR_REQ_DROP);
	uint8_t noq[12] = { 1, 2 };
	assert_int_equal(xfr_req_parse(noq, 12, &r), XFR_REQ_FORMERR);
	uint8_t out[512];
	size_t n = xfr_reply_simple(&r, 1, false, NULL, NULL, 0, 0, out, sizeof(out));
	assert_int_equal(n, 12);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[2] & 0x80, 0x80);
	assert_int_equal(out[3] & 0x0f, 1);
	uint8_t upd[12] = { 1, 2, 5 << 3, 0, 0, 1 };
	assert_int_equal(xfr_req_parse(upd, 12, &r), XFR_REQ_NOTIMP);
	xfr_req_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(journal_condenses),
		cmocka_unit_test(journal_is_bounded),
		cmocka_unit_test(axfr_messages),
		cmocka_unit_test(ixfr_messages),
		cmocka_unit_test(tsig_verify),
		cmocka_unit_test(tsig_signs_every_message),
		cmocka_unit_test(bad_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
