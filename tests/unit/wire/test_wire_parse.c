/*
 * test_wire_parse.c: wire_parse_query on good and hostile queries, and the
 * upstream query wire_build_forward makes from them.
 */
#include "wire_test.h"

#include <string.h>

static void test_basic(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;

	/* By hand, to control the case of every octet. */
	tq_hdr(&p, 0x1234, WIRE_FLAG_RD | WIRE_FLAG_CD, 1, 0, 0, 0);
	tq_name(&p, "Www.ExAmple.COM");
	tq_u16(&p, LDNS_RR_TYPE_AAAA);
	tq_u16(&p, LDNS_RR_CLASS_IN);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_OK);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.opcode, 0);
	assert_true(q.rd);
	assert_true(q.cd);
	assert_false(q.ad);
	assert_true(q.has_question);
	assert_int_equal(q.qname_off, 12);
	assert_int_equal(q.qname_len, 17);
	assert_memory_equal(q.qname, "\3Www\7ExAmple\3COM", 17);
	assert_int_equal(q.qtype, LDNS_RR_TYPE_AAAA);
	assert_int_equal(q.qclass, LDNS_RR_CLASS_IN);
	assert_int_equal(q.question_end, p.n);
	assert_false(q.edns);
	assert_int_equal(wire_udp_limit(&q), 512);

	/* Trailing garbage after the declared sections is ignored. */
	tq_bytes(&p, "garbage", 7);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_OK);
	assert_int_equal(q.question_end, p.n - 7);
}

static void test_edns(void **state)
{
	(void)state;
	uint8_t buf[512];
	wire_query q;
	static const uint8_t opts[] = { 0, 8, 0, 4, 0, 1, 24, 0 };   /* ECS */
	tq_opts o = { .id = 7, .edns = true, .dnssec_ok = true, .udp = 4096,
		      .opts = opts, .opts_len = sizeof(opts) };

	tq_parse(&q, buf, sizeof(buf), "example.org", LDNS_RR_TYPE_A, &o, WIRE_OK);
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_int_equal(q.edns_version, 0);
	assert_int_equal(q.edns_udp, 4096);
	assert_int_equal(wire_udp_limit(&q), WIRE_EDNS_UDP);
	assert_int_equal(q.edns_opts_len, sizeof(opts));
	assert_memory_equal(q.edns_opts, opts, sizeof(opts));
	assert_true(q.edns_opts >= buf && q.edns_opts + q.edns_opts_len <= buf + sizeof(buf));

	/* A UDP size below 512 means 512. */
	o.udp = 100;
	o.dnssec_ok = false;
	tq_parse(&q, buf, sizeof(buf), "example.org", LDNS_RR_TYPE_A, &o, WIRE_OK);
	assert_int_equal(q.edns_udp, 512);
	assert_false(q.edns_do);
	assert_int_equal(wire_udp_limit(&q), 512);
}

static void test_drop(void **state)
{
	(void)state;
	uint8_t buf[512] = { 0 };
	wire_query q;

	assert_int_equal(wire_parse_query(buf, 0, &q), WIRE_EDROP);
	assert_int_equal(wire_parse_query(NULL, 0, &q), WIRE_EDROP);
	size_t n = tq_build(buf, sizeof(buf), "example.org", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(wire_parse_query(buf, 11, &q), WIRE_EDROP);
	buf[2] |= 0x80;   /* QR: a response; answering it could loop */
	assert_int_equal(wire_parse_query(buf, n, &q), WIRE_EDROP);
}

static void test_qdcount(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;
	uint8_t out[512];

	tq_hdr(&p, 9, WIRE_FLAG_RD, 0, 0, 0, 0);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);
	assert_false(q.has_question);
	/* FORMERR echoes the header only. */
	size_t n = wire_build_error(&q, WIRE_RCODE_FORMERR, WIRE_EDE_NONE, NULL, out, sizeof(out));
	assert_int_equal(n, 12);
	ldns_pkt *lp = tq_ldns(out, n);
	assert_int_equal(ldns_pkt_id(lp), 9);
	assert_int_equal(ldns_pkt_get_rcode(lp), LDNS_RCODE_FORMERR);
	assert_true(ldns_pkt_qr(lp));
	assert_true(ldns_pkt_rd(lp));
	assert_int_equal(ldns_pkt_qdcount(lp), 0);
	ldns_pkt_free(lp);

	tq_hdr(&p, 9, 0, 2, 0, 0, 0);
	tq_name(&p, "a.example");
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	tq_name(&p, "b.example");
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);
}

static void test_bad_qname(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;
	char label[64 + 1];

	/* A compression pointer in the qname. */
	tq_hdr(&p, 1, 0, 1, 0, 0, 0);
	tq_bytes(&p, "\3www\300\014", 6);
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);
	assert_false(q.has_question);

	/* A 64-octet label. */
	memset(label, 'a', 64);
	label[64] = 0;
	tq_hdr(&p, 1, 0, 1, 0, 0, 0);
	tq_name(&p, label);
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);

	/* 255 octets is the limit, 256 is over. */
	char l63[64], l61[62], l62[63], name[300];
	memset(l63, 'x', 63);
	l63[63] = 0;
	memset(l61, 'y', 61);
	l61[61] = 0;
	memset(l62, 'y', 62);
	l62[62] = 0;
	snprintf(name, sizeof(name), "%s.%s.%s.%s", l63, l63, l63, l61);
	tq_hdr(&p, 1, 0, 1, 0, 0, 0);
	tq_name(&p, name);
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_OK);
	assert_int_equal(q.qname_len, 255);
	snprintf(name, sizeof(name), "%s.%s.%s.%s", l63, l63, l63, l62);
	tq_hdr(&p, 1, 0, 1, 0, 0, 0);
	tq_name(&p, name);
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);

	/* Label types 0x40 and 0x80. */
	tq_hdr(&p, 1, 0, 1, 0, 0, 0);
	tq_bytes(&p, "\101a\0", 3);
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);
}

static void test_truncated_question(void **state)
{
	(void)state;
	uint8_t buf[512];
	wire_query q;
	size_t n = tq_build(buf, sizeof(buf), "www.example.org", LDNS_RR_TYPE_A, NULL);

	/* Every proper prefix longer than the header is a truncated question. */
	for (size_t cut = 12; cut < n; cut++)
		assert_int_equal(wire_parse_query(buf, cut, &q), WIRE_EFORMERR);
	assert_int_equal(wire_parse_query(buf, n, &q), WIRE_OK);
}

static void test_opt_errors(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;

	/* Two OPTs. */
	tq_hdr(&p, 1, 0, 1, 0, 0, 2);
	tq_name(&p, "example.org");
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	tq_opt(&p, 1232, 0, NULL, 0);
	tq_opt(&p, 1232, 0, NULL, 0);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);
	assert_true(q.has_question);
	assert_false(q.edns);

	/* OPT in the answer section. */
	tq_hdr(&p, 1, 0, 1, 1, 0, 0);
	tq_name(&p, "example.org");
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	tq_opt(&p, 1232, 0, NULL, 0);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);

	/* OPT with a non-root owner. */
	tq_hdr(&p, 1, 0, 1, 0, 0, 1);
	tq_name(&p, "example.org");
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	tq_name(&p, "x");
	tq_u16(&p, LDNS_RR_TYPE_OPT);
	tq_u16(&p, 1232);
	tq_u32(&p, 0);
	tq_u16(&p, 0);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);

	/* An option running past the RDATA. */
	static const uint8_t bad[] = { 0, 8, 0, 9, 0, 1 };
	tq_hdr(&p, 1, 0, 1, 0, 0, 1);
	tq_name(&p, "example.org");
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	tq_opt(&p, 1232, 0, bad, sizeof(bad));
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);

	/* ARCOUNT promises a record that is not there. */
	tq_hdr(&p, 1, 0, 1, 0, 0, 1);
	tq_name(&p, "example.org");
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	tq_bytes(&p, "\0\0\51", 3);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);
}

static void test_records_skipped(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;

	/* An answer record with a compressed owner, then the OPT. */
	tq_hdr(&p, 1, 0, 1, 1, 0, 1);
	tq_name(&p, "example.org");
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	tq_u16(&p, 0xC00C);
	tq_u16(&p, 1);
	tq_u16(&p, 1);
	tq_u32(&p, 60);
	tq_u16(&p, 4);
	tq_u32(&p, 0x7f000001);
	tq_opt(&p, 2048, WIRE_OPT_DO_TEST, NULL, 0);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_OK);
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_int_equal(q.edns_udp, 2048);

	/* A forward pointer in a skipped record is malformed. */
	p.b[p.n - 11 - 14 - 1] = 0x40;   /* owner pointer -> offset 0x40 */
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_EFORMERR);
}

static void test_badvers(void **state)
{
	(void)state;
	uint8_t buf[512], out[512];
	wire_query q;
	tq_opts o = { .id = 77, .edns = true, .version = 1, .dnssec_ok = true };

	tq_parse(&q, buf, sizeof(buf), "example.org", LDNS_RR_TYPE_A, &o, WIRE_EBADVERS);
	assert_true(q.edns);
	assert_int_equal(q.edns_version, 1);
	size_t n = wire_build_error(&q, WIRE_RCODE_BADVERS, WIRE_EDE_NONE, NULL, out, sizeof(out));
	ldns_pkt *lp = tq_ldns(out, n);
	assert_int_equal(ldns_pkt_id(lp), 77);
	assert_int_equal(ldns_pkt_get_rcode(lp), 0);          /* low 4 bits of 16 */
	assert_int_equal(ldns_pkt_edns_extended_rcode(lp), 1); /* 16 >> 4 */
	assert_int_equal(ldns_pkt_edns_version(lp), 0);
	assert_true(ldns_pkt_edns_do(lp));
	assert_int_equal(ldns_pkt_qdcount(lp), 1);
	ldns_pkt_free(lp);
}

static void test_notimp(void **state)
{
	(void)state;
	uint8_t buf[512], out[512];
	wire_query q;
	ldns_pkt *p = NULL;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, "Zone.Example", LDNS_RR_TYPE_SOA,
						    LDNS_RR_CLASS_IN, 0), LDNS_STATUS_OK);
	ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
	ldns_pkt_set_id(p, 4242);
	ldns_pkt_set_edns_udp_size(p, 1400);
	size_t n = tq_encode(p, buf, sizeof(buf));
	ldns_pkt_free(p);

	assert_int_equal(wire_parse_query(buf, n, &q), WIRE_ENOTIMP);
	assert_int_equal(q.opcode, LDNS_PACKET_NOTIFY);
	assert_true(q.has_question);
	assert_true(q.edns);
	size_t m = wire_build_error(&q, WIRE_RCODE_NOTIMP, WIRE_EDE_NONE, NULL, out, sizeof(out));
	p = tq_ldns(out, m);
	assert_int_equal(ldns_pkt_get_opcode(p), LDNS_PACKET_NOTIFY);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOTIMPL);
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	assert_memory_equal(out + 12, "\4Zone\7Example", 14);
	ldns_pkt_free(p);

	/* NOTIMP wins over a broken body. */
	buf[5] = 0;   /* QDCOUNT 0 */
	assert_int_equal(wire_parse_query(buf, n, &q), WIRE_ENOTIMP);
	assert_false(q.has_question);
}

static void test_forward(void **state)
{
	(void)state;
	uint8_t out[512];
	wire_query q;
	/* COOKIE, ECS, PADDING, an unassigned code, EDE, TCP-KEEPALIVE. */
	static const uint8_t opts[] = {
		0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
		0, 8, 0, 4, 0, 1, 24, 0,
		0, 12, 0, 2, 0, 0,
		0xFD, 0xE9, 0, 1, 0x55,
		0, 15, 0, 2, 0, 0,
		0, 11, 0, 0,
	};
	static const uint8_t kept[] = { 0, 8, 0, 4, 0, 1, 24, 0, 0xFD, 0xE9, 0, 1, 0x55 };
	tq_pkt p;

	tq_hdr(&p, 0x1111, WIRE_FLAG_RD | WIRE_FLAG_CD | WIRE_FLAG_AD, 1, 0, 0, 1);
	tq_name(&p, "MiXeD.Example.NET");
	tq_u16(&p, LDNS_RR_TYPE_TXT);
	tq_u16(&p, LDNS_RR_CLASS_IN);
	tq_opt(&p, 4096, WIRE_OPT_DO_TEST, opts, sizeof(opts));
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_OK);

	size_t n = wire_build_forward(&q, 0xBEEF, out, sizeof(out));
	assert_true(n > 0);
	ldns_pkt *lp = tq_ldns(out, n);
	assert_int_equal(ldns_pkt_id(lp), 0xBEEF);
	assert_false(ldns_pkt_qr(lp));
	assert_true(ldns_pkt_rd(lp));
	assert_true(ldns_pkt_cd(lp));
	assert_true(ldns_pkt_ad(lp));
	assert_int_equal(ldns_pkt_get_opcode(lp), LDNS_PACKET_QUERY);
	assert_int_equal(ldns_pkt_qdcount(lp), 1);
	assert_int_equal(ldns_pkt_ancount(lp), 0);
	assert_int_equal(ldns_pkt_nscount(lp), 0);
	assert_true(ldns_pkt_edns(lp));
	assert_int_equal(ldns_pkt_edns_udp_size(lp), WIRE_EDNS_UDP);
	assert_true(ldns_pkt_edns_do(lp));
	assert_int_equal(ldns_pkt_edns_version(lp), 0);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(lp), 0)), LDNS_RR_TYPE_TXT);
	ldns_pkt_free(lp);
	/* Original case, and exactly the end-to-end options. */
	assert_memory_equal(out + 12, q.qname, q.qname_len);
	assert_int_equal(n, 12 + q.qname_len + 4 + 11 + sizeof(kept));
	assert_memory_equal(out + n - sizeof(kept), kept, sizeof(kept));

	/* Too small a buffer: nothing. */
	assert_int_equal(wire_build_forward(&q, 1, out, 12 + q.qname_len + 4 + 10), 0);
	/* Just the OPT without options fits: the options are left out. */
	assert_int_equal(wire_build_forward(&q, 1, out, 12 + q.qname_len + 4 + 11),
			 12 + q.qname_len + 4 + 11);

	wire_set_id(out, 0x0102);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
}

static void test_forward_no_edns(void **state)
{
	(void)state;
	uint8_t buf[512], out[512];
	wire_query q;
	tq_opts o = { .id = 5 };

	tq_parse(&q, buf, sizeof(buf), "example.org", LDNS_RR_TYPE_A, &o, WIRE_OK);
	size_t n = wire_build_forward(&q, 6, out, sizeof(out));
	ldns_pkt *lp = tq_ldns(out, n);
	assert_true(ldns_pkt_edns(lp));   /* we always ask with EDNS */
	assert_false(ldns_pkt_edns_do(lp));
	assert_false(ldns_pkt_rd(lp));
	assert_false(ldns_pkt_ad(lp));
	assert_int_equal(ldns_pkt_arcount(lp), 0);   /* ldns counts the OPT apart */
	ldns_pkt_free(lp);
	assert_int_equal(n, 12 + 13 + 4 + 11);

	wire_query none = { .has_question = false };
	assert_int_equal(wire_build_forward(&none, 6, out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_edns),
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_qdcount),
		cmocka_unit_test(test_bad_qname),
		cmocka_unit_test(test_truncated_question),
		cmocka_unit_test(test_opt_errors),
		cmocka_unit_test(test_records_skipped),
		cmocka_unit_test(test_badvers),
		cmocka_unit_test(test_notimp),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_forward_no_edns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
