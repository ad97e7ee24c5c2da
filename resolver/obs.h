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
} query_event;

#define OBS_RCODES 24          /* RCODE counters; higher ones count as the last */
#define OBS_LAT_BUCKETS 12     /* upstream latency histogram, see obs.c */

/* What is counted of one rule, under the ids it has in every policy
 * version (a reload keeps the counters). */
typedef struct obs_rule {
	char *vendor, *rule;      /* owned */
	cfg_action action;        /* of the newest policy that had it */
	uint64_t blocked, audited, exempt, cloaked;
} obs_rule;

typedef struct obs_upstream_stats {
	uint64_t ok, timeouts, errors, bad_rcode;
	uint64_t lat[OBS_LAT_BUCKETS]; /* round trips of answered attempts */
	uint64_t lat_sum_us;
} obs_upstream_stats;

/* One worker's counters. Plain counters are written by the worker alone and
 * read by the HTTP thread with relaxed atomic loads; the rules array can
 * grow, so it is read and grown under `lock`. */
typedef struct obs_worker {
	uint64_t answers[TRANSPORT_COUNT][OBS_RCODES];
	uint64_t cached, stale;
	uint64_t latency_sum_us;
	obs_upstream_stats *up;   /* one per upstream */
	size_t n_up;
	pthread_mutex_t lock;
	obs_rule *rules;
	size_t n_rules, cap_rules;
	struct { const policy_rule *r; int ref; } memo[64]; /* pointer -> ref, per policy */
} obs_worker;

obs_worker *obs_worker_new(size_t n_upstreams);
void obs_worker_free(obs_worker *o);
/* Forgets rule pointers of the old policy (called on reload). */
void obs_worker_policy_changed(obs_worker *o);

/* A stable small number for a rule, kept across reloads (by vendor and rule
 * id), so that a query decided before a reload and answered after it still
 * names its rule. -1 for NULL. */
int obs_rule_ref(worker *w, const policy_rule *r);

void obs_query(worker *w, const query_event *e);

/* One upstream attempt ended: its round trip, or a failure. */
typedef enum obs_up_result {
	OBS_UP_OK = 0,
	OBS_UP_TIMEOUT,
	OBS_UP_ERROR,        /* socket error, malformed reply, TCP failure */
	OBS_UP_RCODE,        /* SERVFAIL/REFUSED/FORMERR/NOTIMP: try the next */
} obs_up_result;

void obs_upstream(worker *w, int up, obs_up_result res, uint64_t rtt_us);

/* Upper bounds of the latency buckets in microseconds (the last +Inf). */
extern const uint64_t obs_lat_bounds_us[OBS_LAT_BUCKETS];

/* A monotonic clock in microseconds, for latencies. */
uint64_t obs_now_us(void);

#endif
