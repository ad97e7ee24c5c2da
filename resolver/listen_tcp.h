/*
 * listen_tcp.h: TCP listeners and their connections (RFC 7766): two-octet
 * length framing, many queries per connection, pipelined queries answered as
 * each completes (out of order), an idle timeout, and a cap on connections
 * that closes the least recently active idle one first.
 *
 * A connection is reference counted: each query in flight holds one, so an
 * answer for a connection that was closed meanwhile is simply dropped.
 *
 * The same code serves DNS over TLS (listen_tls.c): a listener is made with
 * a tcp_kind whose wrap() turns each accepted socket into a TLS bufferevent,
 * and the connection then waits for the handshake (BEV_EVENT_CONNECTED)
 * before its idle clock starts. Framing, pipelining, the idle timeout and
 * the cap are this file's, for both: TLS connections count against the
 * same per-worker cap as plain TCP ones.
 */
#ifndef EMBARGO_LISTEN_TCP_H
#define EMBARGO_LISTEN_TCP_H

#include <event2/util.h>
#include <stddef.h>

#include "resolver/daemon.h"

struct bufferevent;

typedef struct tcp_server tcp_server;
typedef struct tcp_conn tcp_conn;

#define TCP_IDLE_MS 10000        /* close a connection with no query this long */
#define TCP_QUERY_MS 5000        /* a query must be whole this long after its first
				    octet arrived (slowloris), whatever the idle time */
#define TCP_MAX_CONNS 1024       /* all workers together; each gets its share */
#define TCP_MAX_PENDING 128      /* queries in flight per connection, then stop reading */
#define TCP_OUTPUT_PAUSE (64 << 10) /* unread answers past which reading stops */
#define TCP_MAX_OUTPUT (1 << 20) /* unread answers; past this the client is closed */

/* What a stream listener makes of an accepted socket. */
typedef struct tcp_kind {
	transport t;            /* in the client handle: counters, query log */
	const char *name;       /* "tcp", "tls": in errors */
	/* > 0: the bufferevent must report BEV_EVENT_CONNECTED (a finished
	 * handshake) within this many milliseconds, or it is closed. */
	unsigned handshake_ms;
	/* Wraps the accepted, non-blocking fd in a bufferevent on w's base
	 * that closes it when freed; NULL on failure, with fd still open. */
	struct bufferevent *(*wrap)(worker *w, evutil_socket_t fd);
	/* Whether input waits below the bufferevent, read from the socket but
	 * not yet handed up (TLS records read ahead into OpenSSL's buffer): the
	 * socket will not signal it again. NULL: never. */
	bool (*buffered)(struct bufferevent *bev);
} tcp_kind;

/* Binds and listens on `a` (with SO_REUSEPORT when several workers share
 * it); NULL with a reason in err. */
tcp_server *tcp_server_new(worker *w, const cfg_addr *a, bool reuseport, char *err, size_t errlen);
/* The same for another kind of stream (DNS over TLS); `k` must outlive the
 * listener. */
tcp_server *tcp_server_new_kind(worker *w, const cfg_addr *a, bool reuseport, const tcp_kind *k,
				char *err, size_t errlen);
/* Stops accepting; existing connections stay until tcp_close_all. */
void tcp_server_free(tcp_server *s);
/* Closes every connection, TCP and TLS (at shutdown). */
void tcp_close_all(worker *w);

void tcp_conn_ref(tcp_conn *c);
void tcp_conn_unref(tcp_conn *c);
/* Queues one framed answer; dropped if the connection is closed. */
void tcp_conn_send(tcp_conn *c, const uint8_t *pkt, size_t len);

#endif
