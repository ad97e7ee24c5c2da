/*
 * wire_test.c: see wire_test.h.
 */
#include "wire_test.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

size_t tq_encode(const ldns_pkt *p, uint8_t *buf, size_t cap)
{
	uint8_t *w = NULL;
	size_t n = 0;

	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	assert_true(n <= cap);
	memcpy(buf, w, n);
	free(w);
	return n;
}

size_t tq_build(uint8_t *buf, size_t cap, const char *name, ldns_rr_type type, const tq_opts *o)
{
	static const tq_opts none;
	ldns_pkt *p = NULL;

	if (o == NULL)
		o = &none;
	assert_int_equal(ldns_pkt_query_new_frm_str(&p, name, type, LDNS_RR_CLASS_IN, 0), LDNS_STATUS_OK);
	ldns_pkt_set_id(p, o->id);
	ldns_pkt_set_rd(p, o->rd);
	ldns_pkt_set_cd(p, o->cd);
	ldns_pkt_set_ad(p, o->ad);
	if (o->edns) {
		ldns_pkt_set_edns_udp_size(p, o->udp ? o->udp : 4096);
		ldns_pkt_set_edns_do(p, o->dnssec_ok);
		ldns_pkt_set_edns_version(p, o->version);
		if (o->opts_len)
			ldns_pkt_set_edns_data(p, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, o->opts_len, o->opts));
	}
	size_t n = tq_encode(p, buf, cap);
	ldns_pkt_free(p);
	return n;
}

void tq_parse(wire_query *q, uint8_t *buf, size_t cap, const char *name, ldns_rr_type type,
	      const tq_opts *o, int expect)
{
	size_t n = tq_build(buf, cap, name, type, o);
	assert_int_equal(wire_parse_query(buf, n, q), expect);
}

ldns_pkt *tq_ldns(const uint8_t *buf, size_t len)
{
	ldns_pkt *p = NULL;

	assert_true(len > 0);
	assert_int_equal(ldns_wire2pkt(&p, buf, len), LDNS_STATUS_OK);
	assert_non_null(p);
	return p;
}

bool tq_edns_option(const ldns_pkt *p, uint16_t code, const uint8_t **data, size_t *len)
{
	const ldns_rdf *d = ldns_pkt_edns_data(p);

	if (d == NULL)
		return false;
	const uint8_t *o = ldns_rdf_data(d);
	size_t n = ldns_rdf_size(d), pos = 0;
	while (n - pos >= 4) {
		uint16_t c = (uint16_t)(o[pos] << 8 | o[pos + 1]);
		size_t l = (size_t)(o[pos + 2] << 8 | o[pos + 3]);
		assert_true(l <= n - pos - 4);
		if (c == code) {
			*data = o + pos + 4;
			*len = l;
			return true;
		}
		pos += 4 + l;
	}
	return false;
}

void tq_name_str(const ldns_rdf *r, char *out, size_t cap)
{
	char *s = ldns_rdf2str(r);
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == '.')
		s[--n] = 0;
	assert_true(n < cap);
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	free(s);
}

size_t tq_wire_name(const char *s, uint8_t *out)
{
	ldns_rdf *r = ldns_dname_new_frm_str(s);

	assert_non_null(r);
	size_t n = ldns_rdf_size(r);
	memcpy(out, ldns_rdf_data(r), n);
	ldns_rdf_deep_free(r);
	return n;
}

void tq_bytes(tq_pkt *p, const void *d, size_t n)
{
	assert_true(n <= sizeof(p->b) - p->n);
	if (n == 0)
		return;
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

void tq_u8(tq_pkt *p, uint8_t v)
{
	tq_bytes(p, &v, 1);
}

void tq_u16(tq_pkt *p, uint16_t v)
{
	uint8_t t[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	tq_bytes(p, t, 2);
}

void tq_u32(tq_pkt *p, uint32_t v)
{
	tq_u16(p, (uint16_t)(v >> 16));
	tq_u16(p, (uint16_t)v);
}

void tq_name(tq_pkt *p, const char *s)
{
	/* By hand so that case is kept exactly and labels may be odd. */
	while (*s && strcmp(s, ".") != 0) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		tq_u8(p, (uint8_t)n);
		tq_bytes(p, s, n);
		s += n;
		if (*s == '.')
			s++;
	}
	tq_u8(p, 0);
}

void tq_hdr(tq_pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
	    uint16_t ar)
{
	p->n = 0;
	tq_u16(p, id);
	tq_u16(p, flags);
	tq_u16(p, qd);
	tq_u16(p, an);
	tq_u16(p, ns);
	tq_u16(p, ar);
}

void tq_opt(tq_pkt *p, uint16_t udp, uint32_t ttl, const uint8_t *opts, size_t len)
{
	tq_u8(p, 0);
	tq_u16(p, LDNS_RR_TYPE_OPT);
	tq_u16(p, udp);
	tq_u32(p, ttl);
	tq_u16(p, (uint16_t)len);
	tq_bytes(p, opts, len);
}
