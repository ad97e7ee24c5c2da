/*
 * fuzz_reply.c: an upstream reply, the way the forwarder treats it (fwd.c,
 * query.c): checked against the question sent (ID, question), its
 * CNAME/DNAME chain walked through the policy (a blocked target gets the
 * block answer), rewritten for the client, stored in the cache and served
 * back from it, fresh and stale.
 *
 * Input: one mode octet, then the reply. The question we "sent" is the
 * reply's own (so the fuzzer reaches past the question check) unless the
 * mode says otherwise. Mode bits: 0 ask a fixed question instead, 1 expect
 * another ID, 2-3 the client's EDNS (none, EDNS, EDNS+DO, EDNS+DO+CD),
 * 4-5 the answer size limit, 6-7 the clock and client.
 *
 * Invariants: the offsets wire_check_reply reports lie inside the reply;
 * chain names are well-formed and lower-case; whatever embargo sends the
 * client passes its own reply check as an answer to the client's question,
 * and parses with ldns when embargo wrote all of it (blocks, TC answers).
 */
#include <string.h>

#include "fuzz_util.h"
#include "resolver/cache.h"
#include "resolver/wire.h"

static uint8_t out[WIRE_TCP_MAX + 2];

/* A client query for the question, as wire_parse_query reads it. */
static void client_query(wire_query *q, const uint8_t *name, size_t name_len, uint16_t qtype,
			 uint16_t qclass, unsigned edns)
{
	static uint8_t pkt[WIRE_HDR_LEN + WIRE_NAME_MAX + 4 + 11];
	uint8_t hdr[WIRE_HDR_LEN] = { 0xbe, 0xef, 0x01, (uint8_t)(edns == 3 ? 0x10 : 0), 0, 1,
				      0, 0, 0, 0, 0, edns ? 1 : 0 };
	size_t n = 0;
	memcpy(pkt, hdr, sizeof(hdr));
	n += sizeof(hdr);
	/* the client's case differs from the reply's: it must be restored */
	for (size_t i = 0; i < name_len; i++)
		pkt[n + i] = (name[i] >= 'a' && name[i] <= 'z') ? (uint8_t)(name[i] - 32) : name[i];
	n += name_len;
	uint8_t t[] = { (uint8_t)(qtype >> 8), (uint8_t)qtype, (uint8_t)(qclass >> 8),
			(uint8_t)qclass };
	memcpy(pkt + n, t, 4);
	n += 4;
	if (edns) {
		uint8_t opt[] = { 0, 0, 41, 0x10, 0x00, 0, 0, (uint8_t)(edns >= 2 ? 0x80 : 0), 0,
				  0, 0 };
		memcpy(pkt + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	FUZZ_CHECK(wire_parse_query(pkt, n, q) == WIRE_OK);
}

static void check_reply_fields(const wire_reply *r, size_t len)
{
	FUZZ_CHECK(r->question_end >= WIRE_HDR_LEN + 5 && r->question_end <= r->end);
	FUZZ_CHECK(r->end <= len && r->ar_start >= r->question_end && r->ar_start <= r->end);
	if (r->edns)
		FUZZ_CHECK(r->opt_start >= r->ar_start && r->opt_start < r->opt_end &&
			   r->opt_end <= r->end && r->opt_ttl + 4 <= r->opt_end);
	FUZZ_CHECK(r->n_chain <= WIRE_CHAIN_MAX);
	for (size_t i = 0; i < r->n_chain; i++) {
		FUZZ_CHECK(wire_name_len(r->chain[i], r->chain_len[i]) == r->chain_len[i]);
		for (size_t k = 0; k < r->chain_len[i]; k++)
			FUZZ_CHECK(!(r->chain[i][k] >= 'A' && r->chain[i][k] <= 'Z'));
	}
}

/*
 * Checks an answer to the client: an answer to q (its ID, its question in
 * its case) that embargo's own reply check accepts, with the upstream's
 * RCODE and no OPT for a client without EDNS. When embargo wrote all of it
 * (a bare TC answer), ldns must parse it too. (ldns is no oracle for what
 * is copied from the upstream: it reads some malformed RDATA, an A record
 * of 5 octets, say, by its type's layout and not by RDLENGTH.)
 */
static void check_out(const wire_query *q, const wire_reply *r, size_t n, size_t cap,
		      const char *what)
{
	if (n == 0)
		return;
	FUZZ_CHECK(n <= cap && n >= WIRE_HDR_LEN + (size_t)q->qname_len + 4);
	FUZZ_CHECK((out[0] << 8 | out[1]) == q->id);
	FUZZ_CHECK(!memcmp(out + WIRE_HDR_LEN, q->qname, q->qname_len));
	wire_reply o;
	FUZZ_CHECK(wire_check_reply(out, n, q->id, q->qname, q->qtype, q->qclass, &o) == WIRE_OK);
	FUZZ_CHECK((o.rcode & 0xF) == (r->rcode & 0xF));
	FUZZ_CHECK(q->edns || !o.edns);
	/* Header, question and at most an OPT: a TC answer. When the reply
	 * had records, embargo wrote this one itself (with its OPT, and an EDE
	 * from cache_add_ede). */
	bool bare_tc = o.tc && !o.ancount && !o.nscount &&
		       (o.edns ? o.arcount == 1 && o.opt_start == o.question_end && o.opt_end == n
			       : !o.arcount && o.end == n);
	if (bare_tc) {
		if (r->ancount || r->nscount || r->partial)
			fuzz_ldns_parses(out, n, what);
		return;
	}
	/* The client reads the chain the policy checked. */
	FUZZ_CHECK(o.n_chain == r->n_chain && o.chain_overflow == r->chain_overflow);
	for (size_t i = 0; i < o.n_chain; i++)
		FUZZ_CHECK(o.chain_len[i] == r->chain_len[i] &&
			   !memcmp(o.chain[i], r->chain[i], o.chain_len[i]));
}

/* A CNAME/DNAME target blocked for this client: the block answer. */
static bool chain_blocked(const wire_query *q, const uint8_t *name, int64_t now,
			  const cfg_ip *client, size_t cap)
{
	policy_match m;
	policy_decide(fuzz_policy(), name, q->qtype, client, now, &m);
	if (m.verdict != POLICY_BLOCK)
		return false;
	const cfg *c = fuzz_cfg();
	wire_block b = {
		.kind = m.answer == POLICY_ANS_REFUSED	   ? WIRE_BLOCK_REFUSED
			: m.answer == POLICY_ANS_NXDOMAIN  ? WIRE_BLOCK_NXDOMAIN
			: m.answer == POLICY_ANS_SINK_A	   ? WIRE_BLOCK_SINK_A
			: m.answer == POLICY_ANS_SINK_AAAA ? WIRE_BLOCK_SINK_AAAA
							   : WIRE_BLOCK_NODATA,
		.ttl = c->sinkhole.ttl,
		.serial = (uint32_t)m.rule->effective,
		.soa_owner = m.entry,
		.ede_code = m.rule->vendor->ede,
		.ede_text = m.rule->ede_text,
	};
	size_t n = wire_build_block(q, &b, out, cap);
	if (n)
		fuzz_ldns_parses(out, n, "block answer (cloaking)");
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fixed[] = "\3www\7example\3com";
	static const size_t caps[] = { 512, 1232, WIRE_TCP_MAX, 100 };
	if (size < 1)
		return 0;
	unsigned mode = data[0];
	const uint8_t *reply = data + 1;
	size_t len = size - 1;

	/* The question "sent": the reply's own, or a fixed one. */
	uint8_t qname[WIRE_NAME_MAX];
	size_t qname_len = sizeof(fixed), end = 0;
	uint16_t qtype = 1, qclass = 1;
	memcpy(qname, fixed, sizeof(fixed));
	if (!(mode & 1) && len >= WIRE_HDR_LEN &&
	    wire_read_name(reply, len, WIRE_HDR_LEN, qname, &qname_len, &end) == WIRE_OK &&
	    len - end >= 4) {
		qtype = (uint16_t)(reply[end] << 8 | reply[end + 1]);
		qclass = (uint16_t)(reply[end + 2] << 8 | reply[end + 3]);
	} else if (!(mode & 1)) {
		memcpy(qname, fixed, sizeof(fixed));
		qname_len = sizeof(fixed);
	}
	uint16_t id = len >= 2 ? (uint16_t)(reply[0] << 8 | reply[1]) : 0;
	if (mode & 2)
		id ^= 1;

	wire_query q;
	client_query(&q, qname, qname_len, qtype, qclass, (mode >> 2) & 3);
	size_t cap = caps[(mode >> 4) & 3];
	int64_t now = fuzz_time(mode >> 6);
	const cfg_ip *client = fuzz_client(mode >> 6);

	wire_reply r;
	int rc = wire_check_reply(reply, len, id, qname, qtype, qclass, &r);
	if (rc != WIRE_OK) {
		FUZZ_CHECK(rc == WIRE_EMISMATCH || rc == WIRE_EMALFORMED);
		return 0;
	}
	check_reply_fields(&r, len);

	/* query_answer_reply: the chain first, fail closed past its end. */
	if (!r.chain_overflow) {
		for (size_t i = 0; i < r.n_chain; i++)
			if (chain_blocked(&q, r.chain[i], now, client, cap))
				break;
	}
	bool minimal = (mode & 0x40) != 0;   /* minimal-responses */
	size_t n = wire_reply_to_client(reply, len, &r, &q, minimal, out, cap);
	FUZZ_CHECK(n > 0 || cap < WIRE_HDR_LEN + (size_t)q.qname_len + 4 + (q.edns ? 11 : 0));
	check_out(&q, &r, n, cap, "reply to client");

	/* The cache: store, then serve back, fresh and stale. */
	cache_opts o = { .entries = 2, .min_ttl = (mode & 0x80) ? 30 : 0, .max_ttl = 86400,
			 .servfail_ttl = 5, .stale_max = 60, .minimal = minimal, .seed = { 3, 4 } };
	cache *c = cache_new(&o);
	FUZZ_CHECK(c != NULL);
	uint64_t t0 = 5000;
	cache_insert(c, &q, reply, len, &r, t0);
	static const uint64_t later_ms[] = { 0, 999, 1000, 29000, 31000, 90000 };
	for (size_t i = 0; i < sizeof(later_ms) / sizeof(later_ms[0]); i++) {
		cache_hit hit;
		n = cache_answer_stale(c, &q, t0 + later_ms[i], out, cap, &hit);
		if (!n)
			continue;
		FUZZ_CHECK(hit.hit && hit.rcode == r.rcode && hit.n_chain == r.n_chain);
		check_out(&q, &r, n, cap, "cache hit");
		const uint8_t *name = hit.chain;
		for (size_t k = 0; k < hit.n_chain; k++, name = cache_chain_next(name)) {
			FUZZ_CHECK(wire_name_equal_ci(name, wire_name_len(name, WIRE_NAME_MAX),
						      r.chain[k], r.chain_len[k]));
			if (chain_blocked(&q, name, now, client, cap))
				break;
		}
		n = cache_answer_stale(c, &q, t0 + later_ms[i], out, cap, &hit);
		n = cache_add_ede(out, n, cap, &hit, CACHE_EDE_STALE_ANSWER, "stale answer");
		check_out(&q, &r, n, cap, "cache hit with EDE");
	}
	cache_free(c);
	return 0;
}
