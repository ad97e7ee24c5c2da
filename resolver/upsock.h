/*
 * upsock.h: the UDP sockets a worker sends upstream queries from.
 *
 * A socket per query (what Unbound does) costs socket, connect, two epoll
 * changes and close on every cache miss, several times the cost of the
 * query itself. Instead each worker keeps, per upstream, a few connected
 * UDP sockets, each bound by the kernel to a random source port, and sends
 * up to UPSOCK_PENDING queries at a time on each, told apart by their
 * random IDs. A socket retires after UPSOCK_USES queries and a fresh one
 * (a new random port) takes its place, so source ports keep changing
 * (RFC 5452): an off-path attacker must still hit a port in use, the ID of
 * a query in flight on it, and the question. Connected sockets make the
 * kernel drop datagrams from any other address or port.
 */
#ifndef EMBARGO_UPSOCK_H
#define EMBARGO_UPSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "resolver/daemon.h"

#define UPSOCK_PER_UPSTREAM 8   /* live sockets per upstream and worker */
#define UPSOCK_PENDING 64       /* queries in flight on one socket */
#define UPSOCK_USES 64          /* queries sent before a socket retires */
#define UPSOCK_RCVBUF (1 << 20) /* receive buffer of each socket */
#define UPSOCK_BATCH 32         /* replies read per recvmmsg */
#define UPSOCK_ROUNDS 2         /* recvmmsg calls per wakeup, then let others run */
#define UPSOCK_QUEUE 64         /* queries queued in one worker batch */
#define UPSOCK_PKT_MAX 1500     /* a query that may be queued; larger go at once */
#define UPSOCK_IDS 256          /* random query IDs drawn per getrandom call */

typedef struct upsock upsock;
typedef struct upsock_pool upsock_pool;

/* What a query in flight holds: the socket and its slot there. */
typedef struct upsock_handle {
	upsock *s;
	unsigned slot;
} upsock_handle;

typedef struct upsock_ops {
	/* A datagram carrying the owner's ID arrived: the owner checks the rest
	 * (question, and so on). It may call upsock_release on its handle. */
	void (*reply)(void *owner, const uint8_t *pkt, size_t len);
	/* The socket failed (e.g. ICMP port unreachable): the owner's query is
	 * lost; its slot is already released. */
	void (*error)(void *owner);
} upsock_ops;

upsock_pool *upsock_pool_new(worker *w, const upsock_ops *ops);
/* Closes every socket; owners are not called. */
void upsock_pool_free(upsock_pool *p);

/*
 * Sends pkt (len octets) to upstream `up` with a fresh random ID, which is
 * written into pkt[0..1] and returned in *id. 0 and *h set, or -1 (no
 * socket could be had, or the send failed) with *h cleared.
 * Inside a worker batch the datagram is copied and queued instead, and
 * upsock_flush sends it; if that send fails, the owner's error callback
 * runs then, as for a socket error.
 */
int upsock_send(upsock_pool *p, size_t up, uint8_t *pkt, size_t len, void *owner,
		upsock_handle *h, uint16_t *id);

/* Sends the queued queries: one sendmmsg per socket. Error callbacks run
 * after the sends and may queue more, which are sent before it returns. */
void upsock_flush(upsock_pool *p);

/* Gives the slot back (after a reply, a timeout, or a cancel); h cleared.
 * Harmless on a cleared handle. */
void upsock_release(upsock_pool *p, upsock_handle *h);

#endif
