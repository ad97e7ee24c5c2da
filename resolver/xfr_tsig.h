/*
 * xfr_tsig.h: transaction signatures (TSIG, RFC 8945) for zone transfers
 * and NOTIFY.
 *
 * Owns: the keys (decoded once from cfg->rpz.tsig), reading a message's
 * TSIG record, checking it (key, algorithm, MAC, time), and appending a TSIG
 * record to a message being sent: the first of a reply, the next ones of a
 * multi-message transfer (prior MAC and timers only, RFC 8945 5.3.1), and
 * the unsigned error records of BADKEY and BADSIG (5.3.2).
 *
 * Why not ldns_pkt_tsig_sign/verify: they never check Time Signed against
 * Fudge (BADTIME), cannot write a TSIG with an error code, and spell
 * hmac-sha384 wrongly, so the HMAC is OpenSSL's and the framing is here.
 * No clock: the time is an argument. No sockets.
 */
#ifndef EMBARGO_XFR_TSIG_H
#define EMBARGO_XFR_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "config/config.h"

/* TSIG error codes (RFC 8945 section 3) and the RCODE that carries them. */
enum {
	XFR_TSIG_OK = 0,
	XFR_TSIG_BADSIG = 16,
	XFR_TSIG_BADKEY = 17,
	XFR_TSIG_BADTIME = 18,
	XFR_TSIG_BADTRUNC = 22,
	XFR_RCODE_NOTAUTH = 9,
	XFR_TSIG_FUDGE = 300,     /* seconds of clock skew allowed (RFC 8945 10) */
	XFR_TSIG_MAC_MAX = 64,    /* SHA-512 */
};

typedef struct xfr_tsig_key {
	char name_text[256];      /* "fleet-key.", for logs */
	uint8_t name[256];        /* lower-case wire form */
	size_t name_len;
	uint8_t alg[64];          /* "hmac-sha256." in wire form */
	size_t alg_len;
	const char *md_name;      /* OpenSSL digest: "SHA256", ... */
	size_t mac_len;           /* octets of a full MAC */
	uint8_t secret[512];
	size_t secret_len;
} xfr_tsig_key;

/* Decodes one configured key. 0, or -1 with the reason in err. */
int xfr_tsig_key_init(xfr_tsig_key *k, const cfg_tsig_key *c, char *err, size_t errlen);

/* The TSIG record of a received message, with pointers into the record. */
typedef struct xfr_tsig_in {
	size_t start;             /* offset of the record in the message */
	uint8_t name[256];        /* key name, lower-case wire */
	size_t name_len;
	uint8_t alg[256];         /* algorithm, lower-case wire */
	size_t alg_len;
	uint64_t time_signed;
	uint16_t fudge;
	uint8_t mac[XFR_TSIG_MAC_MAX];
	size_t mac_len;
	uint16_t orig_id, error;
	uint8_t other[16];        /* Other Data: empty, or a BADTIME's 6 octets */
	size_t other_len;
} xfr_tsig_in;

/* Reads the fields of a parsed TSIG record found at offset `start`. 0, or
 * -1 when it is malformed (FORMERR). */
int xfr_tsig_read(const ldns_rr *rr, size_t start, xfr_tsig_in *out);

/*
 * Checks a received message's TSIG: the key named in it among keys[0..n),
 * its algorithm, the MAC over the message (`prior` is the request's MAC when
 * checking a reply, else NULL), then the time against `now`. Returns
 * XFR_TSIG_OK with *key set, or a TSIG error code; *key is set whenever the
 * key was found (a BADTIME reply is signed with it).
 */
int xfr_tsig_verify(const xfr_tsig_key *keys, size_t n, const uint8_t *msg, size_t len,
		    const xfr_tsig_in *t, const uint8_t *prior, size_t prior_len, int64_t now,
		    const xfr_tsig_key **key);

/* Signing the messages of one reply (or one request) in order. */
typedef struct xfr_tsig_signer {
	const xfr_tsig_key *key;
	uint8_t mac[XFR_TSIG_MAC_MAX]; /* the request's MAC, then each one sent */
	size_t mac_len;                /* 0: signing a request */
	bool next;                     /* past the first message: timers only */
	uint16_t error;                /* BADTIME: signed with this error */
	uint64_t time_signed;          /* BADTIME: the request's time */
} xfr_tsig_signer;

/* Starts signing a reply to a request whose TSIG was `req` (NULL: signing
 * a request of our own, such as a NOTIFY). */
void xfr_tsig_signer_init(xfr_tsig_signer *s, const xfr_tsig_key *key, const xfr_tsig_in *req);

/*
 * Appends a TSIG record to the message msg[0..len) (room up to cap) and
 * increments ARCOUNT. Returns the new length, or 0 when it does not fit.
 * The MAC is kept for the next message.
 */
size_t xfr_tsig_sign(xfr_tsig_signer *s, uint8_t *msg, size_t len, size_t cap, int64_t now);

/* Appends the unsigned TSIG of a BADKEY or BADSIG reply (RFC 8945 5.3.2),
 * echoing the request's key and algorithm names. New length, or 0. */
size_t xfr_tsig_append_error(const xfr_tsig_in *req, uint16_t error, uint8_t *msg, size_t len,
			     size_t cap, int64_t now);

/* "BADSIG", "BADKEY", ... for logs. */
const char *xfr_tsig_error_name(int error);

#endif
