/*
 * listen_udp.c: UDP listener with batched I/O.
 *
 * One wakeup reads up to UDP_BATCH datagrams with recvmmsg; answers built
 * while the batch is handled are queued and sent with one sendmmsg at its
 * end, so a busy socket costs two system calls per batch instead of two per
 * query; an answer to a query of the batch is built in its send slot, so
 * queuing it copies nothing. Answers to upstream replies are batched the same way: the upstream
 * socket's read is a worker batch too (worker_batch_begin/end), and every
 * answer queued meanwhile goes out in udp_flush_all at its end. Outside a
 * batch (a timer, a TCP-borne query) an answer is sent at once.
 *
 * Batched answers leave through a second socket bound to the same address
 * and port (udp_senders_open): the kernel wakes the waiters of a socket each
 * time the buffer of a datagram it sent is freed, and the receiving socket
 * always has one, its epoll entry. That cost 100 ns a query here (perf: the
 * wait-queue and epoll locks under sock_wfree); the sending socket is in no
 * epoll set. A reuseport program steers every query to the receiving
 * sockets, and a filter drops anything the sender would receive.
 */
#include "resolver/listen_udp.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/netaddr.h"
#include "resolver/obs.h"
#include "resolver/query.h"

#define UDP_BATCH 32
#define UDP_ROUNDS 4                 /* batches per wakeup, then let other events run */
#define UDP_QUERY_MAX 2048           /* larger datagrams are not queries we answer */
#define UDP_RCVBUF (4 << 20)         /* absorbs bursts while the loop is busy */

struct udp_listener {
	worker *w;
	int fd;
	int send_fd;                         /* fd, or the sending socket */
	int family;
	struct sockaddr_storage addr;        /* what fd is bound to */
	socklen_t addr_len;
	struct event *ev;
	struct mmsghdr in_msg[UDP_BATCH];
	struct iovec in_iov[UDP_BATCH];
	struct sockaddr_storage in_sa[UDP_BATCH];
	uint8_t in_buf[UDP_BATCH][UDP_QUERY_MAX];
	query_ahead in_q[UDP_BATCH];         /* the batch parsed, lookups prepared */
	struct mmsghdr out_msg[UDP_BATCH];
	struct iovec out_iov[UDP_BATCH];
	struct sockaddr_storage out_sa[UDP_BATCH];
	uint8_t out_buf[UDP_BATCH][WIRE_EDNS_UDP];
	unsigned n_out;
};

/* A peer's address: the sizes of the two families as constants, so the
 * copy is two or four moves rather than a call. */
static inline void copy_sa(struct sockaddr_storage *dst, const struct sockaddr_storage *src,
			   socklen_t len)
{
	if (len == sizeof(struct sockaddr_in))
		memcpy(dst, src, sizeof(struct sockaddr_in));
	else if (len == sizeof(struct sockaddr_in6))
		memcpy(dst, src, sizeof(struct sockaddr_in6));
	else
		memcpy(dst, src, len <= sizeof(*dst) ? len : sizeof(*dst));
}

/* What netaddr_from_sockaddr gives, without the port and the memset. */
static inline void client_ip(cfg_ip *ip, const struct sockaddr_storage *ss)
{
	memset(ip, 0, sizeof(*ip));
	if (ss->ss_family == AF_INET) {
		ip->family = 4;
		memcpy(ip->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		ip->family = 6;
		memcpy(ip->addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
}

static void flush(udp_listener *l)
{
	if (!l->n_out)
		return;
	unsigned done = 0;
	while (done < l->n_out) {
		int n = sendmmsg(l->send_fd, l->out_msg + done, l->n_out - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN (socket buffer full) or an error for this one: drop it */
			l->w->stats.dropped++;
			n = 1;
		}
		done += (unsigned)n;
	}
	l->n_out = 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	udp_listener *l = arg;
	worker *w = l->w;
	(void)what;
	for (int round = 0; round < UDP_ROUNDS; round++) {
		for (int i = 0; i < UDP_BATCH; i++)
			l->in_msg[i].msg_hdr.msg_namelen = sizeof(l->in_sa[i]);
		int n = recvmmsg(fd, l->in_msg, UDP_BATCH, 0, NULL);
		if (n <= 0)
			return;  /* EAGAIN, or an ICMP error of an earlier send */
		worker_batch_begin(w);  /* one reading of the clocks per batch */
		uint64_t t0 = w->tick.mono_us;
		/* parse all and prepare their policy lookups, ask for the
		 * records those need, then handle: the batch's memory misses
		 * overlap (query.h) */
		bool prepared[UDP_BATCH];
		int n_prepared = 0;
		for (int i = 0; i < n; i++) {
			prepared[i] = !(l->in_msg[i].msg_hdr.msg_flags & MSG_TRUNC) &&
				      query_parse_ahead(w, l->in_buf[i], l->in_msg[i].msg_len, &l->in_q[i]);
			n_prepared += prepared[i];
		}
		for (int i = 0; n_prepared && i < n; i++)
			if (prepared[i])
				query_ahead_recs(w, &l->in_q[i]);
		for (int i = 0; i < n; i++) {
			const struct msghdr *h = &l->in_msg[i].msg_hdr;
			if (h->msg_flags & MSG_TRUNC) {
				w->stats.dropped++;
				continue;
			}
			/* every field set one by one: zeroing the whole struct
			 * (its 128-octet sockaddr_storage) cost more than the rest */
			client c;
			c.t = TRANSPORT_UDP;
			c.fd = fd;
			c.salen = h->msg_namelen;
			c.conn = NULL;
			c.t0_us = t0;
			copy_sa(&c.sa, &l->in_sa[i], c.salen);
			client_ip(&c.ip, &l->in_sa[i]);
			if (l->n_out == UDP_BATCH)
				flush(l);
			w->out = l->out_buf[l->n_out];  /* answers go straight to the batch */
			query_handle_ahead(w, &c, &l->in_q[i]);
		}
		w->out = w->out_own;
		worker_batch_end(w);  /* the upstream queries, then the answers */
		if (n < UDP_BATCH)
			return;
	}
}

/* The listener whose socket is fd: the one a UDP client came in on. NULL
 * once it is closed (a stopping worker answering what was in flight). */
static udp_listener *by_fd(worker *w, int fd)
{
	for (size_t i = 0; i < w->n_udp; i++)
		if (w->udp[i]->fd == fd)
			return w->udp[i];
	return NULL;
}

void udp_flush_all(worker *w)
{
	for (size_t i = 0; i < w->n_udp; i++)
		flush(w->udp[i]);
}

void udp_send(worker *w, const client *c, const uint8_t *pkt, size_t len)
{
	udp_listener *l = w->batching ? by_fd(w, c->fd) : NULL;
	if (l && len <= sizeof(l->out_buf[0])) {
		/* built in the next slot (on_read points w->out there): no copy */
		bool in_slot = l->n_out < UDP_BATCH && pkt == l->out_buf[l->n_out];
		if (!in_slot && l->n_out == UDP_BATCH)
			flush(l);
		unsigned i = l->n_out++;
		if (!in_slot)
			memcpy(l->out_buf[i], pkt, len);
		copy_sa(&l->out_sa[i], &c->sa, c->salen);
		l->out_iov[i].iov_len = len;
		l->out_msg[i].msg_hdr.msg_namelen = c->salen;
		return;
	}
	if (sendto(c->fd, pkt, len, 0, (const struct sockaddr *)&c->sa, c->salen) < 0)
		w->stats.dropped++;
}

/* The options every socket bound to a listen address gets: both of a
 * reuseport group must agree. */
static void socket_options(int fd, int family)
{
	int one = 1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* DF always, path MTU reports ignored, never a fragment (RFC 9715; a
	 * forged ICMP "fragmentation needed" cannot make us fragment). Our UDP
	 * answers are at most WIRE_EDNS_UDP octets, the size DNS flag day 2020
	 * chose to cross real paths whole. The default (DF, but fragment after
	 * such a report) costs the kernel a shared IP ID counter per datagram:
	 * 60-100 ns a query here. */
	if (family == AF_INET) {
		int probe = IP_PMTUDISC_PROBE;
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe));
	}
	/* always: the sending socket shares the port (udp_senders_open); the
	 * daemon checked at startup that no other socket holds it */
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
}

udp_listener *udp_listener_new(worker *w, const cfg_addr *a, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	char name[CFG_ADDR_BUF];
	udp_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->fd = l->send_fd = -1;
	l->w = w;
	for (int i = 0; i < UDP_BATCH; i++) {
		l->in_iov[i] = (struct iovec){ .iov_base = l->in_buf[i], .iov_len = UDP_QUERY_MAX };
		l->in_msg[i].msg_hdr = (struct msghdr){ .msg_name = &l->in_sa[i],
							.msg_iov = &l->in_iov[i], .msg_iovlen = 1 };
		l->out_iov[i] = (struct iovec){ .iov_base = l->out_buf[i] };
		l->out_msg[i].msg_hdr = (struct msghdr){ .msg_name = &l->out_sa[i],
							 .msg_iov = &l->out_iov[i], .msg_iovlen = 1 };
	}
	l->fd = l->send_fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		goto fail;
	l->family = ss.ss_family;
	int rcv = UDP_RCVBUF;
	socket_options(l->fd, l->family);
	setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(l->fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	/* the port bound, should the config have asked for any (port 0) */
	l->addr_len = sizeof(l->addr);
	if (getsockname(l->fd, (struct sockaddr *)&l->addr, &l->addr_len) < 0)
		goto fail;
	l->ev = event_new(w->base, l->fd, EV_READ | EV_PERSIST, on_read, l);
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
	if (l->send_fd >= 0 && l->send_fd != l->fd)
		close(l->send_fd);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

/* A socket bound with the listeners that only sends: its filter drops
 * whatever reaches it (a broadcast is delivered to every socket of the
 * group). -1 on failure, errno set. */
static int sender_open(const udp_listener *l)
{
	static struct sock_filter drop[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = drop };
	int fd = socket(l->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	socket_options(fd, l->family);
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    bind(fd, (const struct sockaddr *)&l->addr, l->addr_len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int udp_senders_open(udp_listener *const *group, size_t n, char *err, size_t errlen)
{
	if (n == 0)
		return 0;
	/* The group's sockets are numbered in the order they were bound: the n
	 * receivers first. The program picks one of them by the query's ID (a
	 * random 16 bits), never a sender; a datagram too short to have one
	 * goes to the first. */
	struct sock_filter one[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_filter by_id[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (uint32_t)n),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = n == 1 ? (struct sock_fprog){ .len = 1, .filter = one }
					: (struct sock_fprog){ .len = 3, .filter = by_id };
	if (setsockopt(group[0]->fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0) {
		snprintf(err, errlen, "reuseport program: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int fd = sender_open(group[i]);
		if (fd < 0) {
			snprintf(err, errlen, "sending socket: %s", strerror(errno));
			/* the senders bound so far are the group's last: closing
			 * them leaves the receivers' numbers as they are */
			for (size_t j = 0; j < i; j++) {
				close(group[j]->send_fd);
				group[j]->send_fd = group[j]->fd;
			}
			return -1;
		}
		group[i]->send_fd = fd;
	}
	return 0;
}
