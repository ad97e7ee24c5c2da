/*
 * obs.h: what embargo observes about the queries it answers: counters for
 * /metrics, the exposure table (which client reached which vendor, when),
 * and the query log. The query path calls obs_query() once per answer sent;
 * the forwarder calls obs_upstream() once per upstream attempt.
 *
 * Ownership: each worker owns its obs_worker (no lock on the hot path for
 * plain counters); readers on the main thread (HTTP) take the worker's
 * obs lock only for the rule-related parts.
 */
#ifndef EMBARGO_OBS_H
#define EMBARGO_OBS_H

#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>

#include <event2/event.h>

#include "policy/policy.h"
#include "resolver/daemon.h"
#include "resolver/wire.h"

/* The policy's word on a query, carried with it while it is upstream. */
typedef struct query_meta {
	policy_verdict verdict;
	int rule_ref;             /* obs_rule_ref(), or -1 */
} query_meta;

/* One answered query. Pointers are borrowed for the duration of the call. */
typedef struct query_event {
	transport t;
	const cfg_ip *client;
	const wire_query *q;      /* qname in the client's case, qtype */
	uint16_t rcode;           /* of the answer sent */
	policy_verdict verdict;   /* PASS, AUDIT, BLOCK or EXEMPT */
	int rule_ref;             /* obs_rule_ref() of the deciding rule, or -1 */
	bool cached;              /* answered from the cache */
	bool stale;               /* a stale cache answer (RFC 8767) */
	bool cloaked;             /* blocked because of the CNAME chain */
	int upstream;             /* index in daemon_ctx.upstreams, or -1 */
	uint64_t latency_us;      /* from arrival to answer */
	int64_t now;              /* policy time, seconds */
	bool ratelimited;         /* over the client's `ratelimit` (a TC answer, or dropped) */
	bool dropped;             /* no answer was sent (a rate-limited drop) */
} query_event;

#define OBS_RCODES 24          /* RCODE counters; higher ones count as the last */
#define OBS_LAT_BUCKETS 12     /* upstream latency histogram, see obs.c */

/* What is counted of one rule, under the ids it has in every policy
 * version (a reload keeps the counters). */
typedef struct obs_rule {
	char *vendor, *rule;      /* owned; never freed before the obs_worker */
	int vendor_ref;           /* the first rule of the same vendor: names it */
	cfg_action action;        /* of the newest policy that had it */
	uint64_t blocked, audited, exempt, cloaked;
} obs_rule;

typedef struct obs_upstream_stats {
	uint64_t ok, timeouts, errors, bad_rcode;
	uint64_t lat[OBS_LAT_BUCKETS]; /* round trips of answered attempts */
	uint64_t lat_sum_us;
	uint64_t tls_handshakes, tls_resumed; /* DoT: completed handshakes, and
						 those that resumed a session */
} obs_upstream_stats;

/*
 * Exposure (DESIGN section 6): per client address and vendor, when it was
 * first and last seen (policy time) and what its lookups of that vendor's
 * names got. Only queries decided by a rule reach it, under the obs lock.
 * Bounded: when the table is full the least recently seen entry goes.
 */
#define OBS_EXPO_RULES 8       /* rule ids kept per entry; more are not listed */

typedef struct obs_expo {
	cfg_ip client;            /* unused address octets zeroed */
	uint8_t n_rules;
	int vendor_ref;
	uint32_t prev, next;      /* recency list, most recent first */
	uint32_t chain;           /* next in the hash bucket */
	int64_t first, last;
	uint64_t audited, blocked, exempt;
	int rules[OBS_EXPO_RULES]; /* rule refs, in the order first hit */
} obs_expo;

typedef struct obs_expo_table {
	obs_expo *v;              /* v[0..n) in use */
	size_t n, cap, max;       /* max 0: off */
	uint32_t *buckets;        /* mask + 1 of them */
	uint32_t mask;
	uint32_t head, tail;      /* most and least recently seen */
	uint64_t evicted;         /* written under the lock, read relaxed */
} obs_expo_table;

/* One worker's counters. Plain counters are written by the worker alone and
 * read by the HTTP thread with relaxed atomic loads; the rules array can
 * grow, so it is read and grown under `lock`. */
typedef struct obs_worker {
	uint64_t answers[TRANSPORT_COUNT][OBS_RCODES];
	uint64_t cached, stale;
	uint64_t ratelimited;     /* UDP queries over the client's rate */
	uint64_t latency_sum_us;
	obs_upstream_stats *up;   /* one per upstream */
	size_t n_up;
	pthread_mutex_t lock;
	bool held;                /* `holder` holds `lock` until release_ev runs */
	pthread_t holder;         /* the worker's thread, which also runs HTTP for worker 0 */
	struct event *release_ev; /* active while held: runs last in the loop pass */
	obs_rule *rules;
	size_t n_rules, cap_rules;
	struct { const policy_rule *r; int ref; } memo[64]; /* pointer -> ref, per policy */
	obs_expo_table expo;      /* under `lock` */
	uint64_t last_reply_ms;   /* worker_mono_ms() of the last upstream reply; 0: none */
} obs_worker;

/* exposure_max: this worker's share of exposure-clients (0: off). base is
 * the worker's loop (borrowed): the lock the query path takes is released
 * by an event on it at the end of the loop pass. */
obs_worker *obs_worker_new(struct event_base *base, size_t n_upstreams, size_t exposure_max);
void obs_worker_free(obs_worker *o);
/* Forgets rule pointers of the old policy (called on reload). */
void obs_worker_policy_changed(obs_worker *o);

/* Plain counters: written by their worker alone, read by the HTTP thread
 * with relaxed loads. A relaxed store is a plain mov on x86: no locked
 * instruction per query. */
#define OBS_INC(x) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED)
#define OBS_ADD(x, v) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)

int obs_rule_ref_slow(worker *w, const policy_rule *r);

/* A stable small number for a rule, kept across reloads (by vendor and rule
 * id), so that a query decided before a reload and answered after it still
 * names its rule. -1 for NULL. Inline: every decided query asks, and the
 * rule is nearly always in the memo. */
static inline int obs_rule_ref(worker *w, const policy_rule *r)
{
	if (!r)
		return -1;
	obs_worker *o = w->obs;
	size_t slot = ((uintptr_t)r >> 4) % (sizeof(o->memo) / sizeof(o->memo[0]));
	if (o->memo[slot].r == r)
		return o->memo[slot].ref;
	return obs_rule_ref_slow(w, r);
}

/* obs_query out of line: every case, for the rate-limited and the logged. */
void obs_query_more(worker *w, const query_event *e);

/* obs_query's part for a query a rule decided (verdict not PASS): the
 * rule's counters and the exposure table. */
void obs_rule_hit(worker *w, const cfg_ip *ip, int rule_ref, policy_verdict verdict,
		  bool cloaked, int64_t now);

/* Whether an answer that was not rate-limited needs only obs_count and
 * obs_rule_hit (what obs_query would do): the query log is off, a busy
 * server's default. Lets the query path skip building the event. */
static inline bool obs_log_off(const worker *w)
{
	return w->cfg->log.queries == CFG_LOGQ_OFF;
}

/* The counters of one answer sent. */
static inline void obs_count(worker *w, transport t, uint16_t rcode, uint64_t latency_us,
			     bool cached, bool stale)
{
	obs_worker *o = w->obs;
	OBS_INC(o->answers[t][rcode < OBS_RCODES ? rcode : OBS_RCODES - 1]);
	OBS_ADD(o->latency_sum_us, latency_us);
	if (cached)
		OBS_INC(o->cached);
	if (stale)
		OBS_INC(o->stale);
}

/* Once per answered query, and once per query dropped by the rate limit
 * (e->dropped: no answer counted). */
static inline void obs_query(worker *w, const query_event *e)
{
	if (e->ratelimited || !obs_log_off(w)) {
		obs_query_more(w, e);
		return;
	}
	obs_count(w, e->t, e->rcode, e->latency_us, e->cached, e->stale);
	if (e->rule_ref >= 0 && e->verdict != POLICY_PASS)
		obs_rule_hit(w, e->client, e->rule_ref, e->verdict, e->cloaked, e->now);
}

/* One upstream attempt ended: its round trip, or a failure. */
typedef enum obs_up_result {
	OBS_UP_OK = 0,
	OBS_UP_TIMEOUT,
	OBS_UP_ERROR,        /* socket error, malformed reply, TCP failure */
	OBS_UP_RCODE,        /* SERVFAIL/REFUSED/FORMERR/NOTIMP: try the next */
} obs_up_result;

void obs_upstream(worker *w, int up, obs_up_result res, uint64_t rtt_us);
/* A completed TLS handshake with upstream `up`; resumed: a session was reused. */
void obs_upstream_tls(worker *w, int up, bool resumed);

/* When an upstream last replied to this worker (any well-formed reply to
 * our query, whatever its RCODE: the upstream is reachable and speaks DNS),
 * in worker_mono_ms() milliseconds; 0 for never. Any thread. */
uint64_t obs_last_reply_ms(const obs_worker *o);

/* Readers for /metrics and /exposure (any thread; each takes o's lock for
 * the copy only). Names are borrowed from the obs_worker: they stay valid
 * until obs_worker_free. */
typedef struct obs_rule_row {
	const char *vendor, *rule;
	cfg_action action;
	uint64_t blocked, audited, exempt, cloaked;
} obs_rule_row;

/* Adds o's rule counters into rows[0..*n) (same vendor and rule: summed),
 * growing the array with realloc. 0, or -1 when out of memory. */
int obs_rules_collect(obs_worker *o, obs_rule_row **rows, size_t *n, size_t *cap);

typedef struct obs_expo_row {
	cfg_ip client;
	const char *vendor;
	int64_t first, last;      /* policy time, seconds */
	uint64_t audited, blocked, exempt;
	const char *rules[OBS_EXPO_RULES];
	size_t n_rules;
} obs_expo_row;

/* Appends o's exposure entries to rows[0..*n). 0, or -1 out of memory. */
int obs_expo_collect(obs_worker *o, obs_expo_row **rows, size_t *n, size_t *cap);
/* Merges the rows of one client and vendor (counts summed, earliest first,
 * latest last, rule ids united) and sorts the rest by last seen, newest
 * first (ties: by client, then vendor). Returns the number of rows left. */
size_t obs_expo_merge(obs_expo_row *rows, size_t n);
/* Entries held, and entries evicted so far. Any thread. */
size_t obs_expo_count(obs_worker *o);
uint64_t obs_expo_evicted(const obs_worker *o);

/* Upper bounds of the latency buckets in microseconds (the last +Inf). */
extern const uint64_t obs_lat_bounds_us[OBS_LAT_BUCKETS];

/* A monotonic clock in microseconds, for latencies. */
uint64_t obs_now_us(void);

#endif
