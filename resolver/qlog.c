/*
 * qlog.c: the query log's buffers and its writer thread.
 *
 * A worker formats a line on its stack, then copies it into its buffer
 * (its ring) under the ring's mutex: the only thing done under it is a
 * memcpy, and the only other party is the writer swapping the buffer out.
 * A full ring drops the line and counts it rather than waiting: DNS first.
 *
 * The writer thread owns the file descriptor. It wakes every QLOG_FLUSH_MS,
 * or sooner when a worker's ring passes half full, swaps each ring's buffer
 * with its spare one and writes it out with blocking writes. A reopen
 * (SIGUSR1, reload) is done by the writer too, after writing out what was
 * queued, so the old file gets every line from before the signal. At stop
 * it writes out everything left; the workers are joined by then, so every
 * answered query is in the file when the process exits.
 *
 * Trade-off: a swap buffer (rather than a lock-free ring) costs one
 * uncontended mutex per line, and keeps lines whole and the code short.
 */
#include "resolver/qlog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "resolver/log.h"

typedef struct qlog_ring {
	pthread_mutex_t lock;
	char *buf;                  /* QLOG_RING_BYTES, filled by the worker */
	size_t len;
	_Atomic uint64_t dropped;   /* lines lost to a full buffer */
} __attribute__((aligned(64))) qlog_ring;

struct qlog {
	qlog_ring *rings;           /* one per worker, by worker id */
	size_t n_rings;
	char (*up_names)[CFG_ADDR_BUF]; /* "127.0.0.1:53" per upstream */
	size_t n_up;

	pthread_t thread;
	bool started;
	pthread_mutex_t lock;       /* the fields below, and the wakeups */
	pthread_cond_t cond;        /* CLOCK_MONOTONIC */
	bool stop, reopen;
	char *want_path;            /* a new path asked for by qlog_reopen, or NULL */
	atomic_bool kick;           /* a ring is half full */

	/* The writer's own (before it starts: qlog_new's). */
	char *spare;                /* swapped with a ring's buffer */
	char *path;                 /* "-" or a file */
	int fd;
	bool failing;               /* a write error was logged; quiet until one succeeds */
	uint64_t written, write_errors;
};

static int open_path(const char *path)
{
	if (!strcmp(path, "-"))
		return STDOUT_FILENO;
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

static void write_all(qlog *ql, const char *p, size_t n)
{
	size_t lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	while (n) {
		ssize_t k = write(ql->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (!ql->failing)
				log_errno(LOG_WARN, "qlog", "cannot write to %s: lines are lost",
					  strcmp(ql->path, "-") ? ql->path : "stdout");
			ql->failing = true;
			/* count what is lost, roughly: the lines not fully written */
			size_t left = 0;
			for (size_t i = 0; i < n; i++)
				left += p[i] == '\n';
			__atomic_fetch_add(&ql->write_errors, left, __ATOMIC_RELAXED);
			lines -= left;
			break;
		}
		p += k;
		n -= (size_t)k;
	}
	if (!n)
		ql->failing = false;
	__atomic_fetch_add(&ql->written, lines, __ATOMIC_RELAXED);
}

/* Writes out every ring's buffer. */
static void drain(qlog *ql)
{
	for (size_t i = 0; i < ql->n_rings; i++) {
		qlog_ring *r = &ql->rings[i];
		pthread_mutex_lock(&r->lock);
		char *full = r->buf;
		size_t len = r->len;
		r->buf = ql->spare;
		r->len = 0;
		pthread_mutex_unlock(&r->lock);
		ql->spare = full;
		if (len)
			write_all(ql, full, len);
	}
}

/* Closes and reopens the file; path: the new one, or NULL. Keeps the old
 * descriptor when the new one cannot be opened. */
static void reopen(qlog *ql, char *path)
{
	if (!path) {
		if (!strcmp(ql->path, "-"))
			return;  /* stdout is never reopened */
		path = strdup(ql->path);
		if (!path)
			return;
	}
	int fd = open_path(path);
	if (fd < 0) {
		log_errno(LOG_WARN, "qlog", "cannot reopen %s: still writing to %s", path,
			  strcmp(ql->path, "-") ? ql->path : "stdout");
		free(path);
		return;
	}
	if (ql->fd != STDOUT_FILENO)
		close(ql->fd);
	ql->fd = fd;
	free(ql->path);
	ql->path = path;
	ql->failing = false;
}

static void *writer_main(void *arg)
{
	qlog *ql = arg;
	pthread_mutex_lock(&ql->lock);
	for (;;) {
		if (!ql->stop && !ql->reopen && !atomic_load(&ql->kick)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += QLOG_FLUSH_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&ql->cond, &ql->lock, &ts);
		}
		bool stop = ql->stop, re = ql->reopen;
		char *path = ql->want_path;
		ql->reopen = false;
		ql->want_path = NULL;
		atomic_store(&ql->kick, false);
		pthread_mutex_unlock(&ql->lock);

		drain(ql);
		if (re)
			reopen(ql, path);
		else
			free(path);
		if (stop)
			return NULL;
		pthread_mutex_lock(&ql->lock);
	}
}

qlog *qlog_new(const daemon_ctx *d, char *err, size_t errlen)
{
	const char *path = d->cfg->log.file ? d->cfg->log.file : "-";
	qlog *ql = calloc(1, sizeof(*ql));
	if (!ql)
		goto nomem;
	ql->fd = -1;
	pthread_mutex_init(&ql->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ql->cond, &ca);
	pthread_condattr_destroy(&ca);

	ql->n_rings = d->n_workers;
	ql->rings = aligned_alloc(64, (d->n_workers ? d->n_workers : 1) * sizeof(*ql->rings));
	if (!ql->rings)
		goto nomem;
	for (size_t i = 0; i < ql->n_rings; i++) {
		qlog_ring *r = &ql->rings[i];
		memset(r, 0, sizeof(*r));
		pthread_mutex_init(&r->lock, NULL);
		r->buf = malloc(QLOG_RING_BYTES);
		if (!r->buf) {
			ql->n_rings = i + 1;
			goto nomem;
		}
	}
	ql->n_up = d->n_upstreams;
	ql->up_names = calloc(ql->n_up ? ql->n_up : 1, sizeof(*ql->up_names));
	ql->spare = malloc(QLOG_RING_BYTES);
	ql->path = strdup(path);
	if (!ql->up_names || !ql->spare || !ql->path)
		goto nomem;
	for (size_t i = 0; i < ql->n_up; i++)
		cfg_addr_format(&d->upstreams[i].addr, ql->up_names[i]);

	ql->fd = open_path(path);
	if (ql->fd < 0) {
		snprintf(err, errlen, "cannot open the query log %s: %s", path, strerror(errno));
		qlog_free(ql);
		return NULL;
	}
	/* the writer takes no signals: they are the event loops' */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&ql->thread, NULL, writer_main, ql);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		snprintf(err, errlen, "cannot start the query log writer: %s", strerror(e));
		qlog_free(ql);
		return NULL;
	}
	ql->started = true;
	return ql;
nomem:
	snprintf(err, errlen, "out of memory for the query log");
	qlog_free(ql);
	return NULL;
}

void qlog_reopen(qlog *ql, const char *path)
{
	if (!ql)
		return;
	char *p = path ? strdup(path) : NULL;
	pthread_mutex_lock(&ql->lock);
	if (p || !ql->reopen) {  /* a pending new path wins over a plain reopen */
		free(ql->want_path);
		ql->want_path = p;
	} else {
		free(p);
	}
	ql->reopen = true;
	pthread_cond_signal(&ql->cond);
	pthread_mutex_unlock(&ql->lock);
}

void qlog_free(qlog *ql)
{
	if (!ql)
		return;
	if (ql->started) {
		pthread_mutex_lock(&ql->lock);
		ql->stop = true;
		pthread_cond_signal(&ql->cond);
		pthread_mutex_unlock(&ql->lock);
		pthread_join(ql->thread, NULL);
		uint64_t dropped = 0;
		for (size_t i = 0; i < ql->n_rings; i++)
			dropped += atomic_load(&ql->rings[i].dropped);
		if (ql->written || dropped || ql->write_errors)
			log_info("qlog", "query log: %llu lines written, %llu dropped (buffer full), "
				 "%llu lost to write errors", (unsigned long long)ql->written,
				 (unsigned long long)dropped, (unsigned long long)ql->write_errors);
	}
	if (ql->fd >= 0 && ql->fd != STDOUT_FILENO)
		close(ql->fd);
	for (size_t i = 0; ql->rings && i < ql->n_rings; i++) {
		free(ql->rings[i].buf);
		pthread_mutex_destroy(&ql->rings[i].lock);
	}
	free(ql->rings);
	free(ql->up_names);
	free(ql->spare);
	free(ql->path);
	free(ql->want_path);
	pthread_cond_destroy(&ql->cond);
	pthread_mutex_destroy(&ql->lock);
	free(ql);
}

uint64_t qlog_dropped(const qlog *ql, unsigned id)
{
	if (!ql || id >= ql->n_rings)
		return 0;
	return atomic_load_explicit(&ql->rings[id].dropped, memory_order_relaxed);
}

uint64_t qlog_written(const qlog *ql)
{
	return ql ? __atomic_load_n(&ql->written, __ATOMIC_RELAXED) : 0;
}

uint64_t qlog_write_errors(const qlog *ql)
{
	return ql ? __atomic_load_n(&ql->write_errors, __ATOMIC_RELAXED) : 0;
}

/* What the log says a query's outcome was. */
static const char *action_of(const query_event *e, const obs_rule *rule)
{
	if (e->ratelimited)
		return "ratelimited";
	switch (e->verdict) {
	case POLICY_BLOCK: return rule ? cfg_action_name(rule->action) : "block";
	case POLICY_AUDIT: return "audit";
	case POLICY_EXEMPT: return "exempt";
	case POLICY_PASS: break;
	}
	return "pass";
}

void qlog_append(worker *w, const query_event *e)
{
	qlog *ql = w->d->qlog;
	if (!ql || w->id >= ql->n_rings)
		return;
	/* The rules array is grown only by this worker's thread (obs_rule_ref),
	 * so reading it here needs no lock. */
	const obs_worker *o = w->obs;
	const obs_rule *rule = e->rule_ref >= 0 && (size_t)e->rule_ref < o->n_rules
		? &o->rules[e->rule_ref] : NULL;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	qlog_rec r = {
		.time_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
		.t = e->t,
		.client = e->client,
		.qname = e->q->has_question ? e->q->qname : NULL,
		.qtype = e->q->qtype,
		.rcode = e->rcode,
		.action = action_of(e, rule),
		.vendor = rule ? rule->vendor : NULL,
		.rule = rule ? rule->rule : NULL,
		.upstream = e->upstream >= 0 && (size_t)e->upstream < ql->n_up
			? ql->up_names[e->upstream] : NULL,
		.latency_us = e->latency_us,
		.cached = e->cached,
		.stale = e->stale,
		.cloaked = e->cloaked,
		.ratelimited = e->ratelimited,
		.dropped = e->dropped,
	};
	char line[QLOG_LINE_MAX];
	size_t n = qlog_format(w->cfg->log.format, &r, line, sizeof(line));
	if (!n)
		return;

	qlog_ring *ring = &ql->rings[w->id];
	bool kick = false, full;
	pthread_mutex_lock(&ring->lock);
	full = n > QLOG_RING_BYTES - ring->len;
	if (!full) {
		memcpy(ring->buf + ring->len, line, n);
		kick = ring->len < QLOG_RING_BYTES / 2 && ring->len + n >= QLOG_RING_BYTES / 2;
		ring->len += n;
	}
	pthread_mutex_unlock(&ring->lock);
	if (full)  /* rare: a locked add is fine */
		atomic_fetch_add_explicit(&ring->dropped, 1, memory_order_relaxed);
	else if (kick && !atomic_exchange(&ql->kick, true))
		pthread_cond_signal(&ql->cond);  /* without the lock: a lost wakeup only waits the period */
}
