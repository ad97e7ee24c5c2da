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
 *
 * Each connection has one timer for its deadlines, kept lazily (re-armed
 * when it fires, not at every query): the TLS handshake must end within
 * handshake_ms of the accept; a query must be whole within TCP_QUERY_MS of
 * its first octet (a client trickling octets, slowloris, is closed however
 * lively it looks); and a connection with no whole query, nothing in flight
 * and nothing to write for TCP_IDLE_MS is closed (octets that never make a
 * query, such as a TLS record trickled, do not count as activity).
 * A client that does not read its answers stops being read once
 * TCP_OUTPUT_PAUSE octets wait for it, is closed past TCP_MAX_OUTPUT, and
 * after TCP_IDLE_MS without writing progress (the bufferevent's write
 * timeout).
 *
 * Answers found during a read pass are written when it ends, together; if
 * the kind has more input read ahead (TLS records in OpenSSL's buffer) the
 * pass goes on first. Writes run in the loop pass that queued them (see
 * write_soon), not after another trip through epoll.
 */
#include "resolver/listen_tcp.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
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
#include "resolver/tcp_frame.h"

struct tcp_server {
	worker *w;
	const tcp_kind *k;
	struct evconnlistener *lev;
	struct event *resume;       /* accept again after running out of descriptors */
};

#define TCP_ACCEPT_PAUSE_MS 100     /* after EMFILE: let connections close first */

struct tcp_conn {
	worker *w;
	struct bufferevent *bev;    /* NULL once closed */
	struct tcp_conn *prev, *next;
	int refs;                   /* queries in flight */
	bool eof;                   /* the client finished sending */
	bool paused;                /* reading stopped: too many in flight or
				       too many answers unread */
	bool in_read;               /* in read_frames: answers wait for its end */
	transport t;
	const tcp_kind *k;
	struct event *timer;        /* the deadlines below (lazy: see the top) */
	uint64_t timer_ms;          /* when it fires (worker_ms); 0: not armed */
	uint64_t hs_until_ms;       /* the TLS handshake deadline; 0: done or none */
	uint64_t partial_ms;        /* first octet of a query still incomplete; 0: none */
	uint64_t active_ms;         /* last whole query or answer */
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
	if (c->timer) {
		event_free(c->timer);
		c->timer = NULL;
	}
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (!c->refs)
		free(c);
}

/* Makes the timer fire at `at` unless it already fires earlier (it then
 * looks again and re-arms for what is left). */
static void timer_at(tcp_conn *c, uint64_t at, uint64_t now)
{
	if (!c->timer || (c->timer_ms && c->timer_ms <= at))
		return;
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = { .tv_sec = (time_t)(d / 1000), .tv_usec = (suseconds_t)(d % 1000) * 1000 };
	if (evtimer_add(c->timer, &tv) == 0)
		c->timer_ms = at;
}

static size_t out_len(const tcp_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Whether the input holds a whole message, or a length no message has. */
static bool frame_waiting(tcp_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t hdr[2];
	size_t n;
	ev_ssize_t got = evbuffer_copyout(in, hdr, sizeof(hdr));
	return tcp_frame_check(hdr, got < 0 ? 0 : evbuffer_get_length(in), WIRE_HDR_LEN, &n) !=
	       TCP_FRAME_MORE;
}

/* A client that half-closed is closed once its queries are answered and
 * the answers written. */
static void maybe_finish(tcp_conn *c)
{
	if (c->bev && c->eof && !c->refs && !out_len(c) && !frame_waiting(c))
		conn_close(c);
}

/*
 * Reads while the client has fewer than TCP_MAX_PENDING queries in flight
 * and fewer than TCP_OUTPUT_PAUSE octets of answers unread. Resuming also
 * runs the read callback (deferred: not inside the forwarder's callback),
 * since whole queries may be buffered already with nothing more to come.
 */
static void update_reading(tcp_conn *c)
{
	bool want = c->refs < TCP_MAX_PENDING && out_len(c) < TCP_OUTPUT_PAUSE;
	if (want == !c->paused)
		return;
	c->paused = !want;
	if (c->paused) {
		bufferevent_disable(c->bev, EV_READ);
		c->partial_ms = 0;  /* the client waits on us, not the other way round */
		return;
	}
	if (!c->eof)
		bufferevent_enable(c->bev, EV_READ);
	bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
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
	update_reading(c);
	maybe_finish(c);
}

/*
 * Adding to the output makes the bufferevent wait for the socket to be
 * writable (an epoll_ctl, then another loop pass, and an epoll_ctl to stop
 * waiting). Running its write callback later in this same pass instead
 * writes what is queued in one go, and the worker's epoll changelist
 * (worker.c) lets the wait come and go without a system call. The callback
 * is libevent's own writer, which copes with a socket not writable after all.
 */
static void write_soon(tcp_conn *c)
{
	if (c->bev && out_len(c))
		event_active(&c->bev->ev_write, EV_WRITE, 1);
}

/* Input the kind read ahead (whole TLS records in OpenSSL's buffer) leaves
 * the socket with nothing to signal: the bufferevent reads again later in
 * this loop pass rather than wait for readiness that may never come. */
static bool read_buffered(tcp_conn *c)
{
	if (!c->bev || c->paused || c->eof || !c->k->buffered || !c->k->buffered(c->bev))
		return false;
	event_active(&c->bev->ev_read, EV_READ, 1);
	return true;
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
	if (!c->in_read)
		write_soon(c);  /* an answer from upstream; a read pass's wait for its end */
	c->active_ms = worker_ms(c->w);
	touch(c);
	if (!c->paused && evbuffer_get_length(out) >= TCP_OUTPUT_PAUSE)
		update_reading(c);
}

static void read_frames(struct bufferevent *bev, tcp_conn *c)
{
	worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	touch(c);
	c->in_read = true;
	while (!c->paused) {
		size_t len;
		tcp_frame_status st = tcp_frame_pull(in, WIRE_HDR_LEN, w->in, &len);
		if (st == TCP_FRAME_MORE)
			break;
		if (st == TCP_FRAME_BAD) {
			/* Not DNS (a query is at least a header): read no more, answer
			 * what came before, then close, as after the client's EOF. */
			w->stats.dropped++;
			evbuffer_drain(in, evbuffer_get_length(in));
			c->eof = true;
			bufferevent_disable(bev, EV_READ);
			break;
		}
		c->partial_ms = 0;
		c->active_ms = worker_ms(w);
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
		update_reading(c);
	}
	/* What is left is part of a query: it has TCP_QUERY_MS to be whole. */
	if (!c->paused && evbuffer_get_length(in) && !c->partial_ms) {
		c->partial_ms = worker_ms(w);
		timer_at(c, c->partial_ms + TCP_QUERY_MS, c->partial_ms);
	}
	c->in_read = false;
	/* The answers of all the input at hand go out together: one write
	 * (one TLS record) for a pipelining client, not one per query. */
	if (!read_buffered(c))
		write_soon(c);
	maybe_finish(c);
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
	tcp_conn *c = arg;
	(void)bev;
	update_reading(c);  /* the answers were read: read queries again */
	maybe_finish(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	tcp_conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		/* the handshake is done: from now on the query and idle deadlines */
		c->hs_until_ms = 0;
		c->active_ms = worker_ms(c->w);
		touch(c);
		read_buffered(c);  /* a query that came with the handshake's end */
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = true;  /* answer what is buffered or in flight, then close */
		bufferevent_disable(bev, EV_READ);
		on_read(bev, c);
		return;
	}
	conn_close(c);  /* an error, or no writing progress (the write timeout) */
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

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	tcp_conn *c = arg;
	(void)fd;
	(void)what;
	uint64_t now = worker_ms(c->w);
	c->timer_ms = 0;
	if ((c->hs_until_ms && now >= c->hs_until_ms) ||
	    (c->partial_ms && now >= c->partial_ms + TCP_QUERY_MS)) {
		c->w->stats.dropped++;
		conn_close(c);
		return;
	}
	uint64_t at = c->active_ms + TCP_IDLE_MS;
	if (!c->hs_until_ms && now >= at) {
		if (!c->refs && !out_len(c)) {
			conn_close(c);
			return;
		}
		at = now + TCP_IDLE_MS;  /* busy on our side: idle counts from now */
		c->active_ms = now;
	}
	if (c->hs_until_ms && c->hs_until_ms < at)
		at = c->hs_until_ms;
	if (c->partial_ms && c->partial_ms + TCP_QUERY_MS < at)
		at = c->partial_ms + TCP_QUERY_MS;
	timer_at(c, at, now);
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
	c->k = s->k;
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
	c->timer = evtimer_new(w->base, on_timer, c);
	if (!c->timer) {
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	uint64_t now = worker_ms(w);
	c->active_ms = now;
	if (s->k->handshake_ms) {
		c->hs_until_ms = now + s->k->handshake_ms;
		timer_at(c, c->hs_until_ms, now);
	} else {
		timer_at(c, now + TCP_IDLE_MS, now);
	}
	/* Idle is the timer's; the write timeout ends a client that reads nothing. */
	struct timeval idle = { .tv_sec = TCP_IDLE_MS / 1000, .tv_usec = (TCP_IDLE_MS % 1000) * 1000 };
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, NULL, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	list_push_front(conns(w), c);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	tcp_server *s = arg;
	(void)fd;
	(void)what;
	evconnlistener_enable(s->lev);
}

/* accept() failed. Out of descriptors (or memory), the listening socket
 * stays readable: without a pause the loop would spin on it. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	tcp_server *s = arg;
	int e = EVUTIL_SOCKET_ERROR();
	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
		return;
	struct timeval tv = { .tv_sec = 0, .tv_usec = TCP_ACCEPT_PAUSE_MS * 1000 };
	if (s->resume && evtimer_add(s->resume, &tv) == 0)
		evconnlistener_disable(lev);
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
	s->resume = evtimer_new(w->base, on_resume, s);
	if (!s->lev || !s->resume) {
		if (s->lev)
			evconnlistener_free(s->lev);
		else
			close(fd);
		if (s->resume)
			event_free(s->resume);
		free(s);
		fd = -1;
		errno = ENOMEM;
		goto fail;
	}
	evconnlistener_set_error_cb(s->lev, on_accept_error);
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
	event_free(s->resume);
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
