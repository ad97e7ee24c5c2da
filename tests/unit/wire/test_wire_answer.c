/*
 * test_wire_answer.c: locally synthesized answers (policy blocks, errors),
 * each parsed back with ldns and checked field by field.
 */
#include "wire_test.h"

#include <stdio.h>
#include <string.h>

#define EDE_TEXT "kaspersky/updates: U.S. Commerce BIS Final Determination ICTS-2021-002"

static const uint8_t entry[] = "\11kaspersky\3com";   /* + root */

static wire_block block(wire_block_kind kind)
{
	wire_block b = {
		.kind = kind,
		.ttl = 300,
		.serial = 2024092900,
		.soa_owner = entry,
		.sink4 = { 0, 0, 0, 0 },
		.sink6 = { 0 },
		.ede_code = WIRE_EDE_CENSORED,
		.ede_text = EDE_TEXT,
	};
	return b;
}

/* A query for upd.Kaspersky.COM, by hand to keep its case. */
static void query(wire_query *q, tq_pkt *p, uint16_t qtype, bool edns, bool dnssec_ok)
{
	tq_hdr(p, 0xABCD, WIRE_FLAG_RD | WIRE_FLAG_CD, 1, 0, 0, edns ? 1 : 0);
	tq_name(p, "upd.Kaspersky.COM");
	tq_u16(p, qtype);
	tq_u16(p, LDNS_RR_CLASS_IN);
	if (edns)
		tq_opt(p, 4096, dnssec_ok ? WIRE_OPT_DO_TEST : 0, NULL, 0);
	assert_int_equal(wire_parse_query(p->b, p->n, q), WIRE_OK);
}

/* Header checks common to every synthesized answer. */
static ldns_pkt *check_header(const uint8_t *out, size_t n, const wire_query *q,
			      ldns_pkt_rcode rcode)
{
	ldns_pkt *lp = tq_ldns(out, n);

	assert_int_equal(ldns_pkt_id(lp), q->id);
	assert_true(ldns_pkt_qr(lp));
	assert_false(ldns_pkt_aa(lp));
	assert_true(ldns_pkt_ra(lp));
	assert_true(ldns_pkt_rd(lp));
	assert_true(ldns_pkt_cd(lp));
	assert_false(ldns_pkt_ad(lp));
	assert_int_equal(ldns_pkt_get_opcode(lp), LDNS_PACKET_QUERY);
	assert_int_equal(ldns_pkt_get_rcode(lp), rcode);
	assert_int_equal(ldns_pkt_qdcount(lp), 1);
	/* The question exactly as received, case included. */
	assert_memory_equal(out + 12, q->qname, q->qname_len);
	ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(lp), 0);
	assert_int_equal(ldns_rr_get_type(qr), q->qtype);
	assert_int_equal(ldns_pkt_edns(lp), q->edns);
	if (q->edns) {
		assert_int_equal(ldns_pkt_edns_udp_size(lp), WIRE_EDNS_UDP);
		assert_int_equal(ldns_pkt_edns_version(lp), 0);
		assert_int_equal(ldns_pkt_edns_do(lp), q->edns_do);
	}
	return lp;
}

/* The EDE option: INFO-CODE and EXTRA-TEXT (NULL: no text). */
static void check_ede(const ldns_pkt *lp, uint16_t code, const char *text)
{
	const uint8_t *d;
	size_t n;

	assert_true(tq_edns_option(lp, WIRE_OPT_EDE, &d, &n));
	size_t tl = text ? strlen(text) : 0;
	assert_int_equal(n, 2 + tl);
	assert_int_equal(d[0] << 8 | d[1], code);
	if (tl)
		assert_memory_equal(d + 2, text, tl);
}

/* The synthesized SOA in the authority section. */
static void check_soa(const ldns_pkt *lp, const char *owner, uint32_t ttl, uint32_t serial)
{
	char s[300];

	assert_int_equal(ldns_pkt_nscount(lp), 1);
	ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_authority(lp), 0);
	assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	assert_int_equal(ldns_rr_ttl(soa), ttl);
	tq_name_str(ldns_rr_owner(soa), s, sizeof(s));
	assert_string_equal(s, owner);
	assert_int_equal(ldns_rr_rd_count(soa), 7);
	tq_name_str(ldns_rr_rdf(soa, 0), s, sizeof(s));
	assert_string_equal(s, owner);
	tq_name_str(ldns_rr_rdf(soa, 1), s, sizeof(s));
	assert_string_equal(s, "nobody.invalid");
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), serial);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 3)), 3600);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 4)), 600);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 5)), 86400);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)), ttl);
}

static void test_refused(void **state)
{
	(void)state;
	for (int edns = 0; edns <= 1; edns++) {
		tq_pkt p;
		wire_query q;
		uint8_t out[1024];
		wire_block b = block(WIRE_BLOCK_REFUSED);

		query(&q, &p, LDNS_RR_TYPE_A, edns, false);
		size_t n = wire_build_block(&q, &b, out, sizeof(out));
		ldns_pkt *lp = check_header(out, n, &q, LDNS_RCODE_REFUSED);
		assert_int_equal(ldns_pkt_ancount(lp), 0);
		assert_int_equal(ldns_pkt_nscount(lp), 0);
		assert_int_equal(ldns_pkt_arcount(lp), 0);
		if (edns)
			check_ede(lp, WIRE_EDE_CENSORED, EDE_TEXT);
		else
			assert_int_equal(n, p.n);   /* header + question only */
		ldns_pkt_free(lp);
	}
}

static void test_negative(void **state)
{
	(void)state;
	static const struct {
		wire_block_kind kind;
		uint16_t qtype;
		ldns_pkt_rcode rcode;
	} cases[] = {
		{ WIRE_BLOCK_NXDOMAIN, LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN },
		{ WIRE_BLOCK_NODATA, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR },
		/* Sinkhole for a type other than A/AAAA is NODATA. */
		{ WIRE_BLOCK_NODATA, LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int edns = 0; edns <= 1; edns++) {
			tq_pkt p;
			wire_query q;
			uint8_t out[1024];
			wire_block b = block(cases[i].kind);

			b.ttl = 120 + (uint32_t)i;
			query(&q, &p, cases[i].qtype, edns, edns);
			size_t n = wire_build_block(&q, &b, out, sizeof(out));
			ldns_pkt *lp = check_header(out, n, &q, cases[i].rcode);
			assert_int_equal(ldns_pkt_ancount(lp), 0);
			check_soa(lp, "kaspersky.com", b.ttl, b.serial);
			if (edns)
				check_ede(lp, WIRE_EDE_CENSORED, EDE_TEXT);
			ldns_pkt_free(lp);
			/* The owner is compressed against the question. */
			size_t soa_at = p.n - (edns ? 11 : 0);
			assert_int_equal(out[soa_at], 0xC0);
			assert_int_equal(out[soa_at + 1], 12 + 4);
		}
	}
}

static void test_soa_owner(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;
	uint8_t out[1024];
	static const uint8_t other[] = "\7tracker\3net";
	wire_block b = block(WIRE_BLOCK_NXDOMAIN);

	/* An entry that is not a suffix of the qname (a CNAME target's). */
	b.soa_owner = other;
	query(&q, &p, LDNS_RR_TYPE_A, false, false);
	size_t n = wire_build_block(&q, &b, out, sizeof(out));
	ldns_pkt *lp = check_header(out, n, &q, LDNS_RCODE_NXDOMAIN);
	check_soa(lp, "tracker.net", 300, b.serial);
	ldns_pkt_free(lp);

	/* No entry: the qname is the zone. */
	b.soa_owner = NULL;
	n = wire_build_block(&q, &b, out, sizeof(out));
	lp = check_header(out, n, &q, LDNS_RCODE_NXDOMAIN);
	check_soa(lp, "upd.kaspersky.com", 300, b.serial);
	ldns_pkt_free(lp);

	/* A broken entry name is not copied: the qname again. */
	static const uint8_t broken[] = { 70, 'a', 'b' };
	b.soa_owner = broken;
	n = wire_build_block(&q, &b, out, sizeof(out));
	lp = check_header(out, n, &q, LDNS_RCODE_NXDOMAIN);
	check_soa(lp, "upd.kaspersky.com", 300, b.serial);
	ldns_pkt_free(lp);

	/* The root query, blocked by a root entry. */
	tq_hdr(&p, 1, WIRE_FLAG_RD | WIRE_FLAG_CD, 1, 0, 0, 0);
	tq_u8(&p, 0);
	tq_u16(&p, LDNS_RR_TYPE_NS);
	tq_u16(&p, 1);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_OK);
	b.soa_owner = (const uint8_t *)"";
	n = wire_build_block(&q, &b, out, sizeof(out));
	lp = check_header(out, n, &q, LDNS_RCODE_NXDOMAIN);
	check_soa(lp, ".", 300, b.serial);
	ldns_pkt_free(lp);
}

static void test_sinkhole(void **state)
{
	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (int edns = 0; edns <= 1; edns++) {
			tq_pkt p;
			wire_query q;
			uint8_t out[1024];
			char s[300];
			wire_block b = block(v6 ? WIRE_BLOCK_SINK_AAAA : WIRE_BLOCK_SINK_A);

			memcpy(b.sink4, "\xc0\x00\x02\x01", 4);
			memcpy(b.sink6, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
			query(&q, &p, v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A, edns, true);
			size_t n = wire_build_block(&q, &b, out, sizeof(out));
			ldns_pkt *lp = check_header(out, n, &q, LDNS_RCODE_NOERROR);
			assert_int_equal(ldns_pkt_ancount(lp), 1);
			assert_int_equal(ldns_pkt_nscount(lp), 0);
			ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(lp), 0);
			assert_int_equal(ldns_rr_get_type(rr), v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A);
			assert_int_equal(ldns_rr_ttl(rr), 300);
			tq_name_str(ldns_rr_owner(rr), s, sizeof(s));
			assert_string_equal(s, "upd.kaspersky.com");
			const ldns_rdf *a = ldns_rr_rdf(rr, 0);
			assert_int_equal(ldns_rdf_size(a), v6 ? 16 : 4);
			assert_memory_equal(ldns_rdf_data(a), v6 ? b.sink6 : b.sink4, v6 ? 16 : 4);
			if (edns)
				check_ede(lp, WIRE_EDE_CENSORED, EDE_TEXT);
			ldns_pkt_free(lp);
			assert_int_equal(out[p.n - (edns ? 11 : 0)], 0xC0);   /* owner -> qname */
		}
	}
}

static void test_no_ede(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;
	uint8_t out[1024];
	wire_block b = block(WIRE_BLOCK_NODATA);
	const uint8_t *d;
	size_t dl;

	b.ede_code = WIRE_EDE_NONE;
	query(&q, &p, LDNS_RR_TYPE_A, true, false);
	size_t n = wire_build_block(&q, &b, out, sizeof(out));
	ldns_pkt *lp = check_header(out, n, &q, LDNS_RCODE_NOERROR);
	assert_false(tq_edns_option(lp, WIRE_OPT_EDE, &d, &dl));
	ldns_pkt_free(lp);

	/* A code without text. */
	b.ede_code = WIRE_EDE_BLOCKED;
	b.ede_text = NULL;
	n = wire_build_block(&q, &b, out, sizeof(out));
	lp = check_header(out, n, &q, LDNS_RCODE_NOERROR);
	check_ede(lp, WIRE_EDE_BLOCKED, NULL);
	ldns_pkt_free(lp);
}

static void test_fit(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;
	uint8_t out[1024];
	wire_block b = block(WIRE_BLOCK_NXDOMAIN);

	query(&q, &p, LDNS_RR_TYPE_A, true, true);
	size_t full = wire_build_block(&q, &b, out, sizeof(out));
	size_t text = strlen(EDE_TEXT);

	/* One octet short: the text is cut to its "vendor/rule" (up to ": "),
	 * the code and the SOA stay. */
	size_t short_len = (size_t)(strstr(EDE_TEXT, ": ") - EDE_TEXT);
	char short_text[64];
	snprintf(short_text, sizeof(short_text), "%.*s", (int)short_len, EDE_TEXT);
	size_t n = wire_build_block(&q, &b, out, full - 1);
	assert_int_equal(n, full - text + short_len);
	ldns_pkt *lp = check_header(out, n, &q, LDNS_RCODE_NXDOMAIN);
	assert_false(ldns_pkt_tc(lp));
	check_ede(lp, WIRE_EDE_CENSORED, short_text);
	ldns_pkt_free(lp);

	/* Shorter than that: the text goes, the code and the SOA stay. */
	n = wire_build_block(&q, &b, out, full - text + short_len - 1);
	assert_int_equal(n, full - text);
	lp = check_header(out, n, &q, LDNS_RCODE_NXDOMAIN);
	assert_false(ldns_pkt_tc(lp));
	check_soa(lp, "kaspersky.com", 300, b.serial);
	check_ede(lp, WIRE_EDE_CENSORED, NULL);
	ldns_pkt_free(lp);

	/* Not even that: TC with header, question and OPT. */
	n = wire_build_block(&q, &b, out, full - text - 1);
	assert_int_equal(n, p.n + 6);
	lp = check_header(out, n, &q, LDNS_RCODE_NXDOMAIN);
	assert_true(ldns_pkt_tc(lp));
	assert_int_equal(ldns_pkt_ancount(lp), 0);
	assert_int_equal(ldns_pkt_nscount(lp), 0);
	check_ede(lp, WIRE_EDE_CENSORED, NULL);
	ldns_pkt_free(lp);

	/* Below the minimum: nothing. */
	assert_int_equal(wire_build_block(&q, &b, out, p.n + 5), 0);
	assert_int_equal(wire_build_block(&q, &b, out, 0), 0);
}

static void test_tc_without_edns(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;
	uint8_t out[1024];
	char a63[64], b63[64], x20[21], b58[59], name[300];
	uint8_t owner[256];

	/* A long qname and an unrelated long SOA owner overflow 512 octets:
	 * 12 + 218 (question) + 252 + 48 (SOA) = 530. */
	memset(a63, 'a', 63);
	a63[63] = 0;
	memset(b63, 'b', 63);
	b63[63] = 0;
	memset(x20, 'x', 20);
	x20[20] = 0;
	memset(b58, 'b', 58);
	b58[58] = 0;
	snprintf(name, sizeof(name), "%s.%s.%s.%s", a63, a63, a63, x20);
	tq_hdr(&p, 3, 0, 1, 0, 0, 0);
	tq_name(&p, name);
	tq_u16(&p, LDNS_RR_TYPE_A);
	tq_u16(&p, 1);
	assert_int_equal(wire_parse_query(p.b, p.n, &q), WIRE_OK);
	snprintf(name, sizeof(name), "%s.%s.%s.%s", b63, b63, b63, b58);
	size_t ol = tq_wire_name(name, owner);
	assert_int_equal(ol, 252);
	wire_block b = block(WIRE_BLOCK_NXDOMAIN);
	b.soa_owner = owner;

	size_t n = wire_build_block(&q, &b, out, 512);
	assert_int_equal(n, p.n);
	ldns_pkt *lp = tq_ldns(out, n);
	assert_true(ldns_pkt_tc(lp));
	assert_int_equal(ldns_pkt_get_rcode(lp), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_nscount(lp), 0);
	assert_false(ldns_pkt_edns(lp));
	ldns_pkt_free(lp);

	/* Over TCP it fits. */
	n = wire_build_block(&q, &b, out, WIRE_TCP_MAX);
	assert_true(n > 512);
	lp = tq_ldns(out, n);
	assert_false(ldns_pkt_tc(lp));
	assert_int_equal(ldns_pkt_nscount(lp), 1);
	ldns_pkt_free(lp);
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		uint16_t rcode;
		ldns_pkt_rcode want;
	} cases[] = {
		{ WIRE_RCODE_SERVFAIL, LDNS_RCODE_SERVFAIL },
		{ WIRE_RCODE_FORMERR, LDNS_RCODE_FORMERR },
		{ WIRE_RCODE_NOTIMP, LDNS_RCODE_NOTIMPL },
		{ WIRE_RCODE_REFUSED, LDNS_RCODE_REFUSED },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int edns = 0; edns <= 1; edns++) {
			tq_pkt p;
			wire_query q;
			uint8_t out[1024];

			query(&q, &p, LDNS_RR_TYPE_A, edns, true);
			size_t n = wire_build_error(&q, cases[i].rcode, WIRE_EDE_NO_REACHABLE_AUTHORITY,
						    "all upstreams failed", out, sizeof(out));
			ldns_pkt *lp = check_header(out, n, &q, cases[i].want);
			assert_int_equal(ldns_pkt_ancount(lp), 0);
			assert_int_equal(ldns_pkt_nscount(lp), 0);
			if (edns)
				check_ede(lp, WIRE_EDE_NO_REACHABLE_AUTHORITY, "all upstreams failed");
			else
				assert_int_equal(n, p.n);
			ldns_pkt_free(lp);
		}
	}
}

static void test_extended_rcode_needs_edns(void **state)
{
	(void)state;
	tq_pkt p;
	wire_query q;
	uint8_t out[512];

	/* BADVERS cannot be said without an OPT; SERVFAIL is sent instead. */
	query(&q, &p, LDNS_RR_TYPE_A, false, false);
	size_t n = wire_build_error(&q, WIRE_RCODE_BADVERS, WIRE_EDE_NONE, NULL, out, sizeof(out));
	ldns_pkt *lp = check_header(out, n, &q, LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(lp);

	/* An unknown block kind builds nothing. */
	wire_block b = block(WIRE_BLOCK_REFUSED);
	b.kind = (wire_block_kind)99;
	assert_int_equal(wire_build_block(&q, &b, out, sizeof(out)), 0);
	assert_int_equal(wire_build_block(&q, NULL, out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_soa_owner),
		cmocka_unit_test(test_sinkhole),
		cmocka_unit_test(test_no_ede),
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_tc_without_edns),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_extended_rcode_needs_edns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
