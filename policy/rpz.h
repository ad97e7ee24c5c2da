/*
 * rpz.h: the policy in force at one instant as a Response Policy Zone
 * (draft-vixie-dnsop-dns-rpz), for the fleet's BIND, Unbound, PowerDNS and
 * Knot Resolver.
 *
 * Owns: the mapping of policy entries to RPZ QNAME triggers, the zone's
 * records (ldns_rr, owned by the zone), their comments (vendor, rule, basis),
 * the zone text, the serial rule, and the difference between two versions
 * of the zone (for IXFR).
 *
 * Mapping (DESIGN.md section 7):
 *   nxdomain -> CNAME .              nodata -> CNAME *.
 *   sinkhole -> A sinkhole.ipv4 and AAAA sinkhole.ipv6
 *   refuse   -> CNAME . (RPZ has no REFUSED; the comment says so)
 *   allow    -> CNAME rpz-passthru.
 *   a `domains` entry gives `name` and `*.name`; a `hosts` entry `name` only.
 * Only rules that block at the instant are exported: audit-only rules, rules
 * before `effective` and after `until` are left out. Group exemptions do not
 * apply (a zone has no clients).
 *
 * Pure: no sockets, no clock. The instant and the serial are arguments. A
 * zone never changes once built, so any thread may read it.
 */
#ifndef EMBARGO_POLICY_RPZ_H
#define EMBARGO_POLICY_RPZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ldns/ldns.h>

#include "config/config.h"
#include "policy/policy.h"

typedef struct rpz_zone rpz_zone;

typedef struct rpz_params {
	const char *origin;   /* the zone's name, e.g. "rpz.embargo." */
	uint32_t serial;      /* the SOA serial to write */
	uint32_t ttl;         /* TTL of every record; SOA minimum too */
	cfg_ip sink4, sink6;  /* sinkhole addresses (cfg->sinkhole) */
} rpz_params;

/*
 * Builds the zone of what `p` blocks and allows at `at`. `p` is borrowed
 * (nothing of it is kept). Records: SOA, NS, then the triggers sorted in
 * canonical order. Returns NULL with a reason in err (a bad origin, out of
 * memory). Free with rpz_free.
 */
/* Whether `origin` can be a policy zone's name (a host name, not the root,
 * short enough to hold triggers); 0, or -1 with the reason in err. */
int rpz_origin_check(const char *origin, char *err, size_t errlen);

rpz_zone *rpz_build(const policy *p, int64_t at, const rpz_params *prm, char *err, size_t errlen);
void rpz_free(rpz_zone *z);

uint32_t rpz_serial(const rpz_zone *z);
const ldns_rdf *rpz_origin(const rpz_zone *z);    /* borrowed */
const ldns_rr *rpz_soa(const rpz_zone *z);        /* borrowed */
/* Every record but the SOA (NS first, then triggers), in canonical order. */
size_t rpz_rr_count(const rpz_zone *z);
const ldns_rr *rpz_rr_at(const rpz_zone *z, size_t i);        /* borrowed */
const char *rpz_rr_comment(const rpz_zone *z, size_t i);      /* "kaspersky/updates: basis", or NULL */
/* Comments: "vendor/rule: basis" for a block ("... (refuse: RPZ has no
 * REFUSED, NXDOMAIN is served)" for refuse), "vendor (allow): basis" for
 * rpz-passthru, NULL for the NS. */

/* Triggers left out because the name and the origin together exceed 255
 * octets (no consumer could match such a name either). */
size_t rpz_skipped(const rpz_zone *z);
/* The instant the zone was built for. */
int64_t rpz_at(const rpz_zone *z);

/* Whether two zones hold the same records, SOA serial aside. */
bool rpz_same_content(const rpz_zone *a, const rpz_zone *b);

/* Writes the zone as master-file text ($ORIGIN, SOA, NS, triggers with
 * comments) through ldns. 0, or -1 on a write error. */
int rpz_print(FILE *out, const rpz_zone *z);

/*
 * The records in `from` and not in `to` (deleted) and in `to` and not in
 * `from` (added), SOA excluded, for an IXFR (RFC 1995) from `from`'s serial
 * to `to`'s. The lists are new (free with ldns_rr_list_deep_free); 0 or -1.
 */
int rpz_diff(const rpz_zone *from, const rpz_zone *to, ldns_rr_list **deleted, ldns_rr_list **added);

/*
 * The serial rule, so that the serial only grows (RFC 1982 arithmetic):
 * the next serial after `prev` for content first served at `now` (seconds
 * since the epoch) is max(now, prev + 1), truncated to 32 bits.
 */
uint32_t rpz_next_serial(uint32_t prev, int64_t now);

#endif
