/*
 * test_wire_edns.c: the OPT embargo puts on answers it passes on
 * (wire_opt_own: our size, version 0, DO only, the upstream's EDE kept and
 * every other option dropped) and the bare TC answer (wire_build_tc: ANY
 * over UDP, rate-limited clients), parsed back with ldns.
 */
#include <string.h>

#include "wire_test.h"

/* An OPT as an upstream may send it: size 4096, version 0, DO and a Z bit,
 * options: cookie, an unknown one, EDE 18 "x", padding. */
static size_t sloppy_opt(uint8_t *p)
{
	static const uint8_t opt[] = {
		0, 0, 41, 0x10, 0x00, 0x01, 0x00, 0xC0, 0x00, 0, 29,
		0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,          /* COOKIE */
		0xFD, 0xE9, 0, 2, 0xAB, 0xCD,                  /* 65001 */
		0, 15, 0, 3, 0, 18, 'x',                       /* EDE 18 "x" */
		0, 12, 0, 0,                                   /* PADDING, empty */
	};
	memcpy(p, opt, sizeof(opt));
	return sizeof(opt);
}

static void test_opt_own(void **state)
{
	(void)state;
	uint8_t b[128];
	memset(b, 0xEE, sizeof(b));
	size_t start = 7, end = start + sloppy_opt(b + start);
	size_t n = wire_opt_own(b, start, end);
	assert_int_equal(n, start + 11 + 7);           /* only the EDE is left */
	const uint8_t want[] = { 0, 0, 41, 0x04, 0xD0, 0x01, 0x00, 0x80, 0x00, 0, 7,
				 0, 15, 0, 3, 0, 18, 'x' };
	assert_memory_equal(b + start, want, sizeof(want));   /* ext-rcode 1 kept, DO kept */
	assert_int_equal(b[end], 0xEE);                       /* nothing written past it */

	/* not an OPT, or a length that does not add up: untouched */
	uint8_t c[64];
	size_t m = sloppy_opt(c);
	c[2] = 1;
	assert_int_equal(wire_opt_own(c, 0, m), m);
	assert_int_equal(c[3], 0x10);
	c[2] = 41;
	assert_int_equal(wire_opt_own(c, 0, m - 1), m - 1);
	assert_int_equal(wire_opt_own(NULL, 0, 11), 11);
	/* a truncated option inside: kept options up to it */
	m = sloppy_opt(c);
	c[10] = 31;   /* RDLENGTH claims two octets more than the options */
	c[m] = 0;
	c[m + 1] = 15;
	assert_int_equal(wire_opt_own(c, 0, m + 2), 11 + 7);
}

static void test_build_tc(void **state)
{
	(void)state;
	uint8_t qb[512], out[512];
	wire_query q;
	tq_opts o = { .id = 0x4242, .rd = true, .edns = true, .dnssec_ok = true, .udp = 1232 };
	tq_parse(&q, qb, sizeof(qb), "Big.Example.", LDNS_RR_TYPE_ANY, &o, WIRE_OK);
	size_t n = wire_build_tc(&q, out, sizeof(out));
	ldns_pkt *lp = tq_ldns(out, n);
	assert_int_equal(ldns_pkt_id(lp), 0x4242);
	assert_true(ldns_pkt_tc(lp) && ldns_pkt_qr(lp) && ldns_pkt_rd(lp));
	assert_int_equal(ldns_pkt_get_rcode(lp), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(lp) + ldns_pkt_nscount(lp), 0);
	assert_int_equal(ldns_pkt_qdcount(lp), 1);
	assert_true(ldns_pkt_edns(lp) && ldns_pkt_edns_do(lp));
	assert_int_equal(ldns_pkt_edns_udp_size(lp), WIRE_EDNS_UDP);
	ldns_pkt_free(lp);
	/* no bigger than the query it answers: nothing to amplify */
	size_t qlen = tq_build(qb, sizeof(qb), "Big.Example.", LDNS_RR_TYPE_ANY, &o);
	assert_true(n <= qlen);
	assert_memory_equal(out + 12, qb + 12, n - 12 - 11);  /* the question as asked */

	o.edns = false;
	tq_parse(&q, qb, sizeof(qb), "big.example.", LDNS_RR_TYPE_ANY, &o, WIRE_OK);
	n = wire_build_tc(&q, out, sizeof(out));
	lp = tq_ldns(out, n);
	assert_false(ldns_pkt_edns(lp));
	assert_true(ldns_pkt_tc(lp));
	ldns_pkt_free(lp);
	assert_int_equal(wire_build_tc(&q, out, 12), 0);
	assert_int_equal(wire_build_tc(NULL, out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opt_own),
		cmocka_unit_test(test_build_tc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
