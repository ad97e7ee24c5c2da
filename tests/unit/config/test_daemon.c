/*
 * test_daemon.c: embargo.yaml, its defaults and every class of error, with
 * exact positions (daemon.c, yaml_reader.c).
 */
#include "helpers.h"

static void addr_is(const cfg_addr *a, const char *want)
{
	char buf[CFG_ADDR_BUF];
	assert_string_equal(cfg_addr_format(a, buf), want);
}

static void check_defaults(const cfg *c)
{
	char ip[CFG_IP_BUF];
	assert_int_equal(c->n_listen, 2);
	addr_is(&c->listen[0], "127.0.0.1:53");
	addr_is(&c->listen[1], "[::1]:53");
	assert_int_equal(c->tls.n_listen, 0);
	assert_null(c->tls.certificate);
	assert_int_equal(c->n_upstreams, 0);
	assert_null(c->tls_ca);
	assert_int_equal(c->timeout_ms, 1500);
	assert_int_equal(c->cache.entries, 100000);
	assert_int_equal(c->cache.min_ttl, 0);
	assert_int_equal(c->cache.max_ttl, 86400);
	assert_int_equal(c->cache.stale_max, 0);
	assert_string_equal(cfg_ip_format(&c->sinkhole.ipv4, ip), "0.0.0.0");
	assert_string_equal(cfg_ip_format(&c->sinkhole.ipv6, ip), "::");
	assert_int_equal(c->sinkhole.ttl, 300);
	assert_int_equal(c->n_policy_paths, 0);
	assert_int_equal(c->n_groups, 0);
	assert_int_equal(c->log.queries, CFG_LOGQ_BLOCKED);
	assert_int_equal(c->log.format, CFG_LOGF_JSON);
	assert_string_equal(c->log.file, "-");
	assert_int_equal(c->n_access, 6);
	assert_false(c->http_set);
	assert_null(c->user);
	assert_int_equal(c->workers, 1);
	assert_int_equal(c->exposure_clients, 10000);
	assert_true(c->minimal_responses);
	assert_int_equal(c->n_vendors, 0);
}

static void test_defaults(void **state)
{
	tctx *t = *state;
	const char *docs[] = {"---\n", "~\n", "# only a comment\n---\n...\n"};
	for (size_t i = 0; i < 3; i++) {
		cfg *c = tdaemon(t, "e.yaml", docs[i]);
		texpect(t, NULL);
		assert_non_null(c);
		check_defaults(c);
		cfg_ip ip;
		const char *why;
		assert_int_equal(cfg_ip_parse("192.168.7.7", &ip, &why), 0);
		bool allowed = false;
		for (size_t j = 0; j < c->n_access; j++)
			allowed |= cfg_net_contains(&c->access[j], &ip);
		assert_true(allowed);
		cfg_free(c);
	}
}

static void test_empty_file(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml", ""));
	assert_null(tdaemon(t, "c.yaml", "# nothing here\n\n"));
	texpect(t, "e.yaml:1:1: empty file", "c.yaml:3:1: empty file", NULL);
}

static void test_cannot_open(void **state)
{
	tctx *t = *state;
	assert_null(cfg_load_daemon(tpath(t, "nope.yaml"), &t->diags));
	assert_null(cfg_load_daemon(t->dir, &t->diags));
	char want[600];
	snprintf(want, sizeof(want), "%s: cannot open: Is a directory", t->dir);
	texpect(t, "nope.yaml: cannot open: No such file or directory", want, NULL);
}

static const char full[] =
	"listen:\n"
	"  - 127.0.0.1:5335\n"
	"  - \"[::1]:5335\"\n"
	"  - ::1\n"
	"tls:\n"
	"  listen: [\"0.0.0.0\"]\n"
	"  certificate: /etc/embargo/tls.pem\n"
	"  key: /etc/embargo/tls.key\n"
	"upstreams:\n"
	"  - 192.0.2.1\n"
	"  - \"[2001:db8::1]:5300\"\n"
	"  - tls://9.9.9.9#dns.quad9.net\n"
	"  - tls://[2620:fe::fe]:8853#dns.quad9.net\n"
	"tls-ca: /etc/ssl/certs/ca-certificates.crt\n"
	"timeout: 2s\n"
	"cache:\n"
	"  entries: 0\n"
	"  min-ttl: 60\n"
	"  max-ttl: 3600\n"
	"  stale-max: 1d\n"
	"sinkhole:\n"
	"  ipv4: 192.0.2.99\n"
	"  ipv6: \"2001:db8::99\"\n"
	"  ttl: 30\n"
	"policies:\n"
	"  - pol/\n"
	"  - extra.yaml\n"
	"groups:\n"
	"  - name: security-lab\n"
	"    networks: [10.66.0.0/16, \"fd00:66::/32\"]\n"
	"    exempt: [kaspersky, other/rule-1]\n"
	"log:\n"
	"  queries: all\n"
	"  format: text\n"
	"  file: /var/log/embargo.log\n"
	"access: [127.0.0.0/8, \"::1/128\"]\n"
	"http: 127.0.0.1\n"
	"user: embargo\n"
	"workers: auto\n"
	"exposure-clients: 0\n";

static void test_full(void **state)
{
	tctx *t = *state;
	char ip[CFG_IP_BUF];
	tmkdir(t, "pol");
	twrite(t, "pol/b.yaml", "");
	twrite(t, "pol/a.yaml", "");
	twrite(t, "pol/c.yml", "");      /* not *.yaml: ignored */
	twrite(t, "pol/.hidden.yaml", "");
	twrite(t, "extra.yaml", "");
	cfg *c = tdaemon(t, "embargo.yaml", full);
	texpect(t, NULL);
	assert_non_null(c);
	assert_string_equal(c->path, tpath(t, "embargo.yaml"));
	assert_int_equal(c->n_listen, 3);
	addr_is(&c->listen[0], "127.0.0.1:5335");
	addr_is(&c->listen[1], "[::1]:5335");
	addr_is(&c->listen[2], "[::1]:53");
	assert_int_equal(c->tls.n_listen, 1);
	addr_is(&c->tls.listen[0], "0.0.0.0:853");
	assert_string_equal(c->tls.certificate, "/etc/embargo/tls.pem");
	assert_string_equal(c->tls.key, "/etc/embargo/tls.key");
	assert_int_equal(c->n_upstreams, 4);
	addr_is(&c->upstreams[0].addr, "192.0.2.1:53");
	assert_false(c->upstreams[0].tls);
	addr_is(&c->upstreams[1].addr, "[2001:db8::1]:5300");
	addr_is(&c->upstreams[2].addr, "9.9.9.9:853");
	assert_true(c->upstreams[2].tls);
	assert_string_equal(c->upstreams[2].tls_name, "dns.quad9.net");
	addr_is(&c->upstreams[3].addr, "[2620:fe::fe]:8853");
	assert_string_equal(c->tls_ca, "/etc/ssl/certs/ca-certificates.crt");
	assert_int_equal(c->timeout_ms, 2000);
	assert_int_equal(c->cache.entries, 0);
	assert_int_equal(c->cache.min_ttl, 60);
	assert_int_equal(c->cache.max_ttl, 3600);
	assert_int_equal(c->cache.stale_max, 86400);
	assert_string_equal(cfg_ip_format(&c->sinkhole.ipv4, ip), "192.0.2.99");
	assert_string_equal(cfg_ip_format(&c->sinkhole.ipv6, ip), "2001:db8::99");
	assert_int_equal(c->sinkhole.ttl, 30);
	assert_int_equal(c->n_policy_paths, 3);
	assert_string_equal(c->policy_paths[0], tpath(t, "pol/a.yaml"));
	assert_string_equal(c->policy_paths[1], tpath(t, "pol/b.yaml"));
	assert_string_equal(c->policy_paths[2], tpath(t, "extra.yaml"));
	assert_int_equal(c->n_groups, 1);
	assert_string_equal(c->groups[0].name, "security-lab");
	assert_int_equal(c->groups[0].n_nets, 2);
	assert_int_equal(c->groups[0].nets[1].prefix, 32);
	assert_int_equal(c->groups[0].n_exempt, 2);
	assert_string_equal(c->groups[0].exempt[1], "other/rule-1");
	assert_int_equal(c->groups[0].exempt_line[1], 31);
	assert_int_equal(c->groups[0].exempt_col[1], 25);
	assert_int_equal(c->log.queries, CFG_LOGQ_ALL);
	assert_int_equal(c->log.format, CFG_LOGF_TEXT);
	assert_string_equal(c->log.file, "/var/log/embargo.log");
	assert_int_equal(c->n_access, 2);
	assert_true(c->http_set);
	addr_is(&c->http, "127.0.0.1:9153");
	assert_string_equal(c->user, "embargo");
	assert_int_equal(c->workers, 0);
	assert_int_equal(c->exposure_clients, 0);
	cfg_free(c);
}

static void test_unknown_and_duplicate_keys(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml",
			    "listen: [127.0.0.1]\n"
			    "listn: [127.0.0.1]\n"
			    "cache:\n"
			    "  entries: 5\n"
			    "  entries: 6\n"
			    "  size: 7\n"
			    "listen: []\n"));
	texpect(t,
		"e.yaml:2:1: unknown key \"listn\"",
		"e.yaml:5:3: duplicate key \"entries\"",
		"e.yaml:6:3: unknown key \"size\"",
		"e.yaml:7:1: duplicate key \"listen\"",
		NULL);
}

static void test_wrong_types(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml",
			    "listen: 127.0.0.1\n"
			    "cache: [1, 2]\n"
			    "timeout: [1s]\n"
			    "upstreams:\n"
			    "  - {addr: 192.0.2.1}\n"
			    "log: off\n"
			    "user: {name: x}\n"
			    "? [complex]\n"
			    ": 1\n"));
	texpect(t,
		"e.yaml:1:9: listen: expected a list, found \"127.0.0.1\"",
		"e.yaml:2:8: cache: expected a mapping, found a list",
		"e.yaml:3:10: timeout: expected a duration, found a list",
		"e.yaml:5:6: unknown key \"addr\"",
		"e.yaml:5:5: missing required key \"address\"",
		"e.yaml:6:6: log: expected a mapping, found \"off\"",
		"e.yaml:7:7: user: expected a string, found a mapping",
		"e.yaml:8:3: keys must be plain strings",
		NULL);
	cfg_diags_free(&t->diags);
	assert_null(tdaemon(t, "list.yaml", "- listen\n"));
	texpect(t, "list.yaml:1:1: document: expected a mapping, found a list", NULL);
}

static void test_bad_values(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml",
			    "listen:\n"
			    "  - 127.0.0.1:99999\n"       /* 2 */
			    "  - dns.example\n"           /* 3 */
			    "  - 127.0.0.1:0\n"           /* 4 */
			    "timeout: 15OOms\n"           /* 5 */
			    "access:\n"
			    "  - 10.0.0.1/8\n"            /* 7 */
			    "  - 10.0.0.0/40\n"           /* 8 */
			    "  - fd00::/x\n"              /* 9 */
			    "sinkhole:\n"
			    "  ipv4: \"::\"\n"            /* 11 */
			    "  ipv6: 0.0.0.0\n"           /* 12 */
			    "  ttl: -5\n"                 /* 13 */
			    "cache:\n"
			    "  entries: 4294967296\n"     /* 15 */
			    "  min-ttl: ten\n"            /* 16 */
			    "http: \"[::1]:http\"\n"      /* 17 */
			    "workers: 0\n"                /* 18 */
			    "log:\n"
			    "  queries: some\n"           /* 20 */
			    "  format: xml\n"));          /* 21 */
	texpect(t,
		"e.yaml:2:5: listen: bad address \"127.0.0.1:99999\": port out of range 1..65535",
		"e.yaml:3:5: listen: bad address \"dns.example\": not an IP address (host names are not allowed)",
		"e.yaml:4:5: listen: bad address \"127.0.0.1:0\": port out of range 1..65535",
		"e.yaml:5:10: timeout: bad duration \"15OOms\": unknown unit (expected ms, s, m, h or d)",
		"e.yaml:7:5: access: host bits set in 10.0.0.1/8 (did you mean 10.0.0.0/8?)",
		"e.yaml:8:5: access: bad network \"10.0.0.0/40\": prefix length out of range 0..32",
		"e.yaml:9:5: access: bad network \"fd00::/x\": bad prefix length",
		"e.yaml:11:9: sinkhole.ipv4: \"::\" is not an IPv4 address",
		"e.yaml:12:9: sinkhole.ipv6: \"0.0.0.0\" is not an IPv6 address",
		"e.yaml:13:8: sinkhole.ttl: must not be negative, found -5",
		"e.yaml:15:12: cache.entries: 4294967296 out of range 0..4294967295",
		"e.yaml:16:12: cache.min-ttl: expected a non-negative integer, found \"ten\"",
		"e.yaml:17:7: http: bad address \"[::1]:http\": bad port",
		"e.yaml:18:10: workers: must be at least 1 (or auto)",
		"e.yaml:20:12: log.queries: unknown value \"some\" (expected off, blocked, audited or all)",
		"e.yaml:21:11: log.format: unknown value \"xml\" (expected json or text)",
		NULL);
}

static void test_timeout_range(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "a.yaml", "timeout: 0ms\n"));
	assert_null(tdaemon(t, "b.yaml", "timeout: 61s\n"));
	cfg *c = tdaemon(t, "c.yaml", "timeout: 60s\n");
	assert_non_null(c);
	assert_int_equal(c->timeout_ms, 60000);
	cfg_free(c);
	c = tdaemon(t, "d.yaml", "timeout: 1\nworkers: 4\nexposure-clients: 250\n");
	assert_non_null(c);
	assert_int_equal(c->timeout_ms, 1000);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->exposure_clients, 250);
	cfg_free(c);
	assert_null(tdaemon(t, "f.yaml", "exposure-clients: 1000001\n"));
	texpect(t,
		"a.yaml:1:10: timeout: 0ms is out of range (more than 0, at most 60s)",
		"b.yaml:1:10: timeout: 61s is out of range (more than 0, at most 60s)",
		"f.yaml:1:19: exposure-clients: 1000001 out of range 0..1000000",
		NULL);
}

static void test_upstreams(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml",
			    "upstreams:\n"
			    "  - tls://9.9.9.9\n"
			    "  - tls://9.9.9.9#\n"
			    "  - 192.0.2.1#dns.example\n"
			    "  - https://192.0.2.1\n"
			    "  - tls://9.9.9.9#bad..name\n"
			    "  - tls://quad9:853#dns.quad9.net\n"
			    "  - 192.0.2.2\n"));
	texpect(t,
		"e.yaml:2:5: upstreams: \"tls://9.9.9.9\" needs #NAME, the name to check the server's certificate against",
		"e.yaml:3:5: upstreams: \"tls://9.9.9.9#\" needs #NAME, the name to check the server's certificate against",
		"e.yaml:4:5: upstreams: \"192.0.2.1#dns.example\": #NAME is only for tls:// upstreams",
		"e.yaml:5:5: upstreams: unknown scheme in \"https://192.0.2.1\" (expected ADDR[:PORT] or tls://ADDR[:PORT]#NAME)",
		"e.yaml:6:5: upstreams: bad TLS name \"bad..name\": empty label",
		"e.yaml:7:5: upstreams: bad address \"tls://quad9:853#dns.quad9.net\": not an IP address (host names are not allowed)",
		NULL);
}

/* The mapping form carries a pin (RFC 7858 section 4.2); the string form
 * still works beside it. */
static void test_upstream_pins(void **state)
{
	tctx *t = *state;
	cfg *c = tdaemon(t, "p.yaml",
			 "upstreams:\n"
			 "  - {address: \"tls://192.0.2.53#dot.example\",\n"
			 "     pin-sha256: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}\n"
			 "  - pin-sha256: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
			 "    address: tls://[2001:db8::53]:8853#dot.example\n"
			 "  - address: tls://192.0.2.54#other.example\n"
			 "  - 192.0.2.1\n");
	texpect(t, NULL);
	assert_non_null(c);
	assert_int_equal(c->n_upstreams, 4);
	addr_is(&c->upstreams[0].addr, "192.0.2.53:853");
	assert_true(c->upstreams[0].tls);
	assert_string_equal(c->upstreams[0].tls_name, "dot.example");
	assert_true(c->upstreams[0].has_pin);
	for (int i = 0; i < 32; i++)
		assert_int_equal(c->upstreams[0].pin[i], i);
	addr_is(&c->upstreams[1].addr, "[2001:db8::53]:8853");
	assert_true(c->upstreams[1].has_pin);
	assert_int_equal(c->upstreams[1].pin[31], 31);
	assert_true(c->upstreams[2].tls);
	assert_false(c->upstreams[2].has_pin);
	assert_false(c->upstreams[3].tls);
	assert_false(c->upstreams[3].has_pin);
	cfg_free(c);

	assert_null(tdaemon(t, "e.yaml",
			    "upstreams:\n"
			    "  - {address: 192.0.2.1, pin-sha256: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}\n"
			    "  - {address: tls://192.0.2.2#a.example, pin-sha256: AAEC}\n"
			    "  - {address: tls://192.0.2.2#a.example, pin-sha256: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH!8=\"}\n"
			    "  - {pin-sha256: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}\n"
			    "  - {address: tls://192.0.2.2, pin-sha256: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}\n"
			    "  - {address: tls://192.0.2.2#a.example, pin: x}\n"));
	texpect(t,
		"e.yaml:2:38: upstreams.pin-sha256: a pin is only for tls:// upstreams",
		"e.yaml:3:54: upstreams.pin-sha256: bad pin-sha256 \"AAEC\": expected the base64 of 32 octets (44 characters)",
		"e.yaml:4:54: upstreams.pin-sha256: bad pin-sha256 \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH!8=\": '!' is not base64",
		"e.yaml:5:5: missing required key \"address\"",
		"e.yaml:6:15: upstreams.address: \"tls://192.0.2.2\" needs #NAME, the name to check the server's certificate against",
		"e.yaml:7:42: unknown key \"pin\"",
		NULL);
}

static void test_cross_field(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml",
			    "cache: {min-ttl: 100, max-ttl: 50}\n"
			    "tls:\n"
			    "  listen: [\"0.0.0.0\"]\n"
			    "groups:\n"
			    "  - name: lab\n"
			    "    networks: [10.0.0.0/8]\n"
			    "    exempt: [\"Bad Vendor\", a/b/c, ok/rule]\n"
			    "  - networks: []\n"
			    "  - name: lab\n"
			    "    networks: [10.1.0.0/16]\n"
			    "  - just-a-string\n"));
	texpect(t,
		"e.yaml:1:8: cache: min-ttl 100 is greater than max-ttl 50",
		"e.yaml:3:3: tls: missing required key \"certificate\" (needed by tls.listen)",
		"e.yaml:3:3: tls: missing required key \"key\" (needed by tls.listen)",
		"e.yaml:7:14: groups.exempt: bad entry \"Bad Vendor\" (expected VENDOR or VENDOR/RULE)",
		"e.yaml:7:28: groups.exempt: bad entry \"a/b/c\" (expected VENDOR or VENDOR/RULE)",
		"e.yaml:8:5: missing required key \"name\"",
		"e.yaml:9:5: groups: duplicate group \"lab\"",
		"e.yaml:11:5: groups: expected a mapping, found \"just-a-string\"",
		NULL);
}

static void test_policy_paths(void **state)
{
	tctx *t = *state;
	tmkdir(t, "sub");
	tmkdir(t, "sub/policies");
	twrite(t, "sub/policies/z.yaml", "");
	twrite(t, "sub/policies/10-b.yaml", "");
	twrite(t, "sub/policies/02-a.yaml", "");
	twrite(t, "sub/policies/README", "");
	twrite(t, "sub/one.yaml", "");
	char abs[600];
	snprintf(abs, sizeof(abs), "policies:\n  - policies\n  - %s\n  - missing.yaml\n  - \"\"\n",
		 tpath(t, "sub/one.yaml"));
	cfg *c = tdaemon(t, "sub/embargo.yaml", abs);
	assert_null(c);
	char want[700];
	snprintf(want, sizeof(want),
		 "sub/embargo.yaml:4:5: policies: cannot open \"%s\": No such file or directory",
		 tpath(t, "sub/missing.yaml"));
	texpect(t, want, "sub/embargo.yaml:5:5: policies: empty path", NULL);

	cfg_diags_free(&t->diags);
	snprintf(abs, sizeof(abs), "policies: [policies/, %s]\n", tpath(t, "sub/one.yaml"));
	c = tdaemon(t, "sub/embargo.yaml", abs);
	texpect(t, NULL);
	assert_non_null(c);
	assert_int_equal(c->n_policy_paths, 4);
	assert_string_equal(c->policy_paths[0], tpath(t, "sub/policies/02-a.yaml"));
	assert_string_equal(c->policy_paths[1], tpath(t, "sub/policies/10-b.yaml"));
	assert_string_equal(c->policy_paths[2], tpath(t, "sub/policies/z.yaml"));
	assert_string_equal(c->policy_paths[3], tpath(t, "sub/one.yaml"));
	cfg_free(c);
}

static void test_syntax_error(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml", "timeout: 2s\nlisten: [127.0.0.1\nuser: x\n"));
	assert_null(tdaemon(t, "f.yaml", "timeout: 2s\n  user: x\n"));
	assert_null(tdaemon(t, "g.yaml", "listen: \"unterminated\n"));
	texpect(t,
		"e.yaml:3:5: syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 9)",
		"f.yaml:2:7: syntax error: mapping values are not allowed in this context",
		"g.yaml:2:1: syntax error: found unexpected end of stream (while scanning a quoted scalar at line 1, column 9)",
		NULL);
}

static void test_aliases_and_documents(void **state)
{
	tctx *t = *state;
	assert_null(tdaemon(t, "e.yaml",
			    "listen: &l [127.0.0.1]\n"
			    "access: *l\n"
			    "user: x\n"));
	assert_null(tdaemon(t, "m.yaml", "user: a\n---\nuser: b\n"));
	texpect(t,
		"e.yaml:1:9: anchors and aliases are not supported",
		"e.yaml:2:9: aliases are not supported",
		"m.yaml:2:1: multiple documents are not supported",
		NULL);
}

static void test_many_errors_one_file(void **state)
{
	tctx *t = *state;
	/* Every error is found in one pass, including after a bad nested value. */
	assert_null(tdaemon(t, "e.yaml",
			    "timeout: soon\n"
			    "cache:\n"
			    "  entries: {a: [1, 2, {b: c}]}\n"
			    "  max-ttl: x\n"
			    "vendr: 1\n"
			    "listen: [1.2.3.4:0, 5.6.7.8, \"[::1]:99999\"]\n"
			    "workers: lots\n"));
	texpect(t,
		"e.yaml:1:10: timeout: bad duration \"soon\": expected a number and a unit (ms, s, m, h, d)",
		"e.yaml:3:12: cache.entries: expected an integer, found a mapping",
		"e.yaml:4:12: cache.max-ttl: expected a non-negative integer, found \"x\"",
		"e.yaml:5:1: unknown key \"vendr\"",
		"e.yaml:6:10: listen: bad address \"1.2.3.4:0\": port out of range 1..65535",
		"e.yaml:6:30: listen: bad address \"[::1]:99999\": port out of range 1..65535",
		"e.yaml:7:10: workers: expected a non-negative integer, found \"lots\"",
		NULL);
}

static void test_null_values(void **state)
{
	tctx *t = *state;
	/* An empty value keeps the default; an empty list means none. */
	cfg *c = tdaemon(t, "e.yaml", "listen: []\ncache:\nlog:\n  file:\nupstreams:\nuser: ~\n");
	texpect(t, NULL);
	assert_non_null(c);
	assert_int_equal(c->n_listen, 0);
	assert_int_equal(c->cache.entries, 100000);
	assert_string_equal(c->log.file, "-");
	assert_null(c->user);
	cfg_free(c);
}

static void test_minimal_responses(void **state)
{
	tctx *t = *state;
	/* yes/no as in unbound.conf, true/false as hide-version */
	const char *off[] = {"minimal-responses: no\n", "minimal-responses: false\n"};
	const char *on[] = {"minimal-responses: yes\n", "minimal-responses: true\n"};
	for (size_t i = 0; i < 2; i++) {
		cfg *c = tdaemon(t, "e.yaml", off[i]);
		assert_non_null(c);
		assert_false(c->minimal_responses);
		cfg_free(c);
		c = tdaemon(t, "e.yaml", on[i]);
		assert_non_null(c);
		assert_true(c->minimal_responses);
		cfg_free(c);
	}
	texpect(t, NULL);
	assert_null(tdaemon(t, "m.yaml", "workers: 2\nminimal-responses: maybe\n"));
	texpect(t,
		"m.yaml:2:20: minimal-responses: unknown value \"maybe\" (expected no, yes, false or true)",
		NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_defaults),
		TEST(test_empty_file),
		TEST(test_cannot_open),
		TEST(test_full),
		TEST(test_unknown_and_duplicate_keys),
		TEST(test_wrong_types),
		TEST(test_bad_values),
		TEST(test_timeout_range),
		TEST(test_upstreams),
		TEST(test_upstream_pins),
		TEST(test_cross_field),
		TEST(test_policy_paths),
		TEST(test_syntax_error),
		TEST(test_aliases_and_documents),
		TEST(test_many_errors_one_file),
		TEST(test_null_values),
		TEST(test_minimal_responses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
