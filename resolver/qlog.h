/*
 * qlog.h: the query log: one line per answered query (JSON or text), to
 * stdout or a file, written without blocking the event loops.
 *
 * Each worker formats its line on its own stack (no allocation) and copies
 * it into its own buffer under a mutex held only for that memcpy. One writer
 * thread swaps each buffer for an empty one and writes it out with plain
 * blocking writes, at least every QLOG_FLUSH_MS, sooner when a buffer is half
 * full, and a last time at shutdown. When a worker's buffer is full the line
 * is dropped and counted (qlog_dropped): a slow disk never stalls DNS.
 *
 * What is logged (log.queries) and how (log.format) are read from the
 * worker's config at each query, so a reload changes them at once; a new
 * log.file takes effect through qlog_reopen(), as does SIGUSR1 (rotation).
 *
 * Ownership: serve.c creates the qlog once the workers exist and before
 * they run, and frees it after they are joined; workers only append.
 */
#ifndef EMBARGO_QLOG_H
#define EMBARGO_QLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "resolver/daemon.h"
#include "resolver/obs.h"

#define QLOG_RING_BYTES (256 * 1024) /* per worker; the writer has one more */
#define QLOG_LINE_MAX 4096           /* the longest line (an escaped 255-octet name fits) */
#define QLOG_FLUSH_MS 100

typedef struct qlog qlog;

/*
 * Opens c->log.file ("-": stdout; else appended, created 0640) and starts
 * the writer thread, with one buffer per worker of d (d->n_workers set,
 * d->upstreams final). NULL with the reason in err.
 */
qlog *qlog_new(const daemon_ctx *d, char *err, size_t errlen);

/*
 * Asks the writer to close and reopen the log file: what is queued goes to
 * the old file first. path: a new log.file (after a reload), or NULL for
 * the same one (SIGUSR1). Stdout is never reopened. Any thread; not for the
 * hot path (it may allocate). On failure the old file stays in use.
 */
void qlog_reopen(qlog *ql, const char *path);

/* Writes out everything queued, stops the writer and frees. Call after the
 * workers are joined. NULL is fine. */
void qlog_free(qlog *ql);

/* Lines worker `id` dropped because its buffer was full (a plain counter,
 * read with a relaxed load: any thread). */
uint64_t qlog_dropped(const qlog *ql, unsigned id);
/* Lines written, and write errors (lines lost to them), all workers. */
uint64_t qlog_written(const qlog *ql);
uint64_t qlog_write_errors(const qlog *ql);

/* Formats and queues the line of one event; qlog_write decides first. */
void qlog_append(worker *w, const query_event *e);

/* Called by obs_query for every answered query: logs it if log.queries asks
 * for it. The default of a busy server ("off" or "blocked" with a pass)
 * costs one or two predictable branches, inline. */
static inline void qlog_write(worker *w, const query_event *e)
{
	cfg_log_queries lq = w->cfg->log.queries;
	if (lq == CFG_LOGQ_OFF)
		return;
	if (e->verdict == POLICY_BLOCK || lq == CFG_LOGQ_ALL ||
	    (lq == CFG_LOGQ_AUDITED && e->verdict != POLICY_PASS) || e->ratelimited)
		qlog_append(w, e);
}

/*
 * Pure formatting (qlog_format.c), for the writer and the unit tests.
 *
 * JSON (one object per line):
 *   {"time":"2026-11-23T19:00:00.123Z","client":"127.0.0.1","transport":"udp",
 *    "qname":"s01.upd.kaspersky.com","qtype":"A","rcode":"NOERROR",
 *    "action":"sinkhole","vendor":"kaspersky","rule":"updates","upstream":null,
 *    "latency_us":12,"cached":false}
 *   with "stale":true, "cloaked":true and "ratelimited":true only when true;
 *   a rate-limited query that got no answer has "rcode":null (text: "-").
 * Text (space-separated; "-" for none):
 *   TIME CLIENT TRANSPORT QNAME QTYPE RCODE ACTION VENDOR/RULE UPSTREAM LATENCYus [cached] [stale] [cloaked]
 *   2026-11-23T19:00:00.123Z 127.0.0.1 udp s01.upd.kaspersky.com A NOERROR sinkhole kaspersky/updates - 12us
 * Names are in presentation form without the final dot, as the client
 * wrote them (case kept), with \DDD escapes, so a name never holds a space.
 */
typedef struct qlog_rec {
	int64_t time_ms;           /* wall clock, milliseconds since the epoch */
	transport t;
	const cfg_ip *client;
	const uint8_t *qname;      /* wire form, the client's case; NULL: no question */
	uint16_t qtype, rcode;
	const char *action;        /* "refuse" ... "sinkhole", "audit", "exempt", "pass" */
	const char *vendor, *rule; /* NULL: no rule */
	const char *upstream;      /* "127.0.0.1:53", or NULL */
	uint64_t latency_us;
	bool cached, stale, cloaked;
	bool ratelimited;          /* action "ratelimited" */
	bool dropped;              /* no answer: no rcode */
} qlog_rec;

/* Formats one line, newline included, into buf. Returns its length, or 0
 * when it does not fit in cap (never with cap >= QLOG_LINE_MAX). */
size_t qlog_format(cfg_log_format f, const qlog_rec *r, char *buf, size_t cap);

/* "A", "AAAA", "HTTPS", ... or "TYPE65280" (RFC 3597) in buf. */
const char *qlog_type_name(uint16_t type, char buf[16]);
/* "NOERROR", "NXDOMAIN", ... or "RCODE12". */
const char *qlog_rcode_name(uint16_t rcode, char buf[16]);

#endif
