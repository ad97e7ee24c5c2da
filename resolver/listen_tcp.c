/*
 * listen_tcp.c: TCP listeners and connections, on libevent bufferevents.
 *
 * Connections sit on one list, most recently active first, shared by all
 * listeners of a worker (the cap is the worker's share). When it is reached, a new
 * connection closes the least recently active one that has no query in
 * flight; if every one is busy, the new one is refused. TLS connections
 * (listen_tls.c) are on the same list and count against the same cap; one
 * still in its handshake is idle, so a flood of half-open handshakes is
 * what gets closed first, and the handshake deadline ends each of them.
 */
#include "resolver/listen_tcp.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resolver/netaddr.h"
#include "resolver/obs.h"
#include "resolver/query.h"

struct tcp_server {
	worker *w;
	const tcp_kind *k;
	struct evconnlistener *lev;
};

struct tcp_conn {
	worker *w;
	struct bufferevent *bev;    /* NULL once closed */
	struct tcp_conn *prev, *next;
	int refs;                   /* queries in flight */
	bool eof;                   /* the client finished sending */
	bool paused;                /* reading stopped: too many in flight */
	transport t;
	struct event *hs_timer;     /* the handshake deadline, until it is done */
	struct sockaddr_storage sa;
	socklen_t salen;
	cfg_ip ip;
};

/* The worker's connection list lives in this small struct, created on
 * first use and hung off the worker as an opaque pointer. */
typedef struct tcp_list {
	tcp_conn *head, *tail;
	size_t n;
} tcp_list;

static tcp_list *conns(worker *w)
{
	return (tcp_list *)w->tcp_conns;
}

static void list_remove(tcp_list *l, tcp_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	l->n--;
}

static void list_push_front(tcp_list *l, tcp_conn *c)
{
	c->prev = NULL;
	c->next = l->head;
	if (l->head)
		l->head->prev = c;
	else
		l->tail = c;
	l->head = c;
	l->n++;
}

static void touch(tcp_conn *c)
{
	tcp_list *l = conns(c->w);
	if (l->head != c) {
		list_remove(l, c);
		list_push_front(l, c);
	}
}

static void conn_close(tcp_conn *c)
{
	if (!c->bev)
		return;
	list_remove(conns(c->w), c);
	if (c->hs_timer) {
		event_free(c->hs_timer);
		c->hs_timer = NULL;
	}
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (!c->refs)
		free(c);
}

/* A client that half-closed is closed once its answers are written. */
static void maybe_finish(tcp_conn *c)
{
	if (c->bev && c->eof && !c->refs &&
	    !evbuffer_get_length(bufferevent_get_output(c->bev)))
		conn_close(c);
}

void tcp_conn_ref(tcp_conn *c)
{
	c->refs++;
}

void tcp_conn_unref(tcp_conn *c)
{
	c->refs--;
	if (!c->bev) {
		if (!c->refs)
			free(c);
		return;
	}
	if (c->paused && c->refs < TCP_MAX_PENDING) {
		c->paused = false;
		bufferevent_enable(c->bev, EV_READ);
	}
	maybe_finish(c);
}

void tcp_conn_send(tcp_conn *c, const uint8_t *pkt, size_t len)
{
	if (!c->bev)
		return;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) > TCP_MAX_OUTPUT) {
		conn_close(c);  /* it does not read its answers */
		return;
	}
	uint8_t len2[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	evbuffer_add(out, len2, 2);
	evbuffer_add(out, pkt, len);
	touch(c);
}

static void read_frames(struct bufferevent *bev, tcp_conn *c)
{
	worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	touch(c);
	while (c->bev && !c->paused) {
		uint8_t hdr[2];
		if (evbuffer_copyout(in, hdr, 2) < 2)
			return;
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		if (len < WIRE_HDR_LEN) {
			w->stats.dropped++;
			conn_close(c);  /* not DNS: a query is at least a header */
			return;
		}
		if (evbuffer_get_length(in) < len + 2)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, w->in, len);
		client cl = { .t = c->t, .conn = c, .ip = c->ip,
			      .sa = c->sa, .salen = c->salen, .fd = -1, .t0_us = worker_us(w) };
		c->refs++;  /* keep c alive through query_handle, which may close it */
		query_handle(w, &cl, w->in, len);
		c->refs--;
		if (!c->bev) {
			if (!c->refs)
				free(c);
			return;
		}
		if (c->refs > TCP_MAX_PENDING) {
			c->paused = true;
			bufferevent_disable(c->bev, EV_READ);
		}
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	tcp_conn *c = arg;
	worker *w = c->w;  /* c may be freed in read_frames */
	worker_tick_begin(w);
	read_frames(bev, c);
	worker_tick_end(w);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	maybe_finish(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	tcp_conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		/* the handshake is done: from now on only the idle timeout counts */
		if (c->hs_timer) {
			event_free(c->hs_timer);
			c->hs_timer = NULL;
		}
		touch(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = true;  /* answer what is queued or in flight, then close */
		bufferevent_disable(bev, EV_READ);
		maybe_finish(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && c->refs) {
		/* Idle only counts while nothing is in flight. */
		bufferevent_enable(bev, EV_READ);
		return;
	}
	conn_close(c);
}

/* Makes room under the cap: closes the least recently active idle one. */
static bool make_room(worker *w)
{
	tcp_list *l = conns(w);
	if (l->n < w->tcp_max_conns)
		return true;
	for (tcp_conn *c = l->tail; c; c = c->prev) {
		if (!c->refs) {
			conn_close(c);
			return true;
		}
	}
	return false;
}

static void on_handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_close(arg);
}

static struct bufferevent *wrap_plain(worker *w, evutil_socket_t fd)
{
	return bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
}

static const tcp_kind plain_kind = { .t = TRANSPORT_TCP, .name = "tcp", .wrap = wrap_plain };

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	tcp_server *s = arg;
	worker *w = s->w;
	(void)lev;
	if (w->stopping || !make_room(w)) {
		evutil_closesocket(fd);
		return;
	}
	tcp_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->w = w;
	c->t = s->k->t;
	memcpy(&c->sa, sa, (size_t)salen);
	c->salen = (socklen_t)salen;
	cfg_addr a;
	netaddr_from_sockaddr(sa, &a);
	c->ip = a.ip;
	/* answers are whole messages: send them at once, not after the peer's
	 * delayed ACK (Nagle cost 40 ms per fresh DoT connection) */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->bev = s->k->wrap(w, fd);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	if (s->k->handshake_ms) {
		struct timeval hs = { .tv_sec = s->k->handshake_ms / 1000,
				      .tv_usec = (s->k->handshake_ms % 1000) * 1000 };
		c->hs_timer = evtimer_new(w->base, on_handshake_timeout, c);
		if (!c->hs_timer || evtimer_add(c->hs_timer, &hs) < 0) {
			if (c->hs_timer)
				event_free(c->hs_timer);
			bufferevent_free(c->bev);
			free(c);
			return;
		}
	}
	struct timeval idle = { .tv_sec = TCP_IDLE_MS / 1000, .tv_usec = (TCP_IDLE_MS % 1000) * 1000 };
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	list_push_front(conns(w), c);
}

tcp_server *tcp_server_new(worker *w, const cfg_addr *a, bool reuseport, char *err, size_t errlen)
{
	return tcp_server_new_kind(w, a, reuseport, &plain_kind, err, errlen);
}

tcp_server *tcp_server_new_kind(worker *w, const cfg_addr *a, bool reuseport, const tcp_kind *k,
				char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	char name[CFG_ADDR_BUF];
	int one = 1;

	if (!w->tcp_conns && !(w->tcp_conns = calloc(1, sizeof(tcp_list)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 256) < 0)
		goto fail;
	tcp_server *s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->w = w;
	s->k = k;
	s->lev = evconnlistener_new(w->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!s->lev) {
		free(s);
		goto fail;
	}
	return s;
fail:
	snprintf(err, errlen, "cannot listen on %s/%s: %s", cfg_addr_format(a, name), k->name,
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return NULL;
}

void tcp_server_free(tcp_server *s)
{
	if (!s)
		return;
	evconnlistener_free(s->lev);
	free(s);
}

void tcp_close_all(worker *w)
{
	tcp_list *l = conns(w);
	if (!l)
		return;
	while (l->head)
		conn_close(l->head);
	free(l);
	w->tcp_conns = NULL;
}
