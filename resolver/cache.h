/*
 * cache.h: the response cache, one per worker thread.
 *
 * Owns: upstream replies in wire form, keyed by (lower-cased QNAME, QTYPE,
 * QCLASS, DO, CD), each with what a hit needs without parsing names: where
 * its TTL fields are, where its OPT is (if it keeps one), and the CNAME/DNAME
 * chain targets the daemon re-checks against the policy at hit time (the policy
 * may differ per client group and changes over time). A hit writes the
 * client's answer straight into the caller's buffer: one hash lookup, one
 * memcpy and a few 2- and 4-octet patches, no allocation.
 *
 * Pure: no sockets, no clock (times are arguments, milliseconds of a
 * monotonic clock), no event loop, no global mutable state, no locks (one
 * cache per thread). Builds on wire.h only.
 *
 * Lifetimes (RFC 2308, RFC 9520): a positive answer lives clamp(min TTL of
 * its answer and authority RRs, min_ttl, max_ttl) seconds; a negative one
 * (NXDOMAIN, or NOERROR without answer RRs) the same with min(SOA TTL, SOA
 * MINIMUM), and only if it carries a SOA; SERVFAIL min(its TTL, servfail_ttl)
 * seconds. Every other rcode, TC replies, replies whose min TTL is 0 and
 * chains longer than WIRE_CHAIN_MAX are not cached. Lifetimes past 32767
 * seconds are kept in whole minutes (rounded down), at most 22 days. The
 * served TTLs are clamped the same way, then count down with the time
 * spent in cache.
 *
 * With `minimal` (minimal-responses), a reply that wire_reply_is_minimal
 * trims is stored without its authority and additional sections, as the
 * forwarder sends it, so an answer is the same from the cache or not; its
 * lifetime is then that of its answer RRs alone.
 *
 * Memory (cache_impl.h): an entry is one block of a slab page (sizes in
 * 4-octet steps): 5 octets (insert time, flags), the reply without the
 * upstream's OPT, and 2 octets per record for TTL offsets unless every
 * owner is a compression pointer; the index adds 10 octets per entry
 * (64-bit cells, at most 4 in 5 full), and a filter that tells most misses
 * without hashing the key 2 to 4 more (one-octet counters, a power of two).
 * A minimal A answer for a 20-octet name takes about 70 octets in all.
 * Eviction is CLOCK (second chance), its hand sweeping the slab, in O(1)
 * amortized; expired entries are reclaimed lazily, when a lookup meets
 * them or the clock hand passes them. With serve-stale (stale_max > 0,
 * RFC 8767) they stay until then, so an expired answer can still be served
 * when every upstream fails.
 */
#ifndef EMBARGO_RESOLVER_CACHE_H
#define EMBARGO_RESOLVER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver/wire.h"

#define CACHE_STALE_TTL 30       /* TTL of a stale answer (RFC 8767 4) */
#define CACHE_EDE_STALE_ANSWER 3 /* RFC 8914 INFO-CODE for cache_add_ede */
#define CACHE_ENTRIES_MAX (1u << 26)

typedef struct cache cache;

typedef struct cache_opts {
	uint32_t entries;        /* capacity; 0 disables the cache */
	uint32_t min_ttl;        /* seconds; raises short TTLs */
	uint32_t max_ttl;        /* seconds; caps long TTLs; must be >= min_ttl */
	uint32_t servfail_ttl;   /* seconds a SERVFAIL is kept (RFC 9520: <= 5); 0: never */
	uint32_t stale_max;      /* seconds an expired answer may be served; 0: no serve-stale */
	bool minimal;            /* minimal-responses: store trimmed (see above) */
	uint64_t seed[2];        /* hash key (random per process: no chain flooding) */
} cache_opts;

/* Counters; entries and bytes are levels, the rest only grow (until
 * cache_free; cache_flush keeps them). */
typedef struct cache_stats {
	uint64_t hits;           /* fresh answers served */
	uint64_t stale_hits;     /* expired answers served by cache_answer_stale */
	uint64_t misses;
	uint64_t inserts;        /* entries stored (replacements included) */
	uint64_t uncacheable;    /* cache_insert calls that stored nothing */
	uint64_t evictions;      /* live or stale entries dropped to make room */
	uint64_t expired;        /* entries reclaimed after expiry (+ stale window) */
	uint64_t prefetches;     /* hits that asked for a refresh */
	uint64_t flushes;
	uint64_t entries;        /* entries in use */
	uint64_t bytes;          /* bytes of slab blocks holding entries (not the index) */
} cache_stats;

/* What a hit found; filled by cache_answer and cache_answer_stale. */
typedef struct cache_hit {
	bool hit;                /* an answer was written */
	bool stale;              /* from an expired entry, every TTL 30: add EDE 3 */
	bool prefetch;           /* hit in the last tenth of the entry's lifetime, and
				    the first such hit: refresh it upstream now */
	bool plain;              /* stored by cache_insert_plain (and no chain) */
	uint16_t rcode;          /* of the cached reply (12 bits) */
	uint32_t ttl_left;       /* seconds until expiry (0 when stale) */
	/*
	 * The CNAME/DNAME targets of the answer section, in order, lower-cased
	 * uncompressed wire names back to back (walk with cache_chain_next).
	 * Valid until the next call on this cache.
	 */
	const uint8_t *chain;
	size_t n_chain;
	/* Internal: where the written answer's OPT RDLENGTH is (0: no OPT),
	 * for cache_add_ede. */
	size_t opt_rdlen_at;
} cache_hit;

/*
 * A new cache, or NULL with errno set: EINVAL when min_ttl > max_ttl or
 * entries > CACHE_ENTRIES_MAX, ENOMEM. With entries == 0 the cache is
 * disabled: every call is a cheap miss or no-op. Free with cache_free.
 */
cache *cache_new(const cache_opts *o);
void cache_free(cache *c);

/*
 * Stores an upstream reply to q (the question as sent upstream: q supplies
 * the key, q->edns_do and q->cd included). reply/len is the raw reply and
 * *r what wire_check_reply made of it. Replaces any entry for the same key
 * (which also re-arms its prefetch). Stores nothing if the reply is not
 * cacheable (see the top of this file) or memory is short. Octets after
 * the last record, additional records after the OPT, and the OPT itself
 * (unless it has EDE options) are not kept.
 */
void cache_insert(cache *c, const wire_query *q, const uint8_t *reply, size_t len,
		  const wire_reply *r, uint64_t now_ms);

/*
 * As cache_insert, but marks the entry plain when the reply has no CNAME/
 * DNAME chain: the caller vouches that the policy passes q's name for every
 * client (no audit, no block, no group) until the next cache_flush, which
 * the daemon calls at every policy change. A hit on a plain entry may then
 * skip the policy walk (cache_hit.plain): the one hot path that needs it.
 */
void cache_insert_plain(cache *c, const wire_query *q, const uint8_t *reply, size_t len,
			const wire_reply *r, uint64_t now_ms);

/* False when the cache certainly holds no answer for q (its miss filter);
 * true when it may. Reads nothing but one octet of the filter. */
bool cache_may_have(const cache *c, const wire_query *q);
/* Counts a lookup the caller skipped because cache_may_have said no, as
 * cache_answer would have counted it (a miss). */
void cache_count_miss(cache *c);

/*
 * Answers q from the cache into out[0..cap): the stored reply with q's ID
 * and question case, RA set, AA clear, every TTL less the whole seconds
 * spent in cache, the OPT kept only if q has EDNS. When it does not fit in
 * cap (pass daemon_answer_cap), the additional section is dropped, and if
 * that is not enough, a TC answer (header + question + OPT) is written.
 * Returns the length, or 0 on a miss (an expired entry is a miss; it is
 * dropped at once unless serve-stale may still need it). *hit is filled in
 * both cases (hit->hit false on a miss).
 */
size_t cache_answer(cache *c, const wire_query *q, uint64_t now_ms, uint8_t *out, size_t cap,
		    cache_hit *hit);
/* cache_answer for a q that cache_may_have has already said yes to: the
 * filter is not read a second time. The filter only shortens misses, so
 * this is right even if the cache changed since. */
size_t cache_answer_filtered(cache *c, const wire_query *q, uint64_t now_ms, uint8_t *out,
			     size_t cap, cache_hit *hit);

/*
 * For when every upstream failed: as cache_answer, but an entry expired at
 * most stale_max seconds ago is also served, with every TTL set to
 * CACHE_STALE_TTL and hit->stale set (the caller then adds EDE 3, Stale
 * Answer, with cache_add_ede). A fresh entry is served as by cache_answer.
 */
size_t cache_answer_stale(cache *c, const wire_query *q, uint64_t now_ms, uint8_t *out,
			  size_t cap, cache_hit *hit);

/*
 * Adds an EDE option (RFC 8914: info_code, optional UTF-8 text) to the OPT
 * of an answer of `len` octets that cache_answer* just wrote into out (the
 * OPT is then always the last record). Returns the new length; if the
 * answer has no OPT (client without EDNS) or the option does not fit in
 * cap, even without its text, returns len and leaves the answer unchanged.
 */
size_t cache_add_ede(uint8_t *out, size_t len, size_t cap, const cache_hit *hit,
		     uint16_t info_code, const char *text);

/* Drops every entry (policy reload, a cutoff instant). */
void cache_flush(cache *c);

/* Sets cache_opts.minimal (a reload); flushes when it changes. */
void cache_set_minimal(cache *c, bool on);

/* The counters; never NULL (zeros for a NULL cache). */
const cache_stats *cache_get_stats(const cache *c);

/* The name after `name` in cache_hit.chain. */
static inline const uint8_t *cache_chain_next(const uint8_t *name)
{
	while (*name)
		name += 1 + (size_t)*name;
	return name + 1;
}

#endif
