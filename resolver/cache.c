/*
 * cache.c: the response cache's index and clock (see cache.h and
 * cache_impl.h); entries are stored by cache_store.c, served by
 * cache_answer.c, and live in cache_slab.c's pages.
 *
 * The index is a table of 64-bit cells (key hash | entry ref), open
 * addressing with linear probing: a lookup compares hashes in one or two
 * lines of cells and reads only the entry whose hash matches; the entries
 * of other names are never touched. Deleting shifts the rest of the
 * cluster back, so no tombstones pile up; only the cells left behind by a
 * growth have them, and they go with it (cache_impl.h).
 *
 * The clock needs no memory of its own: its hand sweeps the slab, page by
 * page along the slab's ring (new pages join just behind the hand), block
 * by block. A hit sets the entry's reference bit, the hand clears it once
 * and evicts the entry on its next pass if no hit came meanwhile. The
 * block an eviction frees is the first its size class hands out again, so
 * a newcomer of that size lands just behind the hand and gets a whole
 * revolution to be hit; one of another size lands in a block freed
 * earlier, or on a new page, also behind the hand.
 *
 * The hash is keyed from cache_opts.seed (key_hash64), so names chosen by
 * a client cannot pile up in one cluster.
 */
#include "resolver/cache_impl.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define CACHE_LOWER16 1
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const cache_stats cache_no_stats;

/* The filter hash of a stored entry's key (cache_filter_hash); its name
 * is followed by qtype and qclass only, so it is not read 8 at a time when
 * shorter. */
static uint64_t filter_hash_entry(const cache_entry *e)
{
	const uint8_t *name = e->reply + WIRE_HDR_LEN;
	size_t n = wire_name_len(name, WIRE_NAME_MAX);
	uint64_t a = 0, b;
	if (n >= 8) {
		a = rd64(name);
		b = rd64(name + n - 8);
	} else {
		memcpy(&a, name, n);
		b = a;
	}
	return cache_filter_hash(a, b, n, get16(name + n));
}

/* Counts an entry in or out of a filter of 1 << bits slots; a saturated
 * slot keeps no count. */
static void filter_count(uint8_t *filter, unsigned bits, uint64_t h, int d)
{
	uint8_t *f = &filter[h >> (64 - bits)];
	if (*f < UINT8_MAX)
		*f = (uint8_t)(*f + d);
}

/* Counts e in (d = 1) or out (-1) of the filter, and of grow_filter too
 * when e is in cells (not in old_cells) while the index grows. */
static void filter_entry(cache *c, const cache_entry *e, int d, bool in_cells)
{
	uint64_t h = filter_hash_entry(e);
	filter_count(c->filter, c->filter_bits, h, d);
	if (c->grow_filter != NULL && in_cells)
		filter_count(c->grow_filter, c->grow_bits, h, d);
}

static inline uint64_t cache_mum(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/*
 * A keyed multiply-mix hash in the manner of wyhash: 16 octets per 128-bit
 * multiply, the last 16 read again as two words ending at the key's end, so
 * nothing past the key is read. SipHash-1-3
 * cost about a tenth of a cache hit's user time; this costs a quarter of it.
 * Not a PRF, but both halves of the key are secret and random per process,
 * and every input word is mixed with one of them before it is multiplied,
 * so a client that cannot see the key cannot aim names at one cluster.
 * Keys are at least 5 octets (root name, type, class, flags).
 */
static uint64_t key_hash64(const uint64_t k[2], const uint8_t *p, size_t n)
{
	const uint64_t s1 = 0xE7037ED1A0B428DBull ^ k[1];
	uint64_t seed = k[0] ^ cache_mum((uint64_t)n ^ 0xA0761D6478BD642Full, s1);
	const uint8_t *end = p + n;
	uint64_t a, b;

	if (n > 16) {
		for (; n > 16; n -= 16, p += 16)
			seed = cache_mum(rd64(p) ^ s1, rd64(p + 8) ^ seed);
		a = rd64(end - 16);    /* the last 16, overlapping the block before */
		b = rd64(end - 8);
	} else if (n >= 8) {
		a = rd64(p);
		b = rd64(end - 8);
	} else {
		a = rd32(p);           /* keys are never shorter than 5 octets */
		b = rd32(end - 4);
	}
	return cache_mum(s1 ^ 0x8EBC6AF09C88C6E3ull, cache_mum(a ^ s1, b ^ seed));
}

static uint32_t key_hash(const cache *c, const uint8_t *b, size_t n)
{
	uint64_t h = key_hash64(c->o.seed, b, n);
	return (uint32_t)(h ^ h >> 32);
}

#ifdef CACHE_LOWER16
/* Lower-cases 16 octets of a wire name (length octets are below 'A'):
 * the byte loop, even vectorized by gcc, was most of cache_key_make. */
static inline void lower16(uint8_t *dst, const uint8_t *src)
{
	__m128i v = _mm_loadu_si128((const __m128i *)src);
	__m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
				   _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
	_mm_storeu_si128((__m128i *)dst, _mm_or_si128(v, _mm_and_si128(up, _mm_set1_epi8(0x20))));
}
#endif

void cache_key_make(const cache *c, const wire_query *q, cache_key *k)
{
	size_t n = q->qname_len;

#ifdef CACHE_LOWER16
	if (n >= 16) {
		/* 16 at a time, the last block overlapping: lowering twice is harmless */
		for (size_t i = 0; i + 16 <= n; i += 16)
			lower16(k->b + i, q->qname + i);
		lower16(k->b + n - 16, q->qname + n - 16);
		n = 0;
	}
#endif
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = q->qname[i];
		k->b[i] = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + ('a' - 'A')) : ch;
	}
	n = q->qname_len;
	put16(k->b + n, q->qtype);
	put16(k->b + n + 2, q->qclass);
	k->bits = (uint8_t)((q->edns_do ? CE_DO : 0) | (q->cd ? CE_CD : 0));
	k->b[n + 4] = k->bits;
	k->name_len = (uint8_t)n;
	k->hash = key_hash(c, k->b, n + 5);
}

/* The hash of a stored entry's key: its question is the lower-cased key. */
static uint32_t entry_hash(const cache *c, const cache_entry *e)
{
	uint8_t b[WIRE_NAME_MAX + 5];
	size_t n = wire_name_len(e->reply + WIRE_HDR_LEN, WIRE_NAME_MAX);

	memcpy(b, e->reply + WIRE_HDR_LEN, n + 4);
	b[n + 4] = (uint8_t)(e->flags & CE_KEY);
	return key_hash(c, b, n + 5);
}

/* Puts cell (hash << 32 | ref) in the first free cell of its run. */
static void cell_put(uint64_t *cells, uint32_t n_cells, uint64_t cell)
{
	uint32_t i = (uint32_t)(((cell >> 32) * n_cells) >> 32);
	while (cells[i] != 0)
		i = i + 1 == n_cells ? 0 : i + 1;
	cells[i] = cell;
}

/* Old cells moved with each insert while the index grows: enough that a
 * growth ends long before the doubled index fills (cache_room). */
#define CACHE_MOVE_STEP 8

static void grow_step(cache *c, uint32_t n);

void cache_add(cache *c, uint32_t hash, cache_ref ref)
{
	cell_put(c->cells, c->n_cells, (uint64_t)hash << 32 | ref);
	filter_entry(c, cache_entry_at(c, ref), 1, true);
	c->st.entries++;
	c->st.bytes = c->slab.bytes;
	if (c->old_cells != NULL)
		grow_step(c, CACHE_MOVE_STEP);
}

long cache_find_old(const cache *c, const cache_key *k)
{
	uint32_t n = c->n_old_cells;

	for (uint32_t i = (uint32_t)(((uint64_t)k->hash * n) >> 32);; i = i + 1 == n ? 0 : i + 1) {
		uint64_t cell = c->old_cells[i];
		if (cell == 0)
			return -1;
		/* a tomb (ref 0) is skipped: its hash may be anyone's */
		if ((uint32_t)cell != 0 && (uint32_t)(cell >> 32) == k->hash && cache_cell_is(c, cell, k))
			return (long)c->n_cells + i;
	}
}

/* Empties cell i and moves back the cells of its cluster that may sit
 * there: each stays at or after its home. */
static void cell_delete(cache *c, uint32_t i)
{
	for (uint32_t j = cache_next_cell(c, i);; j = cache_next_cell(c, j)) {
		uint64_t cell = c->cells[j];
		if (cell == 0)
			break;
		uint32_t h = cache_home(c, (uint32_t)(cell >> 32));
		/* Movable to i unless its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (!stays) {
			c->cells[i] = cell;
			i = j;
		}
	}
	c->cells[i] = 0;
}

/* The cell (a cache_find index) of the entry ref, whose key hashes to hash. */
static long cell_of(const cache *c, uint32_t hash, cache_ref ref)
{
	uint64_t want = (uint64_t)hash << 32 | ref;
	for (uint32_t i = cache_home(c, hash); c->cells[i] != 0; i = cache_next_cell(c, i))
		if (c->cells[i] == want)
			return i;
	/* not in cells: then not moved yet */
	uint32_t n = c->n_old_cells;
	uint32_t i = (uint32_t)(((uint64_t)hash * n) >> 32);
	while (c->old_cells[i] != want)
		i = i + 1 == n ? 0 : i + 1;
	return (long)c->n_cells + i;
}

/* Frees the entry's memory and counts it out; its cell is the caller's. */
static void entry_drop(cache *c, cache_ref ref)
{
	c->st.entries--;
	slab_free(&c->slab, ref);
	c->st.bytes = c->slab.bytes;
}

void cache_remove_at(cache *c, long i)
{
	cache_ref ref = (cache_ref)cache_cell(c, i);
	bool in_cells = (uint64_t)i < c->n_cells;

	filter_entry(c, cache_entry_at(c, ref), -1, in_cells);
	if (in_cells)
		cell_delete(c, (uint32_t)i);
	else
		c->old_cells[i - c->n_cells] = CACHE_TOMB;
	entry_drop(c, ref);
}

void cache_replace_at(cache *c, long i, cache_ref ref)
{
	uint64_t *cell = (uint64_t)i < c->n_cells ? &c->cells[i] : &c->old_cells[i - c->n_cells];
	cache_ref old = (cache_ref)*cell;

	*cell = (*cell & 0xFFFFFFFF00000000ULL) | ref;
	entry_drop(c, old);
	c->st.entries++;
}

/* Drops entry ref: its cell (found by hashing its key) and its memory. */
static void evict_ref(cache *c, cache_ref ref)
{
	cache_remove_at(c, cell_of(c, entry_hash(c, cache_entry_at(c, ref)), ref));
}

bool cache_entry_dead(const cache *c, const cache_entry *e, uint64_t now_ms)
{
	uint64_t age = cache_age_ms(c, e, now_ms), life = (uint64_t)ce_life(e) * 1000;

	return age >= life && (c->o.stale_max == 0 || age - life > (uint64_t)c->o.stale_max * 1000);
}

/* Ends within two revolutions: the first clears every reference bit. */
void cache_evict(cache *c, uint64_t now_ms)
{
	cache_slab *s = &c->slab;

	while (s->hand_page != SLAB_NONE) {
		const slab_page *p = &s->pages[s->hand_page];
		if (s->hand_block >= p->carved) {
			s->hand_page = p->ring_next;
			s->hand_block = 0;
			continue;
		}
		cache_ref ref = s->hand_page << SLAB_BLOCK_BITS | s->hand_block;
		cache_entry *e = cache_entry_at(c, ref);
		s->hand_block++;
		if (e->flags == CE_FREE)
			continue;
		bool dead = cache_entry_dead(c, e, now_ms);
		if (!dead && (e->flags & CE_REF)) {
			e->flags &= (uint8_t)~CE_REF;
			continue;
		}
		if (dead)
			c->st.expired++;
		else
			c->st.evictions++;
		evict_ref(c, ref);
		return;
	}
}

void cache_rebase(cache *c, uint64_t now_ms)
{
	/* Entries born more than 2^30 ms (12 days) ago go; the rest keep
	 * their age. */
	uint64_t base = now_ms - (1ULL << 30);
	cache_slab *s = &c->slab;
	for (uint32_t pn = 1; pn < s->n_pages; pn++) {
		/* An eviction may empty the page: re-read it each time. */
		for (uint32_t b = 0; s->pages[pn].mem && b < s->pages[pn].carved; b++) {
			cache_ref ref = pn << SLAB_BLOCK_BITS | b;
			cache_entry *e = cache_entry_at(c, ref);
			if (e->flags == CE_FREE)
				continue;
			uint64_t born = c->base + e->born;
			if (born >= base) {
				e->born = (uint32_t)(born - base);
				continue;
			}
			if (cache_entry_dead(c, e, now_ms))
				c->st.expired++;
			else
				c->st.evictions++;
			evict_ref(c, ref);
		}
	}
	c->base = base;
}

static uint32_t first_cap(const cache *c)
{
	return c->o.entries < CACHE_INDEX_FIRST ? (uint32_t)c->o.entries : CACHE_INDEX_FIRST;
}

/* Ends a growth: old_cells go, grow_filter becomes the filter. */
static void grow_done(cache *c)
{
	free(c->old_cells);
	c->old_cells = NULL;
	free(c->filter);
	c->filter = c->grow_filter;
	c->filter_bits = c->grow_bits;
	c->grow_filter = NULL;
}

/* Moves up to n old cells into cells, counting their entries into
 * grow_filter (the one read of each entry); ends the growth after the
 * last. */
static void grow_step(cache *c, uint32_t n)
{
	uint64_t *old = c->old_cells;
	for (; n > 0 && c->move_pos < c->n_old_cells; n--, c->move_pos++) {
		uint64_t cell = old[c->move_pos];
		if ((uint32_t)cell == 0)
			continue;  /* empty, or a tomb */
		cell_put(c->cells, c->n_cells, cell);
		uint64_t h = filter_hash_entry(cache_entry_at(c, (cache_ref)cell));
		filter_count(c->grow_filter, c->grow_bits, h, 1);
		old[c->move_pos] = CACHE_TOMB;
	}
	if (c->move_pos == c->n_old_cells)
		grow_done(c);
}

/*
 * Makes the index and the filter for cap entries. With grow, the cells so
 * far become old_cells, to be moved by grow_step, and the filter stays
 * until then; without, they are dropped (a new or flushed cache). On
 * ENOMEM returns -1 and keeps the old ones.
 */
static int index_make(cache *c, uint32_t cap, bool grow)
{
	/* At the limit at most 4 cells in 5 full; below it, while the
	 * arrays are small, at most 1 in 2 (shorter probes). A whole line
	 * more for tiny caches. */
	uint32_t n_cells = cap < c->o.entries ? 2 * cap + 8 : cap + cap / 4 + 8;
	unsigned bits = 4;
	while ((1u << bits) < (uint64_t)cap * CACHE_FILTER_PER_ENTRY)
		bits++;
	uint64_t *cells = calloc(n_cells, sizeof(*cells));
	uint8_t *filter = calloc((size_t)1 << bits, 1);
	if (cells == NULL || filter == NULL) {
		free(cells);
		free(filter);
		return -1;
	}
	if (grow) {
		c->old_cells = c->cells;
		c->n_old_cells = c->n_cells;
		c->move_pos = 0;
		c->grow_filter = filter;
		c->grow_bits = bits;
	} else {
		free(c->old_cells);
		free(c->grow_filter);
		free(c->cells);
		free(c->filter);
		c->old_cells = NULL;
		c->grow_filter = NULL;
		c->filter = filter;
		c->filter_bits = bits;
	}
	c->cells = cells;
	c->n_cells = n_cells;
	c->index_cap = cap;
	return 0;
}

bool cache_room(cache *c)
{
	if (c->st.entries < c->index_cap)
		return true;
	if (c->index_cap >= c->o.entries)
		return false;
	if (c->old_cells != NULL)
		grow_step(c, UINT32_MAX);  /* CACHE_MOVE_STEP an insert ends a growth before this */
	uint64_t cap = (uint64_t)c->index_cap * 2;
	if (cap > c->o.entries)
		cap = c->o.entries;
	/* without memory to grow, the cache stays at its size and evicts */
	return index_make(c, (uint32_t)cap, true) == 0;
}

cache *cache_new(const cache_opts *o)
{
	if (o == NULL || o->min_ttl > o->max_ttl || o->entries > CACHE_ENTRIES_MAX) {
		errno = EINVAL;
		return NULL;
	}
	cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->o = *o;
	slab_init(&c->slab);
	if (o->entries == 0)
		return c;
	if (index_make(c, first_cap(c), false) < 0) {
		cache_free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void cache_set_minimal(cache *c, bool on)
{
	if (c == NULL || c->o.minimal == on)
		return;
	c->o.minimal = on;
	cache_flush(c);   /* what is stored was stored the other way */
}

void cache_flush(cache *c)
{
	if (c == NULL)
		return;
	c->st.flushes++;
	if (c->cells == NULL)
		return;
	slab_clear(&c->slab);
	/* small again; on ENOMEM the big one stays, emptied */
	if (c->index_cap <= first_cap(c) || index_make(c, first_cap(c), false) < 0) {
		if (c->old_cells != NULL) {
			c->move_pos = c->n_old_cells;  /* nothing left to move */
			grow_done(c);
		}
		memset(c->cells, 0, (size_t)c->n_cells * sizeof(*c->cells));
		memset(c->filter, 0, (size_t)1 << c->filter_bits);
	}
	c->based = false;
	c->st.entries = 0;
	c->st.bytes = 0;
}

void cache_free(cache *c)
{
	if (c == NULL)
		return;
	slab_clear(&c->slab);
	free(c->cells);
	free(c->filter);
	free(c->old_cells);
	free(c->grow_filter);
	free(c);
}

const cache_stats *cache_get_stats(const cache *c)
{
	return c ? &c->st : &cache_no_stats;
}
