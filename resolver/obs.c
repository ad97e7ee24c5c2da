/*
 * obs.c: per-worker counters of answered queries and upstream attempts.
 *
 * The hot path increments plain counters that only its worker writes; the
 * HTTP thread reads them with relaxed atomic loads (OBS_INC stores with a
 * relaxed atomic store, which on x86 is an ordinary mov: no locked
 * instruction per query). Rule counters live in a growable array, so
 * growing it (a rule seen for the first time) and reading it take the
 * worker's obs lock; its counters are plain counters like the rest (only
 * this worker moves the array, under the lock, so it may bump them
 * without). So that a burst of queries that change a table pays for one
 * lock, not one per query, the worker keeps the lock from the first such
 * query until the end of that loop pass (obs_hold): an event activated then
 * runs after every callback already queued, and releases it. A reader waits
 * at most one pass.
 *
 * The exposure table (per client and vendor) is touched by every query a
 * rule decided: a hash of indices into one array, and a recency list
 * through it whose tail is evicted when the table is full. A query that no
 * rule decided never reaches it. Its shape (entries, links, rule lists)
 * changes under the lock; a query whose entry is already the most recent
 * one, its rule already listed, only bumps that entry's counters and times,
 * with relaxed stores, so a run of one client's lookups of one vendor takes
 * no lock at all (the common case: a blocked tracker asked again and again).
 */
#include "resolver/obs.h"
#include "resolver/qlog.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#define EXPO_NIL UINT32_MAX

static void obs_release(evutil_socket_t fd, short what, void *arg)
{
	obs_worker *o = arg;
	(void)fd;
	(void)what;
	if (__atomic_load_n(&o->held, __ATOMIC_RELAXED)) {
		__atomic_store_n(&o->held, false, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&o->lock);
	}
}

/* Takes the lock for the rest of this loop pass, if not held already. */
static void obs_hold(obs_worker *o)
{
	if (__atomic_load_n(&o->held, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&o->lock);
	o->holder = pthread_self();
	__atomic_store_n(&o->held, true, __ATOMIC_RELAXED);
	event_active(o->release_ev, EV_READ, 0);
}

/* For the readers: false when this very thread holds the lock already (HTTP
 * runs on worker 0's loop, maybe in the pass that took it). Only the holder
 * can see held set with itself as holder, so the racy look is safe. */
static bool obs_lock_reader(obs_worker *o)
{
	if (__atomic_load_n(&o->held, __ATOMIC_RELAXED) && pthread_equal(o->holder, pthread_self()))
		return false;
	pthread_mutex_lock(&o->lock);
	return true;
}

obs_worker *obs_worker_new(struct event_base *base, size_t n_upstreams, size_t exposure_max)
{
	obs_worker *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->release_ev = event_new(base, -1, 0, obs_release, o);
	o->up = calloc(n_upstreams ? n_upstreams : 1, sizeof(*o->up));
	if (exposure_max > EXPO_NIL - 1)
		exposure_max = EXPO_NIL - 1;
	obs_expo_table *t = &o->expo;
	t->max = exposure_max;
	t->head = t->tail = EXPO_NIL;
	if (exposure_max) {
		/* a load factor of at most 1; the entries grow on demand */
		uint32_t nb = 16;
		while (nb < exposure_max)
			nb *= 2;
		t->mask = nb - 1;
		t->buckets = malloc(nb * sizeof(*t->buckets));
		if (t->buckets)
			memset(t->buckets, 0xff, nb * sizeof(*t->buckets));
	}
	if (!o->up || !o->release_ev || (exposure_max && !t->buckets)) {
		if (o->release_ev)
			event_free(o->release_ev);
		free(o->up);
		free(t->buckets);
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
	free(o->expo.v);
	free(o->expo.buckets);
	free(o->up);
	obs_release(-1, 0, o);  /* a query answered after the loop's last pass */
	event_free(o->release_ev);
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
	x->vendor_ref = (int)o->n_rules;
	for (size_t i = 0; i < o->n_rules; i++) {
		if (!strcmp(o->rules[i].vendor, x->vendor)) {
			x->vendor_ref = o->rules[i].vendor_ref;
			break;
		}
	}
	return (int)o->n_rules++;
}

/* obs_rule_ref (obs.h) when the memo does not have r. */
int obs_rule_ref_slow(worker *w, const policy_rule *r)
{
	obs_worker *o = w->obs;
	size_t slot = ((uintptr_t)r >> 4) % (sizeof(o->memo) / sizeof(o->memo[0]));
	obs_hold(o);
	int ref = rule_intern(o, r);
	if (ref >= 0) {
		o->memo[slot].r = r;
		o->memo[slot].ref = ref;
	}
	return ref;
}

static size_t ip_len(const cfg_ip *ip)
{
	return ip->family == 4 ? 4 : 16;
}

static inline uint64_t expo_word(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* The address as two words; octets past an IPv4 address do not count. */
static inline void expo_key(const cfg_ip *ip, uint64_t k[2])
{
	if (ip->family == 4) {
		uint8_t b[8] = { 0 };
		memcpy(b, ip->addr, 4);   /* as stored: the rest zeroed */
		k[0] = expo_word(b);
		k[1] = 0;
	} else {
		k[0] = expo_word(ip->addr);
		k[1] = expo_word(ip->addr + 8);
	}
}

/* One multiply per query: the table is bounded and evicts, so a client
 * spreading its own addresses cannot grow a chain past its share. */
static uint32_t expo_hash(const cfg_ip *ip, int vendor_ref)
{
	uint64_t k[2];
	expo_key(ip, k);
	unsigned __int128 r = (unsigned __int128)(k[0] ^ 0x9E3779B97F4A7C15ull ^ (uint64_t)ip->family << 56) *
			      (k[1] ^ 0xA0761D6478BD642Full ^ (uint64_t)(uint32_t)vendor_ref << 32);
	uint64_t h = (uint64_t)r ^ (uint64_t)(r >> 64);
	return (uint32_t)(h ^ h >> 32);
}

static void lru_unlink(obs_expo_table *t, uint32_t i)
{
	obs_expo *x = &t->v[i];
	if (x->prev != EXPO_NIL)
		t->v[x->prev].next = x->next;
	else
		t->head = x->next;
	if (x->next != EXPO_NIL)
		t->v[x->next].prev = x->prev;
	else
		t->tail = x->prev;
}

static void lru_push(obs_expo_table *t, uint32_t i)
{
	obs_expo *x = &t->v[i];
	x->prev = EXPO_NIL;
	x->next = t->head;
	if (t->head != EXPO_NIL)
		t->v[t->head].prev = i;
	t->head = i;
	if (t->tail == EXPO_NIL)
		t->tail = i;
}

/* Takes entry i out of its hash bucket. */
static void chain_unlink(obs_expo_table *t, uint32_t i)
{
	uint32_t *p = &t->buckets[expo_hash(&t->v[i].client, t->v[i].vendor_ref) & t->mask];
	while (*p != EXPO_NIL && *p != i)
		p = &t->v[*p].chain;
	if (*p == i)
		*p = t->v[i].chain;
}

/* The entry of (client, vendor): found, new, or the least recently seen one
 * recycled. EXPO_NIL only when out of memory. Caller holds the lock. */
static uint32_t expo_find(obs_expo_table *t, const cfg_ip *ip, int vendor_ref, int64_t now)
{
	uint64_t k[2];
	expo_key(ip, k);
	/* the most recently seen first: a client's lookups of one vendor come
	 * in runs, and the head needs no hash and no relinking */
	if (t->head != EXPO_NIL) {
		const obs_expo *x = &t->v[t->head];
		if (x->vendor_ref == vendor_ref && x->client.family == ip->family &&
		    expo_word(x->client.addr) == k[0] && expo_word(x->client.addr + 8) == k[1])
			return t->head;
	}
	uint32_t *bucket = &t->buckets[expo_hash(ip, vendor_ref) & t->mask];
	for (uint32_t i = *bucket; i != EXPO_NIL; i = t->v[i].chain) {
		obs_expo *x = &t->v[i];
		/* stored addresses have their unused octets zeroed */
		if (x->vendor_ref == vendor_ref && x->client.family == ip->family &&
		    expo_word(x->client.addr) == k[0] && expo_word(x->client.addr + 8) == k[1]) {
			if (t->head != i) {
				lru_unlink(t, i);
				lru_push(t, i);
			}
			return i;
		}
	}
	uint32_t i;
	if (t->n < t->max) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			if (cap > t->max)
				cap = t->max;
			obs_expo *v = realloc(t->v, cap * sizeof(*v));
			if (!v)
				return EXPO_NIL;
			t->v = v;
			t->cap = cap;
		}
		i = (uint32_t)t->n++;
	} else {
		i = t->tail;  /* the least recently seen makes room */
		lru_unlink(t, i);
		chain_unlink(t, i);
		OBS_INC(t->evicted);
	}
	obs_expo *x = &t->v[i];
	memset(x, 0, sizeof(*x));
	x->client.family = ip->family;
	memcpy(x->client.addr, ip->addr, ip_len(ip));
	x->vendor_ref = vendor_ref;
	x->first = x->last = now;
	x->chain = *bucket;
	*bucket = i;
	lru_push(t, i);
	return i;
}

/* The head entry, if it is (ip, vendor_ref)'s; else EXPO_NIL. Stored
 * addresses have their unused octets zeroed, so an IPv4 one compares in
 * its 4. */
static inline uint32_t expo_head(const obs_expo_table *t, const cfg_ip *ip, int vendor_ref)
{
	if (t->head == EXPO_NIL)
		return EXPO_NIL;
	const obs_expo *x = &t->v[t->head];
	if (x->vendor_ref != vendor_ref || x->client.family != ip->family)
		return EXPO_NIL;
	bool same = ip->family == 4 ? !memcmp(x->client.addr, ip->addr, 4)
				    : expo_word(x->client.addr) == expo_word(ip->addr) &&
				      expo_word(x->client.addr + 8) == expo_word(ip->addr + 8);
	return same ? t->head : EXPO_NIL;
}

/* Whether counting rule_ref in x needs no change to its rule list. */
static inline bool expo_listed(const obs_expo *x, int rule_ref)
{
	for (size_t k = 0; k < x->n_rules; k++)
		if (x->rules[k] == rule_ref)
			return true;
	return x->n_rules == OBS_EXPO_RULES;
}

/* Counts a query in entry x (the lock is not needed: see the top). */
static inline void expo_count(obs_expo *x, policy_verdict verdict, int64_t now)
{
	if (now > x->last)
		__atomic_store_n(&x->last, now, __ATOMIC_RELAXED);
	if (now < x->first)
		__atomic_store_n(&x->first, now, __ATOMIC_RELAXED);  /* the wall clock stepped back */
	switch (verdict) {
	case POLICY_BLOCK: OBS_INC(x->blocked); break;
	case POLICY_AUDIT: OBS_INC(x->audited); break;
	case POLICY_EXEMPT: OBS_INC(x->exempt); break;
	case POLICY_PASS: break;
	}
}

/* expo_touch when the table's shape changes: under the lock. */
static __attribute__((noinline)) void expo_touch_locked(obs_worker *o, const cfg_ip *ip,
							 int rule_ref, policy_verdict verdict,
							 int64_t now)
{
	obs_expo_table *t = &o->expo;
	obs_hold(o);
	uint32_t i = expo_find(t, ip, o->rules[rule_ref].vendor_ref, now);
	if (i == EXPO_NIL)
		return;
	obs_expo *x = &t->v[i];
	expo_count(x, verdict, now);
	for (size_t k = 0; k < x->n_rules; k++)
		if (x->rules[k] == rule_ref)
			return;
	if (x->n_rules < OBS_EXPO_RULES)
		x->rules[x->n_rules++] = rule_ref;
}

/* Counts a rule-decided query for its client and the rule's vendor: without
 * the lock when only the head entry's counters change (see the top). */
static inline void expo_touch(obs_worker *o, const cfg_ip *ip, int rule_ref, policy_verdict verdict,
			      int64_t now)
{
	obs_expo_table *t = &o->expo;
	if (!t->max || !ip)
		return;
	uint32_t i = expo_head(t, ip, o->rules[rule_ref].vendor_ref);
	if (i == EXPO_NIL || !expo_listed(&t->v[i], rule_ref)) {
		expo_touch_locked(o, ip, rule_ref, verdict, now);
		return;
	}
	expo_count(&t->v[i], verdict, now);
}

void obs_rule_hit(worker *w, const cfg_ip *ip, int rule_ref, policy_verdict verdict,
		  bool cloaked, int64_t now)
{
	obs_worker *o = w->obs;
	obs_rule *x = &o->rules[rule_ref];
	switch (verdict) {
	case POLICY_BLOCK:
		OBS_INC(x->blocked);
		if (cloaked)
			OBS_INC(x->cloaked);
		break;
	case POLICY_AUDIT: OBS_INC(x->audited); break;
	case POLICY_EXEMPT: OBS_INC(x->exempt); break;
	case POLICY_PASS: break;
	}
	expo_touch(o, ip, rule_ref, verdict, now);
}

void obs_query_more(worker *w, const query_event *e)
{
	obs_worker *o = w->obs;
	if (e->ratelimited) {
		OBS_INC(o->ratelimited);
		if (e->dropped) {
			qlog_write(w, e);
			return;
		}
	}
	OBS_INC(o->answers[e->t][e->rcode < OBS_RCODES ? e->rcode : OBS_RCODES - 1]);
	OBS_ADD(o->latency_sum_us, e->latency_us);
	if (e->cached)
		OBS_INC(o->cached);
	if (e->stale)
		OBS_INC(o->stale);
	if (e->rule_ref >= 0 && e->verdict != POLICY_PASS)
		obs_rule_hit(w, e->client, e->rule_ref, e->verdict, e->cloaked, e->now);
	qlog_write(w, e);
}

void obs_upstream_tls(worker *w, int up, bool resumed)
{
	obs_worker *o = w->obs;
	if (up < 0 || (size_t)up >= o->n_up)
		return;
	OBS_INC(o->up[up].tls_handshakes);
	if (resumed)
		OBS_INC(o->up[up].tls_resumed);
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
		__atomic_store_n(&o->last_reply_ms, worker_mono_ms(), __ATOMIC_RELAXED);
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

uint64_t obs_last_reply_ms(const obs_worker *o)
{
	return __atomic_load_n(&o->last_reply_ms, __ATOMIC_RELAXED);
}

/* Grows *rows to hold one more; the new row is zeroed. NULL: no memory. */
static void *row_add(void **rows, size_t *n, size_t *cap, size_t size)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		void *v = realloc(*rows, c * size);
		if (!v)
			return NULL;
		*rows = v;
		*cap = c;
	}
	void *r = (char *)*rows + (*n)++ * size;
	memset(r, 0, size);
	return r;
}

int obs_rules_collect(obs_worker *o, obs_rule_row **rows, size_t *n, size_t *cap)
{
	int rc = 0;
	bool locked = obs_lock_reader(o);
	for (size_t i = 0; i < o->n_rules; i++) {
		const obs_rule *x = &o->rules[i];
		obs_rule_row *r = NULL;
		for (size_t k = 0; k < *n && !r; k++)
			if (!strcmp((*rows)[k].rule, x->rule) && !strcmp((*rows)[k].vendor, x->vendor))
				r = &(*rows)[k];
		if (!r) {
			r = row_add((void **)rows, n, cap, sizeof(**rows));
			if (!r) {
				rc = -1;
				break;
			}
			r->vendor = x->vendor;
			r->rule = x->rule;
			r->action = x->action;
		}
		/* the worker bumps these without the lock (see the top) */
		r->blocked += __atomic_load_n(&x->blocked, __ATOMIC_RELAXED);
		r->audited += __atomic_load_n(&x->audited, __ATOMIC_RELAXED);
		r->exempt += __atomic_load_n(&x->exempt, __ATOMIC_RELAXED);
		r->cloaked += __atomic_load_n(&x->cloaked, __ATOMIC_RELAXED);
	}
	if (locked)
		pthread_mutex_unlock(&o->lock);
	return rc;
}

int obs_expo_collect(obs_worker *o, obs_expo_row **rows, size_t *n, size_t *cap)
{
	int rc = 0;
	bool locked = obs_lock_reader(o);
	const obs_expo_table *t = &o->expo;
	for (size_t i = 0; i < t->n; i++) {
		const obs_expo *x = &t->v[i];
		obs_expo_row *r = row_add((void **)rows, n, cap, sizeof(**rows));
		if (!r) {
			rc = -1;
			break;
		}
		r->client = x->client;
		r->vendor = o->rules[x->vendor_ref].vendor;
		/* the worker bumps these without the lock (see the top) */
		r->first = __atomic_load_n(&x->first, __ATOMIC_RELAXED);
		r->last = __atomic_load_n(&x->last, __ATOMIC_RELAXED);
		r->audited = __atomic_load_n(&x->audited, __ATOMIC_RELAXED);
		r->blocked = __atomic_load_n(&x->blocked, __ATOMIC_RELAXED);
		r->exempt = __atomic_load_n(&x->exempt, __ATOMIC_RELAXED);
		for (size_t k = 0; k < x->n_rules; k++)
			r->rules[k] = o->rules[x->rules[k]].rule;
		r->n_rules = x->n_rules;
	}
	if (locked)
		pthread_mutex_unlock(&o->lock);
	return rc;
}

static int ip_cmp(const cfg_ip *a, const cfg_ip *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, ip_len(a));
}

static int by_key(const void *pa, const void *pb)
{
	const obs_expo_row *a = pa, *b = pb;
	int c = ip_cmp(&a->client, &b->client);
	return c ? c : strcmp(a->vendor, b->vendor);
}

static int by_recency(const void *pa, const void *pb)
{
	const obs_expo_row *a = pa, *b = pb;
	if (a->last != b->last)
		return a->last > b->last ? -1 : 1;
	return by_key(pa, pb);
}

size_t obs_expo_merge(obs_expo_row *rows, size_t n)
{
	if (!n)
		return 0;
	qsort(rows, n, sizeof(*rows), by_key);
	size_t out = 0;
	for (size_t i = 1; i < n; i++) {
		obs_expo_row *a = &rows[out], *b = &rows[i];
		if (by_key(a, b)) {
			rows[++out] = *b;
			continue;
		}
		a->audited += b->audited;
		a->blocked += b->blocked;
		a->exempt += b->exempt;
		if (b->first < a->first)
			a->first = b->first;
		if (b->last > a->last)
			a->last = b->last;
		for (size_t k = 0; k < b->n_rules; k++) {
			bool seen = false;
			for (size_t j = 0; j < a->n_rules && !seen; j++)
				seen = !strcmp(a->rules[j], b->rules[k]);
			if (!seen && a->n_rules < OBS_EXPO_RULES)
				a->rules[a->n_rules++] = b->rules[k];
		}
	}
	n = out + 1;
	qsort(rows, n, sizeof(*rows), by_recency);
	return n;
}

size_t obs_expo_count(obs_worker *o)
{
	bool locked = obs_lock_reader(o);
	size_t n = o->expo.n;
	if (locked)
		pthread_mutex_unlock(&o->lock);
	return n;
}

uint64_t obs_expo_evicted(const obs_worker *o)
{
	return __atomic_load_n(&o->expo.evicted, __ATOMIC_RELAXED);
}
