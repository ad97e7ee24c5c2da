/*
 * listen_tls.h: DNS over TLS for clients (RFC 7858): listeners on every
 * `tls.listen` address, with the certificate and key of `tls.certificate`
 * and `tls.key`.
 *
 * A DoT listener is a TCP listener (listen_tcp.h) whose accepted sockets are
 * wrapped in libevent's bufferevent_openssl, so framing, pipelining,
 * out-of-order answers, the idle timeout and the connection cap are the TCP
 * listener's, shared with it. What this file adds is the TLS: TLS 1.2 at
 * least; ALPN "dot" (a client that offers ALPN without "dot" fails the
 * handshake, one that offers none is served); a handshake deadline
 * (TLS_HANDSHAKE_MS) so that half-open handshakes cannot pin memory.
 *
 * The server context (SSL_CTX) is one per daemon, reference counted: the
 * daemon holds one reference and each worker one, taken over in the
 * worker's own thread on a reload, exactly like the config. A reload builds
 * a new context from the (possibly changed) files; the connections accepted
 * from then on get it, the open ones keep theirs, and files that do not
 * load keep the old context with the reason logged.
 */
#ifndef EMBARGO_LISTEN_TLS_H
#define EMBARGO_LISTEN_TLS_H

#include <stddef.h>

#include "resolver/daemon.h"
#include "resolver/listen_tcp.h"

#define TLS_HANDSHAKE_MS 5000   /* TCP accept to the end of the TLS handshake */

/*
 * The server context of cert_file (PEM: the server's certificate first,
 * then any intermediates) and key_file (PEM): TLS 1.2 at least, ALPN "dot".
 * NULL with the file and OpenSSL's reason in err.
 */
struct ssl_ctx_st *tls_ctx_new(const char *cert_file, const char *key_file, char *err,
			       size_t errlen);
/* Drops one reference; harmless on NULL. */
void tls_ctx_free(struct ssl_ctx_st *ctx);

/* At startup, before the workers are made: d->tls_ctx from d->cfg when
 * tls.listen is set. 0, or -1 with the reason in err. */
int tls_listen_setup(daemon_ctx *d, char *err, size_t errlen);

/* On a reload, on the main thread, with the new config c before the workers
 * switch to it: replaces d->tls_ctx with one made from c's files, or keeps
 * it and logs why. Nothing when the daemon does not listen for TLS. */
void tls_listen_reload(daemon_ctx *d, const cfg *c);

/* In the worker's thread (at start and on a reload): connections accepted
 * from now on get the daemon's current context. */
void tls_worker_take_ctx(worker *w);

/* Binds a DoT listener on `a`; freed with tcp_server_free. NULL with a
 * reason in err. */
tcp_server *tls_server_new(worker *w, const cfg_addr *a, bool reuseport, char *err, size_t errlen);

#endif
