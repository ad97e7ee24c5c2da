/*
 * wire_impl.h: private helpers shared by the wire_*.c files; not API.
 *
 * Big-endian loads/stores, a bounded output buffer that latches failure (so a
 * builder writes straight through and checks once at the end), a copy for
 * names, and the RR header reader that both the query parser and the reply
 * checker use.
 */
#ifndef EMBARGO_RESOLVER_WIRE_IMPL_H
#define EMBARGO_RESOLVER_WIRE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "resolver/wire.h"

static inline uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t wire_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Copies n octets of a name (at most WIRE_NAME_MAX): up to 64 in two
 * fixed-size moves, the second overlapping the first. For the 10 to 40
 * octets of a usual name, a memcpy of variable length costs a call or a
 * `rep movs` that is slow to start. dst and src must not overlap.
 */
static inline void wire_copy_name(uint8_t *restrict dst, const uint8_t *restrict src, size_t n)
{
	/* Most names first: 16 to 32 octets, then 33 to 64. */
	if (n - 16 <= 16) {
		memcpy(dst, src, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n - 33 <= 31) {
		memcpy(dst, src, 32);
		memcpy(dst + n - 32, src + n - 32, 32);
	} else if (n > 64) {
		memcpy(dst, src, n);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else if (n >= 2) {
		memcpy(dst, src, 2);
		dst[n - 1] = src[n - 1];
	} else if (n == 1) {
		dst[0] = src[0];
	}
}

/* Header field offsets. */
enum {
	WIRE_OFF_ID = 0,
	WIRE_OFF_FLAGS = 2,
	WIRE_OFF_QDCOUNT = 4,
	WIRE_OFF_ANCOUNT = 6,
	WIRE_OFF_NSCOUNT = 8,
	WIRE_OFF_ARCOUNT = 10,
};

#define WIRE_OPCODE(flags) ((uint8_t)(((flags) >> 11) & 0xF))
#define WIRE_OPT_DO 0x8000u   /* in the low 16 bits of the OPT TTL */
#define WIRE_PTR_MAX 0x3FFFu  /* largest offset a compression pointer can hold */

/* Output buffer: writes past cap set `fail` and are dropped. */
typedef struct wire_buf {
	uint8_t *p;
	size_t cap, len;
	bool fail;
} wire_buf;

static inline void wire_buf_init(wire_buf *b, uint8_t *out, size_t cap)
{
	b->p = out;
	b->cap = out ? cap : 0;
	b->len = 0;
	b->fail = false;
}

static inline bool wire_buf_room(const wire_buf *b, size_t n)
{
	return !b->fail && n <= b->cap - b->len;
}

static inline void wire_buf_bytes(wire_buf *b, const void *src, size_t n)
{
	if (!wire_buf_room(b, n)) {
		b->fail = true;
		return;
	}
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

static inline void wire_buf_u16(wire_buf *b, uint16_t v)
{
	uint8_t t[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	wire_buf_bytes(b, t, 2);
}

static inline void wire_buf_u32(wire_buf *b, uint32_t v)
{
	uint8_t t[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	wire_buf_bytes(b, t, 4);
}

/* Patches a 16-bit field already written at `at`. */
static inline void wire_buf_set16(wire_buf *b, size_t at, uint16_t v)
{
	if (!b->fail && at + 2 <= b->len)
		wire_put16(b->p + at, v);
}

/* One resource record as located in a packet. */
typedef struct wire_rr {
	size_t start;          /* owner name */
	size_t owner_end;      /* past the owner name: TYPE */
	uint16_t type, rclass;
	uint32_t ttl;
	size_t rdata;          /* RDATA offset */
	uint16_t rdlen;
	size_t end;            /* past RDATA */
} wire_rr;

/* Reads the RR at pkt[pos] (owner skipped, not decompressed); checks that
 * the fixed fields and RDATA lie within len. 0 or WIRE_EMALFORMED. */
int wire_rr_read(const uint8_t *pkt, size_t len, size_t pos, wire_rr *rr);

/*
 * wire_read_name, refusing names that use any octet marked in `avoid` (a
 * bitmap, bit i for octet i, of WIRE_AVOID_OCTETS octets; NULL: none). The
 * reply check marks the fixed fields of the records it walked (TYPE, CLASS,
 * TTL, RDLENGTH): no server compresses a name into them, and the TTLs
 * change when a reply is served from the cache, so a name read through them
 * would decode differently for the client than it did for the policy.
 * Only octets a pointer can reach need a bit: a target is at most
 * WIRE_PTR_MAX and a name runs on at most WIRE_NAME_MAX octets from there.
 */
#define WIRE_AVOID_OCTETS (WIRE_PTR_MAX + 1 + WIRE_NAME_MAX)
int wire_read_name_avoid(const uint8_t *pkt, size_t len, size_t pos, const uint8_t *avoid,
			 uint8_t out[WIRE_NAME_MAX], size_t *out_len, size_t *end);

/* Writes an OPT RR: UDP size WIRE_EDNS_UDP, the extended RCODE bits of
 * `rcode`, version 0, DO as given, and an EDE option when ede_code >= 0
 * (text only when ede_text is non-NULL). All or nothing: when it does not
 * fit, b->fail is set and nothing is written. */
void wire_buf_opt(wire_buf *b, uint16_t rcode, bool dnssec_ok, int32_t ede_code,
		  const char *ede_text);
/* The same with the first ede_text_len octets of ede_text as the text. */
void wire_buf_opt_n(wire_buf *b, uint16_t rcode, bool dnssec_ok, int32_t ede_code,
		    const char *ede_text, size_t ede_text_len);

/* Writes a header echoing q (ID, opcode, RD, CD) with QR and RA set; all
 * or nothing. */
void wire_buf_answer_header(wire_buf *b, const wire_query *q, uint16_t rcode, bool tc,
			    uint16_t an, uint16_t ns, uint16_t ar);

/* ASCII-only lower-casing: names are octets, not locale text. */
static inline uint8_t wire_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

#endif
