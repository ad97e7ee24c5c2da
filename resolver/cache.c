/*
 * cache.c: the response cache's table, CLOCK and inserts (see cache.h);
 * answers are written by cache_answer.c.
 *
 * Layout: a chained hash table (buckets, a power of two >= entries, sized
 * once) over entries that each live in one malloc: a 48-octet header, the
 * offsets of the TTL fields, the reply, the chain names. A dense array of
 * slots holds every entry for the CLOCK hand: a hit sets the entry's
 * reference bit, the hand clears it once and evicts the entry on its next
 * pass if no hit came meanwhile. An evicted entry's slot goes to the newcomer
 * just behind the hand, so a new entry gets a whole revolution to be hit.
 *
 * At insert the stored copy is made ready to serve: question lower-cased
 * (the key compares with memcmp, the client's case is copied in at hit
 * time), RA set, AA clear, the OPT's DO bit the query's (RFC 3225; DO is
 * in the key, so every client of the entry asked the same), each TTL clamped to the entry's lifetime, records
 * after the OPT dropped, so the OPT, when there is one, is last and can be
 * cut off for a client without EDNS by copying less.
 *
 * The hash is SipHash-1-3 keyed from cache_opts.seed, so names chosen by a
 * client cannot pile up in one chain.
 */
#include "resolver/cache_impl.h"
#include "resolver/siphash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const cache_stats cache_no_stats;

static inline uint64_t load64le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* SipHash-1-3: short keys, keyed against flooding. */
static uint64_t siphash13(const uint64_t k[2], const uint8_t *in, size_t n)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t b = (uint64_t)n << 56;
	size_t full = n & ~(size_t)7;

	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load64le(in + i);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = full; i < n; i++)
		b |= (uint64_t)in[i] << (8 * (i - full));
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void cache_key_make(const cache *c, const wire_query *q, cache_key *k)
{
	size_t n = q->qname_len;

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = q->qname[i];
		k->b[i] = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + ('a' - 'A')) : ch;
	}
	put16(k->b + n, q->qtype);
	put16(k->b + n + 2, q->qclass);
	k->bits = (uint8_t)((q->edns_do ? CE_DO : 0) | (q->cd ? CE_CD : 0));
	k->b[n + 4] = k->bits;
	k->name_len = (uint8_t)n;
	k->hash = (uint32_t)siphash13(c->o.seed, k->b, n + 5);
}

cache_entry **cache_lookup(cache *c, const cache_key *k)
{
	cache_entry **link = &c->buckets[k->hash & c->mask];

	for (cache_entry *e = *link; e; link = &e->next, e = *link) {
		/* The stored question is the lower-cased key: qname, qtype, qclass. */
		if (e->hash == k->hash && (e->flags & CE_KEY) == k->bits &&
		    e->qname_len == k->name_len &&
		    memcmp(cache_entry_reply(e) + WIRE_HDR_LEN, k->b, (size_t)k->name_len + 4) == 0)
			return link;
	}
	return NULL;
}

static cache_entry **link_of(cache *c, const cache_entry *e)
{
	cache_entry **link = &c->buckets[e->hash & c->mask];

	while (*link != e)
		link = &(*link)->next;
	return link;
}

/* Unlinks and frees e; its slot is left for the caller to fill or compact. */
static void entry_drop(cache *c, cache_entry **link)
{
	cache_entry *e = *link;

	*link = e->next;
	c->st.entries--;
	c->st.bytes -= cache_entry_size(e);
	free(e);
}

/* Drops the entry at *link and closes the gap in the slots by moving the
 * last one in. */
void cache_entry_remove(cache *c, cache_entry **link)
{
	uint32_t i = (*link)->slot, last = c->used - 1;

	entry_drop(c, link);
	if (i != last) {
		c->slots[i] = c->slots[last];
		c->slots[i]->slot = i;
	}
	c->slots[last] = NULL;
	c->used = last;
}

bool cache_entry_dead(const cache *c, const cache_entry *e, uint64_t now_ms)
{
	uint64_t age = cache_age_ms(e, now_ms), life = (uint64_t)e->life * 1000;

	return age >= life && (c->o.stale_max == 0 || age - life > (uint64_t)c->o.stale_max * 1000);
}

/* The cache is full: evicts one entry with the CLOCK and returns its slot,
 * now empty; the hand moves past it. Ends within two revolutions. */
static uint32_t clock_evict(cache *c, uint64_t now_ms)
{
	for (;;) {
		if (c->hand >= c->used)
			c->hand = 0;
		cache_entry *e = c->slots[c->hand];
		bool dead = cache_entry_dead(c, e, now_ms);
		if (!dead && (e->flags & CE_REF)) {
			e->flags &= (uint8_t)~CE_REF;
			c->hand++;
			continue;
		}
		uint32_t slot = c->hand;
		if (dead)
			c->st.expired++;
		else
			c->st.evictions++;
		entry_drop(c, link_of(c, e));
		c->slots[slot] = NULL;
		c->hand = slot + 1;
		return slot;
	}
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
	if (o->entries == 0)
		return c;
	size_t nb = 1;
	while (nb < o->entries)
		nb <<= 1;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	c->slots = calloc(o->entries, sizeof(*c->slots));
	if (c->buckets == NULL || c->slots == NULL) {
		cache_free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->mask = nb - 1;
	return c;
}

void cache_flush(cache *c)
{
	if (c == NULL)
		return;
	c->st.flushes++;
	if (c->buckets == NULL)
		return;
	for (uint32_t i = 0; i < c->used; i++) {
		free(c->slots[i]);
		c->slots[i] = NULL;
	}
	memset(c->buckets, 0, (c->mask + 1) * sizeof(*c->buckets));
	c->used = c->hand = 0;
	c->st.entries = 0;
	c->st.bytes = 0;
}

void cache_free(cache *c)
{
	if (c == NULL)
		return;
	if (c->slots)
		for (uint32_t i = 0; i < c->used; i++)
			free(c->slots[i]);
	free(c->slots);
	free(c->buckets);
	free(c);
}

const cache_stats *cache_get_stats(const cache *c)
{
	return c ? &c->st : &cache_no_stats;
}

/* ---- insert ---- */

/* What one walk over a reply's records found. */
typedef struct cache_scan {
	size_t n_ttl;
	bool soa;              /* a SOA in the authority section */
	size_t opt_rdlen_at;   /* 0: no OPT */
} cache_scan;

/*
 * Walks the records before the OPT (or all of them without one), noting
 * the TTL offsets into offs (when not NULL). The reply passed
 * wire_check_reply; these checks only keep a wrong *r from reading out of
 * bounds.
 */
static bool scan_records(const uint8_t *pkt, const wire_reply *r, uint16_t *offs, cache_scan *s)
{
	size_t an = r->ancount, ns = r->nscount;
	size_t total = an + ns + (r->edns ? r->opt_index : r->arcount);
	size_t len = r->edns ? r->opt_end : r->end, pos = r->question_end, p;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < total; i++) {
		if (wire_skip_name(pkt, len, pos, &p) != WIRE_OK || len - p < 10)
			return false;
		uint16_t type = get16(pkt + p);
		size_t rdlen = get16(pkt + p + 8);
		if (type == WIRE_TYPE_OPT || rdlen > len - p - 10)
			return false;
		if (offs)
			offs[s->n_ttl] = (uint16_t)(p + 4);
		s->n_ttl++;
		if (i >= an && i < an + ns && type == WIRE_TYPE_SOA)
			s->soa = true;
		pos = p + 10 + rdlen;
	}
	if (!r->edns)
		return pos == r->end;
	if (pos != r->opt_start || wire_skip_name(pkt, len, pos, &p) != WIRE_OK || len - p < 10 ||
	    get16(pkt + p) != WIRE_TYPE_OPT || p + 10 + get16(pkt + p + 8) != r->opt_end)
		return false;
	s->opt_rdlen_at = p + 8;
	return true;
}

/* The entry's lifetime in seconds, 0 if the reply is not to be cached. */
static uint32_t lifetime(const cache *c, const wire_reply *r, const cache_scan *s)
{
	uint32_t ttl = r->min_ttl;

	if (r->tc || r->partial || r->chain_overflow)
		return 0;
	if (r->rcode == WIRE_RCODE_SERVFAIL)
		return ttl < c->o.servfail_ttl ? ttl : c->o.servfail_ttl;
	if (r->rcode == WIRE_RCODE_NXDOMAIN || (r->rcode == WIRE_RCODE_NOERROR && r->ancount == 0)) {
		if (!s->soa)   /* RFC 2308 5: no SOA, no negative caching */
			return 0;
	} else if (r->rcode != WIRE_RCODE_NOERROR) {
		return 0;
	}
	if (ttl == 0 || ttl == WIRE_TTL_NONE)
		return 0;
	if (ttl < c->o.min_ttl)
		ttl = c->o.min_ttl;
	return ttl < c->o.max_ttl ? ttl : c->o.max_ttl;
}

static void insert(cache *c, const wire_query *q, const uint8_t *reply, size_t len,
		   const wire_reply *r, uint64_t now_ms, uint8_t extra_flags)
{
	if (c == NULL || c->buckets == NULL)
		return;
	c->st.uncacheable++;   /* undone below once stored */
	if (q == NULL || reply == NULL || r == NULL || !q->has_question || r->end > len ||
	    r->question_end > r->end ||
	    r->end > UINT16_MAX || r->question_end != WIRE_HDR_LEN + (size_t)q->qname_len + 4 ||
	    (r->edns && (r->opt_start < r->ar_start || r->opt_end > r->end)) ||
	    !wire_name_equal_ci(reply + WIRE_HDR_LEN, q->qname_len, q->qname, q->qname_len) ||
	    get16(reply + r->question_end - 4) != q->qtype ||
	    get16(reply + r->question_end - 2) != q->qclass)
		return;
	cache_scan s;
	if (!scan_records(reply, r, NULL, &s))
		return;
	uint32_t life = lifetime(c, r, &s);
	if (life == 0)
		return;

	size_t rlen = r->edns ? r->opt_end : r->end;
	size_t chain_bytes = 0;
	for (size_t i = 0; i < r->n_chain; i++)
		chain_bytes += r->chain_len[i];
	cache_entry *e = malloc(sizeof(*e) + s.n_ttl * 2 + rlen + chain_bytes);
	if (e == NULL)
		return;
	e->n_ttl = (uint16_t)s.n_ttl;
	e->len = (uint16_t)rlen;
	e->chain_bytes = (uint16_t)chain_bytes;
	scan_records(reply, r, e->ttl_off, &s);

	uint8_t *w = cache_entry_reply(e);
	memcpy(w, reply, rlen);
	if (r->edns) {
		/* the OPT says what we are, not what the upstream is (RFC 6891) */
		rlen = wire_opt_own(w, r->opt_start, rlen);
		e->len = (uint16_t)rlen;
	}
	uint8_t *ch = w + rlen;
	for (size_t i = 0; i < r->n_chain; i++) {
		memcpy(ch, r->chain[i], r->chain_len[i]);
		ch += r->chain_len[i];
	}

	cache_key k;
	cache_key_make(c, q, &k);
	memcpy(w + WIRE_HDR_LEN, k.b, (size_t)k.name_len + 4);
	put16(w, 0);
	put16(w + 2, (uint16_t)((get16(w + 2) | WIRE_FLAG_RA) & ~(unsigned)(WIRE_FLAG_AA | WIRE_FLAG_TC)));
	if (r->edns) {
		put16(w + 10, (uint16_t)(r->opt_index + 1));
		/* DO answers the query's (RFC 3225), as wire_reply_to_client does;
		 * every client of this entry asked with the same DO (the key). */
		uint8_t *hi = w + s.opt_rdlen_at - 2;
		*hi = (uint8_t)(q->edns_do ? *hi | 0x80 : *hi & 0x7F);
	}
	bool servfail = r->rcode == WIRE_RCODE_SERVFAIL;
	for (size_t i = 0; i < s.n_ttl; i++) {
		uint8_t *t = w + e->ttl_off[i];
		uint32_t v = get32(t);
		if (v & 0x80000000u)   /* RFC 2181 8 */
			v = 0;
		if (!servfail && v < c->o.min_ttl)
			v = c->o.min_ttl;
		put32(t, v < life ? v : life);
	}

	e->born_ms = now_ms;
	e->hash = k.hash;
	e->life = life;
	e->strip_len = (uint16_t)(r->edns ? r->opt_start : rlen);
	e->strip_ar = (uint16_t)(r->edns ? r->opt_index : r->arcount);
	e->opt_rdlen_at = (uint16_t)s.opt_rdlen_at;
	e->ar_start = (uint16_t)r->ar_start;
	e->rcode = r->rcode;
	e->qname_len = k.name_len;
	e->n_chain = (uint8_t)r->n_chain;
	e->flags = (uint8_t)(k.bits | extra_flags);

	uint32_t slot;
	cache_entry **old = cache_lookup(c, &k);
	if (old) {
		slot = (*old)->slot;   /* a replacement keeps its place on the clock */
		entry_drop(c, old);
	} else if (c->used < c->o.entries) {
		slot = c->used++;
	} else {
		slot = clock_evict(c, now_ms);
	}
	e->slot = slot;
	c->slots[slot] = e;
	cache_entry **b = &c->buckets[k.hash & c->mask];
	e->next = *b;
	*b = e;
	c->st.entries++;
	c->st.bytes += cache_entry_size(e);
	c->st.inserts++;
	c->st.uncacheable--;
}

void cache_insert(cache *c, const wire_query *q, const uint8_t *reply, size_t len,
		  const wire_reply *r, uint64_t now_ms)
{
	insert(c, q, reply, len, r, now_ms, 0);
}

void cache_insert_plain(cache *c, const wire_query *q, const uint8_t *reply, size_t len,
			const wire_reply *r, uint64_t now_ms)
{
	insert(c, q, reply, len, r, now_ms, r && r->n_chain == 0 ? CE_PLAIN : 0);
}
