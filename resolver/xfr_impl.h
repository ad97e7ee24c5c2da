/*
 * xfr_impl.h (internal): what xfr.c (the zone, the settings, the decision
 * on each request) and xfr_net.c (listeners and connections) share.
 */
#ifndef EMBARGO_XFR_IMPL_H
#define EMBARGO_XFR_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver/xfr.h"
#include "resolver/xfr_journal.h"
#include "resolver/xfr_msg.h"
#include "resolver/xfr_notify.h"

struct evconnlistener;
struct bufferevent;
struct event;

#define XFR_MAX_CONNS 64
#define XFR_IDLE_S 10               /* a connection quiet this long is closed */
#define XFR_WRITE_S 60              /* a client that reads nothing for this long */
#define XFR_LOW_WATER (64 * 1024)   /* make the next message below this */
#define XFR_HIGH_WATER (256 * 1024) /* and stop making them above this */

enum { XFR_TYPE_SOA = 6, XFR_TYPE_IXFR = 251, XFR_TYPE_AXFR = 252, XFR_CLASS_IN = 1, XFR_CLASS_ANY = 255 };
enum { XFR_RCODE_FORMERR = 1, XFR_RCODE_SERVFAIL = 2, XFR_RCODE_NOTIMP = 4, XFR_RCODE_REFUSED = 5 };

/* What the server uses of cfg->rpz, copied so a reload swaps it at once. */
typedef struct xfr_settings {
	char zone[256];
	uint32_t ttl;
	cfg_addr *listen;
	size_t n_listen;
	cfg_net *acl;
	size_t n_acl;
	xfr_tsig_key *keys;
	size_t n_keys;
	cfg_addr *notify;
	size_t n_notify;
} xfr_settings;

typedef struct xfr_conn xfr_conn;

struct xfr_server {
	daemon_ctx *d;
	struct event_base *base;
	const cfg *cfg_seen;        /* the config the settings came from */
	xfr_settings set;
	xfr_journal j;
	xfr_notifier *notifier;
	struct evconnlistener **tcp;
	size_t n_tcp;
	int *udp_fd;
	struct event **udp_ev;
	size_t n_udp;
	xfr_conn *conns;
	size_t n_conns;
	uint8_t in[XFR_MSG_MAX];
	uint8_t out[XFR_MSG_MAX + 2];
};

struct xfr_conn {
	xfr_server *x;
	struct bufferevent *bev;
	xfr_conn *prev, *next;
	cfg_addr peer;
	bool streaming;
	bool eof;                   /* the client half-closed: finish, then close */
	xfr_stream st;
	char what[800];             /* the transfer, for its log line */
};

/* The verdict on one request: a reply written into out, or a transfer to
 * stream (TCP only, into c->st). */
typedef struct xfr_verdict {
	size_t len;                 /* one reply of this length, when no stream */
	bool stream;
} xfr_verdict;

/* Decides one request from peer (c is NULL over UDP) and writes the reply
 * into out[0..cap), or starts c->st. */
xfr_verdict xfr_handle(xfr_server *x, xfr_conn *c, const cfg_addr *peer, const uint8_t *msg,
		       size_t len, uint8_t *out, size_t cap);

/* Binds x->set.listen, TCP and UDP (xfr_net.c). 0, or -1 with err. */
int xfr_net_listen(xfr_server *x, char *err, size_t errlen);
/* Closes every connection and listener. */
void xfr_net_close(xfr_server *x);

#endif
