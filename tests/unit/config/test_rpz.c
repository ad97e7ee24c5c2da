/*
 * test_rpz.c: the `rpz:` mapping of embargo.yaml (daemon_rpz.c): defaults,
 * every key, and each error with its exact position.
 */
#include "helpers.h"

static void addr_is(const cfg_addr *a, const char *want)
{
	char buf[CFG_ADDR_BUF];
	assert_string_equal(cfg_addr_format(a, buf), want);
}

static void net_is(const cfg_net *n, const char *want)
{
	char ip[CFG_IP_BUF], buf[64];
	snprintf(buf, sizeof(buf), "%s/%u", cfg_ip_format(&n->ip, ip), n->prefix);
	assert_string_equal(buf, want);
}

#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="   /* 27 octets */

static void test_absent(void **state)
{
	tctx *t = *state;
	cfg *c = tdaemon(t, "e.yaml", "listen: [127.0.0.1]\n");
	texpect(t, NULL);
	assert_non_null(c);
	assert_null(c->rpz.zone);
	assert_int_equal(c->rpz.n_listen, 0);
	assert_int_equal(c->rpz.n_allow_transfer, 0);
	assert_int_equal(c->rpz.n_tsig, 0);
	assert_int_equal(c->rpz.n_notify, 0);
	cfg_free(c);
}

static void test_defaults(void **state)
{
	tctx *t = *state;
	cfg *c = tdaemon(t, "e.yaml",
			 "rpz:\n"
			 "  zone: RPZ.Embargo\n"
			 "sinkhole:\n"
			 "  ttl: 42\n");
	texpect(t, NULL);
	assert_non_null(c);
	assert_string_equal(c->rpz.zone, "rpz.embargo.");
	assert_int_equal(c->rpz.n_listen, 1);
	addr_is(&c->rpz.listen[0], "127.0.0.1:5354");
	assert_int_equal(c->rpz.n_allow_transfer, 2);
	net_is(&c->rpz.allow_transfer[0], "127.0.0.0/8");
	net_is(&c->rpz.allow_transfer[1], "::1/128");
	assert_int_equal(c->rpz.n_tsig, 0);
	assert_int_equal(c->rpz.n_notify, 0);
	/* ttl follows sinkhole.ttl, even when that comes later in the file */
	assert_int_equal(c->rpz.ttl, 42);
	cfg_free(c);
}

static void test_full(void **state)
{
	tctx *t = *state;
	cfg *c = tdaemon(t, "e.yaml",
			 "rpz:\n"
			 "  zone: rpz.embargo.\n"
			 "  listen: [\"127.0.0.1:5354\", \"::1\", 0.0.0.0:53]\n"
			 "  allow-transfer: [127.0.0.0/8, 10.0.0.0/8, \"fd00::/8\"]\n"
			 "  tsig:\n"
			 "    - name: fleet-key\n"
			 "      algorithm: hmac-sha256\n"
			 "      secret: \"" SECRET "\"\n"
			 "    - name: Old.Key.\n"
			 "      algorithm: hmac-sha1\n"
			 "      secret: " SECRET "\n"
			 "    - name: default-alg\n"
			 "      secret: " SECRET "\n"
			 "  notify: [\"10.0.0.2\", \"[2001:db8::2]:5300\"]\n"
			 "  ttl: 60\n");
	texpect(t, NULL);
	assert_non_null(c);
	assert_string_equal(c->rpz.zone, "rpz.embargo.");
	assert_int_equal(c->rpz.n_listen, 3);
	addr_is(&c->rpz.listen[0], "127.0.0.1:5354");
	addr_is(&c->rpz.listen[1], "[::1]:5354");
	addr_is(&c->rpz.listen[2], "0.0.0.0:53");
	assert_int_equal(c->rpz.n_allow_transfer, 3);
	net_is(&c->rpz.allow_transfer[1], "10.0.0.0/8");
	net_is(&c->rpz.allow_transfer[2], "fd00::/8");
	assert_int_equal(c->rpz.n_tsig, 3);
	assert_string_equal(c->rpz.tsig[0].name, "fleet-key.");
	assert_string_equal(c->rpz.tsig[0].algorithm, "hmac-sha256");
	assert_string_equal(c->rpz.tsig[0].secret, SECRET);
	assert_string_equal(c->rpz.tsig[1].name, "old.key.");
	assert_string_equal(c->rpz.tsig[1].algorithm, "hmac-sha1");
	assert_string_equal(c->rpz.tsig[2].algorithm, "hmac-sha256");
	assert_int_equal(c->rpz.n_notify, 2);
	addr_is(&c->rpz.notify[0], "10.0.0.2:53");
	addr_is(&c->rpz.notify[1], "[2001:db8::2]:5300");
	assert_int_equal(c->rpz.ttl, 60);
	cfg_free(c);
}

static void test_empty_lists(void **state)
{
	tctx *t = *state;
	/* an empty allow-transfer refuses everyone; an empty notify tells no one */
	cfg *c = tdaemon(t, "e.yaml",
			 "rpz:\n"
			 "  zone: rpz.embargo\n"
			 "  allow-transfer: []\n"
			 "  notify: ~\n");
	texpect(t, NULL);
	assert_non_null(c);
	assert_int_equal(c->rpz.n_allow_transfer, 0);
	assert_int_equal(c->rpz.n_notify, 0);
	cfg_free(c);
}

static void test_zone_required(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "a.yaml", "rpz:\n  listen: [127.0.0.1]\n"));
	assert_null(tdaemon(t, "b.yaml", "rpz: ~\n"));
	assert_null(tdaemon(t, "c.yaml", "rpz: [rpz.embargo]\n"));
	assert_null(tdaemon(t, "d.yaml", "rpz: rpz.embargo.\n"));
	texpect(t,
		"a.yaml:2:3: missing required key \"zone\"",
		"b.yaml:1:6: missing required key \"zone\"",
		"c.yaml:1:6: rpz: expected a mapping, found a list",
		"d.yaml:1:6: rpz: expected a mapping, found \"rpz.embargo.\"",
		NULL);
}

static void test_bad_values(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml",
			    "rpz:\n"
			    "  zone: bad..name\n"
			    "  listen: [localhost, 127.0.0.1:99999]\n"
			    "  allow-transfer: [10.0.0.1/8, nonsense]\n"
			    "  notify: [10.0.0.2:0x35]\n"
			    "  ttl: 2147483648\n"
			    "  colour: blue\n"));
	texpect(t,
		"e.yaml:2:9: rpz.zone: bad name \"bad..name\": empty label",
		"e.yaml:3:12: rpz.listen: bad address \"localhost\": not an IP address (host names are not allowed)",
		"e.yaml:3:23: rpz.listen: bad address \"127.0.0.1:99999\": port out of range 1..65535",
		"e.yaml:4:20: rpz.allow-transfer: host bits set in 10.0.0.1/8 (did you mean 10.0.0.0/8?)",
		"e.yaml:4:32: rpz.allow-transfer: bad network \"nonsense\": not an IP address (host names are not allowed)",
		"e.yaml:5:12: rpz.notify: bad address \"10.0.0.2:0x35\": bad port",
		"e.yaml:6:8: rpz.ttl: 2147483648 out of range 0..2147483647",
		"e.yaml:7:3: unknown key \"colour\"",
		NULL);
}

static void test_root_zone(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml", "rpz:\n  zone: \".\"\n"));
	texpect(t, "e.yaml:2:9: rpz.zone: the root cannot be a zone", NULL);
}

static void test_tsig_errors(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml",
			    "rpz:\n"
			    "  zone: rpz.embargo.\n"
			    "  tsig:\n"
			    "    - name: k1\n"
			    "      algorithm: hmac-md5\n"
			    "      secret: " SECRET "\n"
			    "    - name: k2\n"
			    "      secret: \"not base64!\"\n"
			    "    - name: k3\n"
			    "      secret: c2hvcnQ=\n"
			    "    - secret: " SECRET "\n"
			    "    - name: k4\n"
			    "    - name: k5\n"
			    "      secret: " SECRET "\n"
			    "      extra: 1\n"
			    "    - name: K6\n"
			    "      secret: " SECRET "\n"
			    "    - name: k6.\n"
			    "      secret: " SECRET "\n"
			    "    - name: \"bad name\"\n"
			    "      secret: " SECRET "\n"
			    "    - name: k7\n"
			    "      secret: c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IR==\n"
			    "    - fleet-key\n"));
	texpect(t,
		"e.yaml:5:18: rpz.tsig.algorithm: unknown algorithm \"hmac-md5\" (expected hmac-sha256, "
		"hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1)",
		"e.yaml:8:15: rpz.tsig.secret: not base64 (RFC 4648, with '=' padding)",
		"e.yaml:10:15: rpz.tsig.secret: 5 octets is too short (at least 16)",
		"e.yaml:11:7: missing required key \"name\"",
		"e.yaml:12:7: missing required key \"secret\"",
		"e.yaml:15:7: unknown key \"extra\"",
		"e.yaml:18:7: rpz.tsig: duplicate key \"k6.\"",
		"e.yaml:20:13: rpz.tsig.name: bad name \"bad name\": invalid character (use letters, digits, '-' and '_')",
		"e.yaml:23:15: rpz.tsig.secret: not base64 (RFC 4648, with '=' padding)",
		"e.yaml:24:7: rpz.tsig: expected a mapping, found \"fleet-key\"",
		NULL);
}

static void test_tsig_not_a_list(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml",
			    "rpz:\n"
			    "  zone: rpz.embargo.\n"
			    "  tsig: {name: k, secret: " SECRET "}\n"));
	texpect(t, "e.yaml:3:9: rpz.tsig: expected a list, found a mapping", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_absent),
		TEST(test_defaults),
		TEST(test_full),
		TEST(test_empty_lists),
		TEST(test_zone_required),
		TEST(test_bad_values),
		TEST(test_root_zone),
		TEST(test_tsig_errors),
		TEST(test_tsig_not_a_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
