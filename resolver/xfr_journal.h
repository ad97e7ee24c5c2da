/*
 * xfr_journal.h: the zone being served and what changed between its last
 * versions, for IXFR (RFC 1995).
 *
 * Owns: the current zone (reference counted, so a transfer under way keeps
 * the version it started with while a newer one is served) and up to
 * XFR_JOURNAL_MAX deltas, each the records deleted and added from one serial
 * to the next (rpz_diff). Old versions are not kept, only their deltas: a
 * 100,000-name zone costs its records once, and a delta what changed. The
 * deltas are bounded by count and by their records together: past the size
 * of the zone itself an AXFR is the smaller answer, so the oldest go.
 *
 * An IXFR from an old serial gets one condensed delta (RFC 1995 section 4):
 * the deltas from there to now folded together, a record added and deleted
 * again on the way cancelling out.
 *
 * Pure: no sockets, no clock.
 */
#ifndef EMBARGO_XFR_JOURNAL_H
#define EMBARGO_XFR_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "policy/rpz.h"

#define XFR_JOURNAL_MAX 16

/* One version of the zone, shared by the journal and the transfers of it. */
typedef struct xfr_zref {
	rpz_zone *zone;   /* owned */
	int refs;
} xfr_zref;

xfr_zref *xfr_zref_take(xfr_zref *r);  /* +1, returns r */
void xfr_zref_drop(xfr_zref *r);       /* -1, frees the zone at 0 */

typedef struct xfr_delta {
	uint32_t from, to;        /* serials */
	ldns_rr *soa_from;        /* owned clones */
	ldns_rr_list *del, *add;  /* owned */
} xfr_delta;

typedef struct xfr_journal {
	xfr_zref *cur;            /* NULL before the first zone */
	xfr_delta d[XFR_JOURNAL_MAX]; /* oldest first */
	size_t n;
	size_t rrs;               /* records in all deltas */
} xfr_journal;

/* Empty: no zone yet. */
void xfr_journal_init(xfr_journal *j);
void xfr_journal_clear(xfr_journal *j);

/*
 * Makes `z` (taken) the current version. With `keep_history` the delta from
 * the previous version is recorded; without (the origin or TTL changed, or
 * the first zone) the deltas are dropped and IXFR falls back to AXFR.
 * 0, or -1 when out of memory (the journal is then emptied of deltas but
 * still serves z).
 */
int xfr_journal_push(xfr_journal *j, rpz_zone *z, bool keep_history);

/* The answer to an IXFR from serial `from`. */
typedef enum xfr_ixfr_kind {
	XFR_IXFR_CURRENT = 0,   /* the client is up to date: one SOA */
	XFR_IXFR_DELTA,         /* a condensed delta */
	XFR_IXFR_FULL,          /* unknown or too old a serial: the whole zone */
} xfr_ixfr_kind;

typedef struct xfr_ixfr {
	xfr_ixfr_kind kind;
	const ldns_rr *soa_from;  /* borrowed from the journal: valid until the next push */
	ldns_rr_list *del, *add;  /* owned by the caller (ldns_rr_list_deep_free) */
} xfr_ixfr;

/* Decides and, for a delta, builds the IXFR answer. 0, or -1 (memory). */
int xfr_journal_ixfr(const xfr_journal *j, uint32_t from, xfr_ixfr *out);

#endif
