/*
 * xfr_tsig.c: TSIG (RFC 8945) on OpenSSL's HMAC; see xfr_tsig.h for why not
 * ldns's. The MAC covers, in order (section 4.3.3): the request's MAC when
 * signing a reply, the message without its TSIG (ARCOUNT one less, the
 * original ID), then the TSIG variables; a message after the first of a
 * transfer covers the prior MAC, the message and the timers only (5.3.1).
 */
#include "resolver/xfr_tsig.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TYPE_TSIG 250
#define CLASS_ANY 255

static const struct {
	const char *name, *md;
	size_t len;
} algs[] = {
	{ "hmac-sha256", "SHA256", 32 },
	{ "hmac-sha512", "SHA512", 64 },
	{ "hmac-sha384", "SHA384", 48 },
	{ "hmac-sha224", "SHA224", 28 },
	{ "hmac-sha1", "SHA1", 20 },
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put48(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 6; i++)
		p[i] = (uint8_t)(v >> (40 - 8 * i));
}

/* Text name to lower-case wire form; the length, or 0. */
static size_t name_wire(const char *text, uint8_t *out, size_t cap)
{
	ldns_rdf *r = ldns_dname_new_frm_str(text);
	size_t n = 0;
	if (r && ldns_rdf_size(r) <= cap) {
		ldns_dname2canonical(r);
		n = ldns_rdf_size(r);
		memcpy(out, ldns_rdf_data(r), n);
	}
	ldns_rdf_deep_free(r);
	return n;
}

int xfr_tsig_key_init(xfr_tsig_key *k, const cfg_tsig_key *c, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name_text, sizeof(k->name_text), "%s", c->name);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (strcmp(c->algorithm, algs[i].name))
			continue;
		char dotted[32];
		snprintf(dotted, sizeof(dotted), "%s.", algs[i].name);
		k->alg_len = name_wire(dotted, k->alg, sizeof(k->alg));
		k->md_name = algs[i].md;
		k->mac_len = algs[i].len;
	}
	k->name_len = name_wire(c->name, k->name, sizeof(k->name));
	/* config checked it is canonical base64; EVP_DecodeBlock counts the
	 * padding as octets, so take those off */
	size_t sl = strlen(c->secret);
	int n = sl <= sizeof(k->secret) / 3 * 4
		? EVP_DecodeBlock(k->secret, (const unsigned char *)c->secret, (int)sl) : -1;
	for (size_t i = sl; n > 0 && i > 0 && c->secret[i - 1] == '='; i--)
		n--;
	if (!k->md_name || !k->alg_len || !k->name_len || n <= 0) {
		snprintf(err, errlen, "TSIG key %s: unusable (algorithm %s)", c->name, c->algorithm);
		return -1;
	}
	k->secret_len = (size_t)n;
	return 0;
}

static int rdf_int16(const ldns_rdf *r, uint16_t *v)
{
	if (!r || ldns_rdf_size(r) != 2)
		return -1;
	*v = ldns_read_uint16(ldns_rdf_data(r));
	return 0;
}

int xfr_tsig_read(const ldns_rr *rr, size_t start, xfr_tsig_in *out)
{
	memset(out, 0, sizeof(*out));
	out->start = start;
	if (ldns_rr_rd_count(rr) != 7 || ldns_rr_get_class(rr) != CLASS_ANY)
		return -1;
	const ldns_rdf *owner = ldns_rr_owner(rr), *alg = ldns_rr_rdf(rr, 0), *t = ldns_rr_rdf(rr, 1);
	const ldns_rdf *mac = ldns_rr_rdf(rr, 3);
	if (ldns_rdf_get_type(alg) != LDNS_RDF_TYPE_DNAME || ldns_rdf_size(t) != 6 ||
	    ldns_rdf_size(mac) < 2 || ldns_rdf_size(owner) > sizeof(out->name) ||
	    ldns_rdf_size(alg) > sizeof(out->alg))
		return -1;
	out->name_len = ldns_rdf_size(owner);
	memcpy(out->name, ldns_rdf_data(owner), out->name_len);
	out->alg_len = ldns_rdf_size(alg);
	memcpy(out->alg, ldns_rdf_data(alg), out->alg_len);
	for (size_t i = 0; i < out->name_len; i++)
		out->name[i] = (uint8_t)(out->name[i] >= 'A' && out->name[i] <= 'Z' ? out->name[i] + 32 : out->name[i]);
	for (size_t i = 0; i < out->alg_len; i++)
		out->alg[i] = (uint8_t)(out->alg[i] >= 'A' && out->alg[i] <= 'Z' ? out->alg[i] + 32 : out->alg[i]);
	const uint8_t *tp = ldns_rdf_data(t);
	for (int i = 0; i < 6; i++)
		out->time_signed = out->time_signed << 8 | tp[i];
	size_t ml = ldns_read_uint16(ldns_rdf_data(mac));
	if (ml + 2 != ldns_rdf_size(mac) || ml > sizeof(out->mac))
		return -1;
	out->mac_len = ml;
	memcpy(out->mac, ldns_rdf_data(mac) + 2, ml);
	if (rdf_int16(ldns_rr_rdf(rr, 2), &out->fudge) < 0 ||
	    rdf_int16(ldns_rr_rdf(rr, 4), &out->orig_id) < 0 ||
	    rdf_int16(ldns_rr_rdf(rr, 5), &out->error) < 0)
		return -1;
	const ldns_rdf *other = ldns_rr_rdf(rr, 6);
	size_t ol = ldns_rdf_size(other) >= 2 ? ldns_read_uint16(ldns_rdf_data(other)) : SIZE_MAX;
	if (ol == SIZE_MAX || ol + 2 != ldns_rdf_size(other) || ol > sizeof(out->other))
		return -1;
	out->other_len = ol;
	if (ol)
		memcpy(out->other, ldns_rdf_data(other) + 2, ol);
	return 0;
}

/* One HMAC computation fed in pieces. */
typedef struct hmac {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
} hmac;

static int hmac_begin(hmac *h, const xfr_tsig_key *k)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)k->md_name, 0),
		OSSL_PARAM_construct_end(),
	};
	h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	h->ctx = h->mac ? EVP_MAC_CTX_new(h->mac) : NULL;
	if (!h->ctx || !EVP_MAC_init(h->ctx, k->secret, k->secret_len, params)) {
		EVP_MAC_CTX_free(h->ctx);
		EVP_MAC_free(h->mac);
		return -1;
	}
	return 0;
}

static void hmac_add(hmac *h, const void *p, size_t n)
{
	EVP_MAC_update(h->ctx, p, n);
}

/* The MAC size field and the MAC, as a prior MAC is digested. */
static void hmac_add_mac(hmac *h, const uint8_t *mac, size_t len)
{
	uint8_t l[2];
	put16(l, (uint16_t)len);
	hmac_add(h, l, 2);
	hmac_add(h, mac, len);
}

static size_t hmac_end(hmac *h, uint8_t out[XFR_TSIG_MAC_MAX])
{
	size_t n = 0;
	if (!EVP_MAC_final(h->ctx, out, &n, XFR_TSIG_MAC_MAX))
		n = 0;
	EVP_MAC_CTX_free(h->ctx);
	EVP_MAC_free(h->mac);
	return n;
}

/* The TSIG variables (4.3.3) after the message; timers only when `next`. */
static void hmac_add_vars(hmac *h, const xfr_tsig_key *k, bool next, uint64_t time_signed,
			  uint16_t fudge, uint16_t error, const uint8_t *other, size_t other_len)
{
	uint8_t b[16];
	if (!next) {
		hmac_add(h, k->name, k->name_len);
		put16(b, CLASS_ANY);
		memset(b + 2, 0, 4);  /* TTL */
		hmac_add(h, b, 6);
		hmac_add(h, k->alg, k->alg_len);
	}
	put48(b, time_signed);
	put16(b + 6, fudge);
	hmac_add(h, b, 8);
	if (!next) {
		put16(b, error);
		put16(b + 2, (uint16_t)other_len);
		hmac_add(h, b, 4);
		if (other_len)
			hmac_add(h, other, other_len);
	}
}

static const xfr_tsig_key *find_key(const xfr_tsig_key *keys, size_t n, const xfr_tsig_in *t)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i].name_len == t->name_len && !memcmp(keys[i].name, t->name, t->name_len))
			return &keys[i];
	return NULL;
}

int xfr_tsig_verify(const xfr_tsig_key *keys, size_t n, const uint8_t *msg, size_t len,
		    const xfr_tsig_in *t, const uint8_t *prior, size_t prior_len, int64_t now,
		    const xfr_tsig_key **key)
{
	const xfr_tsig_key *k = find_key(keys, n, t);
	*key = k;
	if (!k || k->alg_len != t->alg_len || memcmp(k->alg, t->alg, t->alg_len))
		return XFR_TSIG_BADKEY;
	if (t->start < 12 || t->start > len)
		return XFR_TSIG_BADSIG;
	/* a MAC shorter than half the hash, or than 10 octets, is too weak to
	 * check (RFC 8945 5.2.2.1); we never truncate ours, so any shorter one
	 * is refused as truncated */
	if (t->mac_len != k->mac_len)
		return t->mac_len > k->mac_len ? XFR_TSIG_BADSIG : XFR_TSIG_BADTRUNC;

	uint8_t hdr[12], mac[XFR_TSIG_MAC_MAX];
	hmac h;
	memcpy(hdr, msg, 12);
	put16(hdr, t->orig_id);
	put16(hdr + 10, (uint16_t)(((uint16_t)msg[10] << 8 | msg[11]) - 1));
	if (hmac_begin(&h, k) < 0)
		return XFR_TSIG_BADSIG;
	if (prior)
		hmac_add_mac(&h, prior, prior_len);
	hmac_add(&h, hdr, 12);
	hmac_add(&h, msg + 12, t->start - 12);
	/* Error and Other Data are digested as sent */
	hmac_add_vars(&h, k, false, t->time_signed, t->fudge, t->error, t->other, t->other_len);
	size_t ml = hmac_end(&h, mac);
	if (ml != k->mac_len || CRYPTO_memcmp(mac, t->mac, ml))
		return XFR_TSIG_BADSIG;
	int64_t skew = now - (int64_t)t->time_signed;
	if (skew > t->fudge || -skew > t->fudge)
		return XFR_TSIG_BADTIME;
	return XFR_TSIG_OK;
}

void xfr_tsig_signer_init(xfr_tsig_signer *s, const xfr_tsig_key *key, const xfr_tsig_in *req)
{
	memset(s, 0, sizeof(*s));
	s->key = key;
	if (req) {
		memcpy(s->mac, req->mac, req->mac_len);
		s->mac_len = req->mac_len;
	}
}

/* Writes a TSIG record at p (room for cap octets); its length, or 0. */
static size_t put_rr(uint8_t *p, size_t cap, const uint8_t *name, size_t name_len,
		     const uint8_t *alg, size_t alg_len, uint64_t time_signed, uint16_t fudge,
		     const uint8_t *mac, size_t mac_len, uint16_t orig_id, uint16_t error,
		     const uint8_t *other, size_t other_len)
{
	size_t rdlen = alg_len + 6 + 2 + 2 + mac_len + 2 + 2 + 2 + other_len;
	size_t need = name_len + 10 + rdlen;
	if (need > cap)
		return 0;
	memcpy(p, name, name_len);
	p += name_len;
	put16(p, TYPE_TSIG);
	put16(p + 2, CLASS_ANY);
	memset(p + 4, 0, 4);
	put16(p + 8, (uint16_t)rdlen);
	p += 10;
	memcpy(p, alg, alg_len);
	p += alg_len;
	put48(p, time_signed);
	put16(p + 6, fudge);
	put16(p + 8, (uint16_t)mac_len);
	p += 10;
	if (mac_len)
		memcpy(p, mac, mac_len);
	p += mac_len;
	put16(p, orig_id);
	put16(p + 2, error);
	put16(p + 4, (uint16_t)other_len);
	if (other_len)
		memcpy(p + 6, other, other_len);
	return need;
}

static void bump_arcount(uint8_t *msg)
{
	put16(msg + 10, (uint16_t)(((uint16_t)msg[10] << 8 | msg[11]) + 1));
}

size_t xfr_tsig_sign(xfr_tsig_signer *s, uint8_t *msg, size_t len, size_t cap, int64_t now)
{
	const xfr_tsig_key *k = s->key;
	uint8_t mac[XFR_TSIG_MAC_MAX], other[6];
	size_t other_len = 0;
	uint64_t ts = (uint64_t)now;
	hmac h;

	if (len < 12)
		return 0;
	if (s->error == XFR_TSIG_BADTIME) {
		/* the request's time is echoed, ours goes in Other Data (5.2.3) */
		put48(other, (uint64_t)now);
		other_len = 6;
		ts = s->time_signed;
	}
	if (hmac_begin(&h, k) < 0)
		return 0;
	if (s->mac_len)
		hmac_add_mac(&h, s->mac, s->mac_len);
	hmac_add(&h, msg, len);
	hmac_add_vars(&h, k, s->next, ts, XFR_TSIG_FUDGE, s->error, other, other_len);
	size_t ml = hmac_end(&h, mac);
	if (!ml)
		return 0;
	uint16_t id = (uint16_t)((uint16_t)msg[0] << 8 | msg[1]);
	size_t n = put_rr(msg + len, cap - len, k->name, k->name_len, k->alg, k->alg_len, ts,
			  XFR_TSIG_FUDGE, mac, ml, id, s->error, other, other_len);
	if (!n)
		return 0;
	bump_arcount(msg);
	memcpy(s->mac, mac, ml);
	s->mac_len = ml;
	s->next = true;
	return len + n;
}

size_t xfr_tsig_append_error(const xfr_tsig_in *req, uint16_t error, uint8_t *msg, size_t len,
			     size_t cap, int64_t now)
{
	if (len < 12 || cap < len)
		return 0;
	uint16_t id = (uint16_t)((uint16_t)msg[0] << 8 | msg[1]);
	size_t n = put_rr(msg + len, cap - len, req->name, req->name_len, req->alg, req->alg_len,
			  (uint64_t)now, XFR_TSIG_FUDGE, NULL, 0, id, error, NULL, 0);
	if (!n)
		return 0;
	bump_arcount(msg);
	return len + n;
}

const char *xfr_tsig_error_name(int error)
{
	switch (error) {
	case XFR_TSIG_OK: return "NOERROR";
	case XFR_TSIG_BADSIG: return "BADSIG";
	case XFR_TSIG_BADKEY: return "BADKEY";
	case XFR_TSIG_BADTIME: return "BADTIME";
	case XFR_TSIG_BADTRUNC: return "BADTRUNC";
	default: return "?";
	}
}
