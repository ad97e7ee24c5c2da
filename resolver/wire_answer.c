/*
 * wire_answer.c: answers embargo synthesizes itself (policy blocks, errors).
 *
 * An answer is measured before it is written, then written in one pass of
 * plain stores into the caller's buffer. Fitting into the client's limit is
 * done by measuring with less: first the EDE text cut to its short form,
 * then without it (the INFO-CODE still tells the client why), then a TC
 * answer with no records, which sends a UDP client to TCP. The common case
 * (REFUSED or a sinkhole address that fits) skips the levels.
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
	WIRE_RR_FIXED = 10,    /* TYPE, CLASS, TTL, RDLENGTH */
	WIRE_SOA_TIMERS = 20,  /* SERIAL .. MINIMUM */
	WIRE_OPT_FIXED = 11,   /* root owner, TYPE, CLASS, TTL, RDLENGTH */
	WIRE_EDE_FIXED = 6,    /* OPTION-CODE, OPTION-LENGTH, INFO-CODE */
};

/* How much of the answer to send, from everything to the bare minimum. */
typedef enum wire_level {
	WIRE_LEVEL_FULL = 0,
	WIRE_LEVEL_SHORT_TEXT, /* EXTRA-TEXT up to its first ": " ("vendor/rule") */
	WIRE_LEVEL_NO_TEXT,   /* EDE INFO-CODE without EXTRA-TEXT */
	WIRE_LEVEL_TC,        /* TC, header + question + OPT (INFO-CODE only) */
	WIRE_LEVEL_COUNT,
} wire_level;

/*
 * The parts of an answer, written without bounds checks: the builders
 * measure the whole answer first. Each returns the position just past what
 * it wrote.
 */

/* A header echoing q (ID, opcode, RD, CD) with QR and RA set. */
static inline uint8_t *wire_put_answer_header(uint8_t *p, const wire_query *q, uint16_t rcode,
					      bool tc, uint16_t an, uint16_t ns, uint16_t ar)
{
	/* The flags octet by octet, branch-free (the bools are 0 or 1). */
	p[WIRE_OFF_FLAGS] = (uint8_t)(WIRE_FLAG_QR >> 8 | (q->opcode & 0xF) << 3 |
				      (unsigned)tc * (WIRE_FLAG_TC >> 8) |
				      (unsigned)q->rd * (WIRE_FLAG_RD >> 8));
	p[WIRE_OFF_FLAGS + 1] = (uint8_t)(WIRE_FLAG_RA | (unsigned)q->cd * WIRE_FLAG_CD |
					  (rcode & 0xF));
	wire_put16(p + WIRE_OFF_ID, q->id);
	wire_put16(p + WIRE_OFF_QDCOUNT, q->has_question ? 1 : 0);
	wire_put16(p + WIRE_OFF_ANCOUNT, an);
	wire_put16(p + WIRE_OFF_NSCOUNT, ns);
	wire_put16(p + WIRE_OFF_ARCOUNT, ar);
	return p + WIRE_HDR_LEN;
}

/* The question as received. */
static inline uint8_t *wire_put_question(uint8_t *p, const wire_query *q)
{
	wire_copy_name(p, q->qname, q->qname_len);
	p += q->qname_len;
	wire_put16(p, q->qtype);
	wire_put16(p + 2, q->qclass);
	return p + 4;
}

/* The text length an OPT carries: `len` when ede_code is an INFO-CODE and
 * the text is there, else 0. An absurd text (the RDATA and option lengths
 * are 16 bits) is left out: the code alone is sent. */
static size_t wire_ede_text_len(int32_t ede_code, const char *text, size_t len)
{
	if (ede_code < 0 || ede_code > 0xFFFF || text == NULL || len > WIRE_EDE_TEXT_MAX)
		return 0;
	return len;
}

/* The same for the whole of a NUL-terminated text. */
static size_t wire_ede_full_len(int32_t ede_code, const char *text)
{
	if (ede_code < 0 || ede_code > 0xFFFF || text == NULL)
		return 0;
	return wire_ede_text_len(ede_code, text, strnlen(text, WIRE_EDE_TEXT_MAX + 1));
}

/* Octets of an OPT RR with an EDE of text_len (from wire_ede_text_len)
 * when ede_code is an INFO-CODE (0..65535), without an EDE otherwise. */
static inline size_t wire_opt_len(int32_t ede_code, size_t text_len)
{
	bool ede = ede_code >= 0 && ede_code <= 0xFFFF;
	return WIRE_OPT_FIXED + (ede ? WIRE_EDE_FIXED + text_len : 0);
}

/* An OPT RR: UDP size WIRE_EDNS_UDP, the extended RCODE bits of `rcode`,
 * version 0, DO as given, and an EDE option when ede_code is an INFO-CODE
 * with the first text_len (from wire_ede_text_len) octets of ede_text. */
static uint8_t *wire_put_opt(uint8_t *p, uint16_t rcode, bool dnssec_ok, int32_t ede_code,
			     const char *ede_text, size_t text_len)
{
	/* TTL field: extended RCODE (upper 8 of 12 bits) | version 0 | DO. */
	uint32_t ttl = (uint32_t)((rcode >> 4) & 0xFF) << 24 | (dnssec_ok ? WIRE_OPT_DO : 0);

	p[0] = 0;   /* owner: the root */
	wire_put16(p + 1, WIRE_TYPE_OPT);
	wire_put16(p + 3, WIRE_EDNS_UDP);
	wire_put32(p + 5, ttl);
	if (ede_code < 0 || ede_code > 0xFFFF) {
		wire_put16(p + 9, 0);
		return p + WIRE_OPT_FIXED;
	}
	wire_put16(p + 9, (uint16_t)(WIRE_EDE_FIXED + text_len));
	p += WIRE_OPT_FIXED;
	wire_put16(p, WIRE_OPT_EDE);
	wire_put16(p + 2, (uint16_t)(2 + text_len));
	wire_put16(p + 4, (uint16_t)ede_code);
	if (text_len)
		memcpy(p + WIRE_EDE_FIXED, ede_text, text_len);
	return p + WIRE_EDE_FIXED + text_len;
}

/* Octets of the sinkhole address record. */
static inline size_t wire_sink_len(const wire_block *blk)
{
	return 2 + WIRE_RR_FIXED + (blk->kind == WIRE_BLOCK_SINK_AAAA ? 16 : 4);
}

/* The one sinkhole address record; its owner points at the question. */
static uint8_t *wire_put_sink(uint8_t *p, const wire_query *q, const wire_block *blk)
{
	bool v6 = blk->kind == WIRE_BLOCK_SINK_AAAA;

	wire_put16(p, 0xC000 | WIRE_HDR_LEN);
	wire_put16(p + 2, v6 ? WIRE_TYPE_AAAA : WIRE_TYPE_A);
	wire_put16(p + 4, q->qclass);
	wire_put32(p + 6, blk->ttl);
	wire_put16(p + 10, v6 ? 16 : 4);
	if (v6)
		memcpy(p + 12, blk->sink6, 16);
	else
		memcpy(p + 12, blk->sink4, 4);
	return p + 12 + (v6 ? 16 : 4);
}

void wire_buf_answer_header(wire_buf *b, const wire_query *q, uint16_t rcode, bool tc,
			    uint16_t an, uint16_t ns, uint16_t ar)
{
	if (!wire_buf_room(b, WIRE_HDR_LEN)) {
		b->fail = true;
		return;
	}
	wire_put_answer_header(b->p + b->len, q, rcode, tc, an, ns, ar);
	b->len += WIRE_HDR_LEN;
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
	size_t text_len = wire_ede_text_len(ede_code, ede_text, ede_text_len);
	size_t n = wire_opt_len(ede_code, text_len);

	if (!wire_buf_room(b, n)) {
		b->fail = true;
		return;
	}
	wire_put_opt(b->p + b->len, rcode, dnssec_ok, ede_code, ede_text, text_len);
	b->len += n;
}

/* The length of the short form of an EDE text: up to its first ": ", 0
 * when it has none (the short form would be the whole text). */
static size_t wire_ede_short_len(const char *text)
{
	const char *colon = text ? strstr(text, ": ") : NULL;
	return colon ? (size_t)(colon - text) : 0;
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

/*
 * Inside this file a wire_block also describes error answers: kind
 * WIRE_BLOCK_ERROR, no records, only the EDE. wire_build_block refuses it
 * from callers (it is not a wire_block_kind).
 */
#define WIRE_BLOCK_ERROR ((wire_block_kind)0)

/*
 * An answer measured at every level, for the cases the one-pass path
 * (wire_build_fast) leaves: a SOA to lay out, no question, or not enough
 * room for everything. The levels differ only in the EDE text and whether
 * the records and TC are there, so the records are laid out once.
 */
typedef struct wire_plan {
	const wire_query *q;
	const wire_block *blk;
	uint16_t rcode;
	size_t base;           /* header + question */
	uint16_t an, ns;       /* the records at the levels that have them */
	size_t rec_len;
	/* The SOA (ns == 1): its owner, and whether owner and MNAME are
	 * pointers (to owner_at). */
	const uint8_t *owner;
	size_t owner_len, owner_at;
	bool owner_ptr, mname_ptr;
} wire_plan;

/* Lays out the synthesized SOA of a negative answer (RFC 2308 3). */
static void wire_plan_soa(wire_plan *pl)
{
	const wire_query *q = pl->q;
	const uint8_t *owner = pl->blk->soa_owner;
	size_t owner_len = owner ? wire_name_len(owner, WIRE_NAME_MAX) : 0;

	if (owner_len == 0) {
		/* No (or a broken) entry name: the blocked qname is the zone. */
		owner = q->qname;
		owner_len = q->qname_len;
	}
	int suffix = wire_qname_suffix(q, owner, owner_len);
	pl->owner = owner;
	pl->owner_len = owner_len;
	pl->owner_ptr = suffix >= 0 && q->qname_len > 1 && (size_t)suffix + 1 < q->qname_len;
	/* Otherwise (not in the question, e.g. a CNAME target's entry, or the
	 * root) the owner is written out right after the question. */
	pl->owner_at = pl->owner_ptr ? WIRE_HDR_LEN + (size_t)suffix : pl->base;
	/* MNAME = the owner: a pointer unless the owner is the bare root. */
	pl->mname_ptr = owner_len > 1 && pl->owner_at <= WIRE_PTR_MAX;
	pl->rec_len = (pl->owner_ptr ? 2 : owner_len) + WIRE_RR_FIXED +
		      (pl->mname_ptr ? 2 : owner_len) + WIRE_SOA_RNAME_LEN + WIRE_SOA_TIMERS;
}

static void wire_plan_init(wire_plan *pl, const wire_query *q, uint16_t rcode,
			   const wire_block *blk)
{
	pl->q = q;
	pl->blk = blk;
	pl->rcode = rcode;
	pl->base = WIRE_HDR_LEN + (q->has_question ? (size_t)q->qname_len + 4 : 0);
	pl->an = pl->ns = 0;
	pl->rec_len = 0;
	if (!q->has_question)
		return;
	switch (blk->kind) {
	case WIRE_BLOCK_SINK_A:
	case WIRE_BLOCK_SINK_AAAA:
		pl->an = 1;
		pl->rec_len = wire_sink_len(blk);
		break;
	case WIRE_BLOCK_NXDOMAIN:
	case WIRE_BLOCK_NODATA:
		pl->ns = 1;
		wire_plan_soa(pl);
		break;
	default:
		break;
	}
}

static uint8_t *wire_put_soa(uint8_t *p, const wire_plan *pl)
{
	const wire_query *q = pl->q;

	if (pl->owner_ptr) {
		wire_put16(p, (uint16_t)(0xC000 | pl->owner_at));
		p += 2;
	} else {
		memcpy(p, pl->owner, pl->owner_len);
		p += pl->owner_len;
	}
	size_t mname = pl->mname_ptr ? 2 : pl->owner_len;
	wire_put16(p, WIRE_TYPE_SOA);
	wire_put16(p + 2, q->qclass);
	wire_put32(p + 4, pl->blk->ttl);
	wire_put16(p + 8, (uint16_t)(mname + WIRE_SOA_RNAME_LEN + WIRE_SOA_TIMERS));
	p += WIRE_RR_FIXED;
	if (pl->mname_ptr)
		wire_put16(p, (uint16_t)(0xC000 | pl->owner_at));
	else
		memcpy(p, pl->owner, pl->owner_len);
	p += mname;
	memcpy(p, wire_soa_rname, WIRE_SOA_RNAME_LEN);
	p += WIRE_SOA_RNAME_LEN;
	wire_put32(p, pl->blk->serial);
	wire_put32(p + 4, WIRE_SOA_REFRESH);
	wire_put32(p + 8, WIRE_SOA_RETRY);
	wire_put32(p + 12, WIRE_SOA_EXPIRE);
	wire_put32(p + 16, pl->blk->ttl);
	return p + WIRE_SOA_TIMERS;
}

/* The answer at one level with text_len octets of EDE text (from
 * wire_ede_text_len); returns its length, or 0 if it does not fit. */
static size_t wire_put_level(const wire_plan *pl, bool tc, size_t text_len, uint8_t *out,
			     size_t cap)
{
	const wire_query *q = pl->q;
	const wire_block *blk = pl->blk;
	bool records = !tc;   /* an, ns and rec_len are 0 when there are none */
	size_t n = pl->base + (records ? pl->rec_len : 0) +
		   (q->edns ? wire_opt_len(blk->ede_code, text_len) : 0);

	if (n > cap)
		return 0;
	uint8_t *p = wire_put_answer_header(out, q, pl->rcode, tc, records ? pl->an : 0,
					    records ? pl->ns : 0, q->edns ? 1 : 0);
	if (q->has_question)
		p = wire_put_question(p, q);
	if (records && pl->an)
		p = wire_put_sink(p, q, blk);
	if (records && pl->ns)
		p = wire_put_soa(p, pl);
	if (q->edns)
		wire_put_opt(p, pl->rcode, q->edns_do, blk->ede_code, blk->ede_text, text_len);
	return n;
}

/* Every level from FULL down, the first that fits. Not inlined: it keeps
 * the plan on the stack, and the common case does not come here. */
static __attribute__((noinline)) size_t wire_build_levels(const wire_query *q, uint16_t rcode,
							  const wire_block *blk, uint8_t *out,
							  size_t cap)
{
	wire_plan pl;
	int32_t code = blk->ede_code;
	/* The text goes only in an OPT, and only with a code. */
	const char *text = q->edns && code >= 0 ? blk->ede_text : NULL;

	wire_plan_init(&pl, q, rcode, blk);
	for (int l = WIRE_LEVEL_FULL; l < WIRE_LEVEL_COUNT; l++) {
		size_t text_len = 0;
		if (l == WIRE_LEVEL_FULL) {
			text_len = wire_ede_full_len(code, text);
		} else if (l == WIRE_LEVEL_SHORT_TEXT) {
			text_len = wire_ede_text_len(code, text, wire_ede_short_len(text));
			if (text_len == 0)
				continue;   /* no short form: the same as NO_TEXT */
		} else if (l == WIRE_LEVEL_NO_TEXT && text == NULL) {
			continue;   /* without text, FULL and NO_TEXT are the same message */
		}
		size_t n = wire_put_level(&pl, l == WIRE_LEVEL_TC, text_len, out, cap);
		if (n)
			return n;
	}
	return 0;
}

/*
 * The common case in one pass: the question, no SOA to lay out, and room
 * for everything (the FULL level); text_len is the EDE text's (from
 * wire_ede_full_len). Returns 0 when it is not that case; wire_build_levels
 * then does it all, and puts out the same octets.
 */
static inline size_t wire_build_fast(const wire_query *q, uint16_t rcode,
				     const wire_block *blk, size_t text_len, uint8_t *out,
				     size_t cap)
{
	bool sink = blk->kind == WIRE_BLOCK_SINK_A || blk->kind == WIRE_BLOCK_SINK_AAAA;

	if (!q->has_question || (!sink && blk->kind != WIRE_BLOCK_REFUSED &&
				 blk->kind != WIRE_BLOCK_ERROR))
		return 0;
	size_t n = WIRE_HDR_LEN + (size_t)q->qname_len + 4 + (sink ? wire_sink_len(blk) : 0) +
		   (q->edns ? wire_opt_len(blk->ede_code, text_len) : 0);
	if (n > cap)
		return 0;
	uint8_t *p = wire_put_answer_header(out, q, rcode, false, sink ? 1 : 0, 0, q->edns ? 1 : 0);
	p = wire_put_question(p, q);
	if (sink)
		p = wire_put_sink(p, q, blk);
	if (q->edns)
		wire_put_opt(p, rcode, q->edns_do, blk->ede_code, blk->ede_text, text_len);
	return n;
}

/* With client EDNS (the EDE text to measure), or when the fast path did
 * not do it. Not inlined, so that the path without EDNS makes no call. */
static __attribute__((noinline)) size_t wire_build_more(const wire_query *q, uint16_t rcode,
							const wire_block *blk, uint8_t *out,
							size_t cap)
{
	if (q->edns) {
		size_t text_len = wire_ede_full_len(blk->ede_code, blk->ede_text);
		size_t n = wire_build_fast(q, rcode, blk, text_len, out, cap);
		if (n)
			return n;
	}
	return wire_build_levels(q, rcode, blk, out, cap);
}

static inline size_t wire_build(const wire_query *q, uint16_t rcode, const wire_block *blk,
				uint8_t *out, size_t cap)
{
	if (q == NULL || out == NULL)
		return 0;
	/* An extended RCODE needs an OPT to carry its upper bits; without one
	 * the low bits would say something else (BADVERS would read NOERROR). */
	if (rcode > 15 && !q->edns)
		rcode = WIRE_RCODE_SERVFAIL;
	rcode &= 0xFFF;
	if (!q->edns) {
		size_t n = wire_build_fast(q, rcode, blk, 0, out, cap);
		if (n)
			return n;
	}
	return wire_build_more(q, rcode, blk, out, cap);
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
	return wire_build(q, rcode, b, out, cap);
}

size_t wire_build_error(const wire_query *q, uint16_t rcode, int32_t ede_code,
			const char *ede_text, uint8_t *out, size_t cap)
{
	wire_block e = { .kind = WIRE_BLOCK_ERROR, .ede_code = ede_code, .ede_text = ede_text };

	return wire_build(q, rcode, &e, out, cap);
}

size_t wire_build_tc(const wire_query *q, uint8_t *out, size_t cap)
{
	static const wire_block none = { .kind = WIRE_BLOCK_ERROR, .ede_code = WIRE_EDE_NONE };
	wire_plan pl;

	if (q == NULL || out == NULL)
		return 0;
	wire_plan_init(&pl, q, WIRE_RCODE_NOERROR, &none);
	return wire_put_level(&pl, true, 0, out, cap);
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
	return wire_build_tc(q, out, cap);
}
