/*
 * test_ratelimit.c: the token buckets of resolver/ratelimit.c, with the
 * time passed in: burst then rate, refill, networks by prefix, families
 * apart, replacement of the least recently used bucket of a set, bounded
 * memory whatever the number of clients, and options compared on reload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resolver/ratelimit.h"

static cfg_ip v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	cfg_ip ip = { .family = 4, .addr = { a, b, c, d } };
	return ip;
}

static cfg_ip v6(uint16_t w0, uint16_t w3, uint16_t w7)
{
	cfg_ip ip = { .family = 6 };
	ip.addr[0] = (uint8_t)(w0 >> 8);
	ip.addr[1] = (uint8_t)w0;
	ip.addr[6] = (uint8_t)(w3 >> 8);
	ip.addr[7] = (uint8_t)w3;
	ip.addr[14] = (uint8_t)(w7 >> 8);
	ip.addr[15] = (uint8_t)w7;
	return ip;
}

static ratelimit *mk(uint32_t qps, uint32_t burst, uint32_t entries)
{
	ratelimit_opts o = { .qps = qps, .burst = burst, .ipv4_prefix = 32, .ipv6_prefix = 56,
			     .entries = entries, .seed = { 0x0123456789abcdefULL, 42 } };
	ratelimit *rl = ratelimit_new(&o);
	assert_non_null(rl);
	return rl;
}

/* How many of n queries at `now` are allowed. */
static int allowed(ratelimit *rl, const cfg_ip *ip, uint64_t now, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += ratelimit_allow(rl, ip, now);
	return k;
}

static void test_burst_then_rate(void **state)
{
	(void)state;
	ratelimit *rl = mk(10, 20, 1024);
	cfg_ip a = v4(192, 0, 2, 1);
	uint64_t t = 1000000;
	assert_int_equal(allowed(rl, &a, t, 100), 20);       /* the burst, at once */
	assert_int_equal(allowed(rl, &a, t + 99, 5), 0);     /* 0.99 of a token */
	assert_int_equal(allowed(rl, &a, t + 100, 5), 1);    /* one token a 100 ms */
	/* one second: 10 more, whatever is asked */
	assert_int_equal(allowed(rl, &a, t + 1100, 50), 10);
	/* over 10 s at 100 qps offered: 10 qps get through */
	int k = 0;
	for (uint64_t ms = 0; ms < 10000; ms += 10)
		k += ratelimit_allow(rl, &a, t + 1100 + ms + 10);
	assert_in_range(k, 99, 101);
	ratelimit_stats st = ratelimit_get_stats(rl);
	assert_int_equal(st.allowed, 20 + 1 + 10 + (uint64_t)k);
	assert_int_equal(st.used, 1);
	ratelimit_free(rl);
}

static void test_refill_stops_at_the_burst(void **state)
{
	(void)state;
	ratelimit *rl = mk(5, 3, 64);
	cfg_ip a = v4(10, 0, 0, 1);
	assert_int_equal(allowed(rl, &a, 0, 10), 3);
	assert_int_equal(allowed(rl, &a, 3600 * 1000, 10), 3); /* an hour: still 3 */
	/* time going back counts as none passed, and never adds tokens */
	assert_int_equal(allowed(rl, &a, 1000, 10), 0);
	assert_int_equal(allowed(rl, &a, 3600 * 1000 + 200, 10), 1);
	ratelimit_free(rl);
}

static void test_clients_are_apart(void **state)
{
	(void)state;
	ratelimit *rl = mk(1, 2, 1024);
	cfg_ip a = v4(127, 0, 0, 2), b = v4(127, 0, 0, 1);
	assert_int_equal(allowed(rl, &a, 5000, 1000), 2);
	assert_int_equal(allowed(rl, &b, 5000, 2), 2);   /* a's flood costs b nothing */
	ratelimit_free(rl);
}

static void test_prefixes(void **state)
{
	(void)state;
	ratelimit_opts o = { .qps = 1, .burst = 4, .ipv4_prefix = 24, .ipv6_prefix = 56,
			     .entries = 256, .seed = { 1, 2 } };
	ratelimit *rl = ratelimit_new(&o);
	cfg_ip a = v4(198, 51, 100, 1), b = v4(198, 51, 100, 200), c = v4(198, 51, 101, 1);
	assert_int_equal(allowed(rl, &a, 0, 3), 3);
	assert_int_equal(allowed(rl, &b, 0, 3), 1);      /* same /24: one bucket */
	assert_int_equal(allowed(rl, &c, 0, 5), 4);      /* the next /24: its own */
	/* IPv6: a /56 shares, the next /56 does not; the interface id is ignored */
	cfg_ip x = v6(0x2001, 0x1200, 1), y = v6(0x2001, 0x12ff, 0xffff), z = v6(0x2001, 0x1300, 1);
	assert_int_equal(allowed(rl, &x, 0, 2), 2);
	assert_int_equal(allowed(rl, &y, 0, 5), 2);
	assert_int_equal(allowed(rl, &z, 0, 5), 4);
	/* 0.0.0.0 and :: are different networks (the family is in the key) */
	cfg_ip z4 = v4(0, 0, 0, 0), z6 = v6(0, 0, 0);
	assert_int_equal(allowed(rl, &z4, 0, 5), 4);
	assert_int_equal(allowed(rl, &z6, 0, 5), 4);
	ratelimit_free(rl);

	/* odd prefixes cut inside an octet */
	o.ipv4_prefix = 20;
	rl = ratelimit_new(&o);
	cfg_ip p = v4(10, 1, 16, 1), q = v4(10, 1, 31, 255), r = v4(10, 1, 32, 0);
	assert_int_equal(allowed(rl, &p, 0, 4), 4);
	assert_int_equal(allowed(rl, &q, 0, 4), 0);
	assert_int_equal(allowed(rl, &r, 0, 4), 4);
	ratelimit_free(rl);
}

/* Many more clients than buckets: memory stays what it was, every new
 * client gets its burst, and a busy client keeps its (empty) bucket. */
static void test_bounded_table_keeps_the_busy_bucket(void **state)
{
	(void)state;
	ratelimit *rl = mk(1, 5, 64);
	cfg_ip busy = v4(203, 0, 113, 7);
	assert_int_equal(allowed(rl, &busy, 0, 10), 5);
	uint64_t t = 0;
	for (uint32_t i = 0; i < 100000; i++) {
		cfg_ip spoof = v4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
		t = i / 100;   /* 100,000 sources within 1 s */
		assert_true(ratelimit_allow(rl, &spoof, t));
		/* three newcomers at most between two of its queries: a set of
		 * 4 ways can never push it out */
		if (i % 3 == 0)
			assert_false(ratelimit_allow(rl, &busy, t)); /* still limited */
	}
	ratelimit_stats st = ratelimit_get_stats(rl);
	assert_int_equal(st.used, 64);
	assert_true(st.evicted > 90000);
	ratelimit_free(rl);
}

static void test_least_recently_used_is_replaced(void **state)
{
	(void)state;
	/* 4 buckets: one set of 4 ways */
	ratelimit *rl = mk(1, 1, 4);
	cfg_ip c[5];
	for (int i = 0; i < 5; i++)
		c[i] = v4(192, 0, 2, (uint8_t)(i + 1));
	for (int i = 0; i < 4; i++)
		assert_true(ratelimit_allow(rl, &c[i], (uint64_t)i));
	/* c0 is used again: c1 is now the least recently used */
	assert_false(ratelimit_allow(rl, &c[0], 10));
	assert_true(ratelimit_allow(rl, &c[4], 11));
	/* c0, c2, c3 kept their empty buckets; c1 starts afresh */
	assert_false(ratelimit_allow(rl, &c[0], 12));
	assert_false(ratelimit_allow(rl, &c[2], 12));
	assert_true(ratelimit_allow(rl, &c[1], 13));
	ratelimit_free(rl);
}

static void test_options(void **state)
{
	(void)state;
	ratelimit_opts o = { .qps = 10, .burst = 20, .ipv4_prefix = 32, .ipv6_prefix = 56,
			     .entries = 100, .seed = { 1, 2 } };
	ratelimit *rl = ratelimit_new(&o);
	assert_non_null(rl);
	ratelimit_opts p = o;
	p.seed[0] = 99;
	assert_true(ratelimit_same(rl, &p));
	p.qps = 11;
	assert_false(ratelimit_same(rl, &p));
	p = o;
	p.ipv6_prefix = 64;
	assert_false(ratelimit_same(rl, &p));
	ratelimit_free(rl);
	o.qps = 0;
	assert_null(ratelimit_new(&o));
	ratelimit_free(NULL);
	/* the largest rate and burst do not overflow */
	o.qps = o.burst = 1000000;
	rl = ratelimit_new(&o);
	cfg_ip a = v4(1, 2, 3, 4);
	assert_int_equal(allowed(rl, &a, 0, 1000), 1000);
	assert_true(ratelimit_allow(rl, &a, UINT64_MAX / 2));
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_refill_stops_at_the_burst),
		cmocka_unit_test(test_clients_are_apart),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_bounded_table_keeps_the_busy_bucket),
		cmocka_unit_test(test_least_recently_used_is_replaced),
		cmocka_unit_test(test_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
