/*
 * upsock.c: pools of connected UDP sockets to the upstreams, shared by the
 * queries in flight and rotated to new random ports as they are used.
 * Replies are read with recvmmsg; queries made inside a worker batch are
 * queued and sent with one sendmmsg per socket at the batch's end.
 */
#include "resolver/upsock.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct upsock {
	upsock_pool *p;
	size_t up;
	int fd;
	struct event *ev;
	unsigned uses;               /* queries sent from it */
	unsigned n_pending;
	uint64_t used;               /* bit i: pending[i] holds a query */
	unsigned n_queued;           /* queries in the pool's queue: closing waits */
	bool retired;                /* takes no new queries; closed once drained */
	unsigned busy;               /* inside its own callbacks: closing waits */
	struct upsock *next;         /* in its upstream's list */
	struct {
		void *owner;             /* NULL: free */
		uint16_t id;
	} pending[UPSOCK_PENDING];
};

/* A query waiting for the end of the worker's batch. Its slot is already
 * taken, so its ID is reserved and a reply could be matched. */
typedef struct upsock_queued {
	upsock *s;                   /* NULL once handed to sendmmsg */
	void *owner;
	unsigned slot;
	uint16_t id;
	uint16_t len;
	uint8_t pkt[UPSOCK_PKT_MAX];
} upsock_queued;

struct upsock_pool {
	worker *w;
	upsock_ops ops;
	size_t n_up;
	upsock **live;               /* per upstream: a list of sockets */
	unsigned *n_live;            /* per upstream: sockets not retired */
	/* Replies: UPSOCK_BATCH buffers of WIRE_TCP_MAX octets, so no datagram
	 * is ever cut; only the pages the datagrams touch become resident. */
	uint8_t *rbuf;
	struct mmsghdr in_msg[UPSOCK_BATCH];
	struct iovec in_iov[UPSOCK_BATCH];
	upsock_queued q[UPSOCK_QUEUE];
	unsigned n_q;
	struct mmsghdr out_msg[UPSOCK_QUEUE];
	struct iovec out_iov[UPSOCK_QUEUE];
	unsigned out_q[UPSOCK_QUEUE];  /* the queue entry of each out_msg */
	/* Query IDs drawn ahead: glibc's arc4random makes a getrandom system
	 * call each time, which cost about 5% of the miss path; one call for
	 * UPSOCK_IDS of them gives the same unpredictable IDs (RFC 5452). */
	uint16_t ids[UPSOCK_IDS];
	unsigned n_ids;                /* not used yet: ids[0..n_ids) */
};

/* A fresh random query ID. */
static uint16_t next_id(upsock_pool *p)
{
	if (!p->n_ids) {
		arc4random_buf(p->ids, sizeof(p->ids));
		p->n_ids = UPSOCK_IDS;
	}
	return p->ids[--p->n_ids];
}

_Static_assert(UPSOCK_PENDING == 64, "upsock.used is a 64-bit mask of the slots");

/* The slot of the query in flight on s with this ID, or -1. */
static int slot_of_id(const upsock *s, uint16_t id)
{
	for (uint64_t m = s->used; m; m &= m - 1) {
		int i = __builtin_ctzll(m);
		if (s->pending[i].id == id)
			return i;
	}
	return -1;
}

static void slot_take(upsock *s, unsigned slot, void *owner, uint16_t id)
{
	s->pending[slot].owner = owner;
	s->pending[slot].id = id;
	s->used |= (uint64_t)1 << slot;
	s->n_pending++;
}

static void slot_clear(upsock *s, unsigned slot)
{
	s->pending[slot].owner = NULL;
	s->used &= ~((uint64_t)1 << slot);
	s->n_pending--;
}

static void sock_close(upsock *s)
{
	upsock_pool *p = s->p;
	for (upsock **pp = &p->live[s->up]; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (!s->retired)
		p->n_live[s->up]--;
	event_free(s->ev);
	close(s->fd);
	free(s);
}

/* Closes a retired socket once nothing is in flight on it, unless one of
 * its own callbacks is still running (then that callback closes it). */
static void sock_maybe_close(upsock *s)
{
	if (s->retired && !s->n_pending && !s->busy && !s->n_queued)
		sock_close(s);
}

static void sock_mark_retired(upsock *s)
{
	if (!s->retired) {
		s->retired = true;
		s->p->n_live[s->up]--;
	}
}

static void sock_retire(upsock *s)
{
	sock_mark_retired(s);
	sock_maybe_close(s);
}

/* Every query on s is lost: tell each owner. Retires s but never frees it
 * (the caller, s's read callback, does that last). */
static void sock_fail(upsock *s)
{
	upsock_pool *p = s->p;
	sock_mark_retired(s);
	for (uint64_t m = s->used; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);
		void *owner = s->pending[i].owner;
		if (!owner)
			continue;
		slot_clear(s, i);
		p->ops.error(owner);  /* may send elsewhere; its slot here is gone */
	}
}

/* One datagram read on s: to the owner of its ID, if any. */
static void on_datagram(upsock *s, const uint8_t *pkt, size_t len)
{
	upsock_pool *p = s->p;
	if (len < 2) {
		p->w->stats.upstream_mismatch++;
		return;
	}
	int slot = slot_of_id(s, (uint16_t)(pkt[0] << 8 | pkt[1]));
	if (slot < 0) {
		p->w->stats.upstream_mismatch++;  /* late, or not ours */
		return;
	}
	p->ops.reply(s->pending[slot].owner, pkt, len);
}

/* Reads the replies a batch at a time; a short batch means the socket is
 * drained, so no read is wasted on EAGAIN. The answers to clients and any
 * retries queued meanwhile go out together at the batch's end. */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
	upsock *s = arg;
	upsock_pool *p = s->p;
	(void)what;
	s->busy++;
	worker_batch_begin(p->w);  /* one reading of the clocks for these replies */
	for (int round = 0; round < UPSOCK_ROUNDS; round++) {
		int n = recvmmsg(fd, p->in_msg, UPSOCK_BATCH, 0, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				p->w->stats.upstream_errors++;
				sock_fail(s);  /* e.g. ECONNREFUSED: nothing listens there */
			}
			break;
		}
		/* a retired socket that drained is closed: what is left is late */
		for (int i = 0; i < n && !(s->retired && !s->n_pending); i++)
			on_datagram(s, p->rbuf + (size_t)i * WIRE_TCP_MAX, p->in_msg[i].msg_len);
		if (n < UPSOCK_BATCH || (s->retired && !s->n_pending))
			break;
	}
	worker_batch_end(p->w);
	s->busy--;
	sock_maybe_close(s);
}

static upsock *sock_open(upsock_pool *p, size_t up)
{
	const upstream *u = &p->w->d->upstreams[up];
	upsock *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->p = p;
	s->up = up;
	/* connect() binds a random ephemeral port (the kernel randomises it) */
	s->fd = socket(u->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto fail;
	/* room for a burst of replies while the loop serves clients: the
	 * default buffer overflowed in the miss benchmark */
	int rcv = UPSOCK_RCVBUF;
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (connect(s->fd, (const struct sockaddr *)&u->sa, u->salen) < 0)
		goto fail;
	s->ev = event_new(p->w->base, s->fd, EV_READ | EV_PERSIST, on_read, s);
	if (!s->ev || event_add(s->ev, NULL) < 0)
		goto fail;
	s->next = p->live[up];
	p->live[up] = s;
	p->n_live[up]++;
	return s;
fail:
	if (s->ev)
		event_free(s->ev);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return NULL;
}

/* The socket for the next query: a new one while there are fewer than
 * UPSOCK_PER_UPSTREAM, else the least used one with room, so consecutive
 * queries leave from different ports and every socket ages at one pace. */
static upsock *sock_pick(upsock_pool *p, size_t up)
{
	if (p->n_live[up] < UPSOCK_PER_UPSTREAM) {
		upsock *s = sock_open(p, up);
		if (s)
			return s;
	}
	upsock *best = NULL;
	for (upsock *s = p->live[up]; s; s = s->next)
		if (!s->retired && s->n_pending < UPSOCK_PENDING && (!best || s->uses < best->uses))
			best = s;
	return best;
}

int upsock_send(upsock_pool *p, size_t up, uint8_t *pkt, size_t len, void *owner,
		upsock_handle *h, uint16_t *id)
{
	h->s = NULL;
	upsock *s = sock_pick(p, up);
	if (!s)
		return -1;
	unsigned slot = (unsigned)__builtin_ctzll(~s->used);  /* sock_pick: one is free */
	uint16_t qid;
	do  /* an ID not in flight on this socket */
		qid = next_id(p);
	while (slot_of_id(s, qid) >= 0);
	pkt[0] = (uint8_t)(qid >> 8);
	pkt[1] = (uint8_t)qid;
	if (p->w->batching && len <= UPSOCK_PKT_MAX && p->n_q < UPSOCK_QUEUE) {
		upsock_queued *e = &p->q[p->n_q++];
		*e = (upsock_queued){ .s = s, .owner = owner, .slot = slot, .id = qid,
				      .len = (uint16_t)len };
		memcpy(e->pkt, pkt, len);
		s->n_queued++;
	} else if (send(s->fd, pkt, len, 0) < 0) {
		p->w->stats.upstream_errors++;
		sock_retire(s);
		return -1;
	}
	slot_take(s, slot, owner, qid);
	if (++s->uses >= UPSOCK_USES)
		sock_retire(s);  /* rotate to a fresh random port */
	h->s = s;
	h->slot = slot;
	*id = qid;
	return 0;
}

/* Sends out_msg[0..m) on s. A message the kernel refuses fails as an
 * immediate send() would: s retires, the slot is freed and its owner goes
 * into failed[] to be told once every queued query is out. */
static void send_batch(upsock_pool *p, upsock *s, unsigned m, void **failed, unsigned *n_failed)
{
	unsigned done = 0;
	while (done < m) {
		int n = sendmmsg(s->fd, p->out_msg + done, m - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			const upsock_queued *e = &p->q[p->out_q[done]];
			p->w->stats.upstream_errors++;
			slot_clear(s, e->slot);
			failed[(*n_failed)++] = e->owner;
			sock_mark_retired(s);
			n = 1;
		}
		done += (unsigned)n;
	}
}

void upsock_flush(upsock_pool *p)
{
	void *failed[UPSOCK_QUEUE];
	while (p->n_q) {
		unsigned n_failed = 0;
		for (unsigned i = 0; i < p->n_q; i++) {
			upsock *s = p->q[i].s;
			if (!s)
				continue;  /* went out with an earlier entry's socket */
			unsigned m = 0;
			for (unsigned j = i; j < p->n_q; j++) {
				upsock_queued *e = &p->q[j];
				if (e->s != s)
					continue;
				e->s = NULL;
				s->n_queued--;
				if (s->pending[e->slot].owner != e->owner || s->pending[e->slot].id != e->id)
					continue;  /* given up before it left */
				p->out_iov[m] = (struct iovec){ .iov_base = e->pkt, .iov_len = e->len };
				p->out_q[m++] = j;
			}
			send_batch(p, s, m, failed, &n_failed);
			sock_maybe_close(s);
		}
		p->n_q = 0;  /* the callbacks may queue retries: another round */
		for (unsigned k = 0; k < n_failed; k++)
			p->ops.error(failed[k]);
	}
}

void upsock_release(upsock_pool *p, upsock_handle *h)
{
	upsock *s = h->s;
	(void)p;
	if (!s)
		return;
	h->s = NULL;
	slot_clear(s, h->slot);
	sock_maybe_close(s);
}

upsock_pool *upsock_pool_new(worker *w, const upsock_ops *ops)
{
	upsock_pool *p = calloc(1, sizeof(*p));
	size_t n = w->d->n_upstreams ? w->d->n_upstreams : 1;
	if (!p)
		return NULL;
	p->w = w;
	p->ops = *ops;
	p->n_up = w->d->n_upstreams;
	p->live = calloc(n, sizeof(*p->live));
	p->n_live = calloc(n, sizeof(*p->n_live));
	p->rbuf = malloc((size_t)UPSOCK_BATCH * WIRE_TCP_MAX);
	if (!p->live || !p->n_live || !p->rbuf) {
		upsock_pool_free(p);
		return NULL;
	}
	for (unsigned i = 0; i < UPSOCK_BATCH; i++) {
		p->in_iov[i] = (struct iovec){ .iov_base = p->rbuf + (size_t)i * WIRE_TCP_MAX,
					       .iov_len = WIRE_TCP_MAX };
		p->in_msg[i].msg_hdr = (struct msghdr){ .msg_iov = &p->in_iov[i], .msg_iovlen = 1 };
	}
	for (unsigned i = 0; i < UPSOCK_QUEUE; i++)  /* connected: no address */
		p->out_msg[i].msg_hdr = (struct msghdr){ .msg_iov = &p->out_iov[i], .msg_iovlen = 1 };
	return p;
}

void upsock_pool_free(upsock_pool *p)
{
	if (!p)
		return;
	for (size_t up = 0; p->live && up < p->n_up; up++) {
		while (p->live[up]) {
			upsock *s = p->live[up];
			p->live[up] = s->next;
			event_free(s->ev);
			close(s->fd);
			free(s);
		}
	}
	free(p->live);
	free(p->n_live);
	free(p->rbuf);
	free(p);
}
