/*
 * test_qlog_format.c: query log lines, JSON and text (qlog_format.c): exact
 * lines for a block, an audit, a forward; escaping of odd names; times;
 * type and rcode names; a buffer too small is refused without overflow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "resolver/qlog.h"

/* 2026-11-23T19:00:00.123Z */
#define T0 (1795460400LL * 1000 + 123)

static const cfg_ip v4 = { .family = 4, .addr = { 127, 0, 0, 1 } };
static const cfg_ip v6 = { .family = 6, .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };

static const uint8_t s01[] = "\3s01\3upd\x09kaspersky\3com";

static char *fmt(cfg_log_format f, const qlog_rec *r)
{
	static char buf[QLOG_LINE_MAX];
	size_t n = qlog_format(f, r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(buf[n - 1], '\n');
	buf[n] = 0;
	return buf;
}

static qlog_rec blocked(void)
{
	return (qlog_rec){
		.time_ms = T0, .t = TRANSPORT_UDP, .client = &v4, .qname = s01, .qtype = 1,
		.rcode = 0, .action = "sinkhole", .vendor = "kaspersky", .rule = "updates",
		.latency_us = 12,
	};
}

static void test_json_blocked(void **state)
{
	(void)state;
	qlog_rec r = blocked();
	assert_string_equal(fmt(CFG_LOGF_JSON, &r),
		"{\"time\":\"2026-11-23T19:00:00.123Z\",\"client\":\"127.0.0.1\",\"transport\":\"udp\","
		"\"qname\":\"s01.upd.kaspersky.com\",\"qtype\":\"A\",\"rcode\":\"NOERROR\","
		"\"action\":\"sinkhole\",\"vendor\":\"kaspersky\",\"rule\":\"updates\","
		"\"upstream\":null,\"latency_us\":12,\"cached\":false}\n");
	r.cloaked = true;
	r.stale = true;
	r.cached = true;
	r.t = TRANSPORT_TCP;
	assert_non_null(strstr(fmt(CFG_LOGF_JSON, &r),
		"\"transport\":\"tcp\""));
	assert_non_null(strstr(fmt(CFG_LOGF_JSON, &r),
		",\"cached\":true,\"stale\":true,\"cloaked\":true}\n"));
}

/* A rate-limited query: truncated (an answer, TC) or dropped (none). */
static void test_ratelimited(void **state)
{
	(void)state;
	qlog_rec r = {
		.time_ms = T0, .t = TRANSPORT_UDP, .client = &v4, .qname = s01, .qtype = 1,
		.rcode = 0, .action = "ratelimited", .latency_us = 3, .ratelimited = true,
	};
	assert_string_equal(fmt(CFG_LOGF_JSON, &r),
		"{\"time\":\"2026-11-23T19:00:00.123Z\",\"client\":\"127.0.0.1\",\"transport\":\"udp\","
		"\"qname\":\"s01.upd.kaspersky.com\",\"qtype\":\"A\",\"rcode\":\"NOERROR\","
		"\"action\":\"ratelimited\",\"vendor\":null,\"rule\":null,"
		"\"upstream\":null,\"latency_us\":3,\"cached\":false,\"ratelimited\":true}\n");
	r.dropped = true;
	assert_non_null(strstr(fmt(CFG_LOGF_JSON, &r), "\"rcode\":null,\"action\":\"ratelimited\""));
	assert_string_equal(fmt(CFG_LOGF_TEXT, &r),
		"2026-11-23T19:00:00.123Z 127.0.0.1 udp s01.upd.kaspersky.com A - ratelimited - - 3us "
		"ratelimited\n");
}

static void test_json_forwarded(void **state)
{
	(void)state;
	static const uint8_t www[] = "\3WwW\3e2e\4test";
	qlog_rec r = {
		.time_ms = 0, .t = TRANSPORT_UDP, .client = &v6, .qname = www, .qtype = 65,
		.rcode = 3, .action = "pass", .upstream = "[::1]:5353", .latency_us = 1234567,
	};
	assert_string_equal(fmt(CFG_LOGF_JSON, &r),
		"{\"time\":\"1970-01-01T00:00:00.000Z\",\"client\":\"2001:db8::1\",\"transport\":\"udp\","
		"\"qname\":\"WwW.e2e.test\",\"qtype\":\"HTTPS\",\"rcode\":\"NXDOMAIN\","
		"\"action\":\"pass\",\"vendor\":null,\"rule\":null,"
		"\"upstream\":\"[::1]:5353\",\"latency_us\":1234567,\"cached\":false}\n");
	/* a vendor without a rule is not logged half */
	r.vendor = "kaspersky";
	assert_non_null(strstr(fmt(CFG_LOGF_JSON, &r), "\"vendor\":null,\"rule\":null"));
	assert_non_null(strstr(fmt(CFG_LOGF_TEXT, &r), " pass - [::1]:5353 1234567us\n"));
}

static void test_text(void **state)
{
	(void)state;
	qlog_rec r = blocked();
	assert_string_equal(fmt(CFG_LOGF_TEXT, &r),
		"2026-11-23T19:00:00.123Z 127.0.0.1 udp s01.upd.kaspersky.com A NOERROR sinkhole "
		"kaspersky/updates - 12us\n");
	r.action = "audit";
	r.rule = "services";
	r.upstream = "127.0.0.1:53";
	r.cached = r.stale = r.cloaked = true;
	assert_string_equal(fmt(CFG_LOGF_TEXT, &r),
		"2026-11-23T19:00:00.123Z 127.0.0.1 udp s01.upd.kaspersky.com A NOERROR audit "
		"kaspersky/services 127.0.0.1:53 12us cached stale cloaked\n");
}

/* Names are escaped twice: \DDD and \. in presentation form, then for
 * JSON; a text line never gets a space from a name. */
static void test_escaping(void **state)
{
	(void)state;
	static const uint8_t odd[] = "\6a\"b\\ c\2x.\1\x01";
	qlog_rec r = blocked();
	r.qname = odd;
	assert_non_null(strstr(fmt(CFG_LOGF_JSON, &r),
		"\"qname\":\"a\\\"b\\\\\\\\\\\\032c.x\\\\..\\\\001\""));
	assert_non_null(strstr(fmt(CFG_LOGF_TEXT, &r), " udp a\"b\\\\\\032c.x\\..\\001 A "));
	/* the root */
	static const uint8_t root[] = "";
	r.qname = root;
	assert_non_null(strstr(fmt(CFG_LOGF_JSON, &r), "\"qname\":\".\""));
	/* no question (a FORMERR): null and "-" */
	r.qname = NULL;
	assert_non_null(strstr(fmt(CFG_LOGF_JSON, &r), "\"qname\":null,\"qtype\":null,"));
	assert_non_null(strstr(fmt(CFG_LOGF_TEXT, &r), " udp - - NOERROR "));
}

static void test_names(void **state)
{
	(void)state;
	char b[16];
	assert_string_equal(qlog_type_name(1, b), "A");
	assert_string_equal(qlog_type_name(28, b), "AAAA");
	assert_string_equal(qlog_type_name(65, b), "HTTPS");
	assert_string_equal(qlog_type_name(255, b), "ANY");
	assert_string_equal(qlog_type_name(65280, b), "TYPE65280");
	assert_string_equal(qlog_type_name(0, b), "TYPE0");
	assert_string_equal(qlog_rcode_name(0, b), "NOERROR");
	assert_string_equal(qlog_rcode_name(2, b), "SERVFAIL");
	assert_string_equal(qlog_rcode_name(5, b), "REFUSED");
	assert_string_equal(qlog_rcode_name(15, b), "RCODE15");
	assert_string_equal(qlog_rcode_name(16, b), "BADVERS");
}

static void test_times(void **state)
{
	(void)state;
	qlog_rec r = blocked();
	r.time_ms = 951782400LL * 1000 + 7;   /* 2000-02-29 */
	assert_non_null(strstr(fmt(CFG_LOGF_JSON, &r), "\"time\":\"2000-02-29T00:00:00.007Z\""));
	r.time_ms = 4102444799LL * 1000 + 999;
	assert_non_null(strstr(fmt(CFG_LOGF_TEXT, &r), "2099-12-31T23:59:59.999Z "));
	r.time_ms = -5;  /* a clock before 1970 is shown as the epoch */
	assert_non_null(strstr(fmt(CFG_LOGF_TEXT, &r), "1970-01-01T00:00:00.000Z "));
	/* every day from 1970 to 2200 (leap years, centuries) against gmtime_r,
	 * at a time of day that moves through the day */
	for (int64_t day = 0; day < 84000; day++) {
		time_t t = (time_t)(day * 86400 + (day * 7919) % 86400);
		struct tm tm;
		char want[32];
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.042Z ", &tm);
		r.time_ms = (int64_t)t * 1000 + 42;
		char *line = fmt(CFG_LOGF_TEXT, &r);
		if (strncmp(line, want, strlen(want)))
			fail_msg("day %lld: %.25s, want %s", (long long)day, line, want);
	}
}

/* Every cap from 0 to the line's length: 0 unless it fits, and nothing is
 * written past cap. The longest name fits in QLOG_LINE_MAX. */
static void test_small_buffers(void **state)
{
	(void)state;
	char full[QLOG_LINE_MAX], buf[QLOG_LINE_MAX + 16];
	qlog_rec r = blocked();
	for (int f = CFG_LOGF_JSON; f <= CFG_LOGF_TEXT; f++) {
		size_t n = qlog_format((cfg_log_format)f, &r, full, sizeof(full));
		assert_true(n > 0);
		for (size_t cap = 0; cap <= n; cap++) {
			memset(buf, 0x55, sizeof(buf));
			size_t k = qlog_format((cfg_log_format)f, &r, buf, cap);
			assert_int_equal(k, cap == n ? n : 0);
			for (size_t i = cap; i < sizeof(buf); i++)
				assert_int_equal((unsigned char)buf[i], 0x55);
		}
	}
	/* 127 labels of one octet each, all escaped: the worst name */
	uint8_t worst[255];
	for (size_t i = 0; i < 127; i++) {
		worst[2 * i] = 1;
		worst[2 * i + 1] = '\\';
	}
	worst[254] = 0;
	r.qname = worst;
	r.vendor = r.rule = r.upstream = NULL;
	uint8_t bin[255];
	for (size_t i = 0; i < 3; i++) {
		bin[i * 64] = 63;
		memset(bin + i * 64 + 1, 0xff, 63);
	}
	bin[192] = 61;                 /* 3 x 64 + 62 octets + the root: 255 */
	memset(bin + 193, 0xff, 61);
	bin[254] = 0;
	assert_true(qlog_format(CFG_LOGF_JSON, &r, full, sizeof(full)) > 0);
	r.qname = bin;
	assert_true(qlog_format(CFG_LOGF_JSON, &r, full, sizeof(full)) > 0);
	assert_true(qlog_format(CFG_LOGF_TEXT, &r, full, sizeof(full)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_blocked),
		cmocka_unit_test(test_json_forwarded),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_ratelimited),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_small_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
