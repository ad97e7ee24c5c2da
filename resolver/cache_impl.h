/*
 * cache_impl.h: what cache.c (the index, the clock), cache_store.c
 * (inserting), cache_answer.c (writing answers) and cache_slab.c (entry
 * memory) share; not API.
 *
 * An entry is one block of a slab page:
 *
 *   u32 born     ms since cache.base, when it was stored
 *   u8 flags     CE_*
 *   reply        the answer as served, question lower-cased (the key). Of
 *                its header, the two fields every answer rewrites hold the
 *                entry's own: ID (the client's is written over it) the
 *                reply's length, QDCOUNT (always 1) the lifetime (ce_life)
 *   with CE_EXT: one octet of CX_* bits
 *   u16 ttl[]    offsets of the TTL fields, one per record but the OPT
 *                (ANCOUNT + NSCOUNT + ARCOUNT, less the OPT), big-endian;
 *                none with CE_WALK: every such record's owner is a 2-octet
 *                compression pointer, so record i's TTL is found by adding
 *                up the lengths before it (ttl_next)
 *   with CX_OPT: the u16 offset of the OPT (the reply's last record)
 *   with CX_CHAIN: the number of CNAME/DNAME targets, the names back to back
 *
 * The reply has an OPT only when the upstream's carried an EDE option
 * (wire_opt_own keeps that, and it is the upstream's word on the answer);
 * any other OPT is ours, so a hit writes it instead of storing it.
 */
#ifndef EMBARGO_RESOLVER_CACHE_IMPL_H
#define EMBARGO_RESOLVER_CACHE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "resolver/cache.h"

/* Entry flags. */
enum {
	CE_DO = 0x01,        /* key bits: the query's DNSSEC OK ... */
	CE_CD = 0x02,        /* ... and Checking Disabled */
	CE_KEY = CE_DO | CE_CD,
	CE_REF = 0x04,       /* hit since the clock hand last passed */
	CE_PREFETCH = 0x08,  /* a refresh was asked for */
	CE_PLAIN = 0x10,     /* the policy passes it for every client (cache_insert_plain) */
	CE_EXT = 0x20,       /* an extension octet follows the reply */
	CE_WALK = 0x40,      /* no TTL offsets stored: walk the records */
	CE_FREE = 0xFF,      /* not an entry: a free slab block (slab_free marks it) */
};

/* Extension bits. */
enum {
	CX_OPT = 0x01,       /* the reply ends with an OPT (with the upstream's EDE) */
	CX_CHAIN = 0x02,     /* CNAME/DNAME targets follow */
};

typedef struct cache_entry {
	uint32_t born;
	uint8_t flags;
	uint8_t reply[];
} cache_entry;

#define CE_HDR offsetof(cache_entry, reply)   /* 5 */
#define CE_LIFE_MAX (0x7FFFu * 60)           /* seconds: 22 days */

/*
 * The slab: entries live in 8 KiB pages, each page cut into blocks of one
 * size class (4-octet steps up to 256, coarser up to 1 KiB), so an entry
 * costs its size rounded up to its class and nothing else (malloc adds 8
 * octets and rounds to 16). A page with a free block is on its class's
 * list, the page freed from last first; an empty page goes back to malloc.
 * A larger entry gets a "page" of its own, malloc'd to size. An entry is
 * named by a 32-bit ref, page number << 9 | block; page 0 is never used,
 * so a ref is never 0.
 *
 * Every page is also on one ring, in the order pages were made, a new page
 * just behind the hand: the clock's hand walks it block by block (see
 * cache.c). A free block has CE_FREE at the entry's flags octet (its
 * first 2 octets link it to the page's next free block).
 */
#define SLAB_PAGE 8192
#define SLAB_BLOCK_BITS 9
#define SLAB_MAX_PAGES (1u << 22)
#define SLAB_BIG 1024               /* larger entries: a page each */
#define SLAB_NONE UINT32_MAX

typedef uint32_t cache_ref;

typedef struct slab_page {
	uint8_t *mem;        /* NULL: the page number is free */
	uint32_t size;       /* block size; for a big entry, its size */
	uint16_t used;       /* blocks in use */
	uint16_t carved;     /* blocks ever handed out; the rest never were */
	uint16_t free;       /* first free block, or UINT16_MAX */
	uint8_t cls;         /* size class; SLAB_CLASSES for a big entry */
	uint32_t next, prev; /* the class's pages with a free block; or the free page numbers */
	uint32_t ring_next, ring_prev;  /* every page, in the hand's order */
} slab_page;

#define SLAB_CLASSES 85

typedef struct cache_slab {
	slab_page *pages;
	uint32_t n_pages, cap_pages;
	uint32_t free_pages;            /* page numbers to reuse, linked by next */
	uint32_t partial[SLAB_CLASSES]; /* pages with a free block, per class */
	uint32_t hand_page;             /* the clock's hand: a page, or SLAB_NONE ... */
	uint32_t hand_block;            /* ... and a block in it */
	uint64_t bytes;                 /* block bytes in use */
} cache_slab;

void slab_init(cache_slab *s);
/* Frees every page; the slab is empty and usable again. */
void slab_clear(cache_slab *s);
/* A block of at least n octets (4-aligned), or 0 when memory is short. */
cache_ref slab_alloc(cache_slab *s, size_t n);
/* Frees ref's block; when that empties its page, the page goes, and a
 * hand on it moves to the next page. */
void slab_free(cache_slab *s, cache_ref ref);

static inline void *slab_ptr(const cache_slab *s, cache_ref ref)
{
	const slab_page *p = &s->pages[ref >> SLAB_BLOCK_BITS];
	return p->mem + (size_t)(ref & ((1u << SLAB_BLOCK_BITS) - 1)) * p->size;
}

/*
 * The index: open addressing over n_cells 64-bit cells, each 0 (empty) or
 * the entry's 32-bit key hash << 32 | its ref. A cell's home is
 * hash * n_cells >> 32; collisions probe linearly, deletion shifts the
 * cluster back (no tombstones). A lookup compares hashes within the index
 * and reads only the entry whose hash is the key's; at most 4 cells in 5
 * are full (n_cells >= 1.25 entries), so a miss reads a line or two.
 *
 * The index and the miss filter are first made for CACHE_INDEX_FIRST
 * entries and double as the cache fills, up to o.entries; a flush makes
 * them small again. A cache that holds a few thousand answers (a home
 * network, a hot set) then probes a few tens of KiB that stay in the CPU's
 * caches, not arrays sized for the limit, and takes only their memory.
 *
 * A doubling moves the cells a few at a time, CACHE_MOVE_STEP with each
 * insert, not all at once: moving 65,536 entries at once had stalled the
 * worker 4.2-4.5 ms (every query in that time waited), and it grows with
 * the cache. While it moves, old_cells holds what is not moved yet: a
 * lookup that misses in cells goes on there (cache_find_old), an insert
 * goes to cells. A moved or deleted old cell becomes CACHE_TOMB, so the
 * probe runs of the ones left stay whole. The filter queries read,
 * filter, still counts every entry at the old size; grow_filter, at the
 * new size, counts those in cells, and replaces it when the move is done.
 */
#define CACHE_INDEX_FIRST 1024
/* A cell with ref 0 (never a ref) and a hash: gone from old_cells. */
#define CACHE_TOMB 0xFFFFFFFF00000000ull
struct cache {
	cache_opts o;
	cache_stats st;
	uint64_t *cells;          /* NULL: disabled */
	uint32_t n_cells;
	uint32_t index_cap;       /* entries the index is made for now (<= o.entries) */
	uint8_t *filter;          /* the miss filter (below): 1 << filter_bits counters */
	unsigned filter_bits;
	uint64_t *old_cells;      /* while the index grows: the cells not moved yet, else NULL */
	uint32_t n_old_cells;
	uint32_t move_pos;        /* the next old cell to move */
	uint8_t *grow_filter;     /* while it grows: the filter for cells, 1 << grow_bits */
	unsigned grow_bits;
	uint64_t base;            /* born is relative to this (ms) */
	bool based;               /* base was set (at the first insert) */
	cache_slab slab;
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

static inline cache_entry *cache_entry_at(const cache *c, cache_ref ref)
{
	return slab_ptr(&c->slab, ref);
}

/* The stored reply's length (kept in its ID field). */
static inline size_t ce_len(const cache_entry *e)
{
	return get16(e->reply);
}

/* Seconds the entry is fresh (kept in its QDCOUNT field): exact up to 9
 * hours, then in whole minutes (rounded down: a long-lived entry may go a
 * minute early), up to CE_LIFE_MAX. */
static inline uint32_t ce_life_decode(uint16_t v)
{
	return (v & 0x8000) ? (uint32_t)(v & 0x7FFF) * 60 : v;
}

static inline uint16_t ce_life_code(uint32_t life)
{
	if (life <= 0x7FFF)
		return (uint16_t)life;
	return (uint16_t)(0x8000 | (life < CE_LIFE_MAX ? life / 60 : 0x7FFF));
}

static inline uint32_t ce_life(const cache_entry *e)
{
	return ce_life_decode(get16(e->reply + 4));
}

/* The extension octet's CX_* bits (0 without CE_EXT). */
static inline unsigned ce_ext(const cache_entry *e)
{
	return (e->flags & CE_EXT) ? e->reply[ce_len(e)] : 0;
}

/* Records with a TTL: every one but the OPT. */
static inline size_t ce_n_ttl(const cache_entry *e, unsigned ext)
{
	const uint8_t *h = e->reply;
	return (size_t)get16(h + 6) + get16(h + 8) + get16(h + 10) - ((ext & CX_OPT) ? 1 : 0);
}

/* The TTL fields of a stored reply, in order: from the stored offsets, or
 * (offs NULL, CE_WALK) by walking records whose owners are 2 octets. */
typedef struct ttl_iter {
	const uint8_t *src;
	const uint8_t *offs;
	size_t pos;
} ttl_iter;

static inline void ttl_iter_init(ttl_iter *it, const uint8_t *src, const uint8_t *offs,
				 size_t question_end)
{
	it->src = src;
	it->offs = offs;
	it->pos = question_end;
}

static inline size_t ttl_next(ttl_iter *it)
{
	size_t off;
	if (it->offs) {
		off = get16(it->offs);
		it->offs += 2;
	} else {
		off = it->pos + 6;   /* pointer, TYPE, CLASS */
		it->pos += 12 + get16(it->src + it->pos + 10);
	}
	return off;
}

static inline uint64_t cache_age_ms(const cache *c, const cache_entry *e, uint64_t now_ms)
{
	uint64_t born = c->base + e->born;
	return now_ms > born ? now_ms - born : 0;
}

/* Fills k from q: the lower-cased question and the DO/CD bits, hashed. */
void cache_key_make(const cache *c, const wire_query *q, cache_key *k);

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Whether n octets (n >= 5) at a and b are equal, a word at a time; reads
 * nothing past either. */
static inline bool cache_key_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (n < 8)
		return rd32(a) == rd32(b) && rd32(a + n - 4) == rd32(b + n - 4);
	for (size_t i = 0; i + 8 <= n; i += 8)
		if (rd64(a + i) != rd64(b + i))
			return false;
	return rd64(a + n - 8) == rd64(b + n - 8);
}

static inline uint32_t cache_home(const cache *c, uint32_t hash)
{
	return (uint32_t)(((uint64_t)hash * c->n_cells) >> 32);
}

static inline uint32_t cache_next_cell(const cache *c, uint32_t i)
{
	return i + 1 == c->n_cells ? 0 : i + 1;
}

/*
 * The miss filter: per slot, how many entries may hash there (saturating at
 * 255, where it stays until a flush). A query whose slot is 0 is a miss
 * for certain, found without lower-casing and hashing the key: so the probe
 * every blocked query makes before the policy is decided (the cache cannot
 * have a name the policy blocks) costs a few instructions. The slot depends
 * on the name's first and last 8 octets with every octet's 0x20 bit set
 * (which folds case, and merges a few other octets too: a false "maybe"
 * only), its length and the qtype; unkeyed, so names can be aimed at one
 * slot, which only makes their probes go the whole way, as without it.
 * At least two slots per entry (a power of two): at a full cache, about
 * one miss in three still goes on to the index. Four would make it one in
 * six, for a quarter more memory per entry than the whole index costs.
 */
#define CACHE_FILTER_PER_ENTRY 2

/* The slot of a name (n >= 1) from words a and b: its first 8 octets and
 * its last 8 (both its octets and zeros past them when n < 8). */
static inline uint64_t cache_filter_hash(uint64_t a, uint64_t b, size_t n, uint16_t qtype)
{
	const uint64_t fold = 0x2020202020202020ull;
	uint64_t h = (a | fold) * 0x9E3779B97F4A7C15ull;
	return h ^ ((b | fold) ^ ((uint64_t)qtype << 8 | n)) * 0xC2B2AE3D27D4EB4Full;
}

/* The slot: the hash's top filter_bits bits, so a filter twice the size
 * splits each slot in two. */
static inline uint32_t cache_filter_slot(const cache *c, uint64_t a, uint64_t b, size_t n,
					 uint16_t qtype)
{
	return (uint32_t)(cache_filter_hash(a, b, n, qtype) >> (64 - c->filter_bits));
}

/* The slot of q (a query: its qname array has room to read 8 octets). */
static inline uint32_t cache_filter_slot_q(const cache *c, const wire_query *q)
{
	size_t n = q->qname_len;
	uint64_t a, b;
	if (n >= 8) {
		a = rd64(q->qname);
		b = rd64(q->qname + n - 8);
	} else {
		a = b = n ? rd64(q->qname) & (~0ull >> (64 - 8 * n)) : 0;
	}
	return cache_filter_slot(c, a, b, n, q->qtype);
}

/* Whether cell (one whose hash is k's) holds k's entry. The stored
 * question is the lower-cased key: qname, qtype, qclass. A stored reply
 * shorter than the key's question cannot hold it (and memcmp must not read
 * past it). */
static inline bool cache_cell_is(const cache *c, uint64_t cell, const cache_key *k)
{
	size_t klen = (size_t)k->name_len + 4;
	const cache_entry *e = cache_entry_at(c, (cache_ref)cell);
	return (e->flags & CE_KEY) == k->bits && ce_len(e) >= WIRE_HDR_LEN + klen &&
	       cache_key_eq(e->reply + WIRE_HDR_LEN, k->b, klen);
}

/* The cell for k, not moved yet while the index grows (n_cells + its
 * index in old_cells), or -1. */
long cache_find_old(const cache *c, const cache_key *k);

/* The cell that holds the entry for k, or -1; cache_cell reads it. Inline:
 * every query that may be answered from the cache probes it once. */
static inline long cache_find(const cache *c, const cache_key *k)
{
	for (uint32_t i = cache_home(c, k->hash);; i = cache_next_cell(c, i)) {
		uint64_t cell = c->cells[i];
		if (cell == 0)
			return c->old_cells == NULL ? -1 : cache_find_old(c, k);
		if ((uint32_t)(cell >> 32) == k->hash && cache_cell_is(c, cell, k))
			return (long)i;
	}
}

/* The cell at index i, a cache_find result. */
static inline uint64_t cache_cell(const cache *c, long i)
{
	return (uint64_t)i < c->n_cells ? c->cells[i] : c->old_cells[(uint64_t)i - c->n_cells];
}

/* Expired, and past any use for serve-stale. */
bool cache_entry_dead(const cache *c, const cache_entry *e, uint64_t now_ms);

/* Drops the entry of the cell at index i: cell and memory. */
void cache_remove_at(cache *c, long i);

/* The cache is full: the clock evicts one entry. */
void cache_evict(cache *c, uint64_t now_ms);
/* Whether one more entry fits without an eviction: below the index's size,
 * or after doubling the index (up to o.entries; false without memory). */
bool cache_room(cache *c);

/* Adds entry ref, whose key hashes to hash (it must not be there yet). */
void cache_add(cache *c, uint32_t hash, cache_ref ref);

/* Puts entry ref in place of the one in cell i (the same key), freed. */
void cache_replace_at(cache *c, long i, cache_ref ref);

/* Makes now_ms expressible as born (32 bits past base), dropping entries
 * born too long ago to be; O(entries) about once in 37 days. */
void cache_rebase(cache *c, uint64_t now_ms);

#endif
