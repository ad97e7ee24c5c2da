/*
 * wire_reply.c: upstream replies, checked and rewritten for the client.
 *
 * A reply is accepted only if it answers the exact question we sent (DESIGN
 * 4.4: same ID and question, which defeats blind spoofing together with the
 * random ID and port). While checking, one walk over the records collects
 * what the daemon decides on: the CNAME/DNAME targets (CNAME cloaking,
 * DESIGN 4.5), the TTL a cache may keep the reply for, and where the OPT is.
 * The rewrite then only copies and patches: earlier bytes never move, so
 * compression pointers stay valid.
 */
#include "resolver/wire_impl.h"

/* TTLs with the top bit set are treated as 0 (RFC 2181 8). */
static uint32_t wire_ttl(uint32_t ttl)
{
	return (ttl & 0x80000000u) ? 0 : ttl;
}

/* MINIMUM of a SOA RDATA (its last field), after the two names; false if
 * the RDATA is malformed. Names must end inside the RDATA. */
static bool wire_soa_minimum(const uint8_t *pkt, const wire_rr *rr, uint32_t *minimum)
{
	size_t p = rr->rdata;

	/* Skipping within rr->end keeps the names inside this RDATA. */
	if (wire_skip_name(pkt, rr->end, p, &p) != WIRE_OK ||
	    wire_skip_name(pkt, rr->end, p, &p) != WIRE_OK || rr->end - p != 20)
		return false;
	*minimum = wire_get32(pkt + p + 16);
	return true;
}

/* Keeps the target of a CNAME/DNAME; the name must fill its RDATA and not
 * be read through the fixed fields marked in avoid (see wire_impl.h). */
static int wire_take_target(const uint8_t *pkt, const wire_rr *rr, const uint8_t *avoid,
			    wire_reply *r)
{
	uint8_t name[WIRE_NAME_MAX];
	size_t n, end;

	/* The packet up to the RDATA's end: pointers may reach anywhere before. */
	if (wire_read_name_avoid(pkt, rr->end, rr->rdata, avoid, name, &n, &end) != WIRE_OK ||
	    end != rr->end)
		return WIRE_EMALFORMED;
	if (r->n_chain >= WIRE_CHAIN_MAX) {
		r->chain_overflow = true;
		return WIRE_OK;
	}
	memcpy(r->chain[r->n_chain], name, n);
	r->chain_len[r->n_chain] = (uint8_t)n;
	r->n_chain++;
	return WIRE_OK;
}

/* Walks answer, authority and additional. */
static int wire_walk(const uint8_t *pkt, size_t len, size_t pos, wire_reply *r)
{
	const size_t an = r->ancount, ns = r->nscount, ar = r->arcount;
	wire_rr rr;
	/* Fixed fields of the answer records so far: chain targets are read
	 * from the answer section, with pointers only backwards. */
	uint8_t avoid[WIRE_AVOID_OCTETS / 8 + 1];
	size_t mapped = len < WIRE_AVOID_OCTETS ? len : WIRE_AVOID_OCTETS;
	memset(avoid, 0, mapped / 8 + 1);

	for (size_t i = 0; i < an + ns + ar; i++) {
		if (i == an)
			r->an_end = pos;
		if (i == an + ns)
			r->ar_start = pos;
		if (wire_rr_read(pkt, len, pos, &rr) != WIRE_OK) {
			if (!r->tc)
				return WIRE_EMALFORMED;
			/* A truncated reply may stop anywhere (RFC 2181 9). */
			r->partial = true;
			break;
		}
		pos = rr.end;
		for (size_t k = rr.owner_end; i < an && k < rr.rdata && k < mapped; k++)
			avoid[k >> 3] |= (uint8_t)(1u << (k & 7));
		if (rr.type == WIRE_TYPE_OPT) {
			if (i < an + ns || r->edns)
				return WIRE_EMALFORMED;
			r->edns = true;
			r->edns_udp = rr.rclass;
			r->edns_do = (rr.ttl & WIRE_OPT_DO) != 0;
			r->rcode |= (uint16_t)((rr.ttl >> 24) << 4);
			r->opt_start = rr.start;
			r->opt_end = rr.end;
			r->opt_ttl = rr.rdata - 6;
			r->opt_index = (uint16_t)(i - an - ns);
			continue;
		}
		if (i >= an + ns)
			continue;   /* additional records carry no TTL we rely on */
		uint32_t ttl = wire_ttl(rr.ttl);
		if (i < an && (rr.type == WIRE_TYPE_CNAME || rr.type == WIRE_TYPE_DNAME)) {
			if (wire_take_target(pkt, &rr, avoid, r) != WIRE_OK)
				return WIRE_EMALFORMED;
		}
		if (i >= an && rr.type == WIRE_TYPE_SOA) {
			uint32_t minimum;
			if (!wire_soa_minimum(pkt, &rr, &minimum))
				return WIRE_EMALFORMED;
			minimum = wire_ttl(minimum);
			if (minimum < ttl)
				ttl = minimum;
		}
		if (ttl < r->min_ttl)
			r->min_ttl = ttl;
	}
	if (r->an_end == 0)
		r->an_end = pos;     /* only answer records, or partial */
	if (r->ar_start == 0)
		r->ar_start = pos;   /* empty additional section, or partial */
	r->end = pos;
	return WIRE_OK;
}

int wire_check_reply(const uint8_t *pkt, size_t len, uint16_t expect_id,
		     const uint8_t *qname_wire, uint16_t qtype, uint16_t qclass,
		     wire_reply *r)
{
	uint8_t name[WIRE_NAME_MAX];
	size_t name_len, pos;

	/* The chain arrays are written before they are read. */
	memset(r, 0, offsetof(wire_reply, chain_len));
	r->min_ttl = WIRE_TTL_NONE;
	if (pkt == NULL || len < WIRE_HDR_LEN)
		return WIRE_EMALFORMED;
	r->flags = wire_get16(pkt + WIRE_OFF_FLAGS);
	if (wire_get16(pkt + WIRE_OFF_ID) != expect_id || !(r->flags & WIRE_FLAG_QR) ||
	    WIRE_OPCODE(r->flags) != 0 || wire_get16(pkt + WIRE_OFF_QDCOUNT) != 1)
		return WIRE_EMISMATCH;
	r->rcode = r->flags & 0xF;
	r->tc = (r->flags & WIRE_FLAG_TC) != 0;
	r->ancount = wire_get16(pkt + WIRE_OFF_ANCOUNT);
	r->nscount = wire_get16(pkt + WIRE_OFF_NSCOUNT);
	r->arcount = wire_get16(pkt + WIRE_OFF_ARCOUNT);

	if (wire_read_name(pkt, len, WIRE_HDR_LEN, name, &name_len, &pos) != WIRE_OK ||
	    len - pos < 4)
		return WIRE_EMALFORMED;
	size_t want_len = wire_name_len(qname_wire, WIRE_NAME_MAX);
	if (want_len == 0 || !wire_name_equal_ci(name, name_len, qname_wire, want_len) ||
	    wire_get16(pkt + pos) != qtype || wire_get16(pkt + pos + 2) != qclass)
		return WIRE_EMISMATCH;
	r->question_end = pos + 4;
	return wire_walk(pkt, len, r->question_end, r);
}

size_t wire_opt_own(uint8_t *pkt, size_t opt_start, size_t opt_end)
{
	/* root owner, TYPE, CLASS, TTL, RDLENGTH, RDATA */
	if (!pkt || opt_end < opt_start + 11 || pkt[opt_start] != 0 ||
	    wire_get16(pkt + opt_start + 1) != WIRE_TYPE_OPT)
		return opt_end;
	uint8_t *p = pkt + opt_start;
	size_t rdlen = wire_get16(p + 9);
	if (opt_start + 11 + rdlen != opt_end)
		return opt_end;
	wire_put16(p + 3, WIRE_EDNS_UDP);
	p[6] = 0;                          /* version */
	p[7] &= 0x80;                      /* flags: DO only */
	p[8] = 0;
	uint8_t *o = p + 11;
	size_t in = 0, out = 0;
	while (rdlen - in >= 4) {
		uint16_t code = wire_get16(o + in);
		size_t n = wire_get16(o + in + 2);
		if (n > rdlen - in - 4)
			break;
		if (code == WIRE_OPT_EDE) {
			memmove(o + out, o + in, 4 + n);
			out += 4 + n;
		}
		in += 4 + n;
	}
	wire_put16(p + 9, (uint16_t)out);
	return opt_start + 11 + out;
}

/* Header + question (+ OPT) with TC: the reply did not fit or is partial. */
static size_t wire_truncated(const wire_reply *r, const wire_query *q, uint8_t *out, size_t cap)
{
	wire_buf b;
	uint16_t flags = (uint16_t)((r->flags & ~0xFu & ~(unsigned)WIRE_FLAG_AA) | WIRE_FLAG_TC |
				    WIRE_FLAG_RA | (r->rcode & 0xF));

	wire_buf_init(&b, out, cap);
	wire_buf_u16(&b, q->id);
	wire_buf_u16(&b, flags);
	wire_buf_u16(&b, 1);
	wire_buf_u16(&b, 0);
	wire_buf_u16(&b, 0);
	wire_buf_u16(&b, q->edns ? 1 : 0);
	wire_buf_bytes(&b, q->qname, q->qname_len);
	wire_buf_u16(&b, q->qtype);
	wire_buf_u16(&b, q->qclass);
	if (q->edns)
		wire_buf_opt(&b, r->rcode, q->edns_do, WIRE_EDE_NONE, NULL);
	return b.fail ? 0 : b.len;
}

/*
 * The minimal form: header, question, answer section, and our OPT when the
 * client has EDNS (the upstream's, made ours, keeps its EDE). Answer
 * records point only backwards, so nothing they need goes. *n is 0 when it
 * does not fit.
 */
static void wire_minimal(const uint8_t *reply, const wire_reply *r, const wire_query *q,
			 uint8_t *out, size_t cap, size_t *n)
{
	size_t an_end = r->an_end;
	size_t opt_len = !q->edns ? 0 : r->edns ? r->opt_end - r->opt_start : 11;

	*n = 0;
	if (an_end + opt_len > cap)
		return;
	memcpy(out, reply, an_end);
	wire_put16(out + WIRE_OFF_NSCOUNT, 0);
	wire_put16(out + WIRE_OFF_ARCOUNT, q->edns ? 1 : 0);
	if (!q->edns) {
		*n = an_end;
	} else if (r->edns) {
		memcpy(out + an_end, reply + r->opt_start, opt_len);
		*n = wire_opt_own(out, an_end, an_end + opt_len);
		uint8_t *hi = out + an_end + (r->opt_ttl - r->opt_start) + 2;
		*hi = (uint8_t)(q->edns_do ? *hi | 0x80 : *hi & 0x7f);
	} else {
		wire_buf b = { .p = out, .cap = cap, .len = an_end };
		wire_buf_opt(&b, r->rcode, q->edns_do, WIRE_EDE_NONE, NULL);
		*n = b.fail ? 0 : b.len;
	}
}

size_t wire_reply_to_client(const uint8_t *reply, size_t len, const wire_reply *r,
			    const wire_query *q, bool minimal, uint8_t *out, size_t cap)
{
	if (reply == NULL || r == NULL || q == NULL || out == NULL || !q->has_question)
		return 0;
	/* Check *r against this reply before trusting its offsets: the question
	 * must be the client's, uncompressed, at the same place and length. */
	size_t qend = WIRE_HDR_LEN + (size_t)q->qname_len + 4;
	if (len < qend || r->question_end != qend || r->end > len || r->end < qend ||
	    r->ar_start < qend || r->ar_start > r->end ||
	    !wire_name_equal_ci(reply + WIRE_HDR_LEN, q->qname_len, q->qname, q->qname_len))
		return 0;
	if (r->partial)
		return wire_truncated(r, q, out, cap);

	/* Without client EDNS the OPT goes, with whatever follows it; with
	 * it, what follows goes and the OPT becomes ours. */
	if (r->edns && (r->opt_start < r->ar_start || r->opt_end > r->end))
		return 0;
	size_t n = !r->edns ? r->end : q->edns ? r->opt_end : r->opt_start;
	uint16_t arcount = !r->edns ? r->arcount : (uint16_t)(r->opt_index + (q->edns ? 1 : 0));
	bool add_opt = q->edns && !r->edns;   /* an upstream without EDNS */
	bool trim = minimal && wire_reply_is_minimal(r, q) && r->an_end >= qend &&
		    r->an_end <= r->ar_start;

	if (trim) {
		wire_minimal(reply, r, q, out, cap, &n);
		if (n == 0)
			return wire_truncated(r, q, out, cap);
	} else if (n + (add_opt ? 11 : 0) <= cap) {
		memcpy(out, reply, n);
		wire_put16(out + WIRE_OFF_ARCOUNT, arcount);
		if (r->edns && q->edns) {
			n = wire_opt_own(out, r->opt_start, n);
			/* The DO bit answers the client's, whatever the upstream says
			 * (RFC 3225). */
			uint8_t *hi = out + r->opt_ttl + 2;
			*hi = (uint8_t)(q->edns_do ? *hi | 0x80 : *hi & 0x7f);
		} else if (add_opt) {
			wire_buf b = { .p = out, .cap = cap, .len = n };
			wire_buf_opt(&b, r->rcode, q->edns_do, WIRE_EDE_NONE, NULL);
			wire_put16(out + WIRE_OFF_ARCOUNT, (uint16_t)(arcount + 1));
			n = b.len;
		}
	} else if (r->ar_start + (q->edns ? 11 : 0) <= cap) {
		/* Drop the additional section (no TC needed), keep our OPT. */
		wire_buf b;
		wire_buf_init(&b, out, cap);
		wire_buf_bytes(&b, reply, r->ar_start);
		if (q->edns)
			wire_buf_opt(&b, r->rcode, q->edns_do, WIRE_EDE_NONE, NULL);
		if (b.fail)
			return 0;
		wire_put16(out + WIRE_OFF_ARCOUNT, q->edns ? 1 : 0);
		n = b.len;
	} else {
		return wire_truncated(r, q, out, cap);
	}
	wire_put16(out + WIRE_OFF_ID, q->id);
	/* We answer as a recursive service: RA set, and never authoritative. */
	uint16_t flags = wire_get16(out + WIRE_OFF_FLAGS);
	wire_put16(out + WIRE_OFF_FLAGS,
		   (uint16_t)((flags | WIRE_FLAG_RA) & ~(unsigned)WIRE_FLAG_AA));
	memcpy(out + WIRE_HDR_LEN, q->qname, q->qname_len);
	return n;
}
