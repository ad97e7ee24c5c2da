/*
 * fuzz_query.c: a client query, the way query_handle (resolver/query.c)
 * treats it: parse; FORMERR, NOTIMP, BADVERS or REFUSED for what cannot be
 * served; the CHAOS answers; the policy's decision and its block answer;
 * the query sent upstream; and a cache hit on a reply to it, CNAME chain
 * checked. Every message embargo writes must parse with ldns, at the
 * client's UDP limit, over TCP, and at sizes that force the fallbacks.
 *
 * The query's ID picks the clock, the client and the transport, so the
 * input alone decides the run (crashes replay).
 */
#include <string.h>

#include "fuzz_util.h"
#include "resolver/cache.h"
#include "resolver/wire.h"

static uint8_t out[WIRE_TCP_MAX + 2];

/* The answer must parse and be an answer to q. */
static void check_answer(const wire_query *q, size_t n, size_t cap, const char *what)
{
	if (n == 0)
		return;
	FUZZ_CHECK(n <= cap);
	fuzz_ldns_parses(out, n, what);
	FUZZ_CHECK(n >= WIRE_HDR_LEN);
	FUZZ_CHECK((out[0] << 8 | out[1]) == q->id);
	FUZZ_CHECK(out[2] & 0x80);   /* QR */
}

/* Each builder at the client's limit, over TCP, and squeezed. */
#define AT_SIZES(q, cap, what, call)                                                         \
	do {                                                                                  \
		size_t caps_[] = { (cap), WIRE_TCP_MAX, (size_t)(q)->qname_len + 16,          \
				   (size_t)(q)->qname_len + 27, WIRE_HDR_LEN, 0 };            \
		for (size_t i_ = 0; i_ < sizeof(caps_) / sizeof(caps_[0]); i_++) {           \
			size_t cap_ = caps_[i_];                                               \
			size_t n_ = (call);                                                    \
			check_answer((q), n_, cap_, (what));                                   \
		}                                                                             \
	} while (0)

static wire_block_kind block_kind(policy_answer a)
{
	switch (a) {
	case POLICY_ANS_REFUSED: return WIRE_BLOCK_REFUSED;
	case POLICY_ANS_NXDOMAIN: return WIRE_BLOCK_NXDOMAIN;
	case POLICY_ANS_SINK_A: return WIRE_BLOCK_SINK_A;
	case POLICY_ANS_SINK_AAAA: return WIRE_BLOCK_SINK_AAAA;
	case POLICY_ANS_NODATA:
	case POLICY_ANS_NONE: break;
	}
	return WIRE_BLOCK_NODATA;
}

/* As query.c's send_block. */
static void answer_block(const wire_query *q, const policy_match *m, size_t cap)
{
	const cfg *c = fuzz_cfg();
	wire_block b = {
		.kind = block_kind(m->answer),
		.ttl = c->sinkhole.ttl,
		.serial = (uint32_t)m->rule->effective,
		.soa_owner = m->entry,
		.ede_code = m->rule->vendor->ede,
		.ede_text = m->rule->ede_text,
	};
	memcpy(b.sink4, c->sinkhole.ipv4.addr, 4);
	memcpy(b.sink6, c->sinkhole.ipv6.addr, 16);
	AT_SIZES(q, cap, "block answer", wire_build_block(q, &b, out, cap_));
}

/* A reply as an upstream would send to the forwarded query: a CNAME into
 * the policy's names, then an A record. */
static size_t make_reply(const wire_query *q, uint16_t id, uint32_t ttl, uint8_t *r)
{
	static const uint8_t target[] = "\3s01\3upd\11kaspersky\3com";
	size_t n = 0, tlen = sizeof(target);
	uint8_t hdr[WIRE_HDR_LEN] = { (uint8_t)(id >> 8), (uint8_t)id, 0x81, 0x80, 0, 1, 0, 2,
				      0, 0, 0, q->edns ? 1 : 0 };
	memcpy(r, hdr, sizeof(hdr));
	n = sizeof(hdr);
	memcpy(r + n, q->qname, q->qname_len);
	n += q->qname_len;
	uint8_t tail[] = { (uint8_t)(q->qtype >> 8), (uint8_t)q->qtype,
			   (uint8_t)(q->qclass >> 8), (uint8_t)q->qclass };
	memcpy(r + n, tail, 4);
	n += 4;
	size_t cname_target = n + 12;
	uint8_t cname[] = { 0xC0, 12, 0, 5, tail[2], tail[3], (uint8_t)(ttl >> 24),
			    (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8), (uint8_t)ttl, 0,
			    (uint8_t)tlen };
	memcpy(r + n, cname, sizeof(cname));
	n += sizeof(cname);
	memcpy(r + n, target, tlen);
	n += tlen;
	uint8_t a[] = { (uint8_t)(0xC0 | cname_target >> 8), (uint8_t)cname_target, 0, 1, tail[2],
			tail[3], 0, 0, 0, 60, 0, 4, 192, 0, 2, 1 };
	memcpy(r + n, a, sizeof(a));
	n += sizeof(a);
	if (q->edns) {
		uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, (uint8_t)(q->edns_do ? 0x80 : 0), 0,
				  0, 0 };
		memcpy(r + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	return n;
}

/* Forward, reply, cache, hit: the pass path. */
static void pass_path(const wire_query *q, int64_t now, const cfg_ip *client, size_t cap)
{
	static uint8_t fwd[WIRE_TCP_MAX], reply[WIRE_TCP_MAX];
	uint16_t up_id = (uint16_t)(q->id ^ 0x5a5a);
	size_t n = wire_build_forward(q, up_id, fwd, sizeof(fwd));
	FUZZ_CHECK(n > 0);
	fuzz_ldns_parses(fwd, n, "query sent upstream");
	/* What we send upstream we would accept as a query ourselves. */
	wire_query fq;
	FUZZ_CHECK(wire_parse_query(fwd, n, &fq) == WIRE_OK);
	FUZZ_CHECK(fq.id == up_id && fq.edns && fq.edns_do == q->edns_do);
	FUZZ_CHECK(wire_name_equal_ci(fq.qname, fq.qname_len, q->qname, q->qname_len));

	uint32_t ttl = 1 + (q->id % 7) * 1000;
	size_t rlen = make_reply(q, up_id, ttl, reply);
	wire_reply r;
	FUZZ_CHECK(wire_check_reply(reply, rlen, up_id, q->qname, q->qtype, q->qclass, &r) ==
		   WIRE_OK);
	FUZZ_CHECK(r.n_chain == 1 && r.min_ttl == (ttl < 60 ? ttl : 60));
	bool minimal = (q->id & 1) != 0;   /* minimal-responses */
	AT_SIZES(q, cap, "reply to client",
		 wire_reply_to_client(reply, rlen, &r, q, minimal, out, cap_));

	cache_opts o = { .entries = 4, .max_ttl = 86400, .servfail_ttl = 5, .stale_max = 3600,
			 .minimal = minimal, .seed = { 1, 2 } };
	cache *c = cache_new(&o);
	FUZZ_CHECK(c != NULL);
	uint64_t t0 = 1000000;
	cache_insert(c, q, reply, rlen, &r, t0);
	static const uint64_t later_ms[] = { 0, 1500, 59999, 61000, 4000000 };
	for (size_t i = 0; i < sizeof(later_ms) / sizeof(later_ms[0]); i++) {
		cache_hit hit;
		n = cache_answer_stale(c, q, t0 + later_ms[i], out, cap, &hit);
		if (later_ms[i] < 60000)
			FUZZ_CHECK(n > 0 && hit.hit && hit.n_chain == 1);
		if (!n)
			continue;
		check_answer(q, n, cap, "cache hit");
		const uint8_t *name = hit.chain;
		for (size_t k = 0; k < hit.n_chain; k++, name = cache_chain_next(name)) {
			policy_match m;
			policy_decide(fuzz_policy(), name, q->qtype, client, now, &m);
		}
		n = cache_add_ede(out, n, cap, &hit, CACHE_EDE_STALE_ANSWER, "stale");
		check_answer(q, n, cap, "cache hit with EDE");
	}
	cache_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wire_query q;
	int rc = wire_parse_query(data, size, &q);
	if (rc == WIRE_EDROP)
		return 0;
	int64_t now = fuzz_time(q.id);
	const cfg_ip *client = fuzz_client(q.id >> 3);
	bool tcp = q.id & 0x20;
	size_t cap = tcp ? WIRE_TCP_MAX : wire_udp_limit(&q);

	switch (rc) {
	case WIRE_OK:
		break;
	case WIRE_ENOTIMP:
		AT_SIZES(&q, cap, "NOTIMP", wire_build_error(&q, WIRE_RCODE_NOTIMP, WIRE_EDE_NONE,
							      NULL, out, cap_));
		return 0;
	case WIRE_EBADVERS:
		AT_SIZES(&q, cap, "BADVERS", wire_build_error(&q, WIRE_RCODE_BADVERS, WIRE_EDE_NONE,
							       NULL, out, cap_));
		return 0;
	default:
		FUZZ_CHECK(rc == WIRE_EFORMERR);
		AT_SIZES(&q, cap, "FORMERR", wire_build_error(&q, WIRE_RCODE_FORMERR, WIRE_EDE_NONE,
							       NULL, out, cap_));
		return 0;
	}
	FUZZ_CHECK(q.has_question && wire_name_len(q.qname, q.qname_len) == q.qname_len);

	AT_SIZES(&q, cap, "REFUSED (access)",
		 wire_build_error(&q, WIRE_RCODE_REFUSED, WIRE_EDE_PROHIBITED, NULL, out, cap_));
	AT_SIZES(&q, cap, "SERVFAIL",
		 wire_build_error(&q, WIRE_RCODE_SERVFAIL, WIRE_EDE_NO_REACHABLE_AUTHORITY,
				  "no upstream answered", out, cap_));
	if (q.qclass == WIRE_CLASS_CH) {
		AT_SIZES(&q, cap, "CHAOS version", wire_build_txt(&q, "embargo 0.1.0", 0, out, cap_));
		AT_SIZES(&q, cap, "CHAOS policy",
			 wire_build_txt(&q,
					"sha256:5296c06031df23196ae5076070aa92fb4668180a5e44ccc8af0f"
					"416c812204e3 loaded 2026-11-23T19:37:33Z",
					0, out, cap_));
		return 0;
	}

	policy_match m;
	policy_decide(fuzz_policy(), q.qname, q.qtype, client, now, &m);
	if (m.verdict == POLICY_BLOCK) {
		FUZZ_CHECK(m.rule != NULL && m.answer != POLICY_ANS_NONE);
		answer_block(&q, &m, cap);
		return 0;
	}
	pass_path(&q, now, client, cap);
	return 0;
}
