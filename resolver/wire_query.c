/*
 * wire_query.c: client queries in, upstream queries out.
 *
 * wire_parse_query decides, from the bytes alone, whether a query is served,
 * answered with an error, or dropped; it copies what later steps need (the
 * question in the client's case, EDNS parameters) so the receive buffer can
 * be reused. wire_build_forward turns it into the query we send upstream.
 */
#include "resolver/wire_impl.h"

/* Options that concern one hop only and so are not forwarded upstream. */
static bool wire_opt_hop_by_hop(uint16_t code)
{
	return code == WIRE_OPT_COOKIE || code == WIRE_OPT_TCP_KEEPALIVE ||
	       code == WIRE_OPT_PADDING || code == WIRE_OPT_EDE;
}

/* The qname of a query must be uncompressed: there is nothing before it to
 * point at, and copying it verbatim relies on it. The labels are checked
 * first and the name then copied in one piece. */
static int wire_copy_qname(const uint8_t *pkt, size_t len, size_t *pos, wire_query *q)
{
	size_t start = *pos, p = start;
	/* The root octet must lie in the packet and within WIRE_NAME_MAX of the
	 * start; a label running past either ends the walk there. */
	size_t end = len - start > WIRE_NAME_MAX ? start + WIRE_NAME_MAX : len;

	for (;;) {
		if (p >= end)
			return WIRE_EFORMERR;
		size_t c = pkt[p];
		if (c - 1 >= WIRE_LABEL_MAX) {   /* one compare for both: 0 wraps */
			if (c == 0)
				break;
			return WIRE_EFORMERR;   /* a pointer, or label types 0x40/0x80 */
		}
		p += 1 + c;
	}
	size_t n = p + 1 - start;
	wire_copy_name(q->qname, pkt + start, n);
	q->qname_len = (uint8_t)n;
	*pos = p + 1;
	return WIRE_OK;
}

/* Checks that OPT RDATA is a sequence of whole {code, length, data} options
 * (RFC 6891 6.1.2); a broken one is FORMERR. */
static bool wire_opts_valid(const uint8_t *o, size_t len)
{
	size_t p = 0;

	while (p < len) {
		if (len - p < 4)
			return false;
		size_t olen = wire_get16(o + p + 2);
		if (olen > len - p - 4)
			return false;
		p += 4 + olen;
	}
	return true;
}

/* Takes the query's OPT record (its owner checked to be the root): the
 * options, rdlen octets at pkt[rdata], must be valid. */
static int wire_take_opt(wire_query *q, const uint8_t *pkt, uint16_t rclass, uint32_t ttl,
			 size_t rdata, uint16_t rdlen)
{
	if (!wire_opts_valid(pkt + rdata, rdlen))
		return WIRE_EFORMERR;
	q->edns = true;
	q->edns_udp = rclass < WIRE_UDP_MIN ? WIRE_UDP_MIN : rclass;
	q->edns_version = (uint8_t)(ttl >> 16);
	q->edns_do = (ttl & WIRE_OPT_DO) != 0;
	q->edns_opts = pkt + rdata;
	q->edns_opts_len = rdlen;
	return WIRE_OK;
}

/*
 * The records of nearly every query that has any: one, an OPT, its owner
 * the root. Reads it as wire_parse_records would (through wire_rr_read)
 * without walking a name. False when the records are anything else; else
 * *rc is the result.
 */
static inline bool wire_parse_lone_opt(const uint8_t *pkt, size_t len, size_t pos,
				       wire_query *q, int *rc)
{
	if (wire_get32(pkt + WIRE_OFF_ANCOUNT) != 0 || wire_get16(pkt + WIRE_OFF_ARCOUNT) != 1 ||
	    len - pos < 1 + 10 || pkt[pos] != 0)
		return false;
	size_t rdata = pos + 11;
	uint16_t rdlen = wire_get16(pkt + pos + 9);
	if (rdlen > len - rdata)
		*rc = WIRE_EFORMERR;   /* truncated RDATA */
	else if (wire_get16(pkt + pos + 1) != WIRE_TYPE_OPT)
		*rc = WIRE_OK;         /* skipped, like any other record */
	else
		*rc = wire_take_opt(q, pkt, wire_get16(pkt + pos + 3), wire_get32(pkt + pos + 5),
				    rdata, rdlen);
	return true;
}

/* Reads the sections after the question: answer and authority RRs are
 * skipped, the additional section may hold one OPT. */
static __attribute__((noinline)) int wire_parse_records(const uint8_t *pkt, size_t len,
							size_t pos, wire_query *q)
{
	uint16_t an = wire_get16(pkt + WIRE_OFF_ANCOUNT);
	uint16_t ns = wire_get16(pkt + WIRE_OFF_NSCOUNT);
	uint16_t ar = wire_get16(pkt + WIRE_OFF_ARCOUNT);
	size_t total = (size_t)an + ns + ar;
	wire_rr rr;

	for (size_t i = 0; i < total; i++) {
		if (wire_rr_read(pkt, len, pos, &rr) != WIRE_OK)
			return WIRE_EFORMERR;
		pos = rr.end;
		if (rr.type != WIRE_TYPE_OPT)
			continue;
		if (i < (size_t)an + ns || q->edns)
			return WIRE_EFORMERR;   /* OPT outside additional, or twice */
		if (rr.owner_end != rr.start + 1 || pkt[rr.start] != 0)
			return WIRE_EFORMERR;   /* owner must be the literal root */
		if (wire_take_opt(q, pkt, rr.rclass, rr.ttl, rr.rdata, rr.rdlen) != WIRE_OK)
			return WIRE_EFORMERR;
	}
	return WIRE_OK;
}

static void wire_clear_edns(wire_query *q)
{
	q->edns = q->edns_do = false;
	q->edns_version = 0;
	q->edns_udp = 0;
	q->edns_opts = NULL;
	q->edns_opts_len = 0;
}

/* The answer to a broken query: an unknown opcode is NOTIMP whatever
 * follows; we still read what we can so the answer can echo the question
 * and EDNS. */
static inline int wire_query_bad(const wire_query *q)
{
	return q->opcode != 0 ? WIRE_ENOTIMP : WIRE_EFORMERR;
}

/* The end of wire_parse_query for a query with records (usually an OPT).
 * Not inlined: a query without records then needs no stack frame. */
static __attribute__((noinline)) int wire_parse_rest(const uint8_t *pkt, size_t len, size_t pos,
						     wire_query *q)
{
	int rc;

	if (!wire_parse_lone_opt(pkt, len, pos, q, &rc))
		rc = wire_parse_records(pkt, len, pos, q);
	if (rc != WIRE_OK) {
		wire_clear_edns(q);
		return wire_query_bad(q);
	}
	if (q->opcode != 0)
		return WIRE_ENOTIMP;
	if (q->edns && q->edns_version > 0)
		return WIRE_EBADVERS;
	return WIRE_OK;
}

int wire_parse_query(const uint8_t *pkt, size_t len, wire_query *q)
{
	size_t pos = WIRE_HDR_LEN;

	/* Only the scalar part: the qname array is written before it is read. */
	memset(q, 0, offsetof(wire_query, qname));
	wire_clear_edns(q);
	if (pkt == NULL || len < WIRE_HDR_LEN)
		return WIRE_EDROP;
	uint16_t flags = wire_get16(pkt + WIRE_OFF_FLAGS);
	q->flags = flags;
	if (flags & WIRE_FLAG_QR)
		return WIRE_EDROP;
	q->id = wire_get16(pkt + WIRE_OFF_ID);
	q->opcode = WIRE_OPCODE(flags);
	q->rd = (flags & WIRE_FLAG_RD) != 0;
	q->cd = (flags & WIRE_FLAG_CD) != 0;
	q->ad = (flags & WIRE_FLAG_AD) != 0;
	q->qname_off = WIRE_HDR_LEN;
	if (wire_get16(pkt + WIRE_OFF_QDCOUNT) != 1)
		return wire_query_bad(q);
	if (wire_copy_qname(pkt, len, &pos, q) != WIRE_OK || len - pos < 4)
		return wire_query_bad(q);
	q->qtype = wire_get16(pkt + pos);
	q->qclass = wire_get16(pkt + pos + 2);
	pos += 4;
	q->question_end = pos;
	q->has_question = true;

	/* ANCOUNT, NSCOUNT, ARCOUNT: a plain query has none (only testing
	 * them for zero, so the byte order does not matter). */
	uint32_t an_ns;
	uint16_t ar;
	memcpy(&an_ns, pkt + WIRE_OFF_ANCOUNT, 4);
	memcpy(&ar, pkt + WIRE_OFF_ARCOUNT, 2);
	if (an_ns | ar)
		return wire_parse_rest(pkt, len, pos, q);
	return q->opcode != 0 ? WIRE_ENOTIMP : WIRE_OK;
}


void wire_set_id(uint8_t *pkt, uint16_t id)
{
	wire_put16(pkt, id);
}

size_t wire_build_forward(const wire_query *q, uint16_t new_id, uint8_t *out, size_t cap)
{
	wire_buf b;
	uint16_t flags = 0;

	if (!q->has_question || q->qname_len == 0)
		return 0;
	if (q->rd)
		flags |= WIRE_FLAG_RD;
	if (q->cd)
		flags |= WIRE_FLAG_CD;
	if (q->ad)
		flags |= WIRE_FLAG_AD;   /* RFC 6840 5.7: the client wants the AD bit */
	wire_buf_init(&b, out, cap);
	wire_buf_u16(&b, new_id);
	wire_buf_u16(&b, flags);
	wire_buf_u16(&b, 1);
	wire_buf_u16(&b, 0);
	wire_buf_u16(&b, 0);
	wire_buf_u16(&b, 1);
	wire_buf_bytes(&b, q->qname, q->qname_len);
	wire_buf_u16(&b, q->qtype);
	wire_buf_u16(&b, q->qclass);

	/* OPT: root owner, UDP size, TTL = ext-rcode 0 | version 0 | DO. */
	wire_buf_bytes(&b, "", 1);
	wire_buf_u16(&b, WIRE_TYPE_OPT);
	wire_buf_u16(&b, WIRE_EDNS_UDP);
	wire_buf_u32(&b, q->edns_do ? WIRE_OPT_DO : 0);
	size_t rdlen_at = b.len;
	wire_buf_u16(&b, 0);
	if (b.fail)
		return 0;

	/* Pass the end-to-end options on; one that does not fit is left out
	 * rather than failing the query. */
	const uint8_t *o = q->edns ? q->edns_opts : NULL;
	size_t olen = o ? q->edns_opts_len : 0, p = 0;
	while (olen - p >= 4) {
		uint16_t code = wire_get16(o + p);
		size_t n = wire_get16(o + p + 2);
		if (n > olen - p - 4)
			break;   /* cannot happen after parsing; stay in bounds anyway */
		if (!wire_opt_hop_by_hop(code) && wire_buf_room(&b, 4 + n))
			wire_buf_bytes(&b, o + p, 4 + n);
		p += 4 + n;
	}
	/* The options came from one RDATA of at most 65535 octets. */
	wire_buf_set16(&b, rdlen_at, (uint16_t)(b.len - rdlen_at - 2));
	return b.fail ? 0 : b.len;
}
