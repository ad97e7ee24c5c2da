/*
 * cache_test.h: helpers shared by the cache unit tests.
 *
 * Upstream replies are built with ldns (an independent encoder, which
 * compresses names) and accepted by wire_check_reply as the daemon does;
 * client queries are built by hand so the qname's case is exactly as
 * written; every answer the cache writes is parsed back with ldns.
 */
#ifndef EMBARGO_TESTS_CACHE_TEST_H
#define EMBARGO_TESTS_CACHE_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>
#include <ldns/ldns.h>

#include "resolver/cache.h"
#include "resolver/wire.h"

#define T0 1000000u   /* an arbitrary monotonic start, in ms */

/* A client query: name exactly as written (case kept), type, flags. */
typedef struct ct_query {
	uint16_t id;
	bool rd, cd, ad;
	bool edns, dnssec_ok;
	uint16_t udp;          /* EDNS size; 1232 if 0 */
} ct_query;

/* Builds a query and parses it with wire_parse_query (asserts WIRE_OK). */
void ct_parse(wire_query *q, const char *name, uint16_t type, const ct_query *o);

/* The query sent upstream for a client: EDNS always, DO as given. */
void ct_upstream_q(wire_query *q, const char *name, uint16_t type, bool dnssec_ok, bool cd);

/* An upstream reply under construction (ldns). */
ldns_pkt *ct_reply(const char *qname, uint16_t type, ldns_pkt_rcode rcode);
void ct_push(ldns_pkt *p, ldns_pkt_section s, const char *rr_text);

/* Encodes p (with an OPT, DO as the packet says, unless no_opt), checks it
 * with wire_check_reply against q, inserts it at now; frees p. Returns
 * whether the cache stored it (its insert counter moved). */
bool ct_insert(cache *c, const wire_query *q, ldns_pkt *p, uint64_t now);

/* The same with raw bytes (for hand-built replies). */
bool ct_insert_raw(cache *c, const wire_query *q, const uint8_t *buf, size_t n, uint64_t now);

/* A cache with test defaults (min 0, max 86400, servfail 5, no stale, not
 * minimal), changed by the non-zero fields of *o when o is given. */
cache *ct_cache(uint32_t entries, const cache_opts *o);

/* Answers q from c at now into a fresh ldns packet (NULL on a miss). */
ldns_pkt *ct_answer(cache *c, const wire_query *q, uint64_t now, size_t cap, cache_hit *hit);

/* Raw: the answer's bytes into out (cap bytes), length returned. */
size_t ct_answer_raw(cache *c, const wire_query *q, uint64_t now, uint8_t *out, size_t cap,
		     cache_hit *hit, bool stale);

ldns_pkt *ct_ldns(const uint8_t *buf, size_t len);

/* TTL of the i-th RR of a section. */
uint32_t ct_ttl(const ldns_pkt *p, ldns_pkt_section s, size_t i);

/* Asserts every RR of the answer, authority and additional sections (OPT
 * aside) has TTL ttl. */
void ct_assert_ttls(const ldns_pkt *p, uint32_t ttl);

/* The A reply used by most tests: `name` A 192.0.2.1 with TTL ttl, NS in
 * authority (TTL ttl + 100, so clamped to ttl when cached), glue A in
 * additional (TTL ttl / 2, which the lifetime does not depend on). */
ldns_pkt *ct_a_reply(const char *name, uint32_t ttl);

#endif
