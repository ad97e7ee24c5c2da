/*
 * nameset.c: open addressing with linear probing over one uint64 per slot,
 * kept at most three quarters full. Growing recomputes hashes from the lists,
 * which is cheaper than storing them.
 */
#include "config/nameset.h"
#include "config/dname.h"

#include <stdlib.h>
#include <string.h>

#define TAG_BITS 18u
#define ID_BITS 14u

static inline uint64_t mix(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t nameset_hash(const uint8_t *wire, size_t len, unsigned cls)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)cls << 56) ^ len;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, wire + i, 8);
		h = mix(h ^ w, 0xA0761D6478BD642Full);
	}
	uint64_t w = 0;
	memcpy(&w, wire + i, len - i);
	return mix(h ^ w, 0xE7037ED1A0B428DBull);
}

static inline uint64_t slot_make(uint64_t h, uint32_t id, uint32_t index)
{
	return (h >> (64 - TAG_BITS)) << (64 - TAG_BITS) | (uint64_t)(id + 1) << 32 | index;
}

static bool same(const nameset *s, uint64_t slot, const uint8_t *wire, size_t len, unsigned cls)
{
	uint32_t id = (uint32_t)((slot >> 32) & ((1u << ID_BITS) - 1)) - 1;
	const cfg_names *l = s->list(s->ctx, id);
	const uint8_t *name = cfg_names_at(l, (uint32_t)slot);
	return s->cls(s->ctx, id) == cls && dname_wire_len(name) == len && !memcmp(name, wire, len);
}

bool nameset_find(const nameset *s, uint64_t h, const uint8_t *wire, size_t len, unsigned cls,
		  uint32_t *id, uint32_t *index)
{
	if (!s->cap)
		return false;
	uint64_t tag = (h >> (64 - TAG_BITS)) << (64 - TAG_BITS);
	for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		uint64_t v = s->slots[i];
		if (!v)
			return false;
		if ((v & ~((1ull << (64 - TAG_BITS)) - 1)) == tag && same(s, v, wire, len, cls)) {
			*id = (uint32_t)((v >> 32) & ((1u << ID_BITS) - 1)) - 1;
			*index = (uint32_t)v;
			return true;
		}
	}
}

static void put(uint64_t *slots, size_t cap, uint64_t h, uint64_t v)
{
	size_t i = h & (cap - 1);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = v;
}

static int grow(nameset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	uint64_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		uint64_t v = s->slots[i];
		if (!v)
			continue;
		uint32_t id = (uint32_t)((v >> 32) & ((1u << ID_BITS) - 1)) - 1;
		const uint8_t *name = cfg_names_at(s->list(s->ctx, id), (uint32_t)v);
		uint64_t h = nameset_hash(name, dname_wire_len(name), s->cls(s->ctx, id));
		put(slots, cap, h, v);
	}
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

int nameset_insert(nameset *s, uint64_t h, uint32_t id, uint32_t index)
{
	if (id >= NAMESET_MAX_LISTS)
		return -1;
	if ((s->n + 1) * 4 > s->cap * 3 && grow(s) < 0)
		return -1;
	put(s->slots, s->cap, h, slot_make(h, id, index));
	s->n++;
	return 0;
}

void nameset_free(nameset *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
}
