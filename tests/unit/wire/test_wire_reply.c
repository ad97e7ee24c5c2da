/*
 * test_wire_reply.c: checking upstream replies (mismatches, compression,
 * CNAME/DNAME chains, TTLs) and rewriting them for the client.
 */
#include "wire_test.h"

#include <stdlib.h>
#include <string.h>

/* An upstream reply built with ldns (which compresses names). */
static ldns_pkt *reply_new(const char *qname, ldns_rr_type qtype, uint16_t id,
			   ldns_pkt_rcode rcode)
{
	ldns_pkt *p = NULL;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, qname, qtype, LDNS_RR_CLASS_IN, LDNS_RD),
			 LDNS_STATUS_OK);
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	return p;
}

static void push(ldns_pkt *p, ldns_pkt_section s, const char *rr_text)
{
	ldns_rr *rr = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&rr, rr_text, 3600, NULL, NULL), LDNS_STATUS_OK);
	assert_true(ldns_pkt_push_rr(p, s, rr));
}

static int check(const uint8_t *buf, size_t n, uint16_t id, const char *qname, uint16_t qtype,
		 wire_reply *r)
{
	uint8_t w[WIRE_NAME_MAX];

	tq_wire_name(qname, w);
	return wire_check_reply(buf, n, id, w, qtype, LDNS_RR_CLASS_IN, r);
}

static void assert_chain(const wire_reply *r, size_t i, const char *name)
{
	uint8_t w[WIRE_NAME_MAX];
	size_t n = tq_wire_name(name, w);

	assert_true(i < r->n_chain);
	assert_int_equal(r->chain_len[i], n);
	assert_memory_equal(r->chain[i], w, n);
}

static void test_chain(void **state)
{
	(void)state;
	uint8_t buf[2048];
	wire_reply r;
	ldns_pkt *p = reply_new("www.example.com", LDNS_RR_TYPE_A, 0x4321, LDNS_RCODE_NOERROR);

	push(p, LDNS_SECTION_ANSWER, "www.example.com. 600 IN CNAME cdn.Tracker.NET.");
	push(p, LDNS_SECTION_ANSWER, "cdn.Tracker.NET. 300 IN CNAME edge.example.com.");
	push(p, LDNS_SECTION_ANSWER, "edge.example.com. 900 IN A 192.0.2.7");
	push(p, LDNS_SECTION_AUTHORITY, "example.com. 200 IN NS ns.example.com.");
	push(p, LDNS_SECTION_ADDITIONAL, "ns.example.com. 10 IN A 192.0.2.53");
	size_t n = tq_encode(p, buf, sizeof(buf));
	ldns_pkt_free(p);

	/* ldns compressed the CNAME targets' suffixes. */
	assert_non_null(memchr(buf + 30, 0xC0, n - 30));
	assert_int_equal(check(buf, n, 0x4321, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_int_equal(r.rcode, 0);
	assert_int_equal(r.ancount, 3);
	assert_int_equal(r.nscount, 1);
	assert_int_equal(r.arcount, 1);
	assert_int_equal(r.question_end, 12 + 17 + 4);
	assert_int_equal(r.end, n);
	assert_false(r.edns);
	assert_int_equal(r.n_chain, 2);
	assert_false(r.chain_overflow);
	assert_chain(&r, 0, "cdn.tracker.net");
	assert_chain(&r, 1, "edge.example.com");
	assert_int_equal(r.min_ttl, 200);   /* additional TTLs do not count */
}

static void test_dname(void **state)
{
	(void)state;
	uint8_t buf[2048];
	wire_reply r;
	ldns_pkt *p = reply_new("a.b.Example.org", LDNS_RR_TYPE_AAAA, 1, LDNS_RCODE_NOERROR);

	push(p, LDNS_SECTION_ANSWER, "example.org. 100 IN DNAME banned.example.");
	push(p, LDNS_SECTION_ANSWER, "a.b.example.org. 100 IN CNAME a.b.banned.example.");
	size_t n = tq_encode(p, buf, sizeof(buf));
	ldns_pkt_free(p);

	assert_int_equal(check(buf, n, 1, "A.B.EXAMPLE.ORG", LDNS_RR_TYPE_AAAA, &r), WIRE_OK);
	assert_int_equal(r.n_chain, 2);
	assert_chain(&r, 0, "banned.example");
	assert_chain(&r, 1, "a.b.banned.example");
	assert_int_equal(r.min_ttl, 100);
}

static void test_mismatch(void **state)
{
	(void)state;
	uint8_t buf[2048];
	wire_reply r;
	ldns_pkt *p = reply_new("www.example.com", LDNS_RR_TYPE_A, 77, LDNS_RCODE_NOERROR);
	push(p, LDNS_SECTION_ANSWER, "www.example.com. 60 IN A 192.0.2.1");
	size_t n = tq_encode(p, buf, sizeof(buf));

	/* Case does not matter. */
	assert_int_equal(check(buf, n, 77, "WWW.Example.COM", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_int_equal(r.min_ttl, 60);
	assert_int_equal(check(buf, n, 78, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMISMATCH);
	assert_int_equal(check(buf, n, 77, "www.example.net", LDNS_RR_TYPE_A, &r), WIRE_EMISMATCH);
	assert_int_equal(check(buf, n, 77, "ww.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMISMATCH);
	assert_int_equal(check(buf, n, 77, "www.example.com", LDNS_RR_TYPE_AAAA, &r), WIRE_EMISMATCH);
	uint8_t w[WIRE_NAME_MAX];
	tq_wire_name("www.example.com", w);
	assert_int_equal(wire_check_reply(buf, n, 77, w, LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH, &r),
			 WIRE_EMISMATCH);

	/* QR clear: a query, not a reply. */
	buf[2] &= 0x7F;
	assert_int_equal(check(buf, n, 77, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMISMATCH);
	buf[2] |= 0x80;
	/* QDCOUNT 0. */
	buf[5] = 0;
	assert_int_equal(check(buf, n, 77, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMISMATCH);
	buf[5] = 1;
	assert_int_equal(check(buf, 11, 77, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMALFORMED);
	/* Every truncation inside the records is malformed (TC is clear). */
	for (size_t cut = 12; cut < n; cut++)
		assert_int_not_equal(check(buf, cut, 77, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	/* With TC a truncated reply is partial. */
	buf[2] |= 0x02;
	assert_int_equal(check(buf, n - 1, 77, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_true(r.partial);
	assert_true(r.tc);
	ldns_pkt_free(p);
}

/* A reply by hand: question www.example.com A, then answer bytes. */
static void hand_reply(tq_pkt *p, uint16_t an)
{
	tq_hdr(p, 5, WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA, 1, an, 0, 0);
	tq_name(p, "www.example.com");
	tq_u16(p, LDNS_RR_TYPE_A);
	tq_u16(p, LDNS_RR_CLASS_IN);
}

static void test_compression_loops(void **state)
{
	(void)state;
	tq_pkt p;
	wire_reply r;
	uint8_t name[WIRE_NAME_MAX];
	size_t nl, end;

	/* A CNAME whose target points at itself. */
	hand_reply(&p, 1);
	tq_u16(&p, 0xC00C);
	tq_u16(&p, LDNS_RR_TYPE_CNAME);
	tq_u16(&p, 1);
	tq_u32(&p, 60);
	tq_u16(&p, 2);
	tq_u16(&p, (uint16_t)(0xC000 | p.n));
	assert_int_equal(check(p.b, p.n, 5, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMALFORMED);

	/* A label followed by a pointer back to that label: loops without the
	 * "before the current run" rule. */
	hand_reply(&p, 1);
	tq_u16(&p, 0xC00C);
	tq_u16(&p, LDNS_RR_TYPE_CNAME);
	tq_u16(&p, 1);
	tq_u32(&p, 60);
	tq_u16(&p, 4);
	size_t at = p.n;
	tq_bytes(&p, "\1a", 2);
	tq_u16(&p, (uint16_t)(0xC000 | at));
	assert_int_equal(check(p.b, p.n, 5, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMALFORMED);
	assert_int_equal(wire_read_name(p.b, p.n, at, name, &nl, &end), WIRE_EMALFORMED);

	/* Two names pointing at each other. */
	tq_hdr(&p, 0, 0, 0, 0, 0, 0);
	tq_bytes(&p, "\1a\300\020\1b\300\014", 8);   /* 12: a -> 16, 16: b -> 12 */
	assert_int_equal(wire_read_name(p.b, p.n, 12, name, &nl, &end), WIRE_EMALFORMED);
	assert_int_equal(wire_read_name(p.b, p.n, 16, name, &nl, &end), WIRE_EMALFORMED);

	/* A forward pointer, and one into the header. */
	tq_hdr(&p, 0, 0, 0, 0, 0, 0);
	tq_bytes(&p, "\300\016\1a\0", 5);
	assert_int_equal(wire_read_name(p.b, p.n, 12, name, &nl, &end), WIRE_EMALFORMED);
	assert_int_equal(wire_read_name(p.b, p.n, 14, name, &nl, &end), WIRE_OK);
	tq_hdr(&p, 0, 0, 0, 0, 0, 0);
	tq_bytes(&p, "\300\002", 2);
	assert_int_equal(wire_read_name(p.b, p.n, 12, name, &nl, &end), WIRE_EMALFORMED);

	/* A legal chain of pointers: c -> b -> a, read lower-cased. */
	tq_hdr(&p, 0, 0, 0, 0, 0, 0);
	tq_bytes(&p, "\1A\0\1B\300\014\1c\300\017", 11);
	assert_int_equal(wire_read_name(p.b, p.n, 19, name, &nl, &end), WIRE_OK);
	assert_int_equal(nl, 7);
	assert_memory_equal(name, "\1c\1b\1a\0", 7);
	assert_int_equal(end, 23);
	assert_int_equal(wire_skip_name(p.b, p.n, 19, &end), WIRE_OK);
	assert_int_equal(end, 23);

	/* A name of more than 255 octets through pointers. */
	tq_hdr(&p, 0, 0, 0, 0, 0, 0);
	size_t prev = 0;
	for (int i = 0; i < 5; i++) {
		size_t here = p.n;
		tq_u8(&p, 63);
		for (int j = 0; j < 63; j++)
			tq_u8(&p, 'x');
		if (prev)
			tq_u16(&p, (uint16_t)(0xC000 | prev));
		else
			tq_u8(&p, 0);
		prev = here;
	}
	assert_int_equal(wire_read_name(p.b, p.n, prev, name, &nl, &end), WIRE_EMALFORMED);
}

/* A CNAME target compressed into a TTL (or another fixed field) would read
 * differently once the cache counts the TTL down: refused (fuzz_reply). */
static void test_target_in_fixed_fields(void **state)
{
	(void)state;
	tq_pkt p;
	wire_reply r;

	/* An A record with TTL 256 (00 00 01 00), then a CNAME whose target
	 * points at the TTL's last octet, 0: the root, until it is 255. */
	hand_reply(&p, 2);
	tq_u16(&p, 0xC00C);
	tq_u16(&p, LDNS_RR_TYPE_A);
	tq_u16(&p, 1);
	size_t ttl_at = p.n;
	tq_u32(&p, 256);
	tq_u16(&p, 4);
	tq_bytes(&p, "\300\0\2\1", 4);
	tq_u16(&p, 0xC00C);
	tq_u16(&p, LDNS_RR_TYPE_CNAME);
	tq_u16(&p, 1);
	tq_u32(&p, 60);
	tq_u16(&p, 2);
	tq_u16(&p, (uint16_t)(0xC000 | (ttl_at + 3)));
	assert_int_equal(check(p.b, p.n, 5, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMALFORMED);

	/* A CNAME pointing into its own RDLENGTH (00 02: the root, too). */
	hand_reply(&p, 1);
	tq_u16(&p, 0xC00C);
	tq_u16(&p, LDNS_RR_TYPE_CNAME);
	tq_u16(&p, 1);
	tq_u32(&p, 60);
	size_t rdlen_at = p.n;
	tq_u16(&p, 2);
	tq_u16(&p, (uint16_t)(0xC000 | rdlen_at));
	assert_int_equal(check(p.b, p.n, 5, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMALFORMED);

	/* The same target name compressed into the A record's RDATA is fine:
	 * RDATA is never rewritten. */
	hand_reply(&p, 2);
	tq_u16(&p, 0xC00C);
	tq_u16(&p, LDNS_RR_TYPE_A);
	tq_u16(&p, 1);
	tq_u32(&p, 256);
	tq_u16(&p, 4);
	size_t rdata_at = p.n;
	tq_bytes(&p, "\1a\0\1", 4);
	tq_u16(&p, 0xC00C);
	tq_u16(&p, LDNS_RR_TYPE_CNAME);
	tq_u16(&p, 1);
	tq_u32(&p, 60);
	tq_u16(&p, 2);
	tq_u16(&p, (uint16_t)(0xC000 | rdata_at));
	assert_int_equal(check(p.b, p.n, 5, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_chain(&r, 0, "a");
}

static void test_negative_ttl(void **state)
{
	(void)state;
	uint8_t buf[2048];
	wire_reply r;
	ldns_pkt *p = reply_new("nx.example.com", LDNS_RR_TYPE_A, 9, LDNS_RCODE_NXDOMAIN);

	push(p, LDNS_SECTION_AUTHORITY,
	     "example.com. 3600 IN SOA ns.example.com. host.example.com. 1 7200 900 1209600 300");
	size_t n = tq_encode(p, buf, sizeof(buf));
	ldns_pkt_free(p);
	assert_int_equal(check(buf, n, 9, "nx.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_int_equal(r.rcode, LDNS_RCODE_NXDOMAIN);
	assert_int_equal(r.min_ttl, 300);
	assert_int_equal(r.n_chain, 0);

	/* SOA TTL below MINIMUM wins. */
	p = reply_new("nx.example.com", LDNS_RR_TYPE_A, 9, LDNS_RCODE_NOERROR);
	push(p, LDNS_SECTION_AUTHORITY,
	     "example.com. 30 IN SOA ns.example.com. host.example.com. 1 7200 900 1209600 300");
	n = tq_encode(p, buf, sizeof(buf));
	ldns_pkt_free(p);
	assert_int_equal(check(buf, n, 9, "nx.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_int_equal(r.min_ttl, 30);

	/* No records: no TTL. */
	p = reply_new("nx.example.com", LDNS_RR_TYPE_A, 9, LDNS_RCODE_SERVFAIL);
	n = tq_encode(p, buf, sizeof(buf));
	ldns_pkt_free(p);
	assert_int_equal(check(buf, n, 9, "nx.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_int_equal(r.min_ttl, WIRE_TTL_NONE);
	assert_int_equal(r.rcode, LDNS_RCODE_SERVFAIL);

	/* A TTL with the top bit set counts as 0. */
	tq_pkt h;
	hand_reply(&h, 1);
	tq_u16(&h, 0xC00C);
	tq_u16(&h, LDNS_RR_TYPE_A);
	tq_u16(&h, 1);
	tq_u32(&h, 0x80000010);
	tq_u16(&h, 4);
	tq_u32(&h, 0x7f000001);
	assert_int_equal(check(h.b, h.n, 5, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_int_equal(r.min_ttl, 0);

	/* A SOA whose RDATA is short is malformed. */
	hand_reply(&h, 0);
	h.b[9] = 1;   /* NSCOUNT */
	tq_u16(&h, 0xC010);
	tq_u16(&h, LDNS_RR_TYPE_SOA);
	tq_u16(&h, 1);
	tq_u32(&h, 60);
	tq_u16(&h, 6);
	tq_bytes(&h, "\0\0\0\0\0\0", 6);
	assert_int_equal(check(h.b, h.n, 5, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMALFORMED);
}

static void test_opt_rcode(void **state)
{
	(void)state;
	uint8_t buf[2048];
	wire_reply r;
	ldns_pkt *p = reply_new("example.com", LDNS_RR_TYPE_A, 9, 0);

	ldns_pkt_set_edns_udp_size(p, 1232);
	ldns_pkt_set_edns_extended_rcode(p, 1);
	ldns_pkt_set_edns_do(p, true);
	size_t n = tq_encode(p, buf, sizeof(buf));
	ldns_pkt_free(p);
	assert_int_equal(check(buf, n, 9, "example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_true(r.edns);
	assert_true(r.edns_do);
	assert_int_equal(r.edns_udp, 1232);
	assert_int_equal(r.rcode, WIRE_RCODE_BADVERS);
	assert_int_equal(r.opt_index, 0);
	assert_int_equal(r.opt_end, n);

	/* Two OPTs, or an OPT in the answer, are malformed. */
	tq_pkt h;
	hand_reply(&h, 0);
	h.b[11] = 2;
	tq_opt(&h, 1232, 0, NULL, 0);
	tq_opt(&h, 1232, 0, NULL, 0);
	assert_int_equal(check(h.b, h.n, 5, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMALFORMED);
	hand_reply(&h, 1);
	tq_opt(&h, 1232, 0, NULL, 0);
	assert_int_equal(check(h.b, h.n, 5, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_EMALFORMED);
}

static void test_chain_overflow(void **state)
{
	(void)state;
	uint8_t buf[8192];
	wire_reply r;
	char rr[128];
	ldns_pkt *p = reply_new("c0.example", LDNS_RR_TYPE_A, 2, 0);

	for (int i = 0; i < WIRE_CHAIN_MAX + 1; i++) {
		snprintf(rr, sizeof(rr), "c%d.example. 60 IN CNAME c%d.example.", i, i + 1);
		push(p, LDNS_SECTION_ANSWER, rr);
	}
	size_t n = tq_encode(p, buf, sizeof(buf));
	ldns_pkt_free(p);
	assert_int_equal(check(buf, n, 2, "c0.example", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_int_equal(r.n_chain, WIRE_CHAIN_MAX);
	assert_true(r.chain_overflow);
	assert_chain(&r, WIRE_CHAIN_MAX - 1, "c16.example");
}

/* The client query for the rewrite tests: WwW.ExAmPlE.CoM A. */
static void client_query(wire_query *q, tq_pkt *p, bool edns)
{
	tq_hdr(p, 0x7777, WIRE_FLAG_RD, 1, 0, 0, edns ? 1 : 0);
	tq_name(p, "WwW.ExAmPlE.CoM");
	tq_u16(p, LDNS_RR_TYPE_A);
	tq_u16(p, LDNS_RR_CLASS_IN);
	if (edns)
		tq_opt(p, 4096, WIRE_OPT_DO_TEST, NULL, 0);
	assert_int_equal(wire_parse_query(p->b, p->n, q), WIRE_OK);
}

/* An upstream reply with `n_a` A records, an OPT, and glue after the OPT
 * when glue_after is set (built by hand for that order). */
static void big_reply(tq_pkt *p, int n_a, bool glue_after)
{
	tq_hdr(p, 0x1111, WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA, 1, (uint16_t)n_a, 0,
	       glue_after ? 2 : 1);
	tq_name(p, "www.example.com");
	tq_u16(p, LDNS_RR_TYPE_A);
	tq_u16(p, LDNS_RR_CLASS_IN);
	for (int i = 0; i < n_a; i++) {
		tq_u16(p, 0xC00C);
		tq_u16(p, LDNS_RR_TYPE_A);
		tq_u16(p, 1);
		tq_u32(p, 60);
		tq_u16(p, 4);
		tq_u32(p, 0xC0000200u + (uint32_t)i);
	}
	static const uint8_t ede[] = { 0, 15, 0, 2, 0, 3 };
	tq_opt(p, 1232, 0, ede, sizeof(ede));
	if (glue_after) {
		tq_u16(p, 0xC00C);
		tq_u16(p, LDNS_RR_TYPE_AAAA);
		tq_u16(p, 1);
		tq_u32(p, 60);
		tq_u16(p, 16);
		tq_bytes(p, "0123456789abcdef", 16);
	}
}

static void test_to_client(void **state)
{
	(void)state;
	tq_pkt cq, up;
	wire_query q;
	wire_reply r;
	uint8_t out[4096];

	/* EDNS client: ID and case restored, the upstream's OPT kept. */
	client_query(&q, &cq, true);
	big_reply(&up, 3, false);
	assert_int_equal(check(up.b, up.n, 0x1111, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	size_t n = wire_reply_to_client(up.b, up.n, &r, &q, false, out, wire_udp_limit(&q));
	assert_int_equal(n, up.n);
	assert_memory_equal(out + 12, q.qname, q.qname_len);
	ldns_pkt *lp = tq_ldns(out, n);
	assert_int_equal(ldns_pkt_id(lp), 0x7777);
	assert_int_equal(ldns_pkt_ancount(lp), 3);
	assert_true(ldns_pkt_edns(lp));
	const uint8_t *d;
	size_t dl;
	assert_true(tq_edns_option(lp, WIRE_OPT_EDE, &d, &dl));
	ldns_pkt_free(lp);

	/* Client without EDNS: the OPT is removed. */
	client_query(&q, &cq, false);
	n = wire_reply_to_client(up.b, up.n, &r, &q, false, out, wire_udp_limit(&q));
	assert_int_equal(n, up.n - 17);
	lp = tq_ldns(out, n);
	assert_false(ldns_pkt_edns(lp));
	assert_int_equal(ldns_pkt_arcount(lp), 0);
	assert_int_equal(ldns_pkt_ancount(lp), 3);
	assert_int_equal(ldns_pkt_id(lp), 0x7777);
	ldns_pkt_free(lp);

	/* ... with the records after it, when it is not last. */
	big_reply(&up, 3, true);
	assert_int_equal(check(up.b, up.n, 0x1111, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_int_equal(r.opt_index, 0);
	n = wire_reply_to_client(up.b, up.n, &r, &q, false, out, wire_udp_limit(&q));
	lp = tq_ldns(out, n);
	assert_false(ldns_pkt_edns(lp));
	assert_int_equal(ldns_pkt_arcount(lp), 0);
	ldns_pkt_free(lp);

	/* Trailing garbage is not passed on. */
	big_reply(&up, 1, false);
	tq_bytes(&up, "junk", 4);
	assert_int_equal(check(up.b, up.n, 0x1111, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	client_query(&q, &cq, true);
	assert_int_equal(wire_reply_to_client(up.b, up.n, &r, &q, false, out, 512), up.n - 4);
}

/* The client's DO bit wins over the upstream's in the answer (RFC 3225). */
static void test_to_client_do_bit(void **state)
{
	(void)state;
	tq_pkt cq, up;
	wire_query q;
	wire_reply r;
	uint8_t out[4096];

	client_query(&q, &cq, true);  /* DO set */
	big_reply(&up, 2, false);
	assert_int_equal(check(up.b, up.n, 0x1111, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	up.b[r.opt_ttl + 2] &= 0x7f;  /* the upstream cleared DO */
	size_t n = wire_reply_to_client(up.b, up.n, &r, &q, false, out, sizeof(out));
	ldns_pkt *lp = tq_ldns(out, n);
	assert_true(ldns_pkt_edns(lp));
	assert_true(ldns_pkt_edns_do(lp));
	ldns_pkt_free(lp);

	/* an EDNS client without DO, an upstream that set it */
	tq_hdr(&cq, 0x7777, WIRE_FLAG_RD, 1, 0, 0, 1);
	tq_name(&cq, "www.example.com");
	tq_u16(&cq, LDNS_RR_TYPE_A);
	tq_u16(&cq, LDNS_RR_CLASS_IN);
	tq_opt(&cq, 4096, 0, NULL, 0);
	assert_int_equal(wire_parse_query(cq.b, cq.n, &q), WIRE_OK);
	assert_false(q.edns_do);
	up.b[r.opt_ttl + 2] |= 0x80;
	n = wire_reply_to_client(up.b, up.n, &r, &q, false, out, sizeof(out));
	lp = tq_ldns(out, n);
	assert_true(ldns_pkt_edns(lp));
	assert_false(ldns_pkt_edns_do(lp));
	ldns_pkt_free(lp);
}

static void test_to_client_truncate(void **state)
{
	(void)state;
	tq_pkt cq, up;
	wire_query q;
	wire_reply r;
	uint8_t out[4096];

	/* 40 A records: 33 + 40 * 16 > 512 without EDNS: TC, header + question. */
	client_query(&q, &cq, false);
	big_reply(&up, 40, false);
	assert_int_equal(check(up.b, up.n, 0x1111, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	size_t n = wire_reply_to_client(up.b, up.n, &r, &q, false, out, wire_udp_limit(&q));
	assert_int_equal(n, 12 + 17 + 4);
	ldns_pkt *lp = tq_ldns(out, n);
	assert_true(ldns_pkt_tc(lp));
	assert_true(ldns_pkt_qr(lp));
	assert_true(ldns_pkt_ra(lp));
	assert_int_equal(ldns_pkt_id(lp), 0x7777);
	assert_int_equal(ldns_pkt_qdcount(lp), 1);
	assert_int_equal(ldns_pkt_ancount(lp), 0);
	assert_false(ldns_pkt_edns(lp));
	ldns_pkt_free(lp);
	assert_memory_equal(out + 12, q.qname, q.qname_len);

	/* The same to an EDNS client with 512 octets: TC with our OPT. */
	client_query(&q, &cq, true);
	n = wire_reply_to_client(up.b, up.n, &r, &q, false, out, 512);
	assert_int_equal(n, 12 + 17 + 4 + 11);
	lp = tq_ldns(out, n);
	assert_true(ldns_pkt_tc(lp));
	assert_true(ldns_pkt_edns(lp));
	assert_true(ldns_pkt_edns_do(lp));
	ldns_pkt_free(lp);

	/* Fits in 1232 whole; over TCP too. */
	assert_int_equal(wire_reply_to_client(up.b, up.n, &r, &q, false, out, 1232), up.n);
	assert_int_equal(wire_reply_to_client(up.b, up.n, &r, &q, false, out, WIRE_TCP_MAX), up.n);

	/* A big additional section is dropped without TC when the rest fits. */
	tq_hdr(&up, 0x1111, WIRE_FLAG_QR | WIRE_FLAG_RA, 1, 1, 0, 30);
	tq_name(&up, "www.example.com");
	tq_u16(&up, LDNS_RR_TYPE_A);
	tq_u16(&up, 1);
	for (int i = 0; i < 31; i++) {
		tq_u16(&up, 0xC00C);
		tq_u16(&up, LDNS_RR_TYPE_A);
		tq_u16(&up, 1);
		tq_u32(&up, 60);
		tq_u16(&up, 4);
		tq_u32(&up, 0x0A000000u + (uint32_t)i);
	}
	assert_int_equal(check(up.b, up.n, 0x1111, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	client_query(&q, &cq, false);
	n = wire_reply_to_client(up.b, up.n, &r, &q, false, out, 512);
	assert_int_equal(n, 12 + 17 + 4 + 16);
	lp = tq_ldns(out, n);
	assert_false(ldns_pkt_tc(lp));
	assert_int_equal(ldns_pkt_ancount(lp), 1);
	assert_int_equal(ldns_pkt_arcount(lp), 0);
	ldns_pkt_free(lp);
	client_query(&q, &cq, true);
	n = wire_reply_to_client(up.b, up.n, &r, &q, false, out, 512);
	assert_int_equal(n, 12 + 17 + 4 + 16 + 11);
	lp = tq_ldns(out, n);
	assert_false(ldns_pkt_tc(lp));
	assert_true(ldns_pkt_edns(lp));
	ldns_pkt_free(lp);

	/* A partial (TC) reply is passed on as TC, header + question. */
	big_reply(&up, 3, false);
	up.b[2] |= 0x02;
	assert_int_equal(check(up.b, up.n - 5, 0x1111, "www.example.com", LDNS_RR_TYPE_A, &r), WIRE_OK);
	assert_true(r.partial);
	n = wire_reply_to_client(up.b, up.n - 5, &r, &q, false, out, 512);
	assert_int_equal(n, 12 + 17 + 4 + 11);
	lp = tq_ldns(out, n);
	assert_true(ldns_pkt_tc(lp));
	ldns_pkt_free(lp);

	/* Too small for anything; a reply for another question. */
	assert_int_equal(wire_reply_to_client(up.b, up.n - 5, &r, &q, false, out, 20), 0);
	wire_query other = q;
	other.qname_len = 3;
	assert_int_equal(wire_reply_to_client(up.b, up.n - 5, &r, &other, false, out, 512), 0);
}

static void test_name_helpers(void **state)
{
	(void)state;
	assert_true(wire_name_equal_ci((const uint8_t *)"\1A\0", 3, (const uint8_t *)"\1a\0", 3));
	assert_false(wire_name_equal_ci((const uint8_t *)"\1A\0", 3, (const uint8_t *)"\1b\0", 3));
	assert_false(wire_name_equal_ci((const uint8_t *)"\1A\0", 3, (const uint8_t *)"\0", 1));
	assert_int_equal(wire_name_len((const uint8_t *)"\3www\0", 5), 5);
	assert_int_equal(wire_name_len((const uint8_t *)"\3www\0", 4), 0);
	assert_int_equal(wire_name_len((const uint8_t *)"\100ab", 255), 0);
	assert_int_equal(wire_name_len(NULL, 255), 0);
	assert_string_equal(wire_strerror(WIRE_EMISMATCH), "mismatch");
	assert_string_equal(wire_strerror(42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_dname),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_compression_loops),
		cmocka_unit_test(test_target_in_fixed_fields),
		cmocka_unit_test(test_negative_ttl),
		cmocka_unit_test(test_opt_rcode),
		cmocka_unit_test(test_chain_overflow),
		cmocka_unit_test(test_to_client),
		cmocka_unit_test(test_to_client_truncate),
		cmocka_unit_test(test_to_client_do_bit),
		cmocka_unit_test(test_name_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
