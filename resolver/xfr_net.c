/*
 * xfr_net.c: the zone transfer server's sockets: TCP listeners and their
 * connections (RFC 7766 framing), and UDP sockets for SOA queries.
 *
 * A TCP connection handles one request at a time: while a transfer is being
 * written, reading pauses, and the next message is made only when the
 * client has read most of the previous ones (a write low-water mark), so a
 * slow secondary costs a few messages of memory, not the whole zone.
 */
#include "resolver/xfr_impl.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "resolver/log.h"
#include "resolver/netaddr.h"
#include "resolver/tcp_frame.h"

/* --- TCP --- */

static void conn_close(xfr_conn *c)
{
	xfr_server *x = c->x;
	if (c->streaming)
		log_warn("xfr", "%s: aborted after %zu of %zu records", c->what, c->st.pos, c->st.total);
	xfr_stream_clear(&c->st);
	if (c->prev)
		c->prev->next = c->next;
	else
		x->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	x->n_conns--;
	bufferevent_free(c->bev);
	free(c);
}

static void send_framed(xfr_conn *c, const uint8_t *msg, size_t len)
{
	uint8_t l[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add(out, l, 2);
	evbuffer_add(out, msg, len);
}

/* Writes transfer messages until the output is full enough or it is done.
 * -1 when the connection was closed. */
static int pump(xfr_conn *c)
{
	xfr_server *x = c->x;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (c->streaming && evbuffer_get_length(out) < XFR_HIGH_WATER) {
		long n = xfr_stream_next(&c->st, (int64_t)time(NULL), x->out);
		if (n < 0) {
			log_err("xfr", "%s: cannot build a message", c->what);
			conn_close(c);
			return -1;
		}
		if (n > 0)
			send_framed(c, x->out, (size_t)n);
		if (xfr_stream_done(&c->st)) {
			log_info("xfr", "%s: %zu records, %zu message%s, %zu bytes", c->what, c->st.total,
				 c->st.msgs, c->st.msgs == 1 ? "" : "s", c->st.bytes);
			xfr_stream_clear(&c->st);
			c->streaming = false;
			if (!c->eof)
				bufferevent_enable(c->bev, EV_READ);
		}
	}
	return 0;
}

/* After a half-close (RFC 7766 6.2.4: the answers still go out), the
 * connection ends once the last of them is written. -1 when closed. */
static int maybe_finish(xfr_conn *c)
{
	if (!c->eof || c->streaming)
		return 0;
	if (!evbuffer_get_length(bufferevent_get_output(c->bev))) {
		conn_close(c);
		return -1;
	}
	/* be called back when the output is empty, not merely low */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	return 0;
}

/* Answers the whole requests buffered, one at a time: a transfer pauses
 * the rest until it is written. -1 when the connection was closed. */
static int serve_input(xfr_conn *c)
{
	xfr_server *x = c->x;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	while (!c->streaming) {
		size_t len;
		tcp_frame_status st = tcp_frame_pull(in, 12, x->in, &len);
		if (st == TCP_FRAME_MORE)
			return 0;
		if (st == TCP_FRAME_BAD) {
			conn_close(c);  /* not DNS: a request is at least a header */
			return -1;
		}
		xfr_verdict v = xfr_handle(x, c, &c->peer, x->in, len, x->out, XFR_MSG_MAX);
		if (v.stream) {
			c->streaming = true;
			bufferevent_disable(c->bev, EV_READ);
			if (pump(c) < 0)
				return -1;
		} else if (v.len) {
			send_framed(c, x->out, v.len);
		}
	}
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	serve_input(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	xfr_conn *c = arg;
	(void)bev;
	bool was = c->streaming;
	if (pump(c) < 0)
		return;
	/* a transfer just ended: the requests that came meanwhile are next */
	if (was && !c->streaming && serve_input(c) < 0)
		return;
	maybe_finish(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	xfr_conn *c = arg;
	if ((what & BEV_EVENT_EOF) && !c->eof) {
		c->eof = true;
		bufferevent_disable(bev, EV_READ);
		maybe_finish(c);
		return;
	}
	conn_close(c);  /* an error or a timeout */
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	xfr_server *x = arg;
	(void)lev;
	(void)salen;
	xfr_conn *c = x->n_conns < XFR_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->x = x;
	netaddr_from_sockaddr(sa, &c->peer);
	c->bev = bufferevent_socket_new(x->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	struct timeval rd = { .tv_sec = XFR_IDLE_S }, wr = { .tv_sec = XFR_WRITE_S };
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, &rd, &wr);
	bufferevent_setwatermark(c->bev, EV_WRITE, XFR_LOW_WATER, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = x->conns;
	if (x->conns)
		x->conns->prev = c;
	x->conns = c;
	x->n_conns++;
}

/* --- UDP --- */

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	xfr_server *x = arg;
	(void)what;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, x->in, sizeof(x->in), 0, (struct sockaddr *)&ss, &sl);
		if (n < 0)
			return;
		cfg_addr peer;
		netaddr_from_sockaddr((struct sockaddr *)&ss, &peer);
		/* 512 octets without EDNS: an SOA with a TSIG fits */
		xfr_verdict v = xfr_handle(x, NULL, &peer, x->in, (size_t)n, x->out, 512);
		if (v.len)
			sendto(fd, x->out, v.len, 0, (struct sockaddr *)&ss, sl);
	}
}

/* --- setup --- */

static int bind_one(const cfg_addr *a, int type, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	char name[CFG_ADDR_BUF];
	int one = 1, fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (fd >= 0 && type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		snprintf(err, errlen, "rpz: cannot listen on %s/%s: %s", cfg_addr_format(a, name),
			 type == SOCK_STREAM ? "tcp" : "udp", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int xfr_net_listen(xfr_server *x, char *err, size_t errlen)
{
	size_t n = x->set.n_listen;
	x->tcp = calloc(n ? n : 1, sizeof(*x->tcp));
	x->udp_fd = calloc(n ? n : 1, sizeof(*x->udp_fd));
	x->udp_ev = calloc(n ? n : 1, sizeof(*x->udp_ev));
	if (!x->tcp || !x->udp_fd || !x->udp_ev) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int fd = bind_one(&x->set.listen[i], SOCK_STREAM, err, errlen);
		if (fd < 0)
			return -1;
		x->tcp[x->n_tcp] = evconnlistener_new(x->base, on_accept, x, LEV_OPT_CLOSE_ON_FREE, -1, fd);
		if (!x->tcp[x->n_tcp]) {
			close(fd);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		x->n_tcp++;
		fd = bind_one(&x->set.listen[i], SOCK_DGRAM, err, errlen);
		if (fd < 0)
			return -1;
		x->udp_fd[x->n_udp] = fd;
		x->udp_ev[x->n_udp] = event_new(x->base, fd, EV_READ | EV_PERSIST, on_udp, x);
		x->n_udp++;
		if (!x->udp_ev[x->n_udp - 1] || event_add(x->udp_ev[x->n_udp - 1], NULL) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

void xfr_net_close(xfr_server *x)
{
	while (x->conns)
		conn_close(x->conns);
	for (size_t i = 0; i < x->n_tcp; i++)
		evconnlistener_free(x->tcp[i]);
	for (size_t i = 0; i < x->n_udp; i++) {
		if (x->udp_ev[i])
			event_free(x->udp_ev[i]);
		close(x->udp_fd[i]);
	}
	free(x->tcp);
	free(x->udp_fd);
	free(x->udp_ev);
}
