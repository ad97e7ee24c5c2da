/*
 * nameset.h: a hash set of wire names that live elsewhere, in cfg_names
 * lists, for finding duplicates among a million list-file names without
 * copying them.
 *
 * Owns: only its slot array. A slot is one uint64 (an 18-bit hash tag, the
 * list id and the index of the name in that list), so a million names cost
 * 16 MiB at most, and lookups compare the stored name only on a tag match.
 * Names are equal when their octets are equal and their lists' classes are
 * (the caller's notion: kind of entry, say). Callers lower-case names first.
 */
#ifndef EMBARGO_CONFIG_NAMESET_H
#define EMBARGO_CONFIG_NAMESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define NAMESET_MAX_LISTS 16383u  /* list ids 0..16382 */

typedef struct nameset {
	uint64_t *slots;
	size_t cap, n;
	/* the list a slot's id refers to, and its class; borrowed */
	const cfg_names *(*list)(void *ctx, uint32_t id);
	unsigned (*cls)(void *ctx, uint32_t id);
	void *ctx;
} nameset;

uint64_t nameset_hash(const uint8_t *wire, size_t len, unsigned cls);
/* true, with *id and *index of the first such name, when the set holds it */
bool nameset_find(const nameset *s, uint64_t h, const uint8_t *wire, size_t len, unsigned cls,
		  uint32_t *id, uint32_t *index);
/* Adds name `index` of list `id` (id < NAMESET_MAX_LISTS), whose hash is h.
 * 0, or -1 when out of memory. */
int nameset_insert(nameset *s, uint64_t h, uint32_t id, uint32_t index);
void nameset_free(nameset *s);

#endif
