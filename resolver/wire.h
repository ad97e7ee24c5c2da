/*
 * wire.h: the DNS wire format on embargo's hot path, without allocation.
 *
 * Owns: parsing a client query into a flat struct; synthesizing local answers
 * (policy blocks and errors, with RFC 8914 Extended DNS Errors); building the
 * query sent upstream; checking an upstream reply against the question we
 * asked (ID, question, CNAME/DNAME chain for cloaking checks, minimum TTL);
 * and rewriting that reply for the client (ID, question case, OPT, TC).
 *
 * Pure: no malloc, no sockets, no clock, no global mutable state. IDs, TTLs
 * and serials are arguments. Every read is bounds-checked against the length
 * given, so any byte string is a safe input (the module is fuzzed). It does
 * not depend on the policy library: the daemon maps a policy_match to a
 * wire_block (see below), so this file only needs the C library.
 *
 * Conventions: functions that can fail return 0 (WIRE_OK) or a negative
 * wire_status; builders return the number of octets written to `out`, or 0
 * when even the smallest valid message does not fit in `cap`. Names are
 * uncompressed wire form (length-prefixed labels, root last), at most 255
 * octets. Compressed names read from a packet must use pointers that point
 * strictly before the start of the name segment that contains them, and at
 * most WIRE_PTR_HOPS_MAX of them, so no packet can make a name walk loop.
 */
#ifndef EMBARGO_RESOLVER_WIRE_H
#define EMBARGO_RESOLVER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_HDR_LEN 12
#define WIRE_NAME_MAX 255      /* uncompressed wire octets, root included */
#define WIRE_LABEL_MAX 63
#define WIRE_PTR_HOPS_MAX 128  /* pointers followed per name (a name has <= 127 labels) */
#define WIRE_UDP_MIN 512       /* RFC 1035 limit without EDNS */
#define WIRE_EDNS_UDP 1232     /* the UDP size we advertise (DNS flag day 2020) */
#define WIRE_TCP_MAX 65535
#define WIRE_CHAIN_MAX 16      /* CNAME/DNAME targets kept from one reply */
#define WIRE_TTL_NONE UINT32_MAX /* min_ttl when a reply had no RR to take it from */
#define WIRE_EDE_NONE (-1)     /* "no EDE option" for the int32_t ede_code fields */

/* RCODEs; values above 15 need EDNS (the upper 8 bits go into the OPT TTL). */
enum {
	WIRE_RCODE_NOERROR = 0,
	WIRE_RCODE_FORMERR = 1,
	WIRE_RCODE_SERVFAIL = 2,
	WIRE_RCODE_NXDOMAIN = 3,
	WIRE_RCODE_NOTIMP = 4,
	WIRE_RCODE_REFUSED = 5,
	WIRE_RCODE_YXDOMAIN = 6,   /* a DNAME result too long (RFC 6672): an answer */
	WIRE_RCODE_BADVERS = 16,
};

enum {
	WIRE_TYPE_A = 1,
	WIRE_TYPE_NS = 2,
	WIRE_TYPE_CNAME = 5,
	WIRE_TYPE_SOA = 6,
	WIRE_TYPE_AAAA = 28,
	WIRE_TYPE_TXT = 16,
	WIRE_TYPE_DNAME = 39,
	WIRE_TYPE_OPT = 41,
	WIRE_TYPE_ANY = 255,
	WIRE_CLASS_IN = 1,
	WIRE_CLASS_CH = 3,
};

/* EDNS option codes (RFC 6891 registry) that the module treats specially. */
enum {
	WIRE_OPT_COOKIE = 10,
	WIRE_OPT_TCP_KEEPALIVE = 11,
	WIRE_OPT_PADDING = 12,
	WIRE_OPT_EDE = 15,
};

/* RFC 8914 INFO-CODEs the daemon uses. */
enum {
	WIRE_EDE_OTHER = 0,
	WIRE_EDE_NOT_READY = 14,
	WIRE_EDE_BLOCKED = 15,
	WIRE_EDE_CENSORED = 16,
	WIRE_EDE_PROHIBITED = 18,
	WIRE_EDE_NO_REACHABLE_AUTHORITY = 22,
};

/* Header flag bits of the 16-bit flags word (octets 2-3). */
enum {
	WIRE_FLAG_QR = 0x8000,
	WIRE_FLAG_AA = 0x0400,
	WIRE_FLAG_TC = 0x0200,
	WIRE_FLAG_RD = 0x0100,
	WIRE_FLAG_RA = 0x0080,
	WIRE_FLAG_AD = 0x0020,
	WIRE_FLAG_CD = 0x0010,
};

typedef enum wire_status {
	WIRE_OK = 0,
	/* wire_parse_query: what to do with a bad query. */
	WIRE_EDROP = -1,       /* < 12 octets or QR set: never answer (no reflection loops) */
	WIRE_EFORMERR = -2,    /* answer FORMERR (wire_build_error) */
	WIRE_ENOTIMP = -3,     /* opcode other than QUERY: answer NOTIMP */
	WIRE_EBADVERS = -4,    /* EDNS version > 0: answer BADVERS (16) with an OPT */
	/* wire_check_reply and the name helpers. */
	WIRE_EMISMATCH = -5,   /* not an answer to our query: ignore it, keep waiting */
	WIRE_EMALFORMED = -6,  /* an answer to our query, but unreadable */
} wire_status;

/* "ok", "drop", "formerr", ... for logs. */
const char *wire_strerror(int status);

/*
 * A parsed client query. Everything is copied into the struct except
 * edns_opts, which points into the packet given to wire_parse_query and is
 * only valid while that buffer is (it is read by wire_build_forward: build the
 * upstream packet right away, and on a retry reuse it with wire_set_id).
 */
typedef struct wire_query {
	uint16_t id;
	uint16_t flags;          /* raw header flags word */
	uint8_t opcode;
	bool rd, cd, ad;
	bool has_question;       /* the question below was read (echo it) */
	uint8_t qname_len;       /* octets in qname, root included */
	uint16_t qtype, qclass;
	size_t qname_off;        /* offset of the qname in the packet (12) */
	size_t question_end;     /* offset just past QCLASS */
	uint8_t qname[WIRE_NAME_MAX]; /* uncompressed, the client's original case */
	/* EDNS (RFC 6891), only when the query carried one valid OPT. */
	bool edns;
	bool edns_do;            /* DNSSEC OK */
	uint8_t edns_version;
	uint16_t edns_udp;       /* client's UDP size, raised to at least 512 */
	const uint8_t *edns_opts;/* OPT RDATA (the options), borrowed from the packet */
	size_t edns_opts_len;
} wire_query;

/*
 * Parses a client query. Returns:
 *   WIRE_OK        a QUERY with one question and at most one valid OPT;
 *   WIRE_EDROP     shorter than the header, or QR set: *q holds nothing usable;
 *   WIRE_ENOTIMP   opcode is not QUERY (checked before anything but DROP);
 *                  the header is in *q, and the question if it could be read;
 *   WIRE_EFORMERR  QDCOUNT != 1, a truncated or bad question (compression
 *                  pointer in the qname, label > 63, name > 255), a truncated
 *                  RR in any section, an OPT outside the additional section,
 *                  two OPTs, an OPT whose owner is not the root, malformed
 *                  EDNS options. q->edns is false (the answer carries no OPT);
 *                  q->has_question says whether the question can be echoed;
 *   WIRE_EBADVERS  EDNS version > 0; everything else in *q is valid.
 * Answer and authority records in a query are skipped, not refused; octets
 * after the last declared record are ignored.
 */
int wire_parse_query(const uint8_t *pkt, size_t len, wire_query *q);

/*
 * The UDP payload limit for answers to this client: its EDNS size capped at
 * WIRE_EDNS_UDP (to stay clear of IP fragmentation), or 512 without EDNS.
 * Pass it as `cap` to the builders for UDP; pass WIRE_TCP_MAX for TCP.
 */
static inline size_t wire_udp_limit(const wire_query *q)
{
	if (!q->edns)
		return WIRE_UDP_MIN;
	return q->edns_udp > WIRE_EDNS_UDP ? WIRE_EDNS_UDP : q->edns_udp;
}

/* Overwrites the ID of a message of at least 2 octets. */
void wire_set_id(uint8_t *pkt, uint16_t id);

/*
 * Builds the query sent upstream: `new_id`, opcode QUERY, RD/CD/AD copied,
 * the question in the client's case, and always an OPT (UDP size 1232,
 * version 0, the client's DO bit) so upstream answers may exceed 512 octets.
 * The client's EDNS options are passed on except the hop-by-hop ones: COOKIE
 * (10, a cookie is between two hops), TCP-KEEPALIVE (11), PADDING (12, pads
 * one encrypted hop) and EDE (15, meaningless in a query). Returns the length,
 * or 0 if !q->has_question or it does not fit.
 */
size_t wire_build_forward(const wire_query *q, uint16_t new_id, uint8_t *out, size_t cap);

/* How a policy block is answered; the daemon maps policy_answer onto it. */
typedef enum wire_block_kind {
	WIRE_BLOCK_REFUSED = 1,  /* RCODE REFUSED, no records */
	WIRE_BLOCK_NXDOMAIN,     /* NXDOMAIN + SOA in authority */
	WIRE_BLOCK_NODATA,       /* NOERROR, no answer + SOA in authority */
	WIRE_BLOCK_SINK_A,       /* one A record: sink4 */
	WIRE_BLOCK_SINK_AAAA,    /* one AAAA record: sink6 */
} wire_block_kind;

typedef struct wire_block {
	wire_block_kind kind;
	uint32_t ttl;            /* of the A/AAAA or SOA record, and the SOA MINIMUM */
	uint32_t serial;         /* SOA serial (e.g. the policy snapshot's generation) */
	const uint8_t *soa_owner;/* the matched entry's wire name (policy_match.entry); NULL: the qname */
	uint8_t sink4[4];        /* network order */
	uint8_t sink6[16];
	int32_t ede_code;        /* rule->vendor->ede, or WIRE_EDE_NONE */
	const char *ede_text;    /* rule->ede_text (UTF-8, no NUL sent), or NULL */
} wire_block;

/*
 * Builds the local answer to a blocked query into out[0..cap). Header: the
 * query's ID, QR, the opcode, RD and CD copied, RA set, AA/AD/TC clear; the
 * question echoed as received. Negative answers (NXDOMAIN, NODATA) carry a
 * synthesized SOA: owner = soa_owner (compressed against the qname when it is
 * a suffix of it), MNAME = the owner, RNAME nobody.invalid., serial as given,
 * refresh 3600, retry 600, expire 86400, minimum = RR TTL = ttl, so caches
 * keep the negative answer at most ttl seconds (RFC 2308). If the client sent
 * EDNS: an OPT (UDP 1232, version 0, its DO bit) with the EDE option when
 * ede_code != WIRE_EDE_NONE. When the answer does not fit in cap, the EDE text
 * is cut to its short form first (up to its first ": ", the "vendor/rule" of
 * "vendor/rule: basis"), then dropped (INFO-CODE kept); if it still does not
 * fit, TC is set and only header + question (+ OPT) are sent. Returns the
 * length, or 0 when not even that fits.
 */
size_t wire_build_block(const wire_query *q, const wire_block *b, uint8_t *out, size_t cap);

/*
 * Builds an error answer: `rcode` (0..4095; above 15 only with client EDNS,
 * e.g. WIRE_RCODE_BADVERS), an optional EDE (ede_code WIRE_EDE_NONE for none,
 * ede_text may be NULL), header, question (if q->has_question) and OPT as for
 * wire_build_block, with the same fallback when cap is small. Works on any *q
 * that wire_parse_query filled, whatever it returned except WIRE_EDROP.
 */
size_t wire_build_error(const wire_query *q, uint16_t rcode, int32_t ede_code,
			const char *ede_text, uint8_t *out, size_t cap);

/*
 * Builds a NOERROR answer with TC set and no records: header, question and
 * (with client EDNS) an OPT, so a UDP client asks again over TCP. Used for
 * ANY over UDP (RFC 8482) and rate-limited UDP clients. Returns the length,
 * or 0 when it does not fit.
 */
size_t wire_build_tc(const wire_query *q, uint8_t *out, size_t cap);

/*
 * Builds a NOERROR answer with one TXT record (owner: the question's name,
 * its class, `ttl`) holding `text`, split into character-strings: the
 * CHAOS version.embargo. and policy.embargo. answers. TC when it does not
 * fit. Returns the length, or 0.
 */
size_t wire_build_txt(const wire_query *q, const char *text, uint32_t ttl, uint8_t *out, size_t cap);

/* What wire_check_reply learnt from an upstream reply. */
typedef struct wire_reply {
	uint16_t rcode;          /* 12 bits: header RCODE | OPT extended RCODE << 4 */
	uint16_t flags;          /* raw header flags word */
	bool tc;
	bool partial;            /* TC set and the sections end early: only the header is usable */
	bool edns;               /* the reply has an OPT */
	bool edns_do;
	uint16_t edns_udp;
	uint16_t ancount, nscount, arcount;
	size_t question_end;     /* offset just past QCLASS */
	size_t an_end;           /* offset just past the answer section */
	size_t ar_start;         /* offset of the additional section */
	size_t opt_start, opt_end; /* the OPT RR, when edns */
	size_t opt_ttl;          /* offset of its TTL field (ext-RCODE, version, flags) */
	uint16_t opt_index;      /* its position in the additional section */
	size_t end;              /* offset just past the last declared RR */
	/*
	 * Lowest TTL of the answer and authority RRs, TTLs above 2^31-1 read as 0
	 * (RFC 2181); a SOA in the authority section (a negative answer) counts
	 * with min(its TTL, its MINIMUM) per RFC 2308. WIRE_TTL_NONE if no RR.
	 */
	uint32_t min_ttl;
	/*
	 * Targets of every CNAME and DNAME in the answer section, in order,
	 * decompressed and lower-cased, for the CNAME-cloaking check. Past
	 * WIRE_CHAIN_MAX targets, chain_overflow is set and the rest are not
	 * kept: the daemon should fail closed (SERVFAIL) rather than pass names it
	 * did not check.
	 */
	size_t n_chain;
	bool chain_overflow;
	uint8_t chain_len[WIRE_CHAIN_MAX];
	uint8_t chain[WIRE_CHAIN_MAX][WIRE_NAME_MAX];
} wire_reply;

/*
 * Checks an upstream reply to the question (qname_wire uncompressed, any
 * case; qtype; qclass) sent with ID expect_id. Returns:
 *   WIRE_OK         fills *r;
 *   WIRE_EMISMATCH  wrong ID, QR clear, opcode not QUERY, QDCOUNT != 1, or a
 *                   different question (names compared case-insensitively):
 *                   not ours, possibly spoofed; keep waiting;
 *   WIRE_EMALFORMED shorter than a header, an unreadable question, a bad or
 *                   truncated record (unless TC is set: then r->partial), a
 *                   compression loop, a CNAME/DNAME target compressed into
 *                   the TYPE..RDLENGTH of a record (it would change with the
 *                   TTLs the cache rewrites), an OPT outside the additional
 *                   section or two OPTs.
 * Octets after the last declared record are ignored.
 */
int wire_check_reply(const uint8_t *pkt, size_t len, uint16_t expect_id,
		     const uint8_t *qname_wire, uint16_t qtype, uint16_t qclass,
		     wire_reply *r);

/*
 * Rewrites an upstream reply (already accepted by wire_check_reply, whose *r
 * is passed) for the client, as a recursive service answers (RA set, AA
 * clear), with the client's ID and question case; an OPT only if the client
 * sent EDNS, and then ours (wire_opt_own; added when the reply had none),
 * otherwise it is removed; any additional RR after the reply's OPT is
 * removed either way, since pointers there could refer into the removed
 * bytes; octets after the last record dropped. With `minimal` (the
 * minimal-responses setting), a reply that wire_reply_is_minimal trims loses
 * its authority and additional sections (the OPT stays, ours). If that
 * exceeds cap: first the additional section is dropped (no TC needed, RFC
 * 2181 9); if still too big, or the reply was partial, TC is set and only
 * header + question (+ an OPT of our own if the client sent EDNS) are sent.
 * Returns the length, or 0 when the reply does not belong to q or nothing
 * fits.
 */
size_t wire_reply_to_client(const uint8_t *reply, size_t len, const wire_reply *r,
			    const wire_query *q, bool minimal, uint8_t *out, size_t cap);

/*
 * Whether minimal-responses trims this reply for q: a complete NOERROR
 * answer with at least one answer record, to a query without DO. A DO
 * client keeps everything (the proofs of a wildcard answer are in the
 * authority section); negative answers keep their SOA; the rest is left
 * as it is. The response cache stores such replies trimmed.
 */
static inline bool wire_reply_is_minimal(const wire_reply *r, const wire_query *q)
{
	return r->rcode == WIRE_RCODE_NOERROR && r->ancount > 0 && !r->tc && !q->edns_do;
}

/*
 * Makes the OPT record at pkt[opt_start..opt_end), the message's last, ours
 * (RFC 6891: it describes this hop, not the upstream's): UDP size
 * WIRE_EDNS_UDP, version 0, of the flags only DO (as found: the caller sets
 * it to the client's), the extended RCODE kept, and of the options only the
 * upstream's EDE (its word on the answer; cookies, padding, NSID or
 * anything echoed are not the client's). Returns the new end of the
 * message (at most opt_end), or opt_end unchanged when the record is not a
 * well-formed OPT.
 */
size_t wire_opt_own(uint8_t *pkt, size_t opt_start, size_t opt_end);

/* Name helpers (also used by the daemon and the tests). */

/*
 * Reads the possibly compressed name at pkt[pos] into out (uncompressed,
 * lower-cased), its length into *out_len, and the offset just past the name
 * as stored at pos into *end. 0, or WIRE_EMALFORMED (out of bounds, label
 * type 0x40/0x80, name > 255, pointer not strictly backwards, too many hops).
 */
int wire_read_name(const uint8_t *pkt, size_t len, size_t pos,
		   uint8_t out[WIRE_NAME_MAX], size_t *out_len, size_t *end);

/* Skips the possibly compressed name at pkt[pos] without following pointers:
 * *end = offset past it. 0, or WIRE_EMALFORMED. */
int wire_skip_name(const uint8_t *pkt, size_t len, size_t pos, size_t *end);

/* Length of an uncompressed name held in at most `max` octets, root
 * included; 0 if it is not a well-formed name within them. */
size_t wire_name_len(const uint8_t *name, size_t max);

/* Whether two uncompressed names are equal, ASCII case-insensitively. */
bool wire_name_equal_ci(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

#endif
