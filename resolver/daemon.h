/*
 * daemon.h: the running forwarder's top struct, and the pieces every
 * transport shares: the policy clock, counters and the client handle that
 * a query carries until it is answered.
 *
 * The daemon struct is the only mutable state of the process; every module
 * of resolver/ gets it as an argument. Ownership: the daemon owns the config,
 * the policy snapshot, listeners, upstreams and the forwarding table.
 */
#ifndef EMBARGO_DAEMON_H
#define EMBARGO_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "config/config.h"
#include "policy/policy.h"
#include "resolver/wire.h"

struct event_base;
struct event;
struct tcp_conn;
struct udp_listener;
struct tcp_server;
struct fwd;

typedef enum transport { TRANSPORT_UDP = 0, TRANSPORT_TCP, TRANSPORT_COUNT } transport;

/* Where an answer goes back to. For TCP it holds a reference on the
 * connection (tcp_conn_ref/tcp_conn_unref), so a connection closed while
 * its queries are upstream is freed only when the last one is answered. */
typedef struct client {
	transport t;
	int fd;                        /* UDP: the listener socket */
	struct sockaddr_storage sa;    /* UDP: the client's address */
	socklen_t salen;
	cfg_ip ip;                     /* for groups and access */
	struct tcp_conn *conn;         /* TCP */
} client;

/* Counters, read by the shutdown summary and later by /metrics. */
typedef struct daemon_stats {
	uint64_t queries[TRANSPORT_COUNT];
	uint64_t blocked, audited, exempt, forwarded, refused_access;
	uint64_t formerr, notimp, dropped;
	uint64_t upstream_replies, upstream_mismatch, upstream_timeouts, upstream_errors;
	uint64_t servfail, cloaked, tcp_fallback, coalesced;
} daemon_stats;

typedef struct upstream {
	cfg_addr addr;
	struct sockaddr_storage sa;
	socklen_t salen;
} upstream;

typedef struct daemon_ctx {
	struct event_base *base;
	cfg *cfg;                      /* owned */
	policy *pol;                   /* owned; the snapshot in force */

	/* Policy clock: the wall clock, or --at pinned and running on. */
	bool clock_pinned;
	int64_t clock_at;              /* the pinned instant */
	struct timespec clock_mono0;   /* monotonic time when it was pinned */

	upstream *upstreams;           /* owned */
	size_t n_upstreams;

	struct udp_listener **udp;     /* owned */
	size_t n_udp;
	struct tcp_server **tcp;       /* owned */
	size_t n_tcp;
	void *tcp_conns;               /* owned by listen_tcp.c: open connections */
	struct fwd *fwd;               /* owned */

	struct event *sig_term, *sig_int, *stop_timer;
	bool stopping;

	daemon_stats stats;
	/* Scratch: one query in, one answer out at a time (one thread). */
	uint8_t in[WIRE_TCP_MAX];
	uint8_t out[WIRE_TCP_MAX + 2];
} daemon_ctx;

/* The policy time now: seconds since the epoch. */
int64_t daemon_now(const daemon_ctx *d);

/* Sends an answer to a client (UDP datagram or TCP frame); drops it when the
 * TCP connection is gone. */
void daemon_send(daemon_ctx *d, const client *c, const uint8_t *pkt, size_t len);

/* The answer size limit for this client and query. */
size_t daemon_answer_cap(const client *c, const wire_query *q);

/* Called by the forwarding table when nothing is in flight any more, so a
 * stopping daemon can exit early. */
void daemon_maybe_exit(daemon_ctx *d);

#endif
