/*
 * cache_slab.c: the memory of cache entries (see cache_impl.h).
 *
 * Why not malloc: a cached answer is 50 to 200 octets, and malloc adds 8
 * and rounds up to 16, which is a fifth of a small entry. Pages of 8 KiB
 * cut into blocks of one size class cost the rounding to the class (at
 * most 3 octets up to 256) and a few dozen octets of page header per page.
 * Blocks freed go on their page's free list and are taken again first
 * (the page freed from last first: the clock's hand just freed there, so
 * a newcomer lands just behind it), so the pages of a class stay full; a
 * page whose blocks are all free goes back to malloc, so memory follows
 * what the cache holds.
 */
#include "resolver/cache_impl.h"

#include <stdlib.h>

#define NO_BLOCK UINT16_MAX
#define BIG_CLASS SLAB_CLASSES

/* Classes: 16..256 in steps of 4, ..512 in steps of 16, ..1024 in steps of 64. */
static unsigned class_of(size_t n)
{
	if (n <= 16)
		return 0;
	if (n <= 256)
		return (unsigned)((n - 16 + 3) / 4);
	if (n <= 512)
		return 60 + (unsigned)((n - 256 + 15) / 16);
	return 76 + (unsigned)((n - 512 + 63) / 64);
}

static uint32_t class_size(unsigned cls)
{
	if (cls <= 60)
		return 16 + 4 * cls;
	if (cls <= 76)
		return 256 + 16 * (cls - 60);
	return 512 + 64 * (cls - 76);
}

static unsigned per_page(const slab_page *p)
{
	return SLAB_PAGE / p->size;
}

void slab_init(cache_slab *s)
{
	memset(s, 0, sizeof(*s));
	s->free_pages = SLAB_NONE;
	s->hand_page = SLAB_NONE;
	for (unsigned i = 0; i < SLAB_CLASSES; i++)
		s->partial[i] = SLAB_NONE;
}

void slab_clear(cache_slab *s)
{
	for (uint32_t i = 1; i < s->n_pages; i++)
		free(s->pages[i].mem);
	free(s->pages);
	slab_init(s);
}

/* A page number with mem NULL, or 0 when none can be had. */
static uint32_t page_number(cache_slab *s)
{
	if (s->free_pages != SLAB_NONE) {
		uint32_t pn = s->free_pages;
		s->free_pages = s->pages[pn].next;
		return pn;
	}
	if (s->n_pages == 0)
		s->n_pages = 1;   /* page 0 stays unused: no ref is 0 */
	if (s->n_pages >= SLAB_MAX_PAGES)
		return 0;
	if (s->n_pages >= s->cap_pages) {
		uint32_t cap = s->cap_pages ? s->cap_pages * 2 : 64;
		slab_page *v = realloc(s->pages, (size_t)cap * sizeof(*v));
		if (v == NULL)
			return 0;
		s->pages = v;
		s->cap_pages = cap;
	}
	s->pages[s->n_pages].mem = NULL;
	return s->n_pages++;
}

/* A new page goes on the ring just behind the hand: the last to be
 * swept. */
static void ring_link(cache_slab *s, uint32_t pn)
{
	slab_page *p = &s->pages[pn];
	if (s->hand_page == SLAB_NONE) {
		p->ring_next = p->ring_prev = pn;
		s->hand_page = pn;
		s->hand_block = 0;
		return;
	}
	slab_page *h = &s->pages[s->hand_page];
	p->ring_next = s->hand_page;
	p->ring_prev = h->ring_prev;
	s->pages[h->ring_prev].ring_next = pn;
	h->ring_prev = pn;
}

static void ring_unlink(cache_slab *s, uint32_t pn)
{
	slab_page *p = &s->pages[pn];
	if (p->ring_next == pn) {
		s->hand_page = SLAB_NONE;
		return;
	}
	s->pages[p->ring_prev].ring_next = p->ring_next;
	s->pages[p->ring_next].ring_prev = p->ring_prev;
	if (s->hand_page == pn) {
		s->hand_page = p->ring_next;
		s->hand_block = 0;
	}
}

/* Gives a page's memory back and its number for reuse. */
static void page_release(cache_slab *s, uint32_t pn)
{
	slab_page *p = &s->pages[pn];
	free(p->mem);
	memset(p, 0, sizeof(*p));
	p->next = s->free_pages;
	s->free_pages = pn;
}

static void partial_link(cache_slab *s, uint32_t pn)
{
	slab_page *p = &s->pages[pn];
	p->prev = SLAB_NONE;
	p->next = s->partial[p->cls];
	if (p->next != SLAB_NONE)
		s->pages[p->next].prev = pn;
	s->partial[p->cls] = pn;
}

static void partial_unlink(cache_slab *s, uint32_t pn)
{
	slab_page *p = &s->pages[pn];
	if (p->prev != SLAB_NONE)
		s->pages[p->prev].next = p->next;
	else
		s->partial[p->cls] = p->next;
	if (p->next != SLAB_NONE)
		s->pages[p->next].prev = p->prev;
}

/* A new page of `bytes` octets, zeroed header, on the ring; 0 when
 * memory is short. */
static uint32_t page_new(cache_slab *s, size_t bytes)
{
	uint32_t pn = page_number(s);
	if (pn == 0)
		return 0;
	slab_page *p = &s->pages[pn];
	memset(p, 0, sizeof(*p));
	p->mem = malloc(bytes);
	if (p->mem == NULL) {
		page_release(s, pn);
		return 0;
	}
	ring_link(s, pn);
	return pn;
}

static cache_ref alloc_big(cache_slab *s, size_t n)
{
	uint32_t pn = page_new(s, n);
	if (pn == 0)
		return 0;
	slab_page *p = &s->pages[pn];
	p->size = (uint32_t)n;
	p->cls = BIG_CLASS;
	p->used = 1;
	p->carved = 1;
	s->bytes += n;
	return pn << SLAB_BLOCK_BITS;
}

cache_ref slab_alloc(cache_slab *s, size_t n)
{
	if (n > SLAB_BIG)
		return n <= UINT32_MAX ? alloc_big(s, n) : 0;
	unsigned cls = class_of(n);
	uint32_t pn = s->partial[cls];
	if (pn == SLAB_NONE) {
		pn = page_new(s, SLAB_PAGE);
		if (pn == 0)
			return 0;
		slab_page *p = &s->pages[pn];
		p->size = class_size(cls);
		p->cls = (uint8_t)cls;
		p->free = NO_BLOCK;
		partial_link(s, pn);
	}
	slab_page *p = &s->pages[pn];
	uint16_t b = p->free;
	if (b != NO_BLOCK)
		memcpy(&p->free, p->mem + (size_t)b * p->size, sizeof(p->free));
	else
		b = p->carved++;
	if (++p->used == per_page(p))
		partial_unlink(s, pn);
	s->bytes += p->size;
	return pn << SLAB_BLOCK_BITS | b;
}

void slab_free(cache_slab *s, cache_ref ref)
{
	uint32_t pn = ref >> SLAB_BLOCK_BITS;
	uint16_t b = (uint16_t)(ref & ((1u << SLAB_BLOCK_BITS) - 1));
	slab_page *p = &s->pages[pn];

	s->bytes -= p->size;
	if (p->cls == BIG_CLASS) {
		ring_unlink(s, pn);
		page_release(s, pn);
		return;
	}
	uint8_t *block = p->mem + (size_t)b * p->size;
	bool was_full = p->used == per_page(p);
	memcpy(block, &p->free, sizeof(p->free));
	block[offsetof(cache_entry, flags)] = CE_FREE;
	p->free = b;
	p->used--;
	if (!was_full)
		partial_unlink(s, pn);
	if (p->used == 0) {
		ring_unlink(s, pn);
		page_release(s, pn);
	} else {
		partial_link(s, pn);   /* first in line for this class */
	}
}
