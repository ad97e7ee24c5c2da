/*
 * cache_impl.h: what cache.c (the table, the clock, inserting) and
 * cache_answer.c (writing answers) share; not API.
 */
#ifndef EMBARGO_RESOLVER_CACHE_IMPL_H
#define EMBARGO_RESOLVER_CACHE_IMPL_H

#include <stdint.h>

#include "resolver/cache.h"

/* Entry flags. */
enum {
	CE_DO = 0x01,        /* key bits: the query's DNSSEC OK ... */
	CE_CD = 0x02,        /* ... and Checking Disabled */
	CE_KEY = CE_DO | CE_CD,
	CE_REF = 0x04,       /* hit since the clock hand last passed */
	CE_PREFETCH = 0x08,  /* a refresh was asked for */
	CE_PLAIN = 0x10,     /* the policy passes it for every client (cache_insert_plain) */
};

typedef struct cache_entry {
	struct cache_entry *next;  /* hash chain */
	uint64_t born_ms;          /* insert time */
	uint32_t hash;
	uint32_t slot;             /* index in cache.slots */
	uint32_t life;             /* seconds */
	uint16_t len;              /* stored reply, OPT last */
	uint16_t strip_len;        /* the reply without its OPT (== len if none) */
	uint16_t strip_ar;         /* ARCOUNT without the OPT */
	uint16_t opt_rdlen_at;     /* offset of the OPT RDLENGTH; 0: no OPT */
	uint16_t ar_start;         /* additional section */
	uint16_t rcode;
	uint16_t n_ttl;            /* TTL fields (every RR but the OPT) */
	uint16_t chain_bytes;
	uint8_t qname_len;
	uint8_t n_chain;
	uint8_t flags;
	uint16_t ttl_off[];        /* ascending; then the reply, then the chain */
} cache_entry;

struct cache {
	cache_opts o;
	cache_stats st;
	cache_entry **buckets;     /* NULL: disabled */
	size_t mask;
	cache_entry **slots;       /* [0, used) in use */
	uint32_t used, hand;
};

typedef struct cache_key {
	uint8_t b[WIRE_NAME_MAX + 5];  /* lower-cased qname, qtype, qclass, bits */
	uint8_t name_len;
	uint8_t bits;
	uint32_t hash;
} cache_key;

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint8_t *cache_entry_reply(const cache_entry *e)
{
	return (uint8_t *)(uintptr_t)(e->ttl_off + e->n_ttl);
}

static inline size_t cache_entry_size(const cache_entry *e)
{
	return sizeof(*e) + (size_t)e->n_ttl * 2 + e->len + e->chain_bytes;
}

static inline uint64_t cache_age_ms(const cache_entry *e, uint64_t now_ms)
{
	return now_ms > e->born_ms ? now_ms - e->born_ms : 0;
}

/* Fills k from q: the lower-cased question and the DO/CD bits, hashed. */
void cache_key_make(const cache *c, const wire_query *q, cache_key *k);

/* The link that points at the entry for k, or NULL. */
cache_entry **cache_lookup(cache *c, const cache_key *k);

/* Expired, and past any use for serve-stale. */
bool cache_entry_dead(const cache *c, const cache_entry *e, uint64_t now_ms);

/* Drops the entry at *link, and its slot. */
void cache_entry_remove(cache *c, cache_entry **link);

#endif
