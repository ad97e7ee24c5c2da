/*
 * xfr_msg.h: the messages of the zone transfer server: reading a request
 * (SOA, AXFR, IXFR; with TSIG), and writing replies: one-message answers
 * and errors, and the stream of messages of a transfer (RFC 5936 section
 * 2.2: SOA, records, SOA; RFC 1995: SOA, old SOA, deleted, new SOA, added,
 * SOA), each under 16 KiB and each signed when the request was.
 *
 * ldns reads the request and writes each record; the owner names of a
 * transfer are compressed here (against the previous owner), the few
 * records of other replies by ldns. TSIG is xfr_tsig.c's. No sockets, no clock: the time is an argument.
 */
#ifndef EMBARGO_XFR_MSG_H
#define EMBARGO_XFR_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "resolver/xfr_journal.h"
#include "resolver/xfr_tsig.h"

/* Room for one message. A transfer's are filled to XFR_MSG_FILL, below the
 * 16 KiB that compression pointers reach (the TSIG comes on top). */
#define XFR_MSG_MAX 65535
#define XFR_MSG_FILL 16383

typedef enum xfr_req_status {
	XFR_REQ_OK = 0,
	XFR_REQ_DROP,        /* too short or a response: never answered */
	XFR_REQ_FORMERR,     /* unreadable: FORMERR (the header echoed) */
	XFR_REQ_NOTIMP,      /* an opcode other than QUERY */
} xfr_req_status;

typedef struct xfr_req {
	uint16_t id;
	uint8_t opcode;
	bool rd;
	ldns_rr *question;   /* owned; NULL when there is none */
	uint16_t qtype, qclass;
	bool has_serial;     /* IXFR: the client's SOA in the authority section */
	uint32_t serial;
	bool has_tsig;
	xfr_tsig_in tsig;
} xfr_req;

/* Reads a request. Whatever the status, free with xfr_req_clear. */
xfr_req_status xfr_req_parse(const uint8_t *msg, size_t len, xfr_req *r);
void xfr_req_clear(xfr_req *r);

/* "SOA", "AXFR", "IXFR", "TYPE123": for logs. */
const char *xfr_qtype_name(uint16_t qtype, char buf[16]);

/*
 * A one-message reply: `rcode`, AA when `aa`, the question echoed (when
 * the request had one), `soa` (or NULL) as the only answer. Signed when
 * `signer` is given; with a TSIG error when tsig_error is BADKEY or BADSIG
 * (unsigned, RFC 8945 5.3.2) and `req` has a TSIG. Length, or 0.
 */
size_t xfr_reply_simple(const xfr_req *req, int rcode, bool aa, const ldns_rr *soa,
			xfr_tsig_signer *signer, int tsig_error, int64_t now, uint8_t *out,
			size_t cap);

/* A transfer being written, one message at a time. */
typedef struct xfr_stream {
	uint16_t id;
	bool rd;
	ldns_rr *question;        /* owned clone */
	xfr_zref *zref;           /* the version sent (a reference) */
	ldns_rr *soa_from;        /* IXFR delta: owned clone of the old SOA */
	ldns_rr_list *del, *add;  /* IXFR delta: owned */
	size_t pos, total;        /* records written / to write */
	size_t msgs, bytes;
	bool sign;
	xfr_tsig_signer signer;
} xfr_stream;

/* Starts an AXFR (or an IXFR answered in full) of zref's zone. */
void xfr_stream_axfr(xfr_stream *s, const xfr_req *req, xfr_zref *zref,
		     const xfr_tsig_signer *signer);
/* Starts an IXFR answered with a delta: takes x->del and x->add. */
void xfr_stream_ixfr(xfr_stream *s, const xfr_req *req, xfr_zref *zref, xfr_ixfr *x,
		     const xfr_tsig_signer *signer);
/* Writes the next message into out (XFR_MSG_MAX octets): its length, 0
 * when the transfer is complete, or -1 on failure. */
long xfr_stream_next(xfr_stream *s, int64_t now, uint8_t *out);
bool xfr_stream_done(const xfr_stream *s);
void xfr_stream_clear(xfr_stream *s);

#endif
