/*
 * fwd.c: requests in flight, their upstream attempts and failover.
 *
 * One fwd_req per distinct question (lower-cased name, type, class, and the
 * DO/CD/RD bits, which change the answer); clients asking the same question
 * meanwhile wait on it. Queries carrying EDNS options of their own are never
 * shared, since an option (ECS, say) may change the answer.
 *
 * An attempt goes out on one of the worker's pooled upstream sockets
 * (upsock.c: connected, random source ports that rotate, RFC 5452) with a
 * fresh random ID; a reply with TC set is asked again over TCP of the same
 * upstream. To a tls:// upstream it goes on one of the worker's DoT connections
 * instead (updot.c: a small pool of connections per upstream), with the same timer and
 * failover and no TC retry. A timeout, a socket or connection error, a malformed
 * reply over TCP or TLS, or an rcode other than NOERROR, NXDOMAIN and YXDOMAIN
 * (as Unbound's iterator: SERVFAIL, REFUSED, FORMERR, NOTIMP, ...) moves on to
 * the next upstream. A malformed datagram is ignored like a spoofed one: anyone
 * who guessed the port and ID could send it, so it must not end the attempt.
 * When all are spent, the clients get a stale answer if serve-stale has one,
 * else SERVFAIL with EDE 22; an upstream's own error answer is never passed on
 * nor cached.
 */
#include "resolver/fwd.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/cache.h"
#include "resolver/listen_tcp.h"
#include "resolver/log.h"
#include "resolver/query.h"
#include "resolver/tcp_frame.h"
#include "resolver/updot.h"
#include "resolver/upsock.h"

#define FWD_BUCKETS 16384           /* power of two */
#define FWD_MAX_WAITERS 65536       /* clients waiting, all requests together */
#define FWD_PKT_MAX 1500            /* a forwarded query; bigger ones are refused */
/* Nearly every forwarded query fits here (a 255-octet name and an OPT with
 * a few options); a request holds one per query in flight, and a stall at
 * a high query rate can put thousands in flight, whose memory then stays
 * resident: 1500 inline made a request 2.2 KiB, this makes it 1.1. */
#define FWD_PKT_INLINE 384
#define FWD_KEY_MAX (WIRE_NAME_MAX + 5)
#define FWD_SPARE_MAX 256           /* freed requests and waiters kept for reuse */

typedef struct fwd_waiter {
	struct fwd_waiter *next;
	client c;                  /* a TCP client holds a connection reference */
	wire_query q;              /* edns_opts cleared: the packet is gone */
	query_meta meta;           /* the policy's word, for counters and logs */
} fwd_waiter;

typedef struct fwd_req {
	struct fwd_req *hnext;     /* hash chain; NULL when not shared; the
				      spare list when spare */
	struct fwd_req *next, *prev; /* every request, for shutdown */
	fwd *f;
	uint32_t hash;
	bool shared;               /* in the table */
	size_t keylen;
	fwd_waiter *waiters;
	size_t pkt_len;
	size_t up;                 /* the upstream of the current attempt */
	uint16_t id;
	upsock_handle h;           /* UDP attempt in flight */
	updot_handle dh;           /* DoT attempt in flight */
	struct bufferevent *bev;   /* TCP attempt */
	uint64_t sent_us;          /* when the current attempt was sent */
	/* policy_epoch + 1 when the question passed for every client at the
	 * submit (no groups, inside the plain span); 0: not known. */
	uint64_t pass_epoch;
	/* Kept by a spare request: cleared on reuse only up to here. */
	struct event *ev_timer;    /* deadline of the current attempt */
	uint8_t *pkt_big;          /* owned, FWD_PKT_MAX octets or NULL: for a
				      query over FWD_PKT_INLINE */
	uint8_t *pkt;              /* the query sent, in pkt_small or pkt_big;
				      the ID changes per attempt */
	wire_query q;              /* the question as asked upstream */
	uint8_t key[FWD_KEY_MAX];
	uint8_t pkt_small[FWD_PKT_INLINE];
} fwd_req;

struct fwd {
	worker *w;
	fwd_req *buckets[FWD_BUCKETS];
	fwd_req *all;
	upsock_pool *pool;
	updot_pool *dot;
	size_t n_reqs, n_waiters;
	/* Freed requests (with their timer) and waiters, reused: malloc and
	 * free of both cost about 6% of the miss path in perf. */
	fwd_req *spare_reqs;
	fwd_waiter *spare_waiters;
	size_t n_spare_reqs, n_spare_waiters;
	uint8_t rbuf[WIRE_TCP_MAX];
};

static void attempt_start(fwd_req *r);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_sock_reply(void *owner, const uint8_t *pkt, size_t len);
static void on_sock_error(void *owner);
static void on_dot_reply(void *owner, const uint8_t *pkt, size_t len);
static void on_dot_error(void *owner);

fwd *fwd_new(worker *w)
{
	static const upsock_ops ops = { .reply = on_sock_reply, .error = on_sock_error };
	static const updot_ops dot_ops = { .reply = on_dot_reply, .error = on_dot_error };
	fwd *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->w = w;
	if (!(f->pool = upsock_pool_new(w, &ops))) {
		free(f);
		return NULL;
	}
	if (!(f->dot = updot_pool_new(w, &dot_ops))) {
		upsock_pool_free(f->pool);
		free(f);
		return NULL;
	}
	return f;
}

size_t fwd_inflight(const fwd *f)
{
	return f->n_reqs;
}

static uint32_t key_hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

/* Key: lower-cased qname, qtype, qclass, and the bits that change the answer. */
static size_t make_key(const wire_query *q, uint8_t key[FWD_KEY_MAX])
{
	memcpy(key, q->qname, q->qname_len);
	for (size_t i = 0; i < q->qname_len; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] += 'a' - 'A';
	size_t n = q->qname_len;
	key[n++] = q->qtype >> 8;
	key[n++] = q->qtype & 0xff;
	key[n++] = q->qclass >> 8;
	key[n++] = q->qclass & 0xff;
	key[n++] = (uint8_t)(q->edns_do | q->cd << 1 | q->rd << 2 | q->edns << 3);
	return n;
}

static void attempt_stop(fwd_req *r)
{
	upsock_release(r->f->pool, &r->h);
	updot_release(r->f->dot, &r->dh);
	if (r->bev) {
		bufferevent_free(r->bev);
		r->bev = NULL;
	}
	evtimer_del(r->ev_timer);
}

static void waiter_free(fwd *f, fwd_waiter *wt)
{
	if (wt->c.t != TRANSPORT_UDP)
		tcp_conn_unref(wt->c.conn);
	f->n_waiters--;
	if (f->n_spare_waiters < FWD_SPARE_MAX) {
		wt->next = f->spare_waiters;
		f->spare_waiters = wt;
		f->n_spare_waiters++;
		return;
	}
	free(wt);
}

static void req_unlink(fwd_req *r)
{
	if (!r->shared)
		return;
	fwd_req **pp = &r->f->buckets[r->hash & (FWD_BUCKETS - 1)];
	while (*pp && *pp != r)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = r->hnext;
	r->shared = false;
}

static void req_free(fwd_req *r)
{
	fwd *f = r->f;
	req_unlink(r);
	attempt_stop(r);
	while (r->waiters) {
		fwd_waiter *wt = r->waiters;
		r->waiters = wt->next;
		waiter_free(f, wt);
	}
	if (r->prev)
		r->prev->next = r->next;
	else
		f->all = r->next;
	if (r->next)
		r->next->prev = r->prev;
	f->n_reqs--;
	if (f->n_spare_reqs < FWD_SPARE_MAX) {  /* its timer was stopped above */
		r->hnext = f->spare_reqs;
		f->spare_reqs = r;
		f->n_spare_reqs++;
		return;
	}
	event_free(r->ev_timer);
	free(r->pkt_big);
	free(r);
}

/* Whether now lies in the span in which the policy decides the same for
 * every client and every instant (no groups, no rule starts or ends). */
static bool in_plain_span(worker *w)
{
	int64_t now = worker_now(w);
	return !w->cfg->n_groups && now >= w->plain_from && now < w->plain_until;
}

/* Whether the policy passes r's name for every client now and until the
 * worker's next policy change: then its cached answer may skip the walk. */
static bool passes_for_all(worker *w, const fwd_req *r)
{
	if (!in_plain_span(w))
		return false;
	if (r->pass_epoch == w->policy_epoch + 1)
		return true;  /* passed at the submit, in this same span: no second walk */
	policy_match m;
	policy_decide(w->pol, r->q.qname, r->q.qtype, NULL, worker_now(w), &m);
	return m.verdict == POLICY_PASS;
}

/* Answers every waiter with `reply` (or SERVFAIL when NULL) and ends r. */
static void req_finish(fwd_req *r, const uint8_t *reply, size_t len, const wire_reply *rep)
{
	fwd *f = r->f;
	worker *w = f->w;
	req_unlink(r);  /* nobody new may join while we answer */
	if (reply && r->q.rd) {
		if (passes_for_all(w, r))
			cache_insert_plain(w->cache, &r->q, reply, len, rep, worker_ms(w));
		else
			cache_insert(w->cache, &r->q, reply, len, rep, worker_ms(w));
	}
	int up = reply ? (int)r->up : -1;
	for (fwd_waiter *wt = r->waiters; wt; wt = wt->next) {
		if (reply)
			query_answer_reply(w, &wt->c, &wt->q, &wt->meta, up, reply, len, rep);
		else
			query_answer_failed(w, &wt->c, &wt->q, &wt->meta);
	}
	req_free(r);
	worker_maybe_exit(w);
}

static void next_upstream(fwd_req *r)
{
	attempt_stop(r);
	r->up++;
	if (r->up < r->f->w->d->n_upstreams) {
		attempt_start(r);
		return;
	}
	req_finish(r, NULL, 0, NULL);
}

/* Only these rcodes answer the question; any other (SERVFAIL, REFUSED,
 * FORMERR, NOTIMP, ...) says this upstream cannot (Unbound's iterator
 * draws the same line). */
static bool rcode_tries_next(uint16_t rcode)
{
	return rcode != WIRE_RCODE_NOERROR && rcode != WIRE_RCODE_NXDOMAIN &&
	       rcode != WIRE_RCODE_YXDOMAIN;
}

static void start_tcp(fwd_req *r);

/* The current attempt failed: count it, and try the next upstream. */
static void attempt_failed(fwd_req *r, obs_up_result res)
{
	obs_upstream(r->f->w, (int)r->up, res, worker_us(r->f->w) - r->sent_us);
	next_upstream(r);
}

/* A reply that passed wire_check_reply. */
static void on_reply(fwd_req *r, const uint8_t *pkt, size_t len, const wire_reply *rep, bool tcp)
{
	worker *w = r->f->w;
	w->stats.upstream_replies++;
	bool next = rcode_tries_next(rep->rcode);
	obs_upstream(w, (int)r->up, next ? OBS_UP_RCODE : OBS_UP_OK, worker_us(w) - r->sent_us);
	if (rep->tc && !tcp) {
		w->stats.tcp_fallback++;
		attempt_stop(r);
		start_tcp(r);
		return;
	}
	if (next) {
		next_upstream(r);
		return;
	}
	req_finish(r, pkt, len, rep);
}

/* A datagram (or a DoT message: tcp) with our ID on our socket or
 * connection: is it the answer to our question? */
static void on_upstream_reply(fwd_req *r, const uint8_t *pkt, size_t len, bool tcp)
{
	worker *w = r->f->w;
	wire_reply rep;
	int rc = wire_check_reply(pkt, len, r->id, r->q.qname, r->q.qtype, r->q.qclass, &rep);
	if (rc == WIRE_EMISMATCH) {
		w->stats.upstream_mismatch++;  /* not ours: keep waiting */
		return;
	}
	if (rc != WIRE_OK) {
		w->stats.upstream_errors++;
		if (tcp)   /* our own connection: the upstream is broken */
			attempt_failed(r, OBS_UP_ERROR);
		/* a datagram may be forged: keep waiting for the real reply */
		return;
	}
	on_reply(r, pkt, len, &rep, tcp);
}

static void on_sock_reply(void *owner, const uint8_t *pkt, size_t len)
{
	on_upstream_reply(owner, pkt, len, false);
}

/* Over TLS, TC means the answer is as big as it gets: no retry. */
static void on_dot_reply(void *owner, const uint8_t *pkt, size_t len)
{
	on_upstream_reply(owner, pkt, len, true);
}

/* The DoT connection of our attempt failed (refused, TLS or certificate
 * failure, closed). */
static void on_dot_error(void *owner)
{
	fwd_req *r = owner;
	r->dh.c = NULL;  /* the pool already took the slot back */
	attempt_failed(r, OBS_UP_ERROR);
}

/* The socket of our attempt failed (ICMP port unreachable, say). */
static void on_sock_error(void *owner)
{
	fwd_req *r = owner;
	r->h.s = NULL;  /* the pool already took the slot back */
	attempt_failed(r, OBS_UP_ERROR);
}

static void arm_timer(fwd_req *r)
{
	uint32_t ms = r->f->w->cfg->timeout_ms;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	evtimer_add(r->ev_timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	fwd_req *r = arg;
	(void)fd;
	(void)what;
	r->f->w->stats.upstream_timeouts++;
	attempt_failed(r, OBS_UP_TIMEOUT);
}

static void attempt_start(fwd_req *r)
{
	r->sent_us = worker_us(r->f->w);
	int rc = r->f->w->d->upstreams[r->up].tls
			 ? updot_send(r->f->dot, r->up, r->pkt, r->pkt_len, r, &r->dh, &r->id)
			 : upsock_send(r->f->pool, r->up, r->pkt, r->pkt_len, r, &r->h, &r->id);
	if (rc < 0) {
		attempt_failed(r, OBS_UP_ERROR);
		return;
	}
	arm_timer(r);
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	fwd_req *r = arg;
	worker *w = r->f->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	tcp_frame_status st = tcp_frame_pull(in, WIRE_HDR_LEN, r->f->rbuf, &len);
	if (st == TCP_FRAME_MORE)
		return;
	wire_reply rep;
	if (st == TCP_FRAME_BAD ||
	    wire_check_reply(r->f->rbuf, len, r->id, r->q.qname, r->q.qtype, r->q.qclass, &rep) !=
	    WIRE_OK) {
		w->stats.upstream_mismatch++;
		attempt_failed(r, OBS_UP_ERROR);
		return;
	}
	on_reply(r, r->f->rbuf, len, &rep, true);
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	fwd_req *r = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	r->f->w->stats.upstream_errors++;
	attempt_failed(r, OBS_UP_ERROR);
}

static void start_tcp(fwd_req *r)
{
	worker *w = r->f->w;
	const upstream *u = &w->d->upstreams[r->up];
	uint8_t len2[2] = { (uint8_t)(r->pkt_len >> 8), (uint8_t)r->pkt_len };

	r->id = (uint16_t)arc4random();
	wire_set_id(r->pkt, r->id);
	r->sent_us = worker_us(r->f->w);
	r->bev = bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!r->bev) {
		attempt_failed(r, OBS_UP_ERROR);
		return;
	}
	bufferevent_setcb(r->bev, on_tcp_read, NULL, on_tcp_event, r);
	bufferevent_write(r->bev, len2, 2);
	bufferevent_write(r->bev, r->pkt, r->pkt_len);
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(r->bev, (const struct sockaddr *)&u->sa, (int)u->salen) < 0) {
		w->stats.upstream_errors++;
		attempt_failed(r, OBS_UP_ERROR);
		return;
	}
	arm_timer(r);
}

static fwd_req *find_shared(fwd *f, uint32_t hash, const uint8_t *key, size_t keylen)
{
	for (fwd_req *r = f->buckets[hash & (FWD_BUCKETS - 1)]; r; r = r->hnext)
		if (r->hash == hash && r->keylen == keylen && !memcmp(r->key, key, keylen))
			return r;
	return NULL;
}

static void add_waiter(fwd *f, fwd_req *r, const client *c, const wire_query *q,
		       const query_meta *meta)
{
	fwd_waiter *wt = f->spare_waiters;
	if (wt) {
		f->spare_waiters = wt->next;
		f->n_spare_waiters--;
	} else if (!(wt = malloc(sizeof(*wt)))) {
		return;
	}
	wt->c = *c;
	wt->q = *q;
	wt->q.edns_opts = NULL;
	wt->q.edns_opts_len = 0;
	wt->meta = *meta;
	if (c->t != TRANSPORT_UDP)
		tcp_conn_ref(c->conn);
	wt->next = r->waiters;
	r->waiters = wt;
	f->n_waiters++;
}

/* A new request for q, in the table when shareable; not started yet.
 * NULL when out of memory or q cannot be forwarded. */
static fwd_req *req_new(fwd *f, const wire_query *q, const uint8_t *key, size_t keylen,
			uint32_t hash, bool shareable)
{
	fwd_req *r = f->spare_reqs;
	if (r) {
		f->spare_reqs = r->hnext;
		f->n_spare_reqs--;
		memset(r, 0, offsetof(fwd_req, ev_timer));  /* the buffers are written below */
	} else {
		if (!(r = calloc(1, sizeof(*r))))
			return NULL;
		if (!(r->ev_timer = evtimer_new(f->w->base, on_timer, r))) {
			free(r);
			return NULL;
		}
	}
	r->f = f;
	r->q = *q;
	r->q.edns_opts = NULL;
	r->q.edns_opts_len = 0;
	/* At most: header, question, OPT and the client's options (the
	 * builder leaves out an option that does not fit, so the buffer is
	 * chosen before, by this bound). */
	size_t need = WIRE_HDR_LEN + (size_t)q->qname_len + 4 + 11 +
		      (q->edns ? q->edns_opts_len : 0);
	r->pkt = r->pkt_small;
	if (need > sizeof(r->pkt_small) &&
	    (r->pkt_big || (r->pkt_big = malloc(FWD_PKT_MAX))))
		r->pkt = r->pkt_big;   /* the rare large query */
	r->pkt_len = wire_build_forward(q, 0, r->pkt,
					r->pkt == r->pkt_big ? FWD_PKT_MAX : sizeof(r->pkt_small));
	if (!r->pkt_len) {
		r->hnext = f->spare_reqs;  /* cannot be forwarded: back to the spares */
		f->spare_reqs = r;
		f->n_spare_reqs++;
		return NULL;
	}
	f->n_reqs++;
	r->next = f->all;
	if (f->all)
		f->all->prev = r;
	f->all = r;
	if (shareable) {
		memcpy(r->key, key, keylen);
		r->keylen = keylen;
		r->hash = hash;
		r->shared = true;
		size_t b = hash & (FWD_BUCKETS - 1);
		r->hnext = f->buckets[b];
		f->buckets[b] = r;
	}
	return r;
}

static void req_start(fwd_req *r)
{
	if (!r->f->w->d->n_upstreams)
		req_finish(r, NULL, 0, NULL);
	else
		attempt_start(r);
}

void fwd_submit(fwd *f, const client *c, const wire_query *q, const query_meta *meta)
{
	worker *w = f->w;
	if (f->n_waiters >= FWD_MAX_WAITERS) {
		w->stats.dropped++;  /* overload: shed, as a resolver's jostle does */
		return;
	}
	uint8_t key[FWD_KEY_MAX];
	size_t keylen = make_key(q, key);
	uint32_t hash = key_hash(key, keylen);
	bool shareable = q->edns_opts_len == 0;
	fwd_req *r = shareable ? find_shared(f, hash, key, keylen) : NULL;
	if (r) {
		w->stats.coalesced++;
		add_waiter(f, r, c, q, meta);
		return;
	}
	r = req_new(f, q, key, keylen, hash, shareable);
	if (!r) {
		query_answer_servfail(w, c, q, meta);
		return;
	}
	if (meta->verdict == POLICY_PASS && in_plain_span(w))
		r->pass_epoch = w->policy_epoch + 1;
	add_waiter(f, r, c, q, meta);  /* before the start: a failure answers at once */
	req_start(r);
}

void fwd_flush(fwd *f)
{
	upsock_flush(f->pool);
}

void fwd_prefetch(fwd *f, const wire_query *q)
{
	uint8_t key[FWD_KEY_MAX];
	size_t keylen = make_key(q, key);
	uint32_t hash = key_hash(key, keylen);
	bool shareable = q->edns_opts_len == 0;
	if (shareable && find_shared(f, hash, key, keylen))
		return;  /* already on its way */
	fwd_req *r = req_new(f, q, key, keylen, hash, shareable);
	if (r)
		req_start(r);  /* no waiter: the reply only refreshes the cache */
}

void fwd_free(fwd *f)
{
	if (!f)
		return;
	while (f->all)
		req_free(f->all);
	while (f->spare_reqs) {
		fwd_req *r = f->spare_reqs;
		f->spare_reqs = r->hnext;
		event_free(r->ev_timer);
		free(r->pkt_big);
		free(r);
	}
	while (f->spare_waiters) {
		fwd_waiter *wt = f->spare_waiters;
		f->spare_waiters = wt->next;
		free(wt);
	}
	upsock_pool_free(f->pool);
	updot_pool_free(f->dot);
	free(f);
}
