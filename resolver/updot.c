/*
 * updot.c: persistent, pipelined DNS-over-TLS connections to the upstreams,
 * a small pool per worker and tls:// upstream (see updot.h for the behaviour).
 *
 * A connection is IDLE (no socket), CONNECTING (TCP connect and TLS
 * handshake under way; queries queue in the output buffer), or UP. What
 * failures teach is the upstream's (updot_up): the backoff (no new
 * connection before retry_ms), the reason last logged, and the TLS session
 * every connection of the pool offers. Callbacks are deferred
 * (BEV_OPT_DEFER_CALLBACKS) so that no owner is ever called back from inside
 * updot_send.
 */
#include "resolver/updot.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "resolver/log.h"
#include "resolver/obs.h"
#include "resolver/tcp_frame.h"

typedef enum conn_state { C_IDLE = 0, C_CONNECTING, C_UP } conn_state;

typedef struct updot_up updot_up;

struct updot_conn {
	updot_up *u;
	conn_state state;
	struct bufferevent *bev;     /* CONNECTING, UP; owns ssl and the socket */
	SSL *ssl;
	struct event *timer;         /* handshake deadline, or idle close */
	uint64_t wait_ms;            /* since when we wait for the server to send
					anything (a query went out after its last
					message); 0: not waiting */
	bool answered;               /* this connection delivered an answer */
	unsigned n_pending;
	struct {
		void *owner;             /* NULL: free */
		uint16_t id;
		const uint8_t *pkt;      /* the owner's, for a resend */
		size_t len;
	} pending[UPDOT_PENDING];
};

/* One tls:// upstream of a worker: its connections, and what they share. */
struct updot_up {
	updot_pool *p;
	size_t up;
	bool on;                     /* a tls upstream (and a context): in use */
	SSL_SESSION *sess;           /* the newest of any connection: resumption */
	uint64_t retry_ms;           /* worker_mono_ms() before which no new
					connection is opened (backoff) */
	uint32_t backoff_ms;         /* the last backoff; 0 after a success */
	char why[200];               /* the failure last logged; "" when working */
	updot_conn conns[UPDOT_CONNS_MAX];
};

struct updot_pool {
	worker *w;
	updot_ops ops;
	size_t n_up;
	updot_up *ups;               /* one per upstream; used for tls ones only */
	uint8_t rbuf[WIRE_TCP_MAX];
};

/* A session to resume arrived (after the handshake in TLS 1.2, in a
 * NewSessionTicket after it in TLS 1.3): the upstream keeps the newest, from
 * whichever connection of its pool. 1: we own it. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	updot_conn *c = SSL_get_app_data(ssl);
	if (!c || !SSL_SESSION_is_resumable(sess))
		return 0;
	SSL_SESSION_free(c->u->sess);
	c->u->sess = sess;
	return 1;
}

SSL_CTX *updot_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "TLS: cannot create a client context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);  /* RFC 8310: no older */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* a close without close_notify is an EOF, not an error: messages are
	 * length-framed, so no truncation goes unnoticed, and servers close
	 * idle connections that way (it would also spoil the session) */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* sessions are kept per upstream (updot_up.sess), not in the context */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_new_session);
	int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
			 : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		char e[160];
		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		snprintf(err, errlen, "tls-ca %s: cannot load the certificates: %s",
			 ca_file ? ca_file : "(system store)", e);
		SSL_CTX_free(ctx);
		return NULL;
	}
	ERR_clear_error();
	return ctx;
}

void updot_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

static const upstream *conn_upstream(const updot_conn *c)
{
	return &c->u->p->w->d->upstreams[c->u->up];
}

static void arm(updot_conn *c, uint32_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

/* Frees the socket. The upstream's session (from on_new_session) stays for
 * the next connections: OpenSSL spoils the session of a connection freed
 * without a shutdown, so an established one is shut down first (a
 * close_notify when the socket still takes it; SIGPIPE is ignored by
 * serve.c). */
static void conn_close(updot_conn *c)
{
	if (c->bev) {
		SSL_set_app_data(c->ssl, NULL);
		if (c->state == C_UP) {
			if (SSL_shutdown(c->ssl) < 0)
				SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
			ERR_clear_error();
		}
		bufferevent_free(c->bev);  /* frees the SSL and closes the socket */
	}
	c->bev = NULL;
	c->ssl = NULL;
	c->wait_ms = 0;
	evtimer_del(c->timer);
}

/* Every query on c is lost and c is IDLE again; unless it had been
 * answering, its upstream backs off (no new connection before retry_ms).
 * Logs `why` unless it was the upstream's last reason logged. */
static void conn_fail(updot_conn *c, const char *why)
{
	updot_up *u = c->u;
	updot_pool *p = u->p;
	const upstream *up = conn_upstream(c);
	bool handshaken = c->state == C_UP;

	if (strcmp(u->why, why)) {
		char a[CFG_ADDR_BUF];
		log_warn("upstream", "tls://%s#%s: %s", cfg_addr_format(&up->addr, a), up->tls_name, why);
		snprintf(u->why, sizeof(u->why), "%s", why);
	}
	p->w->stats.upstream_errors++;
	if (!handshaken) {
		/* a failed handshake (or pin): never offer its session again */
		SSL_SESSION_free(u->sess);
		u->sess = NULL;
	}
	conn_close(c);
	c->state = C_IDLE;
	if (c->answered) {
		u->backoff_ms = 0;
	} else if (worker_mono_ms() >= u->retry_ms) {
		/* connections of the pool failing together (a dead upstream)
		 * count once: the backoff grows once per attempt after it */
		u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : UPDOT_BACKOFF_MIN_MS;
		if (u->backoff_ms > UPDOT_BACKOFF_MAX_MS)
			u->backoff_ms = UPDOT_BACKOFF_MAX_MS;
		u->retry_ms = worker_mono_ms() + u->backoff_ms;
	}
	for (unsigned i = 0; i < UPDOT_PENDING && c->n_pending; i++) {
		void *owner = c->pending[i].owner;
		if (!owner)
			continue;
		c->pending[i].owner = NULL;
		c->n_pending--;
		p->ops.error(owner);  /* may send elsewhere; its slot here is gone */
	}
}

/* The timer of an UP connection: a stall deadline while we wait for the
 * server (queries went out, even if they have timed out since), else the
 * idle close when nothing is in flight. */
static void rearm(updot_conn *c)
{
	if (c->state != C_UP)
		return;
	if (c->wait_ms) {
		uint64_t quiet = worker_mono_ms() - c->wait_ms;
		arm(c, quiet >= UPDOT_STALL_MS ? 0 : (uint32_t)(UPDOT_STALL_MS - quiet));
	} else if (!c->n_pending) {
		arm(c, UPDOT_IDLE_MS);
	}
}

/* RFC 7858 4.2: SHA-256 of the DER SubjectPublicKeyInfo of the end-entity
 * certificate. 0 when it matches the configured pin; else -1 with the
 * server's pin in base64 in got. */
static int check_pin(updot_conn *c, char got[64])
{
	const upstream *u = conn_upstream(c);
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	unsigned char *der = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	strcpy(got, "(none)");
	if (!cert)
		return -1;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (n <= 0)
		return -1;
	int ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (!ok || mdlen != sizeof(u->pin))
		return -1;
	EVP_EncodeBlock((unsigned char *)got, md, (int)mdlen);
	return CRYPTO_memcmp(md, u->pin, sizeof(u->pin)) ? -1 : 0;
}

/* Whether the TCP connection was made: a refused one shows as an EOF. */
static bool tcp_connected(updot_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = c->bev ? bufferevent_getfd(c->bev) : -1;
	return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

/* Why the connection failed, as precisely as OpenSSL and the socket say. */
static void describe(updot_conn *c, short what, char *why, size_t n)
{
	long vr = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	unsigned long e = c->bev ? bufferevent_get_openssl_error(c->bev) : 0;
	if (e && !ERR_GET_LIB(e))
		e = 0;  /* libevent queues SSL_get_error() codes too: a socket error */
	int serr = EVUTIL_SOCKET_ERROR();
	if (vr != X509_V_OK) {
		snprintf(why, n, "certificate verification failed: %s", X509_verify_cert_error_string(vr));
	} else if (e) {
		char s[160];
		ERR_error_string_n(e, s, sizeof(s));
		snprintf(why, n, "TLS error: %s", s);
	} else if (c->state == C_CONNECTING && !tcp_connected(c)) {
		snprintf(why, n, "connection failed: %s", serr ? strerror(serr) : "cannot connect");
	} else if (what & BEV_EVENT_EOF) {
		snprintf(why, n, c->state == C_UP ? "connection closed by the server"
						  : "connection closed during the TLS handshake");
	} else if (serr) {
		snprintf(why, n, "connection failed: %s", strerror(serr));
	} else {
		snprintf(why, n, "connection failed");
	}
	while (c->bev && bufferevent_get_openssl_error(c->bev))
		;  /* drain the rest of the queue */
}

static int conn_open(updot_conn *c);
static int write_frame(updot_conn *c, const uint8_t *pkt, size_t len);

/* The server closed a connection that had been answering while queries
 * were on it: most likely its idle timeout crossed our queries (RFC 7766
 * 6.2.3). They go again, once, on a new connection; their IDs stay. */
static int conn_resend(updot_conn *c)
{
	conn_close(c);
	c->state = C_IDLE;
	if (conn_open(c) < 0)
		return -1;
	for (unsigned i = 0; i < UPDOT_PENDING; i++)
		if (c->pending[i].owner && write_frame(c, c->pending[i].pkt, c->pending[i].len) < 0)
			return -1;
	return 0;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	updot_conn *c = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		char got[64];
		if (conn_upstream(c)->has_pin && check_pin(c, got) < 0) {
			char why[160];
			snprintf(why, sizeof(why), "pin-sha256 mismatch: the server's key is %s", got);
			conn_fail(c, why);
			return;
		}
		evtimer_del(c->timer);
		obs_upstream_tls(c->u->p->w, (int)c->u->up, SSL_session_reused(c->ssl) == 1);
		c->state = C_UP;
		c->wait_ms = c->n_pending ? worker_mono_ms() : 0;
		rearm(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->state == C_UP && !c->n_pending) {
		conn_close(c);  /* the server closed an idle connection: fine */
		c->state = C_IDLE;
		return;
	}
	if (c->state == C_UP && c->answered && c->n_pending) {
		if (conn_resend(c) == 0)
			return;
		conn_fail(c, "closed by the server, and cannot reconnect");
		return;
	}
	char why[200];
	describe(c, what, why, sizeof(why));
	conn_fail(c, why);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	updot_conn *c = arg;
	updot_pool *p = c->u->p;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (c->bev == bev) {
		size_t len;
		if (tcp_frame_pull(in, 0, p->rbuf, &len) != TCP_FRAME_READY)
			break;
		if (len < 12) {
			p->w->stats.upstream_mismatch++;
			continue;
		}
		uint16_t id = (uint16_t)(p->rbuf[0] << 8 | p->rbuf[1]);
		void *owner = NULL;
		for (unsigned i = 0; i < UPDOT_PENDING; i++) {
			if (c->pending[i].owner && c->pending[i].id == id) {
				owner = c->pending[i].owner;
				break;
			}
		}
		if (!owner) {
			p->w->stats.upstream_mismatch++;  /* late: its query timed out */
			continue;
		}
		c->answered = true;
		c->u->backoff_ms = 0;
		c->u->why[0] = 0;
		p->ops.reply(owner, p->rbuf, len);
	}
	if (c->bev == bev) {
		/* the server is alive: what is still in flight waits from now */
		c->wait_ms = c->n_pending ? worker_mono_ms() : 0;
		rearm(c);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	updot_conn *c = arg;
	(void)fd;
	(void)what;
	if (c->state == C_CONNECTING) {
		conn_fail(c, "connection or TLS handshake timed out");
	} else if (c->state == C_UP && c->wait_ms) {
		if (worker_mono_ms() - c->wait_ms >= UPDOT_STALL_MS) {
			char why[80];
			snprintf(why, sizeof(why), "nothing received for %u ms after a query",
				 (unsigned)UPDOT_STALL_MS);
			conn_fail(c, why);
		} else {
			rearm(c);
		}
	} else if (c->state == C_UP && !c->n_pending) {
		conn_close(c);  /* idle */
		c->state = C_IDLE;
	}
}

static int conn_open(updot_conn *c)
{
	worker *w = c->u->p->w;
	const upstream *u = conn_upstream(c);
	c->answered = false;
	SSL *ssl = SSL_new(w->d->updot_ctx);
	if (!ssl)
		return -1;
	/* RFC 8310 strict: the authentication domain name is checked and sent */
	if (SSL_set_tlsext_host_name(ssl, u->tls_name) != 1 || SSL_set1_host(ssl, u->tls_name) != 1) {
		SSL_free(ssl);
		return -1;
	}
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (c->u->sess)
		SSL_set_session(ssl, c->u->sess);  /* shared: each takes a reference */
	SSL_set_app_data(ssl, c);
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		w->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev)
		return -1;  /* libevent's failure path may already have freed ssl */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, on_read, NULL, on_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, (const struct sockaddr *)&u->sa, (int)u->salen) < 0) {
		bufferevent_free(bev);
		return -1;
	}
	int one = 1;
	setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->bev = bev;
	c->ssl = ssl;
	c->state = C_CONNECTING;
	c->answered = false;
	arm(c, UPDOT_HANDSHAKE_MS);
	return 0;
}

static int write_frame(updot_conn *c, const uint8_t *pkt, size_t len)
{
	uint8_t len2[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	if (bufferevent_write(c->bev, len2, 2) < 0 || bufferevent_write(c->bev, pkt, len) < 0)
		return -1;
	return 0;
}

/* The least loaded connection of u that is UP or CONNECTING and has room
 * (an UP one on a tie, then the first: spare ones go idle); NULL if none. */
static updot_conn *conn_pick(updot_up *u)
{
	updot_conn *best = NULL;
	for (unsigned i = 0; i < UPDOT_CONNS_MAX; i++) {
		updot_conn *c = &u->conns[i];
		if (c->state == C_IDLE || c->n_pending >= UPDOT_PENDING)
			continue;
		if (!best || c->n_pending < best->n_pending ||
		    (c->n_pending == best->n_pending && c->state == C_UP && best->state != C_UP))
			best = c;
	}
	return best;
}

/* Opens one more connection of u, when the pool may grow: fewer than
 * UPDOT_CONNS_MAX are open, none is still in its handshake (one at a time:
 * a dead upstream sees one attempt, not a burst), and u is not backing off.
 * NULL otherwise, or when it cannot be opened (then u backs off). */
static updot_conn *conn_add(updot_up *u)
{
	updot_conn *idle = NULL;
	if (worker_mono_ms() < u->retry_ms)
		return NULL;
	for (unsigned i = 0; i < UPDOT_CONNS_MAX; i++) {
		if (u->conns[i].state == C_CONNECTING)
			return NULL;
		if (u->conns[i].state == C_IDLE && !idle)
			idle = &u->conns[i];
	}
	if (!idle || conn_open(idle) == 0)
		return idle;
	char why[160];
	snprintf(why, sizeof(why), "cannot open a connection: %s", strerror(errno));
	conn_fail(idle, why);  /* IDLE: no query on it to fail, only the backoff */
	return NULL;
}

int updot_send(updot_pool *p, size_t up, uint8_t *pkt, size_t len, void *owner,
	       updot_handle *h, uint16_t *id)
{
	h->c = NULL;
	if (up >= p->n_up || !p->ups[up].on || len > WIRE_TCP_MAX)
		return -1;
	updot_up *u = &p->ups[up];
	/* the least loaded one, unless all are busy and the pool can grow */
	updot_conn *c = conn_pick(u);
	if (!c || c->n_pending >= UPDOT_BUSY) {
		updot_conn *n = conn_add(u);
		if (n)
			c = n;
	}
	if (!c)
		return -1;  /* backing off, every connection full, or out of memory:
			       fail over at once */
	unsigned slot = 0;
	while (c->pending[slot].owner)
		slot++;
	uint16_t qid;
	bool taken;
	do {  /* an ID not in flight on this connection */
		qid = (uint16_t)arc4random();
		taken = false;
		for (unsigned i = 0; i < UPDOT_PENDING && !taken; i++)
			taken = c->pending[i].owner && c->pending[i].id == qid;
	} while (taken);
	pkt[0] = (uint8_t)(qid >> 8);
	pkt[1] = (uint8_t)qid;
	if (write_frame(c, pkt, len) < 0)
		return -1;  /* out of memory; a half-written frame makes the server
			       close the connection, and it is replaced */
	if (!c->wait_ms) {
		c->wait_ms = worker_mono_ms();
		rearm(c);  /* not idle: watch for a stall */
	}
	c->pending[slot].owner = owner;
	c->pending[slot].id = qid;
	c->pending[slot].pkt = pkt;
	c->pending[slot].len = len;
	c->n_pending++;
	h->c = c;
	h->slot = slot;
	*id = qid;
	return 0;
}

void updot_release(updot_pool *p, updot_handle *h)
{
	updot_conn *c = h->c;
	(void)p;
	if (!c)
		return;
	h->c = NULL;
	c->pending[h->slot].owner = NULL;
	c->n_pending--;
	rearm(c);
}

updot_pool *updot_pool_new(worker *w, const updot_ops *ops)
{
	updot_pool *p = calloc(1, sizeof(*p));
	size_t n = w->d->n_upstreams ? w->d->n_upstreams : 1;
	if (!p)
		return NULL;
	p->w = w;
	p->ops = *ops;
	p->n_up = w->d->n_upstreams;
	p->ups = calloc(n, sizeof(*p->ups));
	if (!p->ups) {
		free(p);
		return NULL;
	}
	for (size_t i = 0; i < p->n_up; i++) {
		updot_up *u = &p->ups[i];
		u->p = p;
		u->up = i;
		if (!w->d->upstreams[i].tls || !w->d->updot_ctx)
			continue;  /* not on: updot_send refuses it */
		u->on = true;
		for (unsigned k = 0; k < UPDOT_CONNS_MAX; k++) {
			updot_conn *c = &u->conns[k];
			c->u = u;
			if (!(c->timer = evtimer_new(w->base, on_timer, c))) {
				updot_pool_free(p);
				return NULL;
			}
		}
	}
	return p;
}

void updot_pool_free(updot_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_up; i++) {
		updot_up *u = &p->ups[i];
		for (unsigned k = 0; k < UPDOT_CONNS_MAX; k++) {
			updot_conn *c = &u->conns[k];
			if (c->bev) {
				SSL_set_app_data(c->ssl, NULL);
				bufferevent_free(c->bev);
			}
			if (c->timer)
				event_free(c->timer);
		}
		SSL_SESSION_free(u->sess);
	}
	free(p->ups);
	free(p);
}
