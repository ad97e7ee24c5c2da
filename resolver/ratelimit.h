/*
 * ratelimit.h: how many UDP queries each client network may send, as a
 * token bucket per network (the `ratelimit:` config), for one worker.
 *
 * Owns: a fixed-size table of buckets, set-associative (4 ways a set, the
 * least recently used bucket of the set replaced), keyed by the client's
 * address cut to its prefix and hashed with SipHash keyed at random, so
 * clients cannot choose whose bucket they share a set with. Every call is
 * O(1) and allocates nothing; memory is 48 octets a bucket, fixed at
 * creation.
 *
 * Pure: no sockets, no clock (the time is an argument, in milliseconds of a
 * monotonic clock), no global state. The daemon keeps one table per worker.
 */
#ifndef EMBARGO_RESOLVER_RATELIMIT_H
#define EMBARGO_RESOLVER_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/values.h"

typedef struct ratelimit ratelimit;

typedef struct ratelimit_opts {
	uint32_t qps;           /* tokens added per second (>= 1) */
	uint32_t burst;         /* bucket size: queries allowed at once (>= 1) */
	uint8_t ipv4_prefix;    /* 0..32: clients in one such network share a bucket */
	uint8_t ipv6_prefix;    /* 0..128 */
	uint32_t entries;       /* buckets, rounded up to a power of two (>= 4) */
	uint64_t seed[2];       /* the hash key: random */
} ratelimit_opts;

typedef struct ratelimit_stats {
	uint64_t allowed, limited;
	uint64_t evicted;       /* buckets replaced while not yet full again */
	size_t used;            /* buckets in use */
} ratelimit_stats;

/* NULL when out of memory. */
ratelimit *ratelimit_new(const ratelimit_opts *o);
void ratelimit_free(ratelimit *rl);

/* Whether the table was made with these options (seed aside): a reload
 * that changes none of them keeps the buckets. */
bool ratelimit_same(const ratelimit *rl, const ratelimit_opts *o);

/*
 * One query from `ip` at now_ms: true when it may be answered (a token was
 * taken), false when its network is over the rate. A network not seen
 * before starts with a full bucket. now_ms must not go backwards by much
 * (a step back counts as no time passed).
 */
bool ratelimit_allow(ratelimit *rl, const cfg_ip *ip, uint64_t now_ms);

ratelimit_stats ratelimit_get_stats(const ratelimit *rl);

#endif
