/*
 * test_dname.c: domain names between text and wire form (dname.c).
 */
#include "helpers.h"

#include "config/dname.h"

/* Text -> wire -> text; the result must be `want`. */
static void round_trip(const char *in, const char *want)
{
	uint8_t w[DNAME_MAX];
	size_t len = 0;
	const char *why = NULL;
	char out[DNAME_STR_MAX];
	if (dname_from_str(in, w, &len, &why) != 0)
		fail_msg("%s: %s", in, why);
	assert_int_equal(len, dname_wire_len(w));
	assert_int_equal(dname_to_str(w, out), strlen(want));
	assert_string_equal(out, want);
}

static void bad(const char *in, const char *why_want)
{
	uint8_t w[DNAME_MAX];
	size_t len;
	const char *why = NULL;
	assert_int_equal(dname_from_str(in, w, &len, &why), -1);
	assert_string_equal(why, why_want);
}

static void test_wire_form(void **state)
{
	(void)state;
	uint8_t w[DNAME_MAX];
	size_t len;
	const char *why;
	assert_int_equal(dname_from_str("Upd.Kaspersky.COM.", w, &len, &why), 0);
	assert_int_equal(len, 19);
	assert_memory_equal(w, "\3upd\x09kaspersky\3com", 19);
	assert_int_equal(dname_labels(w), 3);

	assert_int_equal(dname_from_str(".", w, &len, &why), 0);
	assert_int_equal(len, 1);
	assert_int_equal(w[0], 0);
	assert_int_equal(dname_labels(w), 0);
	assert_int_equal(dname_wire_len(w), 1);
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip("example.com", "example.com");
	round_trip("example.com.", "example.com");
	round_trip("EXAMPLE.Com", "example.com");
	round_trip(".", ".");
	round_trip("com", "com");
	round_trip("_dmarc.example.com", "_dmarc.example.com");
	round_trip("xn--bcher-kva.example", "xn--bcher-kva.example");
	round_trip("a-b.c0", "a-b.c0");
}

static void test_limits(void **state)
{
	(void)state;
	char label63[64], label64[65], name[300];
	memset(label63, 'a', 63);
	label63[63] = 0;
	memset(label64, 'a', 64);
	label64[64] = 0;

	snprintf(name, sizeof(name), "%s.com", label63);
	round_trip(name, name);
	snprintf(name, sizeof(name), "%s.com", label64);
	bad(name, "label longer than 63 characters");

	/* 3 x 63 + 61 + 3 dots = 253 characters: 255 octets of wire, the maximum */
	char l61[62];
	memset(l61, 'b', 61);
	l61[61] = 0;
	snprintf(name, sizeof(name), "%s.%s.%s.%s", label63, label63, label63, l61);
	assert_int_equal(strlen(name), 253);
	uint8_t w[DNAME_MAX];
	size_t len;
	const char *why;
	assert_int_equal(dname_from_str(name, w, &len, &why), 0);
	assert_int_equal(len, 255);
	assert_int_equal(dname_wire_len(w), 255);
	round_trip(name, name);
	strcat(name, "."); /* a trailing dot does not count */
	assert_int_equal(dname_from_str(name, w, &len, &why), 0);
	assert_int_equal(len, 255);

	/* one more character */
	char l62[63];
	memset(l62, 'b', 62);
	l62[62] = 0;
	snprintf(name, sizeof(name), "%s.%s.%s.%s", label63, label63, label63, l62);
	assert_int_equal(strlen(name), 254);
	bad(name, "name longer than 253 characters");
}

static void test_invalid(void **state)
{
	(void)state;
	bad("", "empty name");
	bad("a..b", "empty label");
	bad(".example.com", "empty label");
	bad("example.com..", "empty label");
	bad("..", "empty label");
	bad("-abc.com", "label begins with '-'");
	bad("abc-.com", "label ends with '-'");
	bad("abc.-", "label begins with '-'");
	bad("b\xc3\xbc" "cher.example", "non-ASCII character (write IDNs as A-labels, xn--...)");
	bad("exa mple.com", "invalid character (use letters, digits, '-' and '_')");
	bad("example.com/", "invalid character (use letters, digits, '-' and '_')");
	bad("*.example.com", "wildcards are not needed ('domains' match every name below)");
}

static void test_to_str_escapes(void **state)
{
	(void)state;
	/* Names from the wire may hold anything; text output must stay readable. */
	const uint8_t w[] = {4, 'a', '.', 0x01, 'B', 2, '\\', ' ', 0};
	char out[DNAME_STR_MAX];
	assert_int_equal(dname_to_str(w, out), strlen("a\\.\\001B.\\\\\\032"));
	assert_string_equal(out, "a\\.\\001B.\\\\\\032");

	uint8_t l[] = {3, 'W', 'w', 'W', 2, 'E', 'x', 0};
	dname_lower(l);
	assert_memory_equal(l, "\3www\2ex", 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_form),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_to_str_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
