/*
 * listen_udp.c: UDP listener. The read callback drains up to a batch of
 * datagrams per wakeup, so a busy socket costs one poll per batch.
 */
#include "resolver/listen_udp.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resolver/netaddr.h"
#include "resolver/query.h"

#define UDP_BATCH 64
#define UDP_RCVBUF (4 << 20)  /* absorbs bursts while the loop is busy */

struct udp_listener {
	daemon_ctx *d;
	int fd;
	struct event *ev;
	uint8_t buf[WIRE_TCP_MAX];
};

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	udp_listener *l = arg;
	(void)what;
	for (int i = 0; i < UDP_BATCH; i++) {
		client c = { .t = TRANSPORT_UDP, .fd = fd, .salen = sizeof(c.sa) };
		ssize_t n = recvfrom(fd, l->buf, sizeof(l->buf), 0, (struct sockaddr *)&c.sa, &c.salen);
		if (n < 0)
			return;  /* EAGAIN, or an ICMP error of an earlier send: nothing to read */
		cfg_addr a;
		netaddr_from_sockaddr((const struct sockaddr *)&c.sa, &a);
		c.ip = a.ip;
		query_handle(l->d, &c, l->buf, (size_t)n);
	}
}

udp_listener *udp_listener_new(daemon_ctx *d, const cfg_addr *a, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	char name[CFG_ADDR_BUF];
	udp_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->d = d;
	l->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		goto fail;
	int one = 1, rcv = UDP_RCVBUF;
	if (ss.ss_family == AF_INET6)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(l->fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	l->ev = event_new(d->base, l->fd, EV_READ | EV_PERSIST, on_read, l);
	if (!l->ev || event_add(l->ev, NULL) < 0)
		goto fail;
	return l;
fail:
	snprintf(err, errlen, "cannot listen on %s/udp: %s", cfg_addr_format(a, name), strerror(errno));
	udp_listener_free(l);
	return NULL;
}

void udp_listener_free(udp_listener *l)
{
	if (!l)
		return;
	if (l->ev)
		event_free(l->ev);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

void udp_send(daemon_ctx *d, const client *c, const uint8_t *pkt, size_t len)
{
	if (sendto(c->fd, pkt, len, 0, (const struct sockaddr *)&c->sa, c->salen) < 0)
		d->stats.dropped++;
}
