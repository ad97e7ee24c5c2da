/*
 * wire_ref.c: the query parser and the answer builders as they were at
 * f44fb66, before they were rewritten for speed; test_wire_same checks that
 * the rewrite puts the same octets on the wire. Frozen: do not edit, except
 * to follow a deliberate change of the wire format.
 */
#include "wire_ref.h"

#include "resolver/wire_impl.h"

typedef struct ref_wire_buf {
	uint8_t *p;
	size_t cap, len;
	bool fail;
} ref_wire_buf;

static inline void ref_wire_buf_init(ref_wire_buf *b, uint8_t *out, size_t cap)
{
	b->p = out;
	b->cap = out ? cap : 0;
	b->len = 0;
	b->fail = false;
}

static inline bool ref_wire_buf_room(const ref_wire_buf *b, size_t n)
{
	return !b->fail && n <= b->cap - b->len;
}

static inline void ref_wire_buf_bytes(ref_wire_buf *b, const void *src, size_t n)
{
	if (!ref_wire_buf_room(b, n)) {
		b->fail = true;
		return;
	}
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

static inline void ref_wire_buf_u16(ref_wire_buf *b, uint16_t v)
{
	uint8_t t[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	ref_wire_buf_bytes(b, t, 2);
}

static inline void ref_wire_buf_u32(ref_wire_buf *b, uint32_t v)
{
	uint8_t t[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	ref_wire_buf_bytes(b, t, 4);
}

/* Patches a 16-bit field already written at `at`. */
static inline void ref_wire_buf_set16(ref_wire_buf *b, size_t at, uint16_t v)
{
	if (!b->fail && at + 2 <= b->len)
		wire_put16(b->p + at, v);
}

/* The qname of a query must be uncompressed: there is nothing before it to
 * point at, and copying it verbatim relies on it. */
static int ref_wire_copy_qname(const uint8_t *pkt, size_t len, size_t *pos, wire_query *q)
{
	size_t p = *pos, n = 0;

	for (;;) {
		if (p >= len)
			return WIRE_EFORMERR;
		uint8_t c = pkt[p];
		if (c > WIRE_LABEL_MAX)   /* a pointer, or label types 0x40/0x80 */
			return WIRE_EFORMERR;
		if (c > len - p - 1 || n + 1 + (size_t)c > WIRE_NAME_MAX)
			return WIRE_EFORMERR;
		memcpy(q->qname + n, pkt + p, 1 + (size_t)c);
		n += 1 + (size_t)c;
		p += 1 + (size_t)c;
		if (c == 0)
			break;
	}
	q->qname_len = (uint8_t)n;
	*pos = p;
	return WIRE_OK;
}

/* Checks that OPT RDATA is a sequence of whole {code, length, data} options
 * (RFC 6891 6.1.2); a broken one is FORMERR. */
static bool ref_wire_opts_valid(const uint8_t *o, size_t len)
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

/* Reads the sections after the question: answer and authority RRs are
 * skipped, the additional section may hold one OPT. */
static int ref_wire_parse_records(const uint8_t *pkt, size_t len, size_t pos, wire_query *q)
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
		if (!ref_wire_opts_valid(pkt + rr.rdata, rr.rdlen))
			return WIRE_EFORMERR;
		q->edns = true;
		q->edns_udp = rr.rclass < WIRE_UDP_MIN ? WIRE_UDP_MIN : rr.rclass;
		q->edns_version = (uint8_t)(rr.ttl >> 16);
		q->edns_do = (rr.ttl & WIRE_OPT_DO) != 0;
		q->edns_opts = pkt + rr.rdata;
		q->edns_opts_len = rr.rdlen;
	}
	return WIRE_OK;
}

static void ref_wire_clear_edns(wire_query *q)
{
	q->edns = q->edns_do = false;
	q->edns_version = 0;
	q->edns_udp = 0;
	q->edns_opts = NULL;
	q->edns_opts_len = 0;
}

int ref_wire_parse_query(const uint8_t *pkt, size_t len, wire_query *q)
{
	size_t pos = WIRE_HDR_LEN;
	int rc;

	/* Only the scalar part: the qname array is written before it is read. */
	memset(q, 0, offsetof(wire_query, qname));
	ref_wire_clear_edns(q);
	if (pkt == NULL || len < WIRE_HDR_LEN)
		return WIRE_EDROP;
	q->flags = wire_get16(pkt + WIRE_OFF_FLAGS);
	if (q->flags & WIRE_FLAG_QR)
		return WIRE_EDROP;
	q->id = wire_get16(pkt + WIRE_OFF_ID);
	q->opcode = WIRE_OPCODE(q->flags);
	q->rd = (q->flags & WIRE_FLAG_RD) != 0;
	q->cd = (q->flags & WIRE_FLAG_CD) != 0;
	q->ad = (q->flags & WIRE_FLAG_AD) != 0;
	q->qname_off = WIRE_HDR_LEN;

	/* An unknown opcode is NOTIMP whatever follows; we still read what we
	 * can so the answer can echo the question and EDNS. */
	int bad = q->opcode != 0 ? WIRE_ENOTIMP : WIRE_EFORMERR;

	if (wire_get16(pkt + WIRE_OFF_QDCOUNT) != 1)
		return bad;
	if (ref_wire_copy_qname(pkt, len, &pos, q) != WIRE_OK || len - pos < 4)
		return bad;
	q->qtype = wire_get16(pkt + pos);
	q->qclass = wire_get16(pkt + pos + 2);
	pos += 4;
	q->question_end = pos;
	q->has_question = true;

	rc = ref_wire_parse_records(pkt, len, pos, q);
	if (rc != WIRE_OK) {
		ref_wire_clear_edns(q);
		return bad;
	}
	if (q->opcode != 0)
		return WIRE_ENOTIMP;
	if (q->edns && q->edns_version > 0)
		return WIRE_EBADVERS;
	return WIRE_OK;
}

/* RNAME of synthesized SOAs: a mailbox that cannot exist (RFC 6761 .invalid). */
static const uint8_t wire_soa_rname[] = "\6nobody\7invalid";  /* + NUL = root */
#define REF_WIRE_SOA_RNAME_LEN sizeof(wire_soa_rname)

/* OPT RDATA = option code, length (4) + INFO-CODE (2) + text. */
#define REF_WIRE_EDE_TEXT_MAX (0xFFFF - 6)

enum {
	REF_WIRE_SOA_REFRESH = 3600,
	REF_WIRE_SOA_RETRY = 600,
	REF_WIRE_SOA_EXPIRE = 86400,
};

/* How much of the answer to send, from everything to the bare minimum. */
typedef enum ref_wire_level {
	REF_WIRE_LEVEL_FULL = 0,
	REF_WIRE_LEVEL_SHORT_TEXT, /* EXTRA-TEXT up to its first ": " ("vendor/rule") */
	REF_WIRE_LEVEL_NO_TEXT,   /* EDE INFO-CODE without EXTRA-TEXT */
	REF_WIRE_LEVEL_TC,        /* TC, header + question + OPT (INFO-CODE only) */
	REF_WIRE_LEVEL_COUNT,
} ref_wire_level;

static void ref_wire_buf_answer_header(ref_wire_buf *b, const wire_query *q, uint16_t rcode, bool tc,
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
	ref_wire_buf_u16(b, q->id);
	ref_wire_buf_u16(b, flags);
	ref_wire_buf_u16(b, q->has_question ? 1 : 0);
	ref_wire_buf_u16(b, an);
	ref_wire_buf_u16(b, ns);
	ref_wire_buf_u16(b, ar);
}

/* The length of the short form of an EDE text: up to its first ": ", 0
 * when it has none (the short form would be the whole text). */
static size_t ref_wire_ede_short_len(const char *text)
{
	const char *colon = text ? strstr(text, ": ") : NULL;
	return colon ? (size_t)(colon - text) : 0;
}

static void ref_wire_buf_opt_n(ref_wire_buf *b, uint16_t rcode, bool dnssec_ok, int32_t ede_code,
		    const char *ede_text, size_t ede_text_len)
{
	/* TTL field: extended RCODE (upper 8 of 12 bits) | version 0 | DO. */
	uint32_t ttl = (uint32_t)((rcode >> 4) & 0xFF) << 24 | (dnssec_ok ? WIRE_OPT_DO : 0);
	size_t text_len = 0;

	if (ede_code >= 0 && ede_text != NULL) {
		/* RDATA and option lengths are 16 bits. */
		text_len = ede_text_len;
		if (text_len > REF_WIRE_EDE_TEXT_MAX)
			text_len = 0;   /* absurd; send the code alone */
	}
	ref_wire_buf_bytes(b, "", 1);
	ref_wire_buf_u16(b, WIRE_TYPE_OPT);
	ref_wire_buf_u16(b, WIRE_EDNS_UDP);
	ref_wire_buf_u32(b, ttl);
	if (ede_code < 0 || ede_code > 0xFFFF) {
		ref_wire_buf_u16(b, 0);
		return;
	}
	ref_wire_buf_u16(b, (uint16_t)(4 + 2 + text_len));
	ref_wire_buf_u16(b, WIRE_OPT_EDE);
	ref_wire_buf_u16(b, (uint16_t)(2 + text_len));
	ref_wire_buf_u16(b, (uint16_t)ede_code);
	ref_wire_buf_bytes(b, ede_text, text_len);
}

/* Offset within q->qname of a suffix equal (ignoring case) to `name`, or -1:
 * lets the SOA owner be a pointer into the echoed question. */
static int ref_wire_qname_suffix(const wire_query *q, const uint8_t *name, size_t name_len)
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
static void ref_wire_buf_soa(ref_wire_buf *b, const wire_query *q, const wire_block *blk)
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
	suffix = ref_wire_qname_suffix(q, owner, owner_len);
	if (suffix >= 0 && q->qname_len > 1 && (size_t)suffix + 1 < q->qname_len) {
		owner_at = WIRE_HDR_LEN + (size_t)suffix;
		ref_wire_buf_u16(b, (uint16_t)(0xC000 | owner_at));
	} else {
		/* Not in the question (e.g. a CNAME target's entry), or the root. */
		owner_at = b->len;
		ref_wire_buf_bytes(b, owner, owner_len);
	}
	ref_wire_buf_u16(b, WIRE_TYPE_SOA);
	ref_wire_buf_u16(b, q->qclass);
	ref_wire_buf_u32(b, blk->ttl);
	size_t rdlen_at = b->len;
	ref_wire_buf_u16(b, 0);
	size_t rdata_at = b->len;
	/* MNAME = the owner: a pointer unless the owner is the bare root. */
	if (owner_len > 1 && owner_at <= WIRE_PTR_MAX)
		ref_wire_buf_u16(b, (uint16_t)(0xC000 | owner_at));
	else
		ref_wire_buf_bytes(b, owner, owner_len);
	ref_wire_buf_bytes(b, wire_soa_rname, REF_WIRE_SOA_RNAME_LEN);
	ref_wire_buf_u32(b, blk->serial);
	ref_wire_buf_u32(b, REF_WIRE_SOA_REFRESH);
	ref_wire_buf_u32(b, REF_WIRE_SOA_RETRY);
	ref_wire_buf_u32(b, REF_WIRE_SOA_EXPIRE);
	ref_wire_buf_u32(b, blk->ttl);
	ref_wire_buf_set16(b, rdlen_at, (uint16_t)(b->len - rdata_at));
}

/* The one sinkhole address record; its owner points at the question. */
static void ref_wire_buf_sink(ref_wire_buf *b, const wire_query *q, const wire_block *blk)
{
	bool v6 = blk->kind == WIRE_BLOCK_SINK_AAAA;

	ref_wire_buf_u16(b, 0xC000 | WIRE_HDR_LEN);
	ref_wire_buf_u16(b, v6 ? WIRE_TYPE_AAAA : WIRE_TYPE_A);
	ref_wire_buf_u16(b, q->qclass);
	ref_wire_buf_u32(b, blk->ttl);
	ref_wire_buf_u16(b, v6 ? 16 : 4);
	if (v6)
		ref_wire_buf_bytes(b, blk->sink6, 16);
	else
		ref_wire_buf_bytes(b, blk->sink4, 4);
}

/* One attempt at one level; returns the length or 0 if it overflowed. */
static size_t ref_wire_build_level(const wire_query *q, uint16_t rcode, const wire_block *blk,
			       int32_t ede_code, const char *ede_text, ref_wire_level level,
			       uint8_t *out, size_t cap)
{
	bool tc = level >= REF_WIRE_LEVEL_TC;
	bool records = !tc && blk != NULL && q->has_question;
	bool sink = records && (blk->kind == WIRE_BLOCK_SINK_A || blk->kind == WIRE_BLOCK_SINK_AAAA);
	bool soa = records && (blk->kind == WIRE_BLOCK_NXDOMAIN || blk->kind == WIRE_BLOCK_NODATA);
	ref_wire_buf b;

	ref_wire_buf_init(&b, out, cap);
	ref_wire_buf_answer_header(&b, q, rcode, tc, sink ? 1 : 0, soa ? 1 : 0, q->edns ? 1 : 0);
	if (q->has_question) {
		ref_wire_buf_bytes(&b, q->qname, q->qname_len);
		ref_wire_buf_u16(&b, q->qtype);
		ref_wire_buf_u16(&b, q->qclass);
	}
	if (sink)
		ref_wire_buf_sink(&b, q, blk);
	if (soa)
		ref_wire_buf_soa(&b, q, blk);
	if (q->edns) {
		const char *text = level <= REF_WIRE_LEVEL_SHORT_TEXT ? ede_text : NULL;
		size_t text_len = !text ? 0 : level == REF_WIRE_LEVEL_FULL
			? strnlen(text, REF_WIRE_EDE_TEXT_MAX + 1) : ref_wire_ede_short_len(text);
		ref_wire_buf_opt_n(&b, rcode, q->edns_do, ede_code, text, text_len);
	}
	return b.fail ? 0 : b.len;
}

static size_t ref_wire_build(const wire_query *q, uint16_t rcode, const wire_block *blk,
			 int32_t ede_code, const char *ede_text, uint8_t *out, size_t cap)
{
	if (q == NULL || out == NULL)
		return 0;
	/* An extended RCODE needs an OPT to carry its upper bits; without one
	 * the low bits would say something else (BADVERS would read NOERROR). */
	if (rcode > 15 && !q->edns)
		rcode = WIRE_RCODE_SERVFAIL;
	rcode &= 0xFFF;
	for (int l = REF_WIRE_LEVEL_FULL; l < REF_WIRE_LEVEL_COUNT; l++) {
		/* Without text, FULL and NO_TEXT are the same message. */
		if (l == REF_WIRE_LEVEL_NO_TEXT && (ede_text == NULL || ede_code < 0 || !q->edns))
			continue;
		if (l == REF_WIRE_LEVEL_SHORT_TEXT &&
		    (ede_code < 0 || !q->edns || !ref_wire_ede_short_len(ede_text)))
			continue;
		size_t n = ref_wire_build_level(q, rcode, blk, ede_code, ede_text, (ref_wire_level)l, out, cap);
		if (n)
			return n;
	}
	return 0;
}

size_t ref_wire_build_block(const wire_query *q, const wire_block *b, uint8_t *out, size_t cap)
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
	return ref_wire_build(q, rcode, b, b->ede_code, b->ede_text, out, cap);
}

size_t ref_wire_build_error(const wire_query *q, uint16_t rcode, int32_t ede_code,
			const char *ede_text, uint8_t *out, size_t cap)
{
	return ref_wire_build(q, rcode, NULL, ede_code, ede_text, out, cap);
}

size_t ref_wire_build_tc(const wire_query *q, uint8_t *out, size_t cap)
{
	if (q == NULL || out == NULL)
		return 0;
	return ref_wire_build_level(q, WIRE_RCODE_NOERROR, NULL, WIRE_EDE_NONE, NULL, REF_WIRE_LEVEL_TC,
				out, cap);
}

size_t ref_wire_build_txt(const wire_query *q, const char *text, uint32_t ttl, uint8_t *out, size_t cap)
{
	if (q == NULL || out == NULL || text == NULL || !q->has_question)
		return 0;
	size_t len = strlen(text);
	if (len > 1024)
		len = 1024;  /* a few character-strings at most: keep it small */
	size_t rdlen = len + (len + 254) / 255 + (len == 0);
	ref_wire_buf b;
	ref_wire_buf_init(&b, out, cap);
	ref_wire_buf_answer_header(&b, q, WIRE_RCODE_NOERROR, false, 1, 0, q->edns ? 1 : 0);
	ref_wire_buf_bytes(&b, q->qname, q->qname_len);
	ref_wire_buf_u16(&b, q->qtype);
	ref_wire_buf_u16(&b, q->qclass);
	ref_wire_buf_u16(&b, 0xC000 | WIRE_HDR_LEN);  /* owner: the question's name */
	ref_wire_buf_u16(&b, WIRE_TYPE_TXT);
	ref_wire_buf_u16(&b, q->qclass);
	ref_wire_buf_u32(&b, ttl);
	ref_wire_buf_u16(&b, (uint16_t)rdlen);
	size_t off = 0;
	do {  /* character-strings of at most 255 octets */
		size_t n = len - off > 255 ? 255 : len - off;
		uint8_t n8 = (uint8_t)n;
		ref_wire_buf_bytes(&b, &n8, 1);
		ref_wire_buf_bytes(&b, text + off, n);
		off += n;
	} while (off < len);
	if (q->edns)
		ref_wire_buf_opt_n(&b, WIRE_RCODE_NOERROR, q->edns_do, WIRE_EDE_NONE, NULL, 0);
	if (!b.fail)
		return b.len;
	return ref_wire_build_level(q, WIRE_RCODE_NOERROR, NULL, WIRE_EDE_NONE, NULL, REF_WIRE_LEVEL_TC, out, cap);
}
