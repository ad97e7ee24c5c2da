/*
 * listen_tls.c: DNS over TLS for clients: the server context, its reload,
 * and the wrapping of accepted sockets in TLS. Everything after the
 * handshake is listen_tcp.c's.
 *
 * Who owns what: the daemon holds one reference on the current context
 * (d->tls_ctx) and each worker one (w->tls_ctx); every SSL holds one on the
 * context it was made from (OpenSSL's SSL_new), so an open connection keeps
 * the old certificate alive after a reload until it closes.
 */
#include "resolver/listen_tls.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "resolver/log.h"

/* OpenSSL's first queued reason (the most specific one) as "library:
 * reason", then an empty queue. */
static const char *ssl_reason(unsigned long e, char *buf, size_t len)
{
	const char *lib = ERR_lib_error_string(e), *why = ERR_reason_error_string(e);
	if (!e)
		snprintf(buf, len, "unknown error");
	else if (ERR_SYSTEM_ERROR(e))
		snprintf(buf, len, "%s", strerror(ERR_GET_REASON(e)));
	else if (why)
		snprintf(buf, len, "%s%s%s", lib ? lib : "", lib ? ": " : "", why);
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/*
 * ALPN (RFC 7858 section 3.2 leaves it optional; RFC 7301): a client that
 * offers protocols must offer "dot", or the handshake fails with
 * no_application_protocol. A client that offers none never comes here.
 */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == 3 && !memcmp(in + i + 1, "dot", 3)) {
			*out = in + i + 1;
			*outlen = 3;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Warns when the certificate is not (or no longer) valid: clients will
 * refuse it, but that is the operator's call, not a reason to not start. */
static void check_validity(SSL_CTX *ctx, const char *cert_file)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	if (!x)
		return;
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		log_warn("tls", "certificate %s has expired: clients will refuse it", cert_file);
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		log_warn("tls", "certificate %s is not valid yet: clients will refuse it", cert_file);
}

SSL_CTX *tls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	char why[256];
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot make a TLS context: %s",
			 ssl_reason(ERR_get_error(), why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* many idle connections: give the read and write buffers back between records */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* one read() takes every record the socket holds, not two per record
	 * (header, then body); listen_tcp.c hands up what stays buffered */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"embargo-dot", 11);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(err, errlen, "cannot load the certificate %s: %s", cert_file,
			 ssl_reason(ERR_get_error(), why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		unsigned long e = ERR_get_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			snprintf(err, errlen, "the key %s does not match the certificate %s", key_file,
				 cert_file);
		else
			snprintf(err, errlen, "cannot load the key %s: %s", key_file,
				 ssl_reason(e, why, sizeof(why)));
		ERR_clear_error();
		goto fail;
	}
	check_validity(ctx, cert_file);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);  /* NULL is harmless */
}

/* "CN=dot.example, serial 1A2B, until 2027-01-01": for the log. */
static void describe(SSL_CTX *ctx, char *buf, size_t len)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	char subject[256] = "?", serial[80] = "?", until[32] = "?";
	if (!x) {
		snprintf(buf, len, "?");
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex)
		snprintf(serial, sizeof(serial), "%.70s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	struct tm tm;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(buf, len, "%s, serial %s, until %s", subject, serial, until);
}

int tls_listen_setup(daemon_ctx *d, char *err, size_t errlen)
{
	const cfg *c = d->cfg;
	if (!c->tls.n_listen)
		return 0;
	d->tls_ctx = tls_ctx_new(c->tls.certificate, c->tls.key, err, errlen);
	if (!d->tls_ctx)
		return -1;
	char what[512];
	describe(d->tls_ctx, what, sizeof(what));
	log_info("tls", "certificate %s: %s", c->tls.certificate, what);
	return 0;
}

void tls_listen_reload(daemon_ctx *d, const cfg *c)
{
	char err[768], what[512];
	if (!d->tls_ctx)
		return;  /* not listening for TLS: tls.listen needs a restart */
	if (!c->tls.certificate || !c->tls.key) {
		log_warn("tls", "no tls.certificate and tls.key any more: keeping the certificate "
			 "loaded before");
		return;
	}
	SSL_CTX *ctx = tls_ctx_new(c->tls.certificate, c->tls.key, err, sizeof(err));
	if (!ctx) {
		log_err("tls", "%s: keeping the certificate loaded before", err);
		return;
	}
	tls_ctx_free(d->tls_ctx);  /* the workers hold their own references */
	d->tls_ctx = ctx;
	describe(ctx, what, sizeof(what));
	log_info("tls", "certificate %s reloaded: %s", c->tls.certificate, what);
}

void tls_worker_take_ctx(worker *w)
{
	SSL_CTX *ctx = w->d->tls_ctx;
	if (ctx == w->tls_ctx)
		return;
	if (ctx)
		SSL_CTX_up_ref(ctx);
	SSL_CTX_free(w->tls_ctx);
	w->tls_ctx = ctx;
}

static struct bufferevent *wrap_tls(worker *w, evutil_socket_t fd)
{
	if (!w->tls_ctx)
		return NULL;
	SSL *ssl = SSL_new(w->tls_ctx);
	if (!ssl)
		return NULL;
	/* On failure libevent frees ssl (CLOSE_ON_FREE) but leaves fd open. */
	struct bufferevent *bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
								 BUFFEREVENT_SSL_ACCEPTING,
								 BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL;
	/* A client that closes without close_notify is a client that went away
	 * (EOF), not an error: its answers are finished as over TCP. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static bool tls_buffered(struct bufferevent *bev)
{
	return SSL_has_pending(bufferevent_openssl_get_ssl(bev)) == 1;
}

static const tcp_kind tls_kind = {
	.t = TRANSPORT_TLS,
	.name = "tls",
	.handshake_ms = TLS_HANDSHAKE_MS,
	.wrap = wrap_tls,
	.buffered = tls_buffered,
};

tcp_server *tls_server_new(worker *w, const cfg_addr *a, bool reuseport, char *err, size_t errlen)
{
	tls_worker_take_ctx(w);
	if (!w->tls_ctx) {
		snprintf(err, errlen, "tls.listen without a certificate");
		return NULL;
	}
	return tcp_server_new_kind(w, a, reuseport, &tls_kind, err, errlen);
}
