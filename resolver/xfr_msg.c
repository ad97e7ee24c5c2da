/*
 * xfr_msg.c: reading transfer requests and writing their replies (see
 * xfr_msg.h). Records are cloned into an ldns_pkt per message and ldns
 * writes them compressed; the uncompressed size decides where a message
 * ends, so the compressed one is always smaller than the budget.
 */
#include "resolver/xfr_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TYPE_SOA = 6, TYPE_IXFR = 251, TYPE_AXFR = 252 };

void xfr_req_clear(xfr_req *r)
{
	ldns_rr_free(r->question);
	r->question = NULL;
}

/* Reads and drops `n` records of `section` from pos; -1 when malformed. */
static int skip_rrs(const uint8_t *msg, size_t len, size_t *pos, size_t n, ldns_pkt_section sec)
{
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = NULL;
		if (ldns_wire2rr(&rr, msg, len, pos, sec) != LDNS_STATUS_OK)
			return -1;
		ldns_rr_free(rr);
	}
	return 0;
}

xfr_req_status xfr_req_parse(const uint8_t *msg, size_t len, xfr_req *r)
{
	memset(r, 0, sizeof(*r));
	if (len < 12 || (msg[2] & 0x80))
		return XFR_REQ_DROP;
	r->id = (uint16_t)(msg[0] << 8 | msg[1]);
	r->opcode = (msg[2] >> 3) & 0x0f;
	r->rd = msg[2] & 1;
	if (r->opcode != 0)
		return XFR_REQ_NOTIMP;
	size_t qd = (size_t)(msg[4] << 8 | msg[5]), an = (size_t)(msg[6] << 8 | msg[7]);
	size_t ns = (size_t)(msg[8] << 8 | msg[9]), ar = (size_t)(msg[10] << 8 | msg[11]);
	size_t pos = 12;
	if (qd != 1 || ldns_wire2rr(&r->question, msg, len, &pos, LDNS_SECTION_QUESTION) != LDNS_STATUS_OK)
		return XFR_REQ_FORMERR;
	r->qtype = (uint16_t)ldns_rr_get_type(r->question);
	r->qclass = (uint16_t)ldns_rr_get_class(r->question);
	if (skip_rrs(msg, len, &pos, an, LDNS_SECTION_ANSWER) < 0)
		return XFR_REQ_FORMERR;
	for (size_t i = 0; i < ns; i++) {
		ldns_rr *rr = NULL;
		if (ldns_wire2rr(&rr, msg, len, &pos, LDNS_SECTION_AUTHORITY) != LDNS_STATUS_OK)
			return XFR_REQ_FORMERR;
		/* IXFR: the client's version is the SOA it sends (RFC 1995 3) */
		if (!r->has_serial && ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7 &&
		    ldns_dname_compare(ldns_rr_owner(rr), ldns_rr_owner(r->question)) == 0) {
			r->has_serial = true;
			r->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
		}
		ldns_rr_free(rr);
	}
	for (size_t i = 0; i < ar; i++) {
		size_t start = pos;
		ldns_rr *rr = NULL;
		if (ldns_wire2rr(&rr, msg, len, &pos, LDNS_SECTION_ADDITIONAL) != LDNS_STATUS_OK)
			return XFR_REQ_FORMERR;
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TSIG) {
			/* the last record, and only one (RFC 8945 5.1) */
			int bad = i + 1 != ar || xfr_tsig_read(rr, start, &r->tsig) < 0;
			ldns_rr_free(rr);
			if (bad)
				return XFR_REQ_FORMERR;
			r->has_tsig = true;
			continue;
		}
		ldns_rr_free(rr);
	}
	return XFR_REQ_OK;
}

const char *xfr_qtype_name(uint16_t qtype, char buf[16])
{
	switch (qtype) {
	case TYPE_SOA: return "SOA";
	case TYPE_AXFR: return "AXFR";
	case TYPE_IXFR: return "IXFR";
	default: snprintf(buf, 16, "TYPE%u", qtype); return buf;
	}
}

static ldns_pkt *reply_new(const xfr_req *req, int rcode, bool aa, bool question)
{
	ldns_pkt *p = ldns_pkt_new();
	if (!p)
		return NULL;
	ldns_pkt_set_id(p, req->id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, aa);
	ldns_pkt_set_rd(p, req->rd);
	ldns_pkt_set_opcode(p, (ldns_pkt_opcode)req->opcode);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	if (question && req->question) {
		ldns_rr *q = ldns_rr_clone(req->question);
		if (!q || !ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q)) {
			ldns_rr_free(q);
			ldns_pkt_free(p);
			return NULL;
		}
	}
	return p;
}

/* Writes p (freed) into out and signs it; the length, or 0. */
static size_t reply_finish(ldns_pkt *p, xfr_tsig_signer *signer, int64_t now, uint8_t *out,
			   size_t cap)
{
	uint8_t *wire = NULL;
	size_t n = 0;
	if (!p)
		return 0;
	if (ldns_pkt2wire(&wire, p, &n) != LDNS_STATUS_OK || n > cap)
		n = 0;
	if (n)
		memcpy(out, wire, n);
	free(wire);
	ldns_pkt_free(p);
	if (n && signer)
		n = xfr_tsig_sign(signer, out, n, cap, now);
	return n;
}

size_t xfr_reply_simple(const xfr_req *req, int rcode, bool aa, const ldns_rr *soa,
			xfr_tsig_signer *signer, int tsig_error, int64_t now, uint8_t *out,
			size_t cap)
{
	if (cap < 12)
		return 0;
	if (!req->question) {
		/* nothing readable to echo: the header alone */
		memset(out, 0, 12);
		out[0] = (uint8_t)(req->id >> 8);
		out[1] = (uint8_t)req->id;
		out[2] = (uint8_t)(0x80 | req->opcode << 3 | (req->rd ? 1 : 0));
		out[3] = (uint8_t)(rcode & 0x0f);
		return 12;
	}
	ldns_pkt *p = reply_new(req, rcode, aa, true);
	if (p && soa) {
		ldns_rr *c = ldns_rr_clone(soa);
		if (!c || !ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, c)) {
			ldns_rr_free(c);
			ldns_pkt_free(p);
			p = NULL;
		}
	}
	if ((tsig_error == XFR_TSIG_BADKEY || tsig_error == XFR_TSIG_BADSIG ||
	     tsig_error == XFR_TSIG_BADTRUNC) && req->has_tsig) {
		size_t n = reply_finish(p, NULL, now, out, cap);
		return n ? xfr_tsig_append_error(&req->tsig, (uint16_t)tsig_error, out, n, cap, now) : 0;
	}
	return reply_finish(p, signer, now, out, cap);
}

static void stream_init(xfr_stream *s, const xfr_req *req, xfr_zref *zref,
			const xfr_tsig_signer *signer)
{
	memset(s, 0, sizeof(*s));
	s->id = req->id;
	s->rd = req->rd;
	s->question = req->question ? ldns_rr_clone(req->question) : NULL;
	s->zref = xfr_zref_take(zref);
	if (signer) {
		s->sign = true;
		s->signer = *signer;
	}
}

void xfr_stream_axfr(xfr_stream *s, const xfr_req *req, xfr_zref *zref,
		     const xfr_tsig_signer *signer)
{
	stream_init(s, req, zref, signer);
	s->total = rpz_rr_count(zref->zone) + 2;
}

void xfr_stream_ixfr(xfr_stream *s, const xfr_req *req, xfr_zref *zref, xfr_ixfr *x,
		     const xfr_tsig_signer *signer)
{
	stream_init(s, req, zref, signer);
	s->soa_from = ldns_rr_clone(x->soa_from);
	s->del = x->del;
	s->add = x->add;
	x->del = x->add = NULL;
	s->total = ldns_rr_list_rr_count(s->del) + ldns_rr_list_rr_count(s->add) + 4;
}

/* Record i of the transfer: AXFR: SOA, the zone, SOA; IXFR (RFC 1995 4):
 * SOA, old SOA, deleted, SOA, added, SOA. */
static const ldns_rr *stream_rr(const xfr_stream *s, size_t i)
{
	const rpz_zone *z = s->zref->zone;
	if (i == 0 || i + 1 == s->total)
		return rpz_soa(z);
	if (!s->soa_from)
		return rpz_rr_at(z, i - 1);
	size_t d = ldns_rr_list_rr_count(s->del);
	if (i == 1)
		return s->soa_from;
	if (i < 2 + d)
		return ldns_rr_list_rr(s->del, i - 2);
	if (i == 2 + d)
		return rpz_soa(z);
	return ldns_rr_list_rr(s->add, i - 3 - d);
}

/* The previous owner written to a message, for compression: its labels
 * and where each of its suffixes can be found in the message. */
typedef struct names_seen {
	uint8_t name[256];
	size_t n_labels;          /* the root not counted */
	size_t start[128];        /* label i starts at name + start[i] */
	uint16_t off[128];        /* the suffix from label i is at this offset */
} names_seen;

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Label starts of a wire name; the number of labels, root not counted. */
static size_t labels(const uint8_t *w, size_t n, size_t start[128])
{
	size_t k = 0;
	for (size_t p = 0; p < n && w[p] && k < 128; p += (size_t)w[p] + 1)
		start[k++] = p;
	return k;
}

static bool same_label(const uint8_t *a, const uint8_t *b)
{
	if (a[0] != b[0])
		return false;
	for (size_t i = 1; i <= a[0]; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/*
 * Writes owner `name` at out[pos], compressed against the previous owner:
 * its labels up to the longest suffix it shares with that one, then a
 * pointer to where the shared suffix already is. A zone in canonical order
 * puts the names of one parent next to each other, so this finds nearly
 * everything a full compression table would, without ldns's tree search
 * per label of every name (three quarters of an AXFR's time with it).
 * Messages stay under 16 KiB, so every offset fits a pointer. Returns the
 * new position.
 */
static size_t put_owner(uint8_t *out, size_t pos, const ldns_rdf *name, names_seen *seen)
{
	const uint8_t *w = ldns_rdf_data(name);
	size_t n = ldns_rdf_size(name), st[128], nl = labels(w, n, st), common = 0;
	uint16_t off[128];
	while (common < nl && common < seen->n_labels &&
	       same_label(w + st[nl - 1 - common], seen->name + seen->start[seen->n_labels - 1 - common]))
		common++;
	size_t lit = nl - common;   /* labels written out */
	for (size_t i = 0; i < lit; i++)
		off[i] = (uint16_t)(pos + st[i]);
	if (common) {
		size_t lit_len = lit ? st[lit] : 0;
		memcpy(out + pos, w, lit_len);
		uint16_t to = seen->off[seen->n_labels - common];
		for (size_t i = 0; i < common; i++)
			off[lit + i] = seen->off[seen->n_labels - common + i];
		pos += lit_len;
		out[pos++] = (uint8_t)(0xc0 | to >> 8);
		out[pos++] = (uint8_t)to;
	} else {
		memcpy(out + pos, w, n);
		pos += n;
	}
	memcpy(seen->name, w, n);
	memcpy(seen->start, st, nl * sizeof(st[0]));
	memcpy(seen->off, off, nl * sizeof(off[0]));
	seen->n_labels = nl;
	return pos;
}

long xfr_stream_next(xfr_stream *s, int64_t now, uint8_t *out)
{
	names_seen seen = { .n_labels = 0 };
	size_t pos = 12, k = 0;

	if (s->pos >= s->total)
		return 0;
	ldns_buffer *rrw = ldns_buffer_new(1024);
	if (!rrw)
		return -1;
	memset(out, 0, 12);
	out[0] = (uint8_t)(s->id >> 8);
	out[1] = (uint8_t)s->id;
	out[2] = (uint8_t)(0x80 | 0x04 | (s->rd ? 1 : 0));   /* QR, AA, RD copied (RFC 5936 2.2.1) */
	/* RFC 5936 2.2.1: the question in the first message; the others may
	 * leave it out, and do, to save its octets */
	if (s->msgs == 0 && s->question) {
		const ldns_rdf *q = ldns_rr_owner(s->question);
		pos = put_owner(out, pos, q, &seen);
		out[pos++] = (uint8_t)(ldns_rr_get_type(s->question) >> 8);
		out[pos++] = (uint8_t)ldns_rr_get_type(s->question);
		out[pos++] = (uint8_t)(ldns_rr_get_class(s->question) >> 8);
		out[pos++] = (uint8_t)ldns_rr_get_class(s->question);
		out[5] = 1;
	}
	while (s->pos < s->total) {
		const ldns_rr *rr = stream_rr(s, s->pos);
		ldns_buffer_clear(rrw);
		if (ldns_rr2buffer_wire(rrw, rr, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK) {
			ldns_buffer_free(rrw);
			return -1;
		}
		/* the record as ldns writes it, owner uncompressed: its rest
		 * (type, class, TTL, RDATA) is copied after our owner */
		size_t wl = ldns_buffer_position(rrw), ol = ldns_rdf_size(ldns_rr_owner(rr));
		if (pos + wl > XFR_MSG_FILL) {
			if (k)
				break;
			ldns_buffer_free(rrw);
			return -1;
		}
		pos = put_owner(out, pos, ldns_rr_owner(rr), &seen);
		memcpy(out + pos, ldns_buffer_begin(rrw) + ol, wl - ol);
		pos += wl - ol;
		k++;
		s->pos++;
	}
	ldns_buffer_free(rrw);
	out[6] = (uint8_t)(k >> 8);
	out[7] = (uint8_t)k;
	if (s->sign)
		pos = xfr_tsig_sign(&s->signer, out, pos, XFR_MSG_MAX, now);
	if (!pos)
		return -1;
	s->msgs++;
	s->bytes += pos;
	return (long)pos;
}

bool xfr_stream_done(const xfr_stream *s)
{
	return s->pos >= s->total;
}

void xfr_stream_clear(xfr_stream *s)
{
	ldns_rr_free(s->question);
	ldns_rr_free(s->soa_from);
	ldns_rr_list_deep_free(s->del);
	ldns_rr_list_deep_free(s->add);
	xfr_zref_drop(s->zref);
	memset(s, 0, sizeof(*s));
}
