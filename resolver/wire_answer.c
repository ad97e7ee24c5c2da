/*
 * wire_answer.c: answers embargo synthesizes itself (policy blocks, errors).
 *
 * One builder writes header, question, records and OPT in a single pass into
 * the caller's buffer. Fitting into the client's limit is done by retrying
 * with less: first without the EDE text (the INFO-CODE still tells the client
 * why), then a TC answer with no records, which sends a UDP client to TCP.
 */
#include "resolver/wire_impl.h"

/* RNAME of synthesized SOAs: a mailbox that cannot exist (RFC 6761 .invalid). */
static const uint8_t wire_soa_rname[] = "\6nobody\7invalid";  /* + NUL = root */
#define WIRE_SOA_RNAME_LEN sizeof(wire_soa_rname)

/* OPT RDATA = option code, length (4) + INFO-CODE (2) + text. */
#define WIRE_EDE_TEXT_MAX (0xFFFF - 6)

enum {
	WIRE_SOA_REFRESH = 3600,
	WIRE_SOA_RETRY = 600,
	WIRE_SOA_EXPIRE = 86400,
};

/* How much of the answer to send, from everything to the bare minimum. */
typedef enum wire_level {
	WIRE_LEVEL_FULL = 0,
	WIRE_LEVEL_SHORT_TEXT, /* EXTRA-TEXT up to its first ": " ("vendor/rule") */
	WIRE_LEVEL_NO_TEXT,   /* EDE INFO-CODE without EXTRA-TEXT */
	WIRE_LEVEL_TC,        /* TC, header + question + OPT (INFO-CODE only) */
	WIRE_LEVEL_COUNT,
} wire_level;

void wire_buf_answer_header(wire_buf *b, const wire_query *q, uint16_t rcode, bool tc,
			    uint16_t an, uint16_t ns, uint16_t ar)
{
	uint16_t flags = WIRE_FLAG_QR | WIRE_FLAG_RA | (uint16_t)((q->opcode & 0xF) << 11) |
			 (rcode & 0xF);

	if (q->rd)
		flags |= WIRE_FLAG_RD;
	if (q->cd)
		flags |= WIRE_FLAG_CD;
	if (tc)
		flags |= WIRE_FLAG_TC;
	wire_buf_u16(b, q->id);
	wire_buf_u16(b, flags);
	wire_buf_u16(b, q->has_question ? 1 : 0);
	wire_buf_u16(b, an);
	wire_buf_u16(b, ns);
	wire_buf_u16(b, ar);
}

/* The length of the short form of an EDE text: up to its first ": ", 0
 * when it has none (the short form would be the whole text). */
static size_t wire_ede_short_len(const char *text)
{
	const char *colon = text ? strstr(text, ": ") : NULL;
	return colon ? (size_t)(colon - text) : 0;
}

void wire_buf_opt(wire_buf *b, uint16_t rcode, bool dnssec_ok, int32_t ede_code,
		  const char *ede_text)
{
	wire_buf_opt_n(b, rcode, dnssec_ok, ede_code, ede_text,
		       ede_text ? strnlen(ede_text, WIRE_EDE_TEXT_MAX + 1) : 0);
}

void wire_buf_opt_n(wire_buf *b, uint16_t rcode, bool dnssec_ok, int32_t ede_code,
		    const char *ede_text, size_t ede_text_len)
{
	/* TTL field: extended RCODE (upper 8 of 12 bits) | version 0 | DO. */
	uint32_t ttl = (uint32_t)((rcode >> 4) & 0xFF) << 24 | (dnssec_ok ? WIRE_OPT_DO : 0);
	size_t text_len = 0;

	if (ede_code >= 0 && ede_text != NULL) {
		/* RDATA and option lengths are 16 bits. */
		text_len = ede_text_len;
		if (text_len > WIRE_EDE_TEXT_MAX)
			text_len = 0;   /* absurd; send the code alone */
	}
	wire_buf_bytes(b, "", 1);
	wire_buf_u16(b, WIRE_TYPE_OPT);
	wire_buf_u16(b, WIRE_EDNS_UDP);
	wire_buf_u32(b, ttl);
	if (ede_code < 0 || ede_code > 0xFFFF) {
		wire_buf_u16(b, 0);
		return;
	}
	wire_buf_u16(b, (uint16_t)(4 + 2 + text_len));
	wire_buf_u16(b, WIRE_OPT_EDE);
	wire_buf_u16(b, (uint16_t)(2 + text_len));
	wire_buf_u16(b, (uint16_t)ede_code);
	wire_buf_bytes(b, ede_text, text_len);
}

/* Offset within q->qname of a suffix equal (ignoring case) to `name`, or -1:
 * lets the SOA owner be a pointer into the echoed question. */
static int wire_qname_suffix(const wire_query *q, const uint8_t *name, size_t name_len)
{
	size_t p = 0;

	while (p < q->qname_len) {
		if (q->qname_len - p == name_len &&
		    wire_name_equal_ci(q->qname + p, name_len, name, name_len))
			return (int)p;
		if (q->qname[p] == 0)
			break;
		p += 1 + (size_t)q->qname[p];
	}
	return -1;
}

/* The synthesized SOA of a negative answer (RFC 2308 3). */
static void wire_buf_soa(wire_buf *b, const wire_query *q, const wire_block *blk)
{
	const uint8_t *owner = blk->soa_owner;
	size_t owner_len = owner ? wire_name_len(owner, WIRE_NAME_MAX) : 0;
	size_t owner_at;   /* offset in the message of the owner's labels */
	int suffix = -1;

	if (owner_len == 0) {
		/* No (or a broken) entry name: the blocked qname is the zone. */
		owner = q->qname;
		owner_len = q->qname_len;
	}
	suffix = wire_qname_suffix(q, owner, owner_len);
	if (suffix >= 0 && q->qname_len > 1 && (size_t)suffix + 1 < q->qname_len) {
		owner_at = WIRE_HDR_LEN + (size_t)suffix;
		wire_buf_u16(b, (uint16_t)(0xC000 | owner_at));
	} else {
		/* Not in the question (e.g. a CNAME target's entry), or the root. */
		owner_at = b->len;
		wire_buf_bytes(b, owner, owner_len);
	}
	wire_buf_u16(b, WIRE_TYPE_SOA);
	wire_buf_u16(b, q->qclass);
	wire_buf_u32(b, blk->ttl);
	size_t rdlen_at = b->len;
	wire_buf_u16(b, 0);
	size_t rdata_at = b->len;
	/* MNAME = the owner: a pointer unless the owner is the bare root. */
	if (owner_len > 1 && owner_at <= WIRE_PTR_MAX)
		wire_buf_u16(b, (uint16_t)(0xC000 | owner_at));
	else
		wire_buf_bytes(b, owner, owner_len);
	wire_buf_bytes(b, wire_soa_rname, WIRE_SOA_RNAME_LEN);
	wire_buf_u32(b, blk->serial);
	wire_buf_u32(b, WIRE_SOA_REFRESH);
	wire_buf_u32(b, WIRE_SOA_RETRY);
	wire_buf_u32(b, WIRE_SOA_EXPIRE);
	wire_buf_u32(b, blk->ttl);
	wire_buf_set16(b, rdlen_at, (uint16_t)(b->len - rdata_at));
}

/* The one sinkhole address record; its owner points at the question. */
static void wire_buf_sink(wire_buf *b, const wire_query *q, const wire_block *blk)
{
	bool v6 = blk->kind == WIRE_BLOCK_SINK_AAAA;

	wire_buf_u16(b, 0xC000 | WIRE_HDR_LEN);
	wire_buf_u16(b, v6 ? WIRE_TYPE_AAAA : WIRE_TYPE_A);
	wire_buf_u16(b, q->qclass);
	wire_buf_u32(b, blk->ttl);
	wire_buf_u16(b, v6 ? 16 : 4);
	if (v6)
		wire_buf_bytes(b, blk->sink6, 16);
	else
		wire_buf_bytes(b, blk->sink4, 4);
}

/* One attempt at one level; returns the length or 0 if it overflowed. */
static size_t wire_build_level(const wire_query *q, uint16_t rcode, const wire_block *blk,
			       int32_t ede_code, const char *ede_text, wire_level level,
			       uint8_t *out, size_t cap)
{
	bool tc = level >= WIRE_LEVEL_TC;
	bool records = !tc && blk != NULL && q->has_question;
	bool sink = records && (blk->kind == WIRE_BLOCK_SINK_A || blk->kind == WIRE_BLOCK_SINK_AAAA);
	bool soa = records && (blk->kind == WIRE_BLOCK_NXDOMAIN || blk->kind == WIRE_BLOCK_NODATA);
	wire_buf b;

	wire_buf_init(&b, out, cap);
	wire_buf_answer_header(&b, q, rcode, tc, sink ? 1 : 0, soa ? 1 : 0, q->edns ? 1 : 0);
	if (q->has_question) {
		wire_buf_bytes(&b, q->qname, q->qname_len);
		wire_buf_u16(&b, q->qtype);
		wire_buf_u16(&b, q->qclass);
	}
	if (sink)
		wire_buf_sink(&b, q, blk);
	if (soa)
		wire_buf_soa(&b, q, blk);
	if (q->edns) {
		const char *text = level <= WIRE_LEVEL_SHORT_TEXT ? ede_text : NULL;
		size_t text_len = !text ? 0 : level == WIRE_LEVEL_FULL
			? strnlen(text, WIRE_EDE_TEXT_MAX + 1) : wire_ede_short_len(text);
		wire_buf_opt_n(&b, rcode, q->edns_do, ede_code, text, text_len);
	}
	return b.fail ? 0 : b.len;
}

static size_t wire_build(const wire_query *q, uint16_t rcode, const wire_block *blk,
			 int32_t ede_code, const char *ede_text, uint8_t *out, size_t cap)
{
	if (q == NULL || out == NULL)
		return 0;
	/* An extended RCODE needs an OPT to carry its upper bits; without one
	 * the low bits would say something else (BADVERS would read NOERROR). */
	if (rcode > 15 && !q->edns)
		rcode = WIRE_RCODE_SERVFAIL;
	rcode &= 0xFFF;
	for (int l = WIRE_LEVEL_FULL; l < WIRE_LEVEL_COUNT; l++) {
		/* Without text, FULL and NO_TEXT are the same message. */
		if (l == WIRE_LEVEL_NO_TEXT && (ede_text == NULL || ede_code < 0 || !q->edns))
			continue;
		if (l == WIRE_LEVEL_SHORT_TEXT &&
		    (ede_code < 0 || !q->edns || !wire_ede_short_len(ede_text)))
			continue;
		size_t n = wire_build_level(q, rcode, blk, ede_code, ede_text, (wire_level)l, out, cap);
		if (n)
			return n;
	}
	return 0;
}

size_t wire_build_block(const wire_query *q, const wire_block *b, uint8_t *out, size_t cap)
{
	uint16_t rcode;

	if (b == NULL)
		return 0;
	switch (b->kind) {
	case WIRE_BLOCK_REFUSED: rcode = WIRE_RCODE_REFUSED; break;
	case WIRE_BLOCK_NXDOMAIN: rcode = WIRE_RCODE_NXDOMAIN; break;
	case WIRE_BLOCK_NODATA:
	case WIRE_BLOCK_SINK_A:
	case WIRE_BLOCK_SINK_AAAA: rcode = WIRE_RCODE_NOERROR; break;
	default: return 0;
	}
	return wire_build(q, rcode, b, b->ede_code, b->ede_text, out, cap);
}

size_t wire_build_error(const wire_query *q, uint16_t rcode, int32_t ede_code,
			const char *ede_text, uint8_t *out, size_t cap)
{
	return wire_build(q, rcode, NULL, ede_code, ede_text, out, cap);
}

size_t wire_build_tc(const wire_query *q, uint8_t *out, size_t cap)
{
	if (q == NULL || out == NULL)
		return 0;
	return wire_build_level(q, WIRE_RCODE_NOERROR, NULL, WIRE_EDE_NONE, NULL, WIRE_LEVEL_TC,
				out, cap);
}

size_t wire_build_txt(const wire_query *q, const char *text, uint32_t ttl, uint8_t *out, size_t cap)
{
	if (q == NULL || out == NULL || text == NULL || !q->has_question)
		return 0;
	size_t len = strlen(text);
	if (len > 1024)
		len = 1024;  /* a few character-strings at most: keep it small */
	size_t rdlen = len + (len + 254) / 255 + (len == 0);
	wire_buf b;
	wire_buf_init(&b, out, cap);
	wire_buf_answer_header(&b, q, WIRE_RCODE_NOERROR, false, 1, 0, q->edns ? 1 : 0);
	wire_buf_bytes(&b, q->qname, q->qname_len);
	wire_buf_u16(&b, q->qtype);
	wire_buf_u16(&b, q->qclass);
	wire_buf_u16(&b, 0xC000 | WIRE_HDR_LEN);  /* owner: the question's name */
	wire_buf_u16(&b, WIRE_TYPE_TXT);
	wire_buf_u16(&b, q->qclass);
	wire_buf_u32(&b, ttl);
	wire_buf_u16(&b, (uint16_t)rdlen);
	size_t off = 0;
	do {  /* character-strings of at most 255 octets */
		size_t n = len - off > 255 ? 255 : len - off;
		uint8_t n8 = (uint8_t)n;
		wire_buf_bytes(&b, &n8, 1);
		wire_buf_bytes(&b, text + off, n);
		off += n;
	} while (off < len);
	if (q->edns)
		wire_buf_opt(&b, WIRE_RCODE_NOERROR, q->edns_do, WIRE_EDE_NONE, NULL);
	if (!b.fail)
		return b.len;
	return wire_build_level(q, WIRE_RCODE_NOERROR, NULL, WIRE_EDE_NONE, NULL, WIRE_LEVEL_TC, out, cap);
}
