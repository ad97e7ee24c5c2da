/*
 * http.h: the daemon's HTTP endpoint (config key `http`, off by default),
 * served by libevent's evhttp on workers[0]'s event base (the main thread):
 *
 *   /metrics   Prometheus text exposition format 0.0.4
 *   /healthz   200 "ok" while the process runs
 *   /readyz    200 "ready" when listening, with a policy loaded, and an
 *              upstream replied within READY_WINDOW_S; else 503 and why
 *   /exposure  JSON: which client reached which vendor, when (obs.c)
 *
 * Only GET and HEAD (405 otherwise); any other path is 404. Every response
 * is built in memory from counters the workers keep (obs.c), so a request
 * holds the DNS loop of worker 0 for well under a millisecond, plus the
 * exposure merge (about a millisecond per ten thousand entries).
 *
 * So that an idle daemon becomes and stays ready without client traffic,
 * the endpoint also probes: when no upstream has replied for PROBE_IDLE_S,
 * worker 0 forwards one ". NS" query with nobody waiting (fwd_prefetch).
 *
 * Ownership: serve.c creates it after the workers and before privileges
 * are dropped (it binds), and frees it before worker 0's base.
 */
#ifndef EMBARGO_HTTP_H
#define EMBARGO_HTTP_H

#include <stddef.h>

#include "resolver/daemon.h"

typedef struct http_server http_server;

/* Binds d->cfg->http and serves on workers[0]'s base. NULL with the reason
 * in err (a bind failure is a startup error). */
http_server *http_new(daemon_ctx *d, char *err, size_t errlen);
/* Closes the listener and every connection. NULL is fine. */
void http_free(http_server *h);

#endif
