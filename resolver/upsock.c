/*
 * upsock.c: pools of connected UDP sockets to the upstreams, shared by the
 * queries in flight and rotated to new random ports as they are used.
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
	bool retired;                /* takes no new queries; closed once drained */
	unsigned busy;               /* inside its own callbacks: closing waits */
	struct upsock *next;         /* in its upstream's list */
	struct {
		void *owner;             /* NULL: free */
		uint16_t id;
	} pending[UPSOCK_PENDING];
};

struct upsock_pool {
	worker *w;
	upsock_ops ops;
	size_t n_up;
	upsock **live;               /* per upstream: a list of sockets */
	unsigned *n_live;            /* per upstream: sockets not retired */
	uint8_t rbuf[WIRE_TCP_MAX];
};

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
	if (s->retired && !s->n_pending && !s->busy)
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
	for (unsigned i = 0; i < UPSOCK_PENDING && s->n_pending; i++) {
		void *owner = s->pending[i].owner;
		if (!owner)
			continue;
		s->pending[i].owner = NULL;
		s->n_pending--;
		p->ops.error(owner);  /* may send elsewhere; its slot here is gone */
	}
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	upsock *s = arg;
	upsock_pool *p = s->p;
	(void)what;
	s->busy++;
	worker_tick_begin(p->w);  /* one reading of the clocks for these replies */
	for (int round = 0; round < 32 && !(s->retired && !s->n_pending); round++) {
		ssize_t n = recv(fd, p->rbuf, sizeof(p->rbuf), 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				p->w->stats.upstream_errors++;
				sock_fail(s);  /* e.g. ECONNREFUSED: nothing listens there */
			}
			break;
		}
		if (n < 2) {
			p->w->stats.upstream_mismatch++;
			continue;
		}
		uint16_t id = (uint16_t)(p->rbuf[0] << 8 | p->rbuf[1]);
		void *owner = NULL;
		for (unsigned i = 0; i < UPSOCK_PENDING; i++) {
			if (s->pending[i].owner && s->pending[i].id == id) {
				owner = s->pending[i].owner;
				break;
			}
		}
		if (!owner) {
			p->w->stats.upstream_mismatch++;  /* late, or not ours */
			continue;
		}
		p->ops.reply(owner, p->rbuf, (size_t)n);
	}
	worker_tick_end(p->w);
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
	unsigned slot = 0;
	while (s->pending[slot].owner)
		slot++;
	uint16_t qid;
	bool taken;
	do {  /* an ID not in flight on this socket */
		qid = (uint16_t)arc4random();
		taken = false;
		for (unsigned i = 0; i < UPSOCK_PENDING && !taken; i++)
			taken = s->pending[i].owner && s->pending[i].id == qid;
	} while (taken);
	pkt[0] = (uint8_t)(qid >> 8);
	pkt[1] = (uint8_t)qid;
	if (send(s->fd, pkt, len, 0) < 0) {
		p->w->stats.upstream_errors++;
		sock_retire(s);
		return -1;
	}
	s->pending[slot].owner = owner;
	s->pending[slot].id = qid;
	s->n_pending++;
	if (++s->uses >= UPSOCK_USES)
		sock_retire(s);  /* rotate to a fresh random port */
	h->s = s;
	h->slot = slot;
	*id = qid;
	return 0;
}

void upsock_release(upsock_pool *p, upsock_handle *h)
{
	upsock *s = h->s;
	(void)p;
	if (!s)
		return;
	h->s = NULL;
	s->pending[h->slot].owner = NULL;
	s->n_pending--;
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
	if (!p->live || !p->n_live) {
		upsock_pool_free(p);
		return NULL;
	}
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
	free(p);
}
