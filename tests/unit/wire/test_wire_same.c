/*
 * test_wire_same.c: the query parser and the answer builders against their
 * f44fb66 versions (wire_ref.c), octet for octet, and the name copy they
 * share. The rewrite for speed
 * (measure first, then write in one pass) must not change what goes on the
 * wire, so generated queries, hostile ones included, go through both: the
 * parse results must match field by field, and every builder, at every
 * buffer size around the fallbacks, must return the same length and octets
 * and write nothing past them.
 */
#include "wire_test.h"
#include "wire_ref.h"

#include "resolver/wire_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_QUERIES 400
#define COMBOS_PER_QUERY 24
#define SWEEP_MAX 700      /* every cap from 0 up to this (or the full size) */
#define GUARD 32           /* octets past cap that must stay untouched */
#define FILL 0xA5

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure replays. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Du) >> 32);
}

static uint32_t rnd_below(uint32_t n)
{
	return rnd() % n;
}

static uint8_t out_ref[WIRE_TCP_MAX + 2 * GUARD];
static uint8_t out_new[WIRE_TCP_MAX + 2 * GUARD];
static char huge_colon[70001], huge_plain[70001];
/* EDE texts at the largest length an option can carry, and one past. */
static char max_text[0xFFFF - 6 + 1], over_text[0xFFFF - 6 + 2];

/* A label of n octets, mixed case, sometimes odd octets. */
static void gen_label(tq_pkt *p, size_t n)
{
	tq_u8(p, (uint8_t)n);
	for (size_t i = 0; i < n; i++) {
		uint32_t r = rnd_below(40);
		uint8_t c = r < 26 ? (uint8_t)('a' + r) : r < 36 ? (uint8_t)('A' + r - 26)
								   : (uint8_t)rnd();
		tq_u8(p, c);
	}
}

/* A name: usually a few short labels, sometimes near or past 255 octets,
 * sometimes the root alone. */
static void gen_name(tq_pkt *p)
{
	uint32_t shape = rnd_below(10);

	if (shape == 0) {
		tq_u8(p, 0);
		return;
	}
	if (shape == 9) {
		/* Exactly 253..257 octets, around WIRE_NAME_MAX. */
		size_t rem = 253 + rnd_below(5) - 1;   /* less the root */
		while (rem > 0) {
			size_t n = rem - 1 > 63 ? 63 : rem - 1;
			if (rem - 1 - n == 1)
				n--;   /* leave room for a label of at least 1 */
			gen_label(p, n);
			rem -= 1 + n;
		}
		tq_u8(p, 0);
		return;
	}
	size_t target = shape < 7 ? 40 : 240 + rnd_below(30);   /* 7, 8: long */
	size_t used = 0;
	while (used < target) {
		size_t n = shape < 7 ? 1 + rnd_below(12) : 1 + rnd_below(63);
		if (rnd_below(8) == 0)
			n = 63;
		gen_label(p, n);
		used += 1 + n;
		if (shape < 7 && rnd_below(3) == 0)
			break;
	}
	if (rnd_below(10) == 0) {
		/* Not a label: extended label types, a compression pointer. */
		static const uint8_t bad[] = { 64, 65, 127, 128, 191, 192, 255 };
		uint8_t c = bad[rnd_below(sizeof(bad))];
		tq_u8(p, c);
		if (c == 64)   /* one past WIRE_LABEL_MAX, as if it were a label */
			for (int i = 0; i < 64; i++)
				tq_u8(p, 'x');
		else
			tq_u8(p, 12);
	}
	tq_u8(p, 0);
}

/* An OPT with options, valid or not. */
static void gen_opt(tq_pkt *p)
{
	uint8_t opts[64];
	size_t n = 0;
	uint32_t k = rnd_below(4);

	for (uint32_t i = 0; i < k; i++) {
		size_t l = rnd_below(6);
		opts[n++] = 0;
		opts[n++] = (uint8_t)rnd_below(16);
		opts[n++] = 0;
		opts[n++] = (uint8_t)l;
		for (size_t j = 0; j < l; j++)
			opts[n++] = (uint8_t)rnd();
	}
	if (rnd_below(6) == 0 && n > 0)
		n--;   /* a broken last option */
	uint32_t ttl = (rnd_below(5) == 0 ? (uint32_t)rnd_below(3) << 16 : 0) |
		       (rnd_below(2) ? 0x8000u : 0);
	uint16_t udp = rnd_below(3) == 0 ? (uint16_t)rnd() : 4096;
	tq_opt(p, udp, ttl, opts, n);
}

/* A query, usually well formed, sometimes with records, a bad opcode or
 * count, then sometimes damaged or cut. */
static void gen_query(tq_pkt *p)
{
	uint16_t flags = (uint16_t)(rnd() & (WIRE_FLAG_RD | WIRE_FLAG_CD | WIRE_FLAG_AD |
					     WIRE_FLAG_AA | WIRE_FLAG_TC));
	if (rnd_below(8) == 0)
		flags |= (uint16_t)(rnd_below(16) << 11);   /* opcode */
	if (rnd_below(30) == 0)
		flags |= WIRE_FLAG_QR;
	uint16_t qd = rnd_below(12) == 0 ? (uint16_t)rnd_below(3) : 1;
	uint16_t an = rnd_below(10) == 0 ? 1 : 0;
	bool edns = rnd_below(2);
	bool two_opts = edns && rnd_below(15) == 0;
	uint16_t ar = (uint16_t)((edns ? 1 : 0) + (two_opts ? 1 : 0));

	tq_hdr(p, (uint16_t)rnd(), flags, qd, an, 0, ar);
	gen_name(p);
	tq_u16(p, rnd_below(4) == 0 ? (uint16_t)rnd() : LDNS_RR_TYPE_A);
	tq_u16(p, rnd_below(8) == 0 ? WIRE_CLASS_CH : WIRE_CLASS_IN);
	if (an) {
		tq_u16(p, 0xC00C);
		tq_u16(p, LDNS_RR_TYPE_A);
		tq_u16(p, 1);
		tq_u32(p, 60);
		tq_u16(p, 4);
		tq_u32(p, 0x7F000001);
	}
	if (edns && rnd_below(10) == 0) {
		/* The one additional record is not an OPT, its owner the root. */
		tq_u8(p, 0);
		tq_u16(p, LDNS_RR_TYPE_TXT);
		tq_u16(p, 1);
		tq_u32(p, 0);
		tq_u16(p, 1);
		tq_u8(p, 0);
	} else if (edns) {
		gen_opt(p);
	}
	if (two_opts)
		gen_opt(p);
	uint32_t damage = rnd_below(10);
	if (damage == 0 && p->n > 0) {
		for (uint32_t i = 0, k = 1 + rnd_below(4); i < k; i++)
			p->b[rnd_below((uint32_t)p->n)] = (uint8_t)rnd();
	} else if (damage == 1) {
		p->n = rnd_below((uint32_t)p->n + 1);
	}
}

/* Both parses must agree on everything a builder or the daemon reads. */
static void check_same_query(const wire_query *a, const wire_query *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->opcode, b->opcode);
	assert_int_equal(a->rd, b->rd);
	assert_int_equal(a->cd, b->cd);
	assert_int_equal(a->ad, b->ad);
	assert_int_equal(a->has_question, b->has_question);
	assert_int_equal(a->qname_len, b->qname_len);
	assert_int_equal(a->qtype, b->qtype);
	assert_int_equal(a->qclass, b->qclass);
	assert_int_equal(a->qname_off, b->qname_off);
	assert_int_equal(a->question_end, b->question_end);
	assert_memory_equal(a->qname, b->qname, a->qname_len);
	assert_int_equal(a->edns, b->edns);
	assert_int_equal(a->edns_do, b->edns_do);
	assert_int_equal(a->edns_version, b->edns_version);
	assert_int_equal(a->edns_udp, b->edns_udp);
	assert_ptr_equal(a->edns_opts, b->edns_opts);
	assert_int_equal(a->edns_opts_len, b->edns_opts_len);
}

/* One builder call, as `call` with `o` the buffer and `c` the cap. */
typedef size_t (*build_fn)(const void *ctx, uint8_t *o, size_t c, bool ref);

/* Same length and octets from both at cap; the new one writes nothing past
 * its answer (checked up to GUARD octets past cap) when `exact` (the
 * builders that measure first; wire_build_txt writes as it goes). */
static void check_at(build_fn f, const void *ctx, size_t cap, const char *what, bool exact)
{
	size_t guard_end = cap + GUARD;
	if (guard_end > sizeof(out_new))
		guard_end = sizeof(out_new);
	memset(out_new, FILL, guard_end);
	size_t a = f(ctx, out_ref, cap, true);
	size_t b = f(ctx, out_new, cap, false);
	if (a != b)
		fail_msg("%s: cap %zu: length %zu, reference %zu", what, cap, b, a);
	assert_memory_equal(out_new, out_ref, a);
	for (size_t i = exact ? b : guard_end; i < guard_end; i++)
		if (out_new[i] != FILL)
			fail_msg("%s: cap %zu: octet %zu written past the answer (%zu)", what, cap,
				 i, b);
}

/* Every cap up to the full size (or SWEEP_MAX), and the usual limits. */
static void check_caps(build_fn f, const void *ctx, const char *what, bool exact)
{
	size_t full = f(ctx, out_ref, WIRE_TCP_MAX, true);
	size_t top = full + 2 < SWEEP_MAX ? full + 2 : SWEEP_MAX;
	for (size_t cap = 0; cap <= top; cap++)
		check_at(f, ctx, cap, what, exact);
	size_t more[] = { 512, 1232, WIRE_TCP_MAX, full > 0 ? full - 1 : 0, full, full + 1 };
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		if (more[i] <= WIRE_TCP_MAX)
			check_at(f, ctx, more[i], what, exact);
}

typedef struct block_ctx {
	const wire_query *q;
	wire_block b;
} block_ctx;

static size_t call_block(const void *ctx, uint8_t *o, size_t c, bool ref)
{
	const block_ctx *x = ctx;
	return ref ? ref_wire_build_block(x->q, &x->b, o, c) : wire_build_block(x->q, &x->b, o, c);
}

typedef struct error_ctx {
	const wire_query *q;
	uint16_t rcode;
	int32_t ede_code;
	const char *ede_text;
} error_ctx;

static size_t call_error(const void *ctx, uint8_t *o, size_t c, bool ref)
{
	const error_ctx *x = ctx;
	return ref ? ref_wire_build_error(x->q, x->rcode, x->ede_code, x->ede_text, o, c)
		   : wire_build_error(x->q, x->rcode, x->ede_code, x->ede_text, o, c);
}

static size_t call_tc(const void *ctx, uint8_t *o, size_t c, bool ref)
{
	const wire_query *q = ctx;
	return ref ? ref_wire_build_tc(q, o, c) : wire_build_tc(q, o, c);
}

typedef struct txt_ctx {
	const wire_query *q;
	const char *text;
} txt_ctx;

static size_t call_txt(const void *ctx, uint8_t *o, size_t c, bool ref)
{
	const txt_ctx *x = ctx;
	return ref ? ref_wire_build_txt(x->q, x->text, 300, o, c)
		   : wire_build_txt(x->q, x->text, 300, o, c);
}

static const int32_t ede_codes[] = { WIRE_EDE_NONE, WIRE_EDE_CENSORED, 0, 0xFFFF, 0x10000, -7 };

static const char *ede_text(uint32_t i)
{
	switch (i) {
	case 0: return NULL;
	case 1: return "";
	case 2: return "kaspersky/updates: U.S. Commerce BIS Final Determination ICTS-2021-002";
	case 3: return "no colon here";
	case 4: return ": starts with one";
	case 5: return huge_colon;
	case 6: return max_text;
	case 7: return over_text;
	default: return huge_plain;
	}
}
#define N_EDE_TEXTS 9

/* The SOA owner: none, broken, the root, the qname's own suffixes (any
 * case), or an unrelated name. */
static const uint8_t *soa_owner(const wire_query *q, uint8_t *buf)
{
	static const uint8_t unrelated[] = "\11kaspersky\3com";
	static const uint8_t broken[] = "\77abc";
	static const uint8_t root[] = "";

	switch (rnd_below(6)) {
	case 0: return NULL;
	case 1: return broken;
	case 2: return root;
	case 3: return unrelated;
	default:
		if (!q->has_question || q->qname_len == 0)
			return unrelated;
		{
			/* A suffix of the qname, its case flipped at random. */
			size_t p = 0, skip = rnd_below(4);
			while (skip-- > 0 && p < q->qname_len && q->qname[p] != 0)
				p += 1 + (size_t)q->qname[p];
			if (p >= q->qname_len)
				p = 0;
			memcpy(buf, q->qname + p, q->qname_len - p);
			for (size_t i = 0; i < q->qname_len - p; i++)
				if (rnd_below(4) == 0 && buf[i] >= 'a' && buf[i] <= 'z')
					buf[i] = (uint8_t)(buf[i] - 'a' + 'A');
			return buf;
		}
	}
}

static void check_builders(const wire_query *q)
{
	uint8_t owner[WIRE_NAME_MAX];
	static const wire_block_kind kinds[] = {
		WIRE_BLOCK_REFUSED, WIRE_BLOCK_NXDOMAIN, WIRE_BLOCK_NODATA, WIRE_BLOCK_SINK_A,
		WIRE_BLOCK_SINK_AAAA, (wire_block_kind)0, (wire_block_kind)99,
	};
	static const uint16_t rcodes[] = { 0, 1, 2, 4, 5, 15, 16, 17, 0xFFF, 0x1234 };

	for (int i = 0; i < COMBOS_PER_QUERY; i++) {
		block_ctx b = { .q = q };
		b.b.kind = kinds[rnd_below(sizeof(kinds) / sizeof(kinds[0]))];
		b.b.ttl = rnd_below(2) ? 300 : rnd();
		b.b.serial = rnd();
		b.b.soa_owner = soa_owner(q, owner);
		for (int k = 0; k < 4; k++)
			b.b.sink4[k] = (uint8_t)rnd();
		for (int k = 0; k < 16; k++)
			b.b.sink6[k] = (uint8_t)rnd();
		b.b.ede_code = ede_codes[rnd_below(sizeof(ede_codes) / sizeof(ede_codes[0]))];
		b.b.ede_text = ede_text(rnd_below(N_EDE_TEXTS));
		check_caps(call_block, &b, "block", true);

		error_ctx e = {
			.q = q,
			.rcode = rcodes[rnd_below(sizeof(rcodes) / sizeof(rcodes[0]))],
			.ede_code = ede_codes[rnd_below(sizeof(ede_codes) / sizeof(ede_codes[0]))],
			.ede_text = ede_text(rnd_below(N_EDE_TEXTS)),
		};
		check_caps(call_error, &e, "error", true);
	}
	check_caps(call_tc, q, "tc", true);
	static char long_text[2000];
	memset(long_text, 'v', sizeof(long_text) - 1);
	static const char *texts[] = { "", "embargo 0.1.0", long_text };
	for (size_t i = 0; i < 3; i++) {
		txt_ctx t = { .q = q, .text = texts[i] };
		check_caps(call_txt, &t, "txt", false);
	}
	/* NULL arguments. */
	assert_int_equal(wire_build_block(q, NULL, out_new, 512), 0);
	assert_int_equal(wire_build_error(NULL, 2, -1, NULL, out_new, 512), 0);
	assert_int_equal(wire_build_error(q, 2, -1, NULL, NULL, 512), 0);
	assert_int_equal(wire_build_tc(q, NULL, 512), 0);
}

static void test_same(void **state)
{
	(void)state;
	tq_pkt p;
	int built = 0;

	memset(huge_colon, 'h', sizeof(huge_colon) - 1);
	memcpy(huge_colon + 100, ": ", 2);
	memset(huge_plain, 'p', sizeof(huge_plain) - 1);
	memset(max_text, 'm', sizeof(max_text) - 1);
	memcpy(max_text + 20, ": ", 2);
	memset(over_text, 'o', sizeof(over_text) - 1);
	for (int i = 0; i < N_QUERIES; i++) {
		gen_query(&p);
		/* Every prefix parses the same, then the whole through the builders. */
		for (size_t len = 0; len <= p.n; len++) {
			wire_query a, b;
			memset(&a, 0x5A, sizeof(a));
			memset(&b, 0xC3, sizeof(b));
			int ra = ref_wire_parse_query(p.b, len, &a);
			int rb = wire_parse_query(p.b, len, &b);
			assert_int_equal(ra, rb);
			if (ra != WIRE_EDROP)
				check_same_query(&a, &b);
			if (len == p.n && ra != WIRE_EDROP) {
				check_builders(&b);
				built++;
			}
		}
	}
	/* The generator must reach the builders often, with and without EDNS. */
	assert_true(built > N_QUERIES / 2);
}

/* wire_copy_name at every length a name can have: exactly n octets, at
 * any alignment, nothing around them touched. */
static void test_copy_name(void **state)
{
	(void)state;
	uint8_t src[WIRE_NAME_MAX + 16], dst[WIRE_NAME_MAX + 32];

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	for (size_t off = 0; off < 8; off++) {
		for (size_t n = 0; n <= WIRE_NAME_MAX; n++) {
			memset(dst, FILL, sizeof(dst));
			wire_copy_name(dst + 8 + off, src + off, n);
			for (size_t i = 0; i < sizeof(dst); i++) {
				bool in = i >= 8 + off && i < 8 + off + n;
				assert_int_equal(dst[i], in ? src[i - 8] : FILL);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_name),
		cmocka_unit_test(test_same),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
