/*
 * updot.h: DNS over TLS to the upstreams (RFC 7858, RFC 8310 strict profile).
 *
 * Per worker and per tls:// upstream, a small pool of persistent TLS
 * connections (libevent's bufferevent_openssl over a TCP socket): one, opened
 * on the first query, and more when busy. A query goes on the least loaded
 * connection that is up or connecting; another one is opened (up to
 * UPDOT_CONNS_MAX, one handshake at a time) only when every open one has at
 * least UPDOT_BUSY queries in flight. Queries are pipelined with the 2-octet
 * length of RFC 1035 4.2.2, each with a random ID not in flight on its
 * connection, and answers are taken in any order (RFC 7766 6.2.1.1). Queries
 * written while a connection is still being set up wait in its output buffer
 * (at most UPDOT_PENDING per connection).
 *
 * Strict profile: the chain is verified against the system CA store or
 * `tls-ca`, the name after '#' is checked (SSL_set1_host) and sent as SNI,
 * TLS 1.2 at least, and an optional SPKI pin (pin-sha256) must match. Any
 * failure is an upstream failure, logged with its reason (once, until the
 * reason changes or the upstream works again), never a downgrade.
 *
 * Lifetime of a connection: a failure fails every query on it (their owners
 * move on to the next upstream), and unless it had been answering, its
 * upstream backs off: no new connection to it (and when none is left open,
 * new queries fail at once) until UPDOT_BACKOFF_MIN_MS, doubling up to
 * UPDOT_BACKOFF_MAX_MS, has passed. The backoff is the upstream's, not the
 * connection's: connections failing together count once. A connection is
 * closed after UPDOT_IDLE_MS without queries (the spare ones of a pool too),
 * or as failed after UPDOT_STALL_MS of silence with queries on it. The
 * newest TLS session of any connection of the pool is offered by the next
 * ones (resumption).
 *
 * The interface is upsock.h's: send with a handle, release the handle, and
 * two callbacks, so fwd.c treats both transports alike.
 */
#ifndef EMBARGO_UPDOT_H
#define EMBARGO_UPDOT_H

#include <stddef.h>
#include <stdint.h>

#include "resolver/daemon.h"

#define UPDOT_CONNS_MAX 4             /* connections per upstream and worker */
#define UPDOT_BUSY 32                 /* in flight on each before another opens */
#define UPDOT_PENDING 128             /* queries in flight (or queued) per connection */
#define UPDOT_IDLE_MS 30000           /* closed after this long without queries */
#define UPDOT_HANDSHAKE_MS 5000       /* TCP connect and TLS handshake together */
#define UPDOT_STALL_MS 5000           /* queries in flight and nothing read: dead */
#define UPDOT_BACKOFF_MIN_MS 100
#define UPDOT_BACKOFF_MAX_MS 10000

typedef struct updot_conn updot_conn;
typedef struct updot_pool updot_pool;

/* What a query in flight holds: the connection and its slot there. */
typedef struct updot_handle {
	updot_conn *c;
	unsigned slot;
} updot_handle;

typedef struct updot_ops {
	/* A message carrying the owner's ID arrived: the owner checks the rest.
	 * It may call updot_release on its handle. */
	void (*reply)(void *owner, const uint8_t *pkt, size_t len);
	/* The connection failed: the owner's query is lost; its slot is
	 * already released. */
	void (*error)(void *owner);
} updot_ops;

/*
 * The TLS client context every worker's connections share (read-only once
 * made): TLS 1.2 minimum, peer verification against ca_file (a PEM bundle)
 * or, when NULL, the system store. NULL with a reason in err.
 */
struct ssl_ctx_st *updot_ctx_new(const char *ca_file, char *err, size_t errlen);
void updot_ctx_free(struct ssl_ctx_st *ctx);

/* A worker's connections; none is opened before the first query. */
updot_pool *updot_pool_new(worker *w, const updot_ops *ops);
/* Closes every connection; owners are not called. */
void updot_pool_free(updot_pool *p);

/*
 * Queues pkt (len octets) to upstream `up` (a tls one) with a fresh random
 * ID, written into pkt[0..1] and returned in *id. 0 with *h set, or -1 (the
 * upstream is backing off after a failure with no connection open, every
 * connection is full, or out of memory) with *h cleared. pkt stays the owner's and must not change
 * until the handle is released: when the server closes a connection that
 * was answering, the queries on it are sent again on a new one (once).
 */
int updot_send(updot_pool *p, size_t up, uint8_t *pkt, size_t len, void *owner,
	       updot_handle *h, uint16_t *id);

/* Gives the slot back (after a reply, a timeout, or a cancel); h cleared.
 * Harmless on a cleared handle. A late answer to it is dropped. */
void updot_release(updot_pool *p, updot_handle *h);

#endif
