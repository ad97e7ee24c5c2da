/*
 * worker.c: one event loop and everything it owns: listeners, TCP
 * connections, the forwarding table. Other threads ask things of a worker
 * (reload, re-arm, stop) through its mailbox: bits in an atomic word and an
 * eventfd that wakes the loop, handled in the worker's own thread. So the
 * event base is only ever touched by its own thread and runs without locks,
 * which the query path would otherwise take several times per batch.
 * Stopping: close the listeners, let in-flight queries finish for up to a
 * second, leave the loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "resolver/cache.h"
#include "resolver/daemon.h"
#include "resolver/fwd.h"
#include "resolver/listen_tcp.h"
#include "resolver/listen_tls.h"
#include "resolver/listen_udp.h"
#include "resolver/log.h"
#include "resolver/obs.h"
#include "resolver/ratelimit.h"
#include "resolver/watch.h"
#include "resolver/xfr.h"

#define STOP_GRACE_MS 1000

/* Milliseconds of the monotonic clock since clock_mono0. */
static int64_t mono_elapsed_ms(const daemon_ctx *d)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)(ts.tv_sec - d->clock_mono0.tv_sec) * 1000 +
	       (ts.tv_nsec - d->clock_mono0.tv_nsec) / 1000000;
}

int64_t daemon_now_ms(const daemon_ctx *d)
{
	if (d->clock_pinned)
		return d->clock_at * 1000 + mono_elapsed_ms(d);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t real = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (real >= d->clock_floor * 1000)
		return real;  /* the common case: one comparison */
	/* Below the floor: run on from the floor since the start (fail closed). */
	int64_t floor = d->clock_floor * 1000 + mono_elapsed_ms(d);
	return real > floor ? real : floor;
}

/* Whole seconds of a daemon_now_ms() reading, rounded down. */
static int64_t ms_to_s(int64_t ms)
{
	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

int64_t daemon_now(const daemon_ctx *d)
{
	return ms_to_s(daemon_now_ms(d));
}

static void on_policy_timer(evutil_socket_t fd, short what, void *arg);

/* Arms the timer for the next instant at which a rule starts or ends, so
 * that what depends on decisions (the cache) follows the policy at once.
 * now_ms is the instant the worker's state was last brought up to date:
 * libevent's coarse clock may fire the timer a few milliseconds early, and
 * a fresh reading taken here could then lie past the change the callback
 * has not seen yet, which would be skipped for good. */
static void arm_policy_timer(worker *w, int64_t now_ms)
{
	int64_t next = policy_next_change(w->pol, ms_to_s(now_ms));
	w->plain_from = ms_to_s(now_ms);
	w->plain_until = next;
	if (next == CFG_TIME_NEVER)
		return;
	int64_t delay = next * 1000 - now_ms;
	if (delay < 0)
		delay = 0;
	if (delay > 86400000)
		delay = 86400000;  /* re-armed daily: no timeval overflow, and a re-check */
	struct timeval tv = { .tv_sec = (time_t)(delay / 1000), .tv_usec = (suseconds_t)(delay % 1000) * 1000 };
	evtimer_add(w->policy_timer, &tv);
}

static void on_policy_timer(evutil_socket_t fd, short what, void *arg)
{
	worker *w = arg;
	(void)fd;
	(void)what;
	int64_t now_ms = daemon_now_ms(w->d);
	int64_t now = ms_to_s(now_ms);
	if (w->id == 0) {
		/* Every instant since the last look, once: a timer late by more
		 * than a second (a loaded machine) must not lose the line. */
		int64_t seen = w->plain_from;
		char t[CFG_TIME_BUF];
		const policy *p = w->pol;
		for (size_t i = 0; i < policy_rule_count(p); i++) {
			const policy_rule *r = policy_rule_at(p, i);
			if (r->effective > seen && r->effective <= now)
				log_info("policy", "%s: %s/%s takes effect (%s)",
					 cfg_time_format(r->effective, t), r->vendor->id, r->id,
					 cfg_action_name(r->action));
			if (r->until > seen && r->until <= now)
				log_info("policy", "%s: %s/%s ends", cfg_time_format(r->until, t),
					 r->vendor->id, r->id);
		}
	}
	worker_policy_changed(w);
	if (w->id == 0)
		daemon_state_save(w->d);  /* a cutoff passed: raise the floor to it */
	arm_policy_timer(w, now_ms);
}

void worker_send(worker *w, const client *c, const uint8_t *pkt, size_t len)
{
	if (c->t == TRANSPORT_UDP)
		udp_send(w, c, pkt, len);
	else
		tcp_conn_send(c->conn, pkt, len);
}

void worker_maybe_exit(worker *w)
{
	if (w->stopping && !fwd_inflight(w->fwd))
		event_base_loopexit(w->base, NULL);
}

uint64_t worker_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void worker_tick_begin(worker *w)
{
	w->tick.now = daemon_now(w->d);
	w->tick.mono_us = obs_now_us();
	w->tick.mono_ms = worker_mono_ms();
	w->tick.valid = true;
}

void worker_batch_begin(worker *w)
{
	worker_tick_begin(w);
	w->batching = true;
}

void worker_batch_end(worker *w)
{
	/* Queries first: a send that fails may answer its clients (SERVFAIL),
	 * and those answers join the queue flushed next. */
	fwd_flush(w->fwd);
	udp_flush_all(w);
	w->batching = false;
	worker_tick_end(w);
}

uint64_t worker_us_now(void)
{
	return obs_now_us();
}

void worker_policy_changed(worker *w)
{
	/* A cached answer may hold a CNAME chain into a name that is now
	 * blocked, or be a plain entry whose hits skip the policy walk. */
	cache_flush(w->cache);
	w->policy_epoch++;
	if (w->id == 0)
		xfr_policy_changed(w->d->xfr);  /* the RPZ zone may change too */
}

/* The rate limiter `c` asks for: the one this worker has when its options
 * are the same (the buckets are kept), else a new one, or none. A table
 * that cannot be made leaves the worker unlimited, and says so. */
static void worker_take_ratelimit(worker *w, const cfg *c)
{
	const cfg_ratelimit *rc = &c->ratelimit;
	ratelimit_opts o = {
		.qps = rc->qps,
		.burst = rc->burst,
		.ipv4_prefix = rc->ipv4_prefix,
		.ipv6_prefix = rc->ipv6_prefix,
		.entries = rc->entries,
	};
	if (rc->on && ratelimit_same(w->rl, &o))
		return;
	ratelimit_free(w->rl);
	w->rl = NULL;
	if (!rc->on)
		return;
	if (getrandom(o.seed, sizeof(o.seed), 0) != (ssize_t)sizeof(o.seed))
		o.seed[0] = (uint64_t)arc4random() << 32 | arc4random();
	w->rl = ratelimit_new(&o);
	if (!w->rl)
		log_err("ratelimit", "worker %u: out of memory for %u buckets: not rate limiting",
			w->id, rc->entries);
}

/* A reload: take over the daemon's new config and policy, then tell the
 * main thread when this was the last worker to do so. */
static void worker_reload(worker *w)
{
	daemon_ctx *d = w->d;
	w->cfg = d->cfg;
	w->pol = d->pol;
	tls_worker_take_ctx(w);  /* a reloaded certificate, for new connections */
	worker_take_ratelimit(w, w->cfg);
	obs_worker_policy_changed(w->obs);  /* old rule pointers may be reused */
	cache_set_minimal(w->cache, w->cfg->minimal_responses);
	worker_policy_changed(w);
	evtimer_del(w->policy_timer);
	arm_policy_timer(w, daemon_now_ms(w->d));
	if (atomic_fetch_sub(&d->reload_acks, 1) == 1)
		worker_post(d->workers[0], WORKER_MAIL_RECLAIM);
}

/* The wall clock was set: the next cutoff is nearer or farther than the
 * timer thinks. */
static void worker_rearm(worker *w)
{
	worker_policy_changed(w);  /* plain entries were vouched for another time */
	evtimer_del(w->policy_timer);
	arm_policy_timer(w, daemon_now_ms(w->d));
}

static cache *worker_cache(const daemon_ctx *d)
{
	const cfg *c = d->cfg;
	size_t n = d->n_workers ? d->n_workers : 1;
	cache_opts o = {
		.entries = c->cache.entries ? (uint32_t)((c->cache.entries + n - 1) / n) : 0,
		.min_ttl = c->cache.min_ttl,
		.max_ttl = c->cache.max_ttl,
		.servfail_ttl = 5,   /* RFC 9520 */
		.stale_max = c->cache.stale_max,
		.minimal = c->minimal_responses,
	};
	if (getrandom(o.seed, sizeof(o.seed), 0) != (ssize_t)sizeof(o.seed))
		o.seed[0] = (uint64_t)arc4random() << 32 | arc4random();
	return cache_new(&o);
}

/* This worker's share of exposure-clients, rounded up (so the daemon may
 * hold up to n_workers - 1 more than the setting). */
static size_t worker_expo_max(const daemon_ctx *d)
{
	size_t n = d->n_workers ? d->n_workers : 1;
	return (d->cfg->exposure_clients + n - 1) / n;
}

static void close_listeners(worker *w)
{
	for (size_t i = 0; i < w->n_udp; i++)
		udp_listener_free(w->udp[i]);
	for (size_t i = 0; i < w->n_tcp; i++)
		tcp_server_free(w->tcp[i]);
	for (size_t i = 0; i < w->n_tls; i++)
		tcp_server_free(w->tls[i]);
	w->n_udp = w->n_tcp = w->n_tls = 0;
}

static void on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	worker *w = arg;
	(void)fd;
	(void)what;
	event_base_loopexit(w->base, NULL);
}

static void worker_stop(worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	close_listeners(w);
	struct timeval grace = { .tv_sec = STOP_GRACE_MS / 1000,
				 .tv_usec = (STOP_GRACE_MS % 1000) * 1000 };
	w->stop_timer = evtimer_new(w->base, on_stop_timer, w);
	if (w->stop_timer)
		evtimer_add(w->stop_timer, &grace);
	worker_maybe_exit(w);
}

static void on_mail(evutil_socket_t fd, short what, void *arg)
{
	worker *w = arg;
	uint64_t n;
	(void)what;
	/* EAGAIN: a wakeup already consumed, its bits handled with an earlier one */
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	/* seq_cst: what the poster wrote before posting (d->cfg, d->pol) is seen */
	unsigned m = atomic_exchange(&w->mail, 0u);
	if (m & WORKER_MAIL_RELOAD)
		worker_reload(w);
	if (m & WORKER_MAIL_REARM)
		worker_rearm(w);
	if (m & WORKER_MAIL_RECLAIM)
		reload_reclaim(w->d);
	if (m & WORKER_MAIL_STOP)
		worker_stop(w);
}

void worker_post(worker *w, unsigned mail)
{
	atomic_fetch_or(&w->mail, mail);
	uint64_t one = 1;
	/* fails only with the counter near its maximum: a wakeup is pending then */
	ssize_t r = write(w->mail_fd, &one, sizeof(one));
	(void)r;
}

static int open_listeners(worker *w, bool reuseport, char *err, size_t errlen)
{
	const cfg *c = w->cfg;
	size_t n = c->n_listen ? c->n_listen : 1;
	w->udp = calloc(n, sizeof(*w->udp));
	w->tcp = calloc(n, sizeof(*w->tcp));
	if (!w->udp || !w->tcp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < c->n_listen; i++) {
		udp_listener *u = udp_listener_new(w, &c->listen[i], err, errlen);
		if (!u)
			return -1;
		w->udp[w->n_udp++] = u;
		tcp_server *t = tcp_server_new(w, &c->listen[i], reuseport, err, errlen);
		if (!t)
			return -1;
		w->tcp[w->n_tcp++] = t;
	}
	if (c->tls.n_listen && !(w->tls = calloc(c->tls.n_listen, sizeof(*w->tls)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < c->tls.n_listen; i++) {
		tcp_server *t = tls_server_new(w, &c->tls.listen[i], reuseport, err, errlen);
		if (!t)
			return -1;
		w->tls[w->n_tls++] = t;
	}
	return 0;
}

/*
 * The worker's event base. With epoll's changelist, an event added and
 * deleted again within one loop pass costs no system call: TCP and TLS
 * connections write their answers in the pass that produced them
 * (listen_tcp.c), so their write event comes and goes without an
 * epoll_ctl. The changelist's one caveat, descriptors shared through dup(),
 * does not apply: embargo never dups a socket.
 */
static struct event_base *worker_base_new(void)
{
	struct event_config *ec = event_config_new();
	if (!ec)
		return NULL;
	/* NOLOCK: only the worker's thread touches its base (the mailbox) */
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	struct event_base *base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

worker *worker_new(daemon_ctx *d, unsigned id, bool reuseport, char *err, size_t errlen)
{
	worker *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->d = d;
	w->id = id;
	w->mail_fd = -1;
	w->out = w->out_own;
	w->cfg = d->cfg;
	w->pol = d->pol;
	w->tcp_max_conns = TCP_MAX_CONNS / (d->n_workers ? d->n_workers : 1);
	w->base = worker_base_new();
	if (!w->base || !(w->fwd = fwd_new(w)) ||
	    (w->mail_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    !(w->mail_ev = event_new(w->base, w->mail_fd, EV_READ | EV_PERSIST, on_mail, w)) ||
	    event_add(w->mail_ev, NULL) < 0 ||
	    !(w->policy_timer = evtimer_new(w->base, on_policy_timer, w)) ||
	    !(w->cache = worker_cache(d)) ||
	    !(w->obs = obs_worker_new(w->base, d->n_upstreams, worker_expo_max(d)))) {
		snprintf(err, errlen, "out of memory");
		worker_free(w);
		return NULL;
	}
	if (open_listeners(w, reuseport, err, errlen) < 0) {
		worker_free(w);
		return NULL;
	}
	worker_take_ratelimit(w, w->cfg);
	arm_policy_timer(w, daemon_now_ms(w->d));
	return w;
}

void *worker_run(void *arg)
{
	worker *w = arg;
	event_base_dispatch(w->base);
	return NULL;
}

void worker_free(worker *w)
{
	if (!w)
		return;
	close_listeners(w);
	free(w->udp);
	free(w->tcp);
	free(w->tls);
	tcp_close_all(w);
	tls_ctx_free(w->tls_ctx);
	fwd_free(w->fwd);
	cache_free(w->cache);
	obs_worker_free(w->obs);
	ratelimit_free(w->rl);
	if (w->mail_ev)
		event_free(w->mail_ev);
	if (w->mail_fd >= 0)
		close(w->mail_fd);
	if (w->policy_timer)
		event_free(w->policy_timer);
	if (w->stop_timer)
		event_free(w->stop_timer);
	if (w->base)
		event_base_free(w->base);
	free(w);
}
