/*
 * obs.c: per-worker counters of answered queries and upstream attempts.
 *
 * The hot path increments plain counters that only its worker writes; the
 * HTTP thread reads them with relaxed atomic loads (OBS_INC stores with a
 * relaxed atomic store, which on x86 is an ordinary mov: no locked
 * instruction per query). Rule counters live in a growable array, so
 * growing and reading it take the worker's obs lock; a hit on a rule takes
 * it too, which only vendor names do.
 */
#include "resolver/obs.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OBS_INC(x) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED)
#define OBS_ADD(x, v) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)

/* Upper bounds of the latency buckets, in microseconds; the last is +Inf. */
const uint64_t obs_lat_bounds_us[OBS_LAT_BUCKETS] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, UINT64_MAX,
};

uint64_t obs_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

obs_worker *obs_worker_new(size_t n_upstreams)
{
	obs_worker *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->up = calloc(n_upstreams ? n_upstreams : 1, sizeof(*o->up));
	if (!o->up) {
		free(o);
		return NULL;
	}
	o->n_up = n_upstreams;
	pthread_mutex_init(&o->lock, NULL);
	return o;
}

void obs_worker_free(obs_worker *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n_rules; i++) {
		free(o->rules[i].vendor);
		free(o->rules[i].rule);
	}
	free(o->rules);
	free(o->up);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

void obs_worker_policy_changed(obs_worker *o)
{
	memset(o->memo, 0, sizeof(o->memo));
}

/* Finds or adds the rule by its ids; the caller holds the lock. */
static int rule_intern(obs_worker *o, const policy_rule *r)
{
	for (size_t i = 0; i < o->n_rules; i++) {
		obs_rule *x = &o->rules[i];
		if (!strcmp(x->rule, r->id) && !strcmp(x->vendor, r->vendor->id)) {
			x->action = r->action;
			return (int)i;
		}
	}
	if (o->n_rules == o->cap_rules) {
		size_t cap = o->cap_rules ? o->cap_rules * 2 : 16;
		obs_rule *v = realloc(o->rules, cap * sizeof(*v));
		if (!v)
			return -1;
		o->rules = v;
		o->cap_rules = cap;
	}
	obs_rule *x = &o->rules[o->n_rules];
	memset(x, 0, sizeof(*x));
	x->vendor = strdup(r->vendor->id);
	x->rule = strdup(r->id);
	x->action = r->action;
	if (!x->vendor || !x->rule) {
		free(x->vendor);
		free(x->rule);
		return -1;
	}
	return (int)o->n_rules++;
}

int obs_rule_ref(worker *w, const policy_rule *r)
{
	if (!r)
		return -1;
	obs_worker *o = w->obs;
	size_t slot = ((uintptr_t)r >> 4) % (sizeof(o->memo) / sizeof(o->memo[0]));
	if (o->memo[slot].r == r)
		return o->memo[slot].ref;
	pthread_mutex_lock(&o->lock);
	int ref = rule_intern(o, r);
	pthread_mutex_unlock(&o->lock);
	if (ref >= 0) {
		o->memo[slot].r = r;
		o->memo[slot].ref = ref;
	}
	return ref;
}

void obs_query(worker *w, const query_event *e)
{
	obs_worker *o = w->obs;
	OBS_INC(o->answers[e->t][e->rcode < OBS_RCODES ? e->rcode : OBS_RCODES - 1]);
	OBS_ADD(o->latency_sum_us, e->latency_us);
	if (e->cached)
		OBS_INC(o->cached);
	if (e->stale)
		OBS_INC(o->stale);
	if (e->rule_ref >= 0 && e->verdict != POLICY_PASS) {
		pthread_mutex_lock(&o->lock);
		obs_rule *x = &o->rules[e->rule_ref];
		switch (e->verdict) {
		case POLICY_BLOCK: x->blocked++; x->cloaked += e->cloaked; break;
		case POLICY_AUDIT: x->audited++; break;
		case POLICY_EXEMPT: x->exempt++; break;
		case POLICY_PASS: break;
		}
		pthread_mutex_unlock(&o->lock);
	}
}

void obs_upstream(worker *w, int up, obs_up_result res, uint64_t rtt_us)
{
	obs_worker *o = w->obs;
	if (up < 0 || (size_t)up >= o->n_up)
		return;
	obs_upstream_stats *u = &o->up[up];
	switch (res) {
	case OBS_UP_OK:
	case OBS_UP_RCODE:
		if (res == OBS_UP_OK)
			OBS_INC(u->ok);
		else
			OBS_INC(u->bad_rcode);
		for (size_t b = 0; b < OBS_LAT_BUCKETS; b++) {
			if (rtt_us <= obs_lat_bounds_us[b]) {
				OBS_INC(u->lat[b]);
				break;
			}
		}
		OBS_ADD(u->lat_sum_us, rtt_us);
		break;
	case OBS_UP_TIMEOUT: OBS_INC(u->timeouts); break;
	case OBS_UP_ERROR: OBS_INC(u->errors); break;
	}
}
