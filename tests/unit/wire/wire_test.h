/*
 * wire_test.h: helpers shared by the wire unit tests.
 *
 * Packets under test are built with ldns (an independent encoder) or by hand,
 * and every message the wire module produces is parsed back with ldns, so
 * the tests do not check the module against itself.
 */
#ifndef EMBARGO_TESTS_WIRE_TEST_H
#define EMBARGO_TESTS_WIRE_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>
#include <ldns/ldns.h>

#include "resolver/wire.h"

#define WIRE_OPT_DO_TEST 0x8000u   /* DO in an OPT TTL */

/* How to build a test query. */
typedef struct tq_opts {
	uint16_t id;
	bool rd, cd, ad;
	bool edns, dnssec_ok;
	uint16_t udp;             /* EDNS UDP size (default 4096 when edns) */
	uint8_t version;
	const uint8_t *opts;      /* raw EDNS options */
	size_t opts_len;
} tq_opts;

/* Encodes a query for `name`/`type` (class IN) into buf with ldns;
 * returns the length. */
size_t tq_build(uint8_t *buf, size_t cap, const char *name, ldns_rr_type type, const tq_opts *o);

/* Builds and parses a query; asserts wire_parse_query returns `expect`. */
void tq_parse(wire_query *q, uint8_t *buf, size_t cap, const char *name, ldns_rr_type type,
	      const tq_opts *o, int expect);

/* Parses a message with ldns; fails the test if ldns refuses it. */
ldns_pkt *tq_ldns(const uint8_t *buf, size_t len);

/* Finds EDNS option `code` in a parsed packet: its data and length, or
 * false. */
bool tq_edns_option(const ldns_pkt *p, uint16_t code, const uint8_t **data, size_t *len);

/* The text form (no trailing dot, lower case) of an owner. */
void tq_name_str(const ldns_rdf *r, char *out, size_t cap);

/* Encodes any ldns packet; returns the length. */
size_t tq_encode(const ldns_pkt *p, uint8_t *buf, size_t cap);

/* Text to wire (ldns), for expected names. */
size_t tq_wire_name(const char *s, uint8_t *out);

/* A hand-built packet, for inputs no encoder would produce. */
typedef struct tq_pkt {
	uint8_t b[8192];
	size_t n;
} tq_pkt;

void tq_bytes(tq_pkt *p, const void *d, size_t n);
void tq_u8(tq_pkt *p, uint8_t v);
void tq_u16(tq_pkt *p, uint16_t v);
void tq_u32(tq_pkt *p, uint32_t v);
void tq_name(tq_pkt *p, const char *s);   /* uncompressed, as written */
void tq_hdr(tq_pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
	    uint16_t ar);
/* An OPT RR: root owner, udp, ttl, and raw options. */
void tq_opt(tq_pkt *p, uint16_t udp, uint32_t ttl, const uint8_t *opts, size_t len);

#endif
