/*
 * rpz_internal.h: the zone's layout, shared by the builder (rpz.c) and the
 * readers, diff and printer (rpz_zone.c). Not included outside policy/.
 */
#ifndef EMBARGO_POLICY_RPZ_INTERNAL_H
#define EMBARGO_POLICY_RPZ_INTERNAL_H

#include "policy/rpz.h"

typedef struct rpz_item {
	ldns_rr *rr;
	const char *comment;       /* one of z->comments, or NULL */
} rpz_item;

struct rpz_zone {
	ldns_rdf *origin;
	ldns_rr *soa;
	uint32_t serial;
	int64_t at;
	rpz_item *items;           /* NS, then triggers, sorted */
	size_t n_items, cap_items;
	char **comments;           /* one per rule and per vendor that a record names */
	size_t n_comments;
	size_t skipped;
};

#endif
