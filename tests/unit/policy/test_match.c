/*
 * test_match.c: the name matcher and the walk: label boundaries, case, hosts
 * against domains, specificity, allow entries, and names of any octets.
 */
#include "helpers.h"

#include <string.h>

#include "policy/policy_internal.h"

#define NOW (TC_T0 + 100)

static policy_match raw(const policy *p, const void *wire)
{
	policy_match m;
	policy_decide(p, wire, 1, NULL, NOW, &m);
	return m;
}

/* kaspersky: domains kaspersky.com, labs.example; host dnl.geo.example */
static cfg *basic_cfg(void)
{
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "kaspersky", "BIS");
	cfg_rule *r = tc_rule(v, "updates", CFG_ACT_NXDOMAIN, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(r, "kaspersky.com");
	tc_domain(r, "labs.example");
	tc_host(r, "dnl.geo.example");
	return c;
}

static void label_boundaries(void **state)
{
	(void)state;
	cfg *c = basic_cfg();
	policy *p = tc_build(c);
	tc_free(c); /* the snapshot must not borrow from the cfg */

	policy_match m = tc_decide(p, "kaspersky.com", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(tc_entry(&m), "kaspersky.com");
	assert_int_equal(m.entry_kind, POLICY_ENTRY_DOMAIN);
	assert_string_equal(m.rule->id, "updates");
	assert_int_equal(m.answer, POLICY_ANS_NXDOMAIN);

	m = tc_decide(p, "a.b.kaspersky.com", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(tc_entry(&m), "kaspersky.com");

	const char *miss[] = {"notkaspersky.com", "kaspersky.com.evil.example", "com", "kaspersky.co",
			      "kaspersky.comx", "xkaspersky.com", "example", "abs.example"};
	for (size_t i = 0; i < sizeof miss / sizeof *miss; i++) {
		m = tc_decide(p, miss[i], 1, NULL, NOW);
		assert_int_equal(m.verdict, POLICY_PASS);
		assert_null(m.entry);
		assert_null(m.rule);
	}
	policy_free(p);
}

static void case_insensitive(void **state)
{
	(void)state;
	cfg *c = basic_cfg();
	policy *p = tc_build(c);

	policy_match m = raw(p, "\003WwW\011KaSpErSkY\003COM");
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(tc_entry(&m), "kaspersky.com");
	m = raw(p, "\003DNL\003GEO\007EXAMPLE");
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_int_equal(m.entry_kind, POLICY_ENTRY_HOST);
	/* only ASCII folds: 0xCB is not 'K' */
	m = raw(p, "\011\313ASPERSKY\003COM");
	assert_int_equal(m.verdict, POLICY_PASS);
	policy_free(p);
	tc_free(c);
}

static void host_is_exact(void **state)
{
	(void)state;
	cfg *c = basic_cfg();
	policy *p = tc_build(c);

	policy_match m = tc_decide(p, "dnl.geo.example", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_int_equal(m.entry_kind, POLICY_ENTRY_HOST);
	assert_string_equal(tc_entry(&m), "dnl.geo.example");
	assert_int_equal(tc_decide(p, "a.dnl.geo.example", 1, NULL, NOW).verdict, POLICY_PASS);
	assert_int_equal(tc_decide(p, "geo.example", 1, NULL, NOW).verdict, POLICY_PASS);
	policy_free(p);
	tc_free(c);
}

static void most_specific_wins(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "acme", NULL);
	cfg_rule *broad = tc_rule(v, "broad", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	cfg_rule *narrow = tc_rule(v, "narrow", CFG_ACT_SINKHOLE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(broad, "acme.example");
	tc_domain(narrow, "cdn.acme.example");
	tc_host(broad, "x.cdn.acme.example"); /* host beats the domain of the same name */
	tc_domain(narrow, "x.cdn.acme.example");
	policy *p = tc_build(c);

	policy_match m = tc_decide(p, "a.cdn.acme.example", 1, NULL, NOW);
	assert_string_equal(m.rule->id, "narrow");
	assert_string_equal(tc_entry(&m), "cdn.acme.example");
	assert_int_equal(m.answer, POLICY_ANS_SINK_A);
	m = tc_decide(p, "www.acme.example", 1, NULL, NOW);
	assert_string_equal(m.rule->id, "broad");
	m = tc_decide(p, "x.cdn.acme.example", 1, NULL, NOW);
	assert_int_equal(m.entry_kind, POLICY_ENTRY_HOST);
	assert_string_equal(m.rule->id, "broad");
	m = tc_decide(p, "y.x.cdn.acme.example", 1, NULL, NOW);
	assert_int_equal(m.entry_kind, POLICY_ENTRY_DOMAIN);
	assert_string_equal(tc_entry(&m), "x.cdn.acme.example");
	assert_string_equal(m.rule->id, "narrow");
	policy_free(p);
	tc_free(c);
}

static void allow_entries(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *k = tc_vendor(c, "kaspersky", NULL);
	cfg_rule *r = tc_rule(k, "all", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(r, "kaspersky.com");
	tc_domain(r, "support.kaspersky.com");    /* same name as the allow: allow wins */
	tc_domain(r, "bad.support.kaspersky.com"); /* under the allow, more specific: blocks */
	tc_allow(k, "support.kaspersky.com");
	cfg_vendor *o = tc_vendor(c, "other", NULL);
	cfg_rule *ro = tc_rule(o, "o", CFG_ACT_NODATA, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(ro, "kaspersky.com");
	cfg_vendor *t = tc_vendor(c, "third", NULL);
	cfg_rule *rt = tc_rule(t, "t", CFG_ACT_NODATA, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(rt, "third.example");
	tc_allow(t, "ok.third.example");
	policy *p = tc_build(c);

	policy_match m = tc_decide(p, "www.kaspersky.com", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(m.rule->vendor->id, "kaspersky"); /* first vendor in load order */

	/* kaspersky's allow stops kaspersky at that name and above, not "other" */
	m = tc_decide(p, "a.support.kaspersky.com", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(m.rule->vendor->id, "other");
	assert_string_equal(tc_entry(&m), "kaspersky.com");
	assert_int_equal(m.answer, POLICY_ANS_NODATA);

	m = tc_decide(p, "x.bad.support.kaspersky.com", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_string_equal(m.rule->vendor->id, "kaspersky");
	assert_string_equal(tc_entry(&m), "bad.support.kaspersky.com");

	m = tc_decide(p, "a.ok.third.example", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_PASS);
	assert_non_null(m.allowed_by);
	assert_string_equal(m.allowed_by->id, "third");
	assert_int_equal(m.entry_kind, POLICY_ENTRY_ALLOW);
	assert_string_equal(tc_entry(&m), "ok.third.example");
	assert_null(m.rule);
	m = tc_decide(p, "ok2.third.example", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_null(m.allowed_by);
	policy_free(p);
	tc_free(c);
}

static void root_and_trailing_dot(void **state)
{
	(void)state;
	cfg *c = basic_cfg();
	policy *p = tc_build(c);

	assert_int_equal(tc_decide(p, "kaspersky.com.", 1, NULL, NOW).verdict, POLICY_BLOCK);
	policy_match m = tc_decide(p, ".", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_PASS);
	assert_null(m.entry);
	policy_free(p);
	tc_free(c);
}

/* A root entry (whatever the loader allows) blocks everything, root included. */
static void root_entry(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_rule *r = tc_rule(tc_vendor(c, "all", NULL), "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER,
			      CFG_BEFORE_AUDIT);
	tc_domain_wire(r, (const uint8_t *)"", 1);
	policy *p = tc_build(c);
	assert_int_equal(tc_decide(p, ".", 1, NULL, NOW).verdict, POLICY_BLOCK);
	assert_int_equal(tc_decide(p, "a.b.c", 1, NULL, NOW).verdict, POLICY_BLOCK);
	policy_free(p);
	tc_free(c);
}

/* 253 characters of text, 255 octets of wire form, four 63-octet labels. */
static void longest_name(void **state)
{
	(void)state;
	char name[300], label[64];
	memset(label, 'a', 63);
	label[63] = 0;
	snprintf(name, sizeof name, "%s.%s.%s.%.61s", label, label, label, label);
	assert_int_equal(strlen(name), 253);
	cfg *c = tc_new();
	cfg_rule *r = tc_rule(tc_vendor(c, "v", NULL), "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER,
			      CFG_BEFORE_AUDIT);
	tc_host(r, name);
	tc_domain(r, name + 128); /* the last two labels */
	policy *p = tc_build(c);

	policy_match m = tc_decide(p, name, 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_int_equal(m.entry_kind, POLICY_ENTRY_HOST);
	name[0] = 'b';
	m = tc_decide(p, name, 1, NULL, NOW);
	assert_int_equal(m.entry_kind, POLICY_ENTRY_DOMAIN);
	assert_string_equal(tc_entry(&m), name + 128);

	/* one octet too many, or a label over 63: not a name, so nothing matches */
	uint8_t wire[300] = {0};
	size_t pos = 0;
	for (int i = 0; i < 4; i++) {
		wire[pos] = 63;
		memset(wire + pos + 1, 'a', 63);
		pos += 64;
	}
	policy_decide(p, wire, 1, NULL, NOW, &m); /* 257 octets */
	assert_int_equal(m.verdict, POLICY_PASS);
	policy_decide(p, (const uint8_t *)"\100aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\001v", 1,
		      NULL, NOW, &m);
	assert_int_equal(m.verdict, POLICY_PASS);
	policy_free(p);
	tc_free(c);
}

/* Labels from packets may hold dots, NULs and high octets. */
static void odd_octets(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_rule *r = tc_rule(tc_vendor(c, "v", NULL), "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER,
			      CFG_BEFORE_AUDIT);
	tc_domain(r, "b.c");
	tc_domain_wire(r, (const uint8_t *)"\003x\000y\001z", 7); /* "x\000y.z" */
	policy *p = tc_build(c);

	/* "a.b" as one label, then "c": the text looks like a.b.c but is not */
	assert_int_equal(raw(p, "\003a.b\001c").verdict, POLICY_PASS);
	assert_int_equal(raw(p, "\003a\000b\001b\001c").verdict, POLICY_BLOCK);
	assert_int_equal(raw(p, "\002\377\376\001b\001c").verdict, POLICY_BLOCK);
	assert_int_equal(raw(p, "\002\377\376\001c").verdict, POLICY_PASS);
	policy_match m = raw(p, "\001q\003X\000Y\001Z");
	assert_int_equal(m.verdict, POLICY_BLOCK);
	assert_memory_equal(m.entry, "\003x\000y\001z", 7);
	assert_int_equal(raw(p, "\003x\000z\001z").verdict, POLICY_PASS);
	policy_free(p);
	tc_free(c);
}

/* Many names: every one is found below itself, none is found by a sibling.
 * 100,000 names make the table larger than a huge page, so both builds
 * put it in one block (policy_alloc_block), and lookups read it there. */
static void many_names(void **state)
{
	(void)state;
	enum { N = 100000 };
	cfg *c = tc_new();
	cfg_rule *r = tc_rule(tc_vendor(c, "v", NULL), "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER,
			      CFG_BEFORE_AUDIT);
	char name[64];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "w%d.shop-%d.example", i, i % 97);
		tc_domain(r, name);
	}
	cfg_diags d = {0};
	policy *both[2] = {tc_build(c), policy_new_lean(c, &d)};
	assert_non_null(both[1]);
	for (int k = 0; k < 2; k++) {
		policy *p = both[k];
		assert_non_null(p->table);
		assert_int_equal(policy_entry_count(p), N);
		assert_int_equal(policy_name_count(p), N);
		for (int i = 0; i < N; i++) {
			snprintf(name, sizeof name, "a.W%d.shop-%d.example", i, i % 97);
			policy_match m = tc_decide(p, name, 1, NULL, NOW);
			assert_int_equal(m.verdict, POLICY_BLOCK);
			name[2] = 'w';
			assert_string_equal(tc_entry(&m), name + 2);
			snprintf(name, sizeof name, "w%d.shop-%d.example", i, i % 97 + 1);
			assert_int_equal(tc_decide(p, name, 1, NULL, NOW).verdict, POLICY_PASS);
		}
		policy_free(p);
	}
	cfg_diags_free(&d);
	tc_free(c);
}

/*
 * The walk probes from the root down and stops at a leaf (a name with no
 * entry below it), and skips depths no entry has: a name above another
 * entry must not hide the longer one, nor must a skipped depth hide anything.
 */
static void leaves_and_depths(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "v", NULL);
	cfg_rule *broad = tc_rule(v, "broad", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	cfg_rule *deep = tc_rule(v, "deep", CFG_ACT_NXDOMAIN, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(broad, "b.c");           /* depth 2, not a leaf */
	tc_domain(deep, "x.y.b.c");        /* depth 4, two below it; depth 3 has only a host */
	tc_host(deep, "q.b.c");
	tc_allow(v, "ok.x.y.b.c");         /* depth 5, below the deep domain */
	policy *p = tc_build(c);

	policy_match m = tc_decide(p, "z.y.b.c", 1, NULL, NOW);
	assert_string_equal(m.rule->id, "broad");
	m = tc_decide(p, "w.x.y.b.c", 1, NULL, NOW);
	assert_string_equal(m.rule->id, "deep");
	assert_string_equal(tc_entry(&m), "x.y.b.c");
	m = tc_decide(p, "X.Y.B.C", 1, NULL, NOW);
	assert_string_equal(tc_entry(&m), "x.y.b.c");
	m = tc_decide(p, "q.b.c", 1, NULL, NOW);
	assert_int_equal(m.entry_kind, POLICY_ENTRY_HOST);
	m = tc_decide(p, "r.q.b.c", 1, NULL, NOW);
	assert_string_equal(tc_entry(&m), "b.c");
	m = tc_decide(p, "a.ok.x.y.b.c", 1, NULL, NOW);
	assert_int_equal(m.verdict, POLICY_PASS);
	assert_string_equal(tc_entry(&m), "ok.x.y.b.c");
	/* deeper than any entry: the extra labels are never hashed */
	m = tc_decide(p, "1.2.3.4.5.6.7.8.w.x.y.b.c", 1, NULL, NOW);
	assert_string_equal(tc_entry(&m), "x.y.b.c");
	assert_int_equal(tc_decide(p, "c", 1, NULL, NOW).verdict, POLICY_PASS);
	assert_int_equal(tc_decide(p, "y.b.c.d", 1, NULL, NOW).verdict, POLICY_PASS);
	policy_free(p);
	tc_free(c);
}

/* An entry of 64 labels or more turns the depth filter off. */
static void very_deep_entry(void **state)
{
	(void)state;
	char name[256] = "";
	for (int i = 0; i < 70; i++)
		strcat(name, i ? ".a" : "a");
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "v", NULL);
	cfg_rule *r = tc_rule(v, "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(r, name + 2 * 5);        /* 65 labels */
	cfg_rule *r2 = tc_rule(v, "r2", CFG_ACT_NODATA, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(r2, "b.a");
	policy *p = tc_build(c);

	policy_match m = tc_decide(p, name, 1, NULL, NOW);
	assert_string_equal(m.rule->id, "r");
	m = tc_decide(p, name + 2 * 5, 1, NULL, NOW);
	assert_string_equal(m.rule->id, "r");
	assert_int_equal(tc_decide(p, name + 2 * 6, 1, NULL, NOW).verdict, POLICY_PASS);
	name[0] = 'b';
	m = tc_decide(p, name + 2 * 4, 1, NULL, NOW);
	assert_string_equal(m.rule->id, "r");
	assert_int_equal(tc_decide(p, "x.b.a", 1, NULL, NOW).verdict, POLICY_BLOCK);
	policy_free(p);
	tc_free(c);
}

/* A root entry is above every other one: never a leaf while others exist. */
static void root_and_others(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_vendor *v = tc_vendor(c, "v", NULL);
	cfg_rule *all = tc_rule(v, "all", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain_wire(all, (const uint8_t *)"", 1);
	cfg_rule *r = tc_rule(v, "r", CFG_ACT_NXDOMAIN, TC_T0, CFG_TIME_NEVER, CFG_BEFORE_AUDIT);
	tc_domain(r, "a.example");
	policy *p = tc_build(c);
	assert_string_equal(tc_decide(p, "b.a.example", 1, NULL, NOW).rule->id, "r");
	assert_string_equal(tc_decide(p, "b.example", 1, NULL, NOW).rule->id, "all");
	assert_string_equal(tc_decide(p, ".", 1, NULL, NOW).rule->id, "all");
	policy_free(p);
	tc_free(c);
}

/* The matcher's word-wise comparison, at every length and every position of
 * a difference, with padding on both sides as the matcher guarantees. */
static void name_eq_lengths(void **state)
{
	(void)state;
	uint8_t a[DNAME_MAX + 8], b[DNAME_MAX + 8];
	for (size_t len = 1; len <= DNAME_MAX; len++) {
		for (size_t i = 0; i < sizeof a; i++)
			a[i] = b[i] = (uint8_t)(i * 7 + 1);
		b[len] ^= 0xFF; /* past the end: must not count */
		memset(b + len + 1, 0xAA, sizeof b - len - 1);
		assert_true(policy_name_eq(a, b, len));
		for (size_t pos = 0; pos < len; pos++) {
			b[pos] ^= 0x20;
			assert_false(policy_name_eq(a, b, len));
			b[pos] ^= 0x20;
		}
	}
}

/* Lower-casing in one copy: every octet value, at every length. */
static void lower_all_octets(void **state)
{
	(void)state;
	cfg *c = tc_new();
	cfg_rule *r = tc_rule(tc_vendor(c, "v", NULL), "r", CFG_ACT_REFUSE, TC_T0, CFG_TIME_NEVER,
			      CFG_BEFORE_AUDIT);
	uint8_t wire[DNAME_MAX], upper[DNAME_MAX];
	/* one label of every octet but the ones that would be invalid names: 63 at a time */
	for (unsigned start = 0; start < 256; start += 63) {
		size_t pos = 0;
		for (unsigned n = 0; n < 63 && start + n < 256; n++)
			wire[1 + pos++] = (uint8_t)(start + n);
		wire[0] = (uint8_t)pos;
		memcpy(wire + 1 + pos, "\001z", 3);
		for (size_t i = 1; i <= pos; i++)
			wire[i] = (uint8_t)(wire[i] >= 'A' && wire[i] <= 'Z' ? wire[i] | 0x20 : wire[i]);
		tc_domain_wire(r, wire, pos + 4);
	}
	tc_domain_wire(r, (const uint8_t *)"\021\341\341\341\341\341\341\341\341\341\341\341\341\341\341\341\341\341\001y", 21);
	policy *p = tc_build(c);
	/* 0xC1 is not 'A' with the high bit: it folds to nothing, in a long label too */
	assert_int_equal(raw(p, "\021\301\301\301\301\301\301\301\301\301\301\301\301\301\301\301\301\301\001y").verdict,
			 POLICY_PASS);
	assert_int_equal(raw(p, "\021\341\341\341\341\341\341\341\341\341\341\341\341\341\341\341\341\341\001Y").verdict,
			 POLICY_BLOCK);
	for (unsigned start = 0; start < 256; start += 63) {
		size_t pos = 0;
		for (unsigned n = 0; n < 63 && start + n < 256; n++)
			upper[1 + pos++] = (uint8_t)(start + n);
		upper[0] = (uint8_t)pos;
		memcpy(upper + 1 + pos, "\001Z", 3);
		for (size_t i = 1; i <= pos; i++)
			upper[i] = (uint8_t)(upper[i] >= 'a' && upper[i] <= 'z' ? upper[i] & ~0x20 : upper[i]);
		/* and below it, so the name lands at every offset of the copy */
		for (size_t lead = 0; lead < 40; lead++) {
			uint8_t q[DNAME_MAX + 1];
			size_t at = 0;
			for (size_t l = 0; l < lead; l++) {
				q[at++] = 1;
				q[at++] = (uint8_t)('A' + l % 26);
			}
			if (at + pos + 4 > DNAME_MAX)
				break;
			memcpy(q + at, upper, pos + 4);
			policy_match m;
			policy_decide(p, q, 1, NULL, NOW, &m);
			assert_int_equal(m.verdict, POLICY_BLOCK);
		}
	}
	policy_free(p);
	tc_free(c);
}

static void empty_policy(void **state)
{
	(void)state;
	cfg *c = tc_new();
	policy *p = tc_build(c);
	assert_int_equal(tc_decide(p, "a.example", 1, NULL, NOW).verdict, POLICY_PASS);
	assert_int_equal(policy_next_change(p, 0), CFG_TIME_NEVER);
	assert_int_equal(policy_entry_count(p), 0);
	policy_free(p);
	tc_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(label_boundaries),
		cmocka_unit_test(case_insensitive),
		cmocka_unit_test(host_is_exact),
		cmocka_unit_test(most_specific_wins),
		cmocka_unit_test(allow_entries),
		cmocka_unit_test(root_and_trailing_dot),
		cmocka_unit_test(root_entry),
		cmocka_unit_test(longest_name),
		cmocka_unit_test(odd_octets),
		cmocka_unit_test(many_names),
		cmocka_unit_test(leaves_and_depths),
		cmocka_unit_test(very_deep_entry),
		cmocka_unit_test(root_and_others),
		cmocka_unit_test(name_eq_lengths),
		cmocka_unit_test(lower_all_octets),
		cmocka_unit_test(empty_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
