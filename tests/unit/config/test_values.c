/*
 * test_values.c: addresses, networks, durations and times (values.c).
 */
#include "helpers.h"

#include "config/values.h"

static void addr_ok(const char *in, uint16_t def, const char *want)
{
	cfg_addr a;
	const char *why = NULL;
	char buf[CFG_ADDR_BUF];
	if (cfg_addr_parse(in, def, &a, &why) != 0)
		fail_msg("%s: %s", in, why);
	assert_string_equal(cfg_addr_format(&a, buf), want);
}

static void addr_bad(const char *in, const char *why_want)
{
	cfg_addr a;
	const char *why = NULL;
	assert_int_equal(cfg_addr_parse(in, 53, &a, &why), -1);
	assert_non_null(why);
	assert_string_equal(why, why_want);
}

static void test_addr(void **state)
{
	(void)state;
	addr_ok("192.0.2.1", 53, "192.0.2.1:53");
	addr_ok("192.0.2.1:5300", 53, "192.0.2.1:5300");
	addr_ok("::1", 53, "[::1]:53");
	addr_ok("[::1]:5335", 53, "[::1]:5335");
	addr_ok("[2001:DB8::1]", 853, "[2001:db8::1]:853");
	addr_ok("::", 53, "[::]:53");
	addr_ok("0.0.0.0:65535", 53, "0.0.0.0:65535");
	addr_ok("::ffff:192.0.2.1", 53, "[::ffff:192.0.2.1]:53");
	addr_bad("dns.google", "not an IP address (host names are not allowed)");
	addr_bad("localhost:53", "not an IP address (host names are not allowed)");
	addr_bad("192.0.2.1:0", "port out of range 1..65535");
	addr_bad("192.0.2.1:65536", "port out of range 1..65535");
	addr_bad("192.0.2.1:99999999999999999999", "bad port");
	addr_bad("192.0.2.1:", "bad port");
	addr_bad("192.0.2.1:5x", "bad port");
	addr_bad("[::1]:", "bad port");
	addr_bad("[::1", "missing ']'");
	addr_bad("[::1]x", "junk after ']'");
	addr_bad("[192.0.2.1]:53", "only IPv6 addresses go in brackets");
	addr_bad("", "empty address");
	addr_bad("256.0.0.1", "not an IP address (host names are not allowed)");
	addr_bad("1.2.3", "not an IP address (host names are not allowed)");
	addr_bad("01.2.3.4", "not an IP address (host names are not allowed)");
	addr_bad("2001:db8::g", "not an IPv6 address");
}

static void test_ip(void **state)
{
	(void)state;
	cfg_ip ip;
	const char *why;
	char buf[CFG_IP_BUF];
	assert_int_equal(cfg_ip_parse("fd00::1", &ip, &why), 0);
	assert_int_equal(ip.family, 6);
	assert_string_equal(cfg_ip_format(&ip, buf), "fd00::1");
	assert_int_equal(cfg_ip_parse("10.1.2.3", &ip, &why), 0);
	assert_int_equal(ip.family, 4);
	assert_memory_equal(ip.addr, "\x0a\x01\x02\x03", 4);
	assert_int_equal(cfg_ip_parse("10.1.2.3:53", &ip, &why), -1);
	assert_int_equal(cfg_ip_parse("[::1]", &ip, &why), -1);
}

static void test_net(void **state)
{
	(void)state;
	cfg_net n;
	cfg_ip ip;
	const char *why = NULL;
	char buf[CFG_IP_BUF];

	assert_int_equal(cfg_net_parse("10.0.0.0/8", &n, &why), 0);
	assert_int_equal(n.prefix, 8);
	assert_int_equal(cfg_ip_parse("10.255.1.1", &ip, &why), 0);
	assert_true(cfg_net_contains(&n, &ip));
	assert_int_equal(cfg_ip_parse("11.0.0.1", &ip, &why), 0);
	assert_false(cfg_net_contains(&n, &ip));
	assert_int_equal(cfg_ip_parse("::a00:1", &ip, &why), 0);
	assert_false(cfg_net_contains(&n, &ip)); /* families never mix */

	assert_int_equal(cfg_net_parse("172.16.0.0/12", &n, &why), 0);
	assert_int_equal(cfg_ip_parse("172.31.255.255", &ip, &why), 0);
	assert_true(cfg_net_contains(&n, &ip));
	assert_int_equal(cfg_ip_parse("172.32.0.0", &ip, &why), 0);
	assert_false(cfg_net_contains(&n, &ip));

	assert_int_equal(cfg_net_parse("fc00::/7", &n, &why), 0);
	assert_int_equal(cfg_ip_parse("fdff::1", &ip, &why), 0);
	assert_true(cfg_net_contains(&n, &ip));
	assert_int_equal(cfg_ip_parse("fe00::1", &ip, &why), 0);
	assert_false(cfg_net_contains(&n, &ip));

	assert_int_equal(cfg_net_parse("0.0.0.0/0", &n, &why), 0);
	assert_true(cfg_net_contains(&n, &ip) == false);
	assert_int_equal(cfg_ip_parse("8.8.8.8", &ip, &why), 0);
	assert_true(cfg_net_contains(&n, &ip));

	assert_int_equal(cfg_net_parse("192.0.2.7", &n, &why), 0); /* a host route */
	assert_int_equal(n.prefix, 32);
	assert_int_equal(cfg_net_parse("::1", &n, &why), 0);
	assert_int_equal(n.prefix, 128);

	assert_int_equal(cfg_net_parse("10.0.0.1/8", &n, &why), -1);
	assert_string_equal(why, CFG_WHY_HOST_BITS);
	assert_string_equal(cfg_ip_format(&n.ip, buf), "10.0.0.0"); /* the hint */
	assert_int_equal(cfg_net_parse("fd00::1/64", &n, &why), -1);
	assert_string_equal(why, CFG_WHY_HOST_BITS);
	assert_int_equal(cfg_net_parse("10.0.0.0/33", &n, &why), -1);
	assert_string_equal(why, "prefix length out of range 0..32");
	assert_int_equal(cfg_net_parse("::/129", &n, &why), -1);
	assert_string_equal(why, "prefix length out of range 0..128");
	assert_int_equal(cfg_net_parse("10.0.0.0/", &n, &why), -1);
	assert_string_equal(why, "bad prefix length");
	assert_int_equal(cfg_net_parse("10.0.0.0/8x", &n, &why), -1);
	assert_string_equal(why, "bad prefix length");
	assert_int_equal(cfg_net_parse("example.com/8", &n, &why), -1);
}

static void dur(const char *s, uint64_t want)
{
	uint64_t ms = 0;
	const char *why = NULL;
	if (cfg_duration_parse(s, &ms, &why) != 0)
		fail_msg("%s: %s", s, why);
	assert_int_equal(ms, want);
}

static void dur_bad(const char *s, const char *why_want)
{
	uint64_t ms;
	const char *why = NULL;
	assert_int_equal(cfg_duration_parse(s, &ms, &why), -1);
	assert_string_equal(why, why_want);
}

static void test_duration(void **state)
{
	(void)state;
	dur("1500ms", 1500);
	dur("2s", 2000);
	dur("5m", 300000);
	dur("1h", 3600000);
	dur("1d", 86400000);
	dur("7", 7000);
	dur("0", 0);
	dur("18446744073709551615ms", UINT64_MAX);
	dur_bad("15OOms", "unknown unit (expected ms, s, m, h or d)");
	dur_bad("2 s", "unknown unit (expected ms, s, m, h or d)");
	dur_bad("ms", "expected a number and a unit (ms, s, m, h, d)");
	dur_bad("", "expected a number and a unit (ms, s, m, h, d)");
	dur_bad("-1s", "expected a number and a unit (ms, s, m, h, d)");
	dur_bad("1.5s", "unknown unit (expected ms, s, m, h or d)");
	dur_bad("18446744073709551616ms", "too large");
	dur_bad("18446744073709552s", "too large");
	dur_bad("99999999999999999999999d", "too large");
}

static void tm_ok(const char *s, int64_t want)
{
	int64_t t = 0;
	const char *why = NULL;
	if (cfg_time_parse(s, &t, &why) != 0)
		fail_msg("%s: %s", s, why);
	assert_int_equal(t, want);
}

static void tm_bad(const char *s, const char *why_want)
{
	int64_t t;
	const char *why = NULL;
	assert_int_equal(cfg_time_parse(s, &t, &why), -1);
	assert_string_equal(why, why_want);
}

static void test_time_parse(void **state)
{
	(void)state;
	tm_ok("1970-01-01T00:00:00Z", 0);
	tm_ok("2024-09-29T04:00:00Z", 1727582400);
	tm_ok("2024-09-29T00:00:00-04:00", 1727582400);  /* 12:00 AM EDT */
	tm_ok("2024-09-29t04:00:00z", 1727582400);
	tm_ok("2024-09-29 04:00:00Z", 1727582400);
	tm_ok("2024-09-29T09:30:00+05:30", 1727582400);
	tm_ok("2024-09-29T04:00:00.987654Z", 1727582400); /* fraction dropped */
	tm_ok("2024-09-29", 1727568000);                  /* bare date: 00:00 UTC */
	tm_ok("2024-02-29", 1709164800);                  /* leap year */
	tm_ok("2000-02-29", 951782400);                   /* divisible by 400 */
	tm_ok("1969-12-31T23:59:59Z", -1);
	tm_ok("2016-12-31T23:59:60Z", 1483228800);        /* leap second */
	tm_ok("9999-12-31T23:59:59Z", 253402300799);
	tm_ok("0000-01-01", -62167219200);

	tm_bad("2024-09-29T04:00:00", "missing UTC offset (add Z or +hh:mm/-hh:mm)");
	tm_bad("2023-02-29", "day out of range for the month");
	tm_bad("1900-02-29", "day out of range for the month");
	tm_bad("2024-04-31", "day out of range for the month");
	tm_bad("2024-09-00", "day out of range for the month");
	tm_bad("2024-13-01", "month out of range 01..12");
	tm_bad("2024-00-01", "month out of range 01..12");
	tm_bad("2024-9-29", "expected YYYY-MM-DD or RFC 3339 (2024-09-29T04:00:00Z)");
	tm_bad("24-09-29", "expected YYYY-MM-DD or RFC 3339 (2024-09-29T04:00:00Z)");
	tm_bad("", "expected YYYY-MM-DD or RFC 3339 (2024-09-29T04:00:00Z)");
	tm_bad("2024-09-29T24:00:00Z", "time of day out of range");
	tm_bad("2024-09-29T23:60:00Z", "time of day out of range");
	tm_bad("2024-09-29T23:59:61Z", "time of day out of range");
	tm_bad("2024-09-29T4:00:00Z", "expected the time as HH:MM:SS");
	tm_bad("2024-09-29T04:00Z", "expected the time as HH:MM:SS");
	tm_bad("2024-09-29X04:00:00Z", "expected 'T' between date and time");
	tm_bad("2024-09-29T04:00:00.Z", "expected digits after '.'");
	tm_bad("2024-09-29T04:00:00+0400", "expected the UTC offset as +hh:mm or -hh:mm");
	tm_bad("2024-09-29T04:00:00+24:00", "UTC offset out of range");
	tm_bad("2024-09-29T04:00:00+04:60", "UTC offset out of range");
	tm_bad("2024-09-29T04:00:00Zjunk", "junk after the UTC offset");
	tm_bad("2024-09-29T04:00:00 EDT", "junk after the time");
}

static void test_time_format(void **state)
{
	(void)state;
	char buf[CFG_TIME_BUF];
	assert_string_equal(cfg_time_format(0, buf), "1970-01-01T00:00:00Z");
	assert_string_equal(cfg_time_format(1727582400, buf), "2024-09-29T04:00:00Z");
	assert_string_equal(cfg_time_format(-1, buf), "1969-12-31T23:59:59Z");
	assert_string_equal(cfg_time_format(951782400, buf), "2000-02-29T00:00:00Z");
	assert_string_equal(cfg_time_format(CFG_TIME_NEVER, buf), "never");

	/* Round trip every day across several leap cycles and a century rule. */
	for (int64_t t = -2208988800; t < 4102444800; t += 86400 + 3661) {
		int64_t back;
		const char *why;
		cfg_time_format(t, buf);
		assert_int_equal(cfg_time_parse(buf, &back, &why), 0);
		assert_int_equal(back, t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_net),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
