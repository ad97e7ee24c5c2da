/*
 * http.c: /metrics, /healthz, /readyz and /exposure (see http.h).
 *
 * Reading the workers' counters from the main thread: obs counters are
 * written with relaxed atomic stores and read here with relaxed loads; the
 * rule counters and the exposure table are copied under each worker's obs
 * lock. Two counters are read without the workers' cooperation, and may
 * be a moment stale (never torn: aligned 64-bit words on the platforms we
 * build for): the cache's (cache_stats, plain increments by its worker) and
 * the forwarder's requests in flight (fwd_inflight). A scrape is a sample,
 * so that is the documented trade-off rather than a lock on the hot path.
 * Reload status, policy version and listeners belong to the main thread,
 * which is where this runs.
 */
#include "resolver/http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "embargo_config.h"
#include "resolver/cache.h"
#include "resolver/fwd.h"
#include "resolver/json.h"
#include "resolver/log.h"
#include "resolver/netaddr.h"
#include "resolver/obs.h"

#define READY_WINDOW_S 60   /* an upstream must have replied this recently */
#define PROBE_EVERY_S 5     /* how often the probe timer looks */
#define PROBE_IDLE_S 30     /* probe when no upstream replied for this long */
#define HTTP_TIMEOUT_S 10   /* an idle or slow connection is closed */

struct http_server {
	daemon_ctx *d;
	struct evhttp *eh;
	struct event *probe;
};

/* ------------------------------------------------------------------ */
/* /metrics */

/* RFC 1035, 2136, 6895 names; OBS_RCODES - 1 collects every higher code. */
static const char *rcode_label(unsigned rc, char buf[16])
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
	};
	if (rc < sizeof(names) / sizeof(names[0]))
		return names[rc];
	if (rc == OBS_RCODES - 1)
		return "OTHER";
	snprintf(buf, 16, "RCODE%u", rc);
	return buf;
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (; *s; s++) {
		if (*s == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*s == '"')
			evbuffer_add(b, "\\\"", 2);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge1(struct evbuffer *b, const char *name, const char *help, double v)
{
	family(b, name, "gauge", help);
	evbuffer_add_printf(b, "%s %.17g\n", name, v);
}

static void counter1(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "counter", help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static uint64_t rd(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void metrics_queries(struct evbuffer *b, const daemon_ctx *d)
{
	char buf[16];
	family(b, "embargo_queries_total", "counter",
	       "Answers sent to clients, by transport and response code.");
	for (unsigned t = 0; t < TRANSPORT_COUNT; t++) {
		for (unsigned rc = 0; rc < OBS_RCODES; rc++) {
			uint64_t n = 0;
			for (size_t i = 0; i < d->n_workers; i++)
				n += rd(&d->workers[i]->obs->answers[t][rc]);
			/* the common codes always, so that rate() sees them start */
			if (!n && rc > 5)
				continue;
			evbuffer_add_printf(b, "embargo_queries_total{transport=\"%s\",rcode=\"%s\"} %llu\n",
					    transport_name(t), rcode_label(rc, buf), (unsigned long long)n);
		}
	}
	uint64_t cached = 0, stale = 0;
	for (size_t i = 0; i < d->n_workers; i++) {
		cached += rd(&d->workers[i]->obs->cached);
		stale += rd(&d->workers[i]->obs->stale);
	}
	counter1(b, "embargo_answers_cached_total", "Answers served from the cache.", cached);
	counter1(b, "embargo_answers_stale_total",
		 "Expired answers served because no upstream answered (RFC 8767).", stale);
	uint64_t limited = 0;
	for (size_t i = 0; i < d->n_workers; i++)
		limited += rd(&d->workers[i]->obs->ratelimited);
	counter1(b, "embargo_ratelimited_total",
		 "UDP queries over their client's ratelimit: truncated or dropped (see ratelimit.action).",
		 limited);
}

static void metrics_policy(struct evbuffer *b, const daemon_ctx *d)
{
	obs_rule_row *rows = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < d->n_workers; i++)
		obs_rules_collect(d->workers[i]->obs, &rows, &n, &cap);
	family(b, "embargo_policy_queries_total", "counter",
	       "Lookups decided by a policy rule: blocked (in force), audited (before its "
	       "effective instant) or exempt (a group's exemption).");
	for (size_t i = 0; i < n; i++) {
		static const char *const verdicts[] = { "blocked", "audited", "exempt" };
		const uint64_t v[] = { rows[i].blocked, rows[i].audited, rows[i].exempt };
		for (size_t k = 0; k < 3; k++) {
			evbuffer_add_printf(b, "embargo_policy_queries_total{vendor=");
			label_value(b, rows[i].vendor);
			evbuffer_add_printf(b, ",rule=");
			label_value(b, rows[i].rule);
			evbuffer_add_printf(b, ",action=\"%s\",verdict=\"%s\"} %llu\n",
					    cfg_action_name(rows[i].action), verdicts[k],
					    (unsigned long long)v[k]);
		}
	}
	family(b, "embargo_policy_cloaked_total", "counter",
	       "Blocks found in an answer's CNAME/DNAME chain rather than in the query name.");
	for (size_t i = 0; i < n; i++) {
		evbuffer_add_printf(b, "embargo_policy_cloaked_total{vendor=");
		label_value(b, rows[i].vendor);
		evbuffer_add_printf(b, ",rule=");
		label_value(b, rows[i].rule);
		evbuffer_add_printf(b, "} %llu\n", (unsigned long long)rows[i].cloaked);
	}
	free(rows);
}

static void metrics_cache(struct evbuffer *b, const daemon_ctx *d)
{
	uint64_t hits = 0, misses = 0, evictions = 0, entries = 0;
	for (size_t i = 0; i < d->n_workers; i++) {
		const cache_stats *s = cache_get_stats(d->workers[i]->cache);
		hits += rd(&s->hits);
		misses += rd(&s->misses);
		evictions += rd(&s->evictions);
		entries += rd(&s->entries);
	}
	counter1(b, "embargo_cache_hits_total", "Lookups answered fresh from the cache.", hits);
	counter1(b, "embargo_cache_misses_total", "Lookups the cache could not answer.", misses);
	counter1(b, "embargo_cache_evictions_total",
		 "Cache entries dropped to make room before they expired.", evictions);
	gauge1(b, "embargo_cache_entries", "Entries in the cache.", (double)entries);
}

static void upstream_label(struct evbuffer *b, const daemon_ctx *d, size_t u)
{
	char a[CFG_ADDR_BUF];
	evbuffer_add_printf(b, "upstream=");
	label_value(b, cfg_addr_format(&d->upstreams[u].addr, a));
}

static void metrics_upstreams(struct evbuffer *b, const daemon_ctx *d)
{
	static const char *const results[] = { "ok", "timeout", "error", "bad_rcode" };
	family(b, "embargo_upstream_requests_total", "counter",
	       "Attempts at each upstream by result: ok, timeout, error (socket, malformed "
	       "reply over TCP/TLS, connection), bad_rcode (SERVFAIL, REFUSED, FORMERR, NOTIMP "
	       "or any rcode but NOERROR, NXDOMAIN, YXDOMAIN: next upstream).");
	for (size_t u = 0; u < d->n_upstreams; u++) {
		uint64_t v[4] = { 0 };
		for (size_t i = 0; i < d->n_workers; i++) {
			const obs_upstream_stats *s = &d->workers[i]->obs->up[u];
			v[0] += rd(&s->ok);
			v[1] += rd(&s->timeouts);
			v[2] += rd(&s->errors);
			v[3] += rd(&s->bad_rcode);
		}
		for (size_t k = 0; k < 4; k++) {
			evbuffer_add_printf(b, "embargo_upstream_requests_total{");
			upstream_label(b, d, u);
			evbuffer_add_printf(b, ",result=\"%s\"} %llu\n", results[k], (unsigned long long)v[k]);
		}
	}
	family(b, "embargo_upstream_tls_handshakes_total", "counter",
	       "Completed TLS handshakes with DoT upstreams; resumed=\"yes\": a session was "
	       "resumed (no full handshake).");
	for (size_t u = 0; u < d->n_upstreams; u++) {
		if (!d->upstreams[u].tls)
			continue;
		uint64_t all = 0, resumed = 0;
		for (size_t i = 0; i < d->n_workers; i++) {
			all += rd(&d->workers[i]->obs->up[u].tls_handshakes);
			resumed += rd(&d->workers[i]->obs->up[u].tls_resumed);
		}
		evbuffer_add_printf(b, "embargo_upstream_tls_handshakes_total{");
		upstream_label(b, d, u);
		evbuffer_add_printf(b, ",resumed=\"yes\"} %llu\n", (unsigned long long)resumed);
		evbuffer_add_printf(b, "embargo_upstream_tls_handshakes_total{");
		upstream_label(b, d, u);
		evbuffer_add_printf(b, ",resumed=\"no\"} %llu\n", (unsigned long long)(all - resumed));
	}
	family(b, "embargo_upstream_latency_seconds", "histogram",
	       "Round trip of answered upstream attempts.");
	for (size_t u = 0; u < d->n_upstreams; u++) {
		uint64_t cum = 0, sum_us = 0;
		for (size_t bk = 0; bk < OBS_LAT_BUCKETS; bk++) {
			for (size_t i = 0; i < d->n_workers; i++)
				cum += rd(&d->workers[i]->obs->up[u].lat[bk]);
			evbuffer_add_printf(b, "embargo_upstream_latency_seconds_bucket{");
			upstream_label(b, d, u);
			if (obs_lat_bounds_us[bk] == UINT64_MAX)
				evbuffer_add_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
			else
				evbuffer_add_printf(b, ",le=\"%g\"} %llu\n",
						    (double)obs_lat_bounds_us[bk] / 1e6,
						    (unsigned long long)cum);
		}
		for (size_t i = 0; i < d->n_workers; i++)
			sum_us += rd(&d->workers[i]->obs->up[u].lat_sum_us);
		evbuffer_add_printf(b, "embargo_upstream_latency_seconds_sum{");
		upstream_label(b, d, u);
		evbuffer_add_printf(b, "} %.6f\n", (double)sum_us / 1e6);
		evbuffer_add_printf(b, "embargo_upstream_latency_seconds_count{");
		upstream_label(b, d, u);
		evbuffer_add_printf(b, "} %llu\n", (unsigned long long)cum);
	}
}

static void metrics_state(struct evbuffer *b, const daemon_ctx *d)
{
	size_t inflight = 0, expo = 0;
	uint64_t evicted = 0;
	for (size_t i = 0; i < d->n_workers; i++) {
		inflight += fwd_inflight(d->workers[i]->fwd);  /* racy read, see the top */
		expo += obs_expo_count(d->workers[i]->obs);
		evicted += obs_expo_evicted(d->workers[i]->obs);
	}
	gauge1(b, "embargo_inflight", "Distinct questions waiting for an upstream.", (double)inflight);
	gauge1(b, "embargo_policy_version",
	       "The policy in force: 1 at start, one more per successful reload.",
	       (double)d->policy_version);
	gauge1(b, "embargo_config_last_reload_successful",
	       "Whether the last reload succeeded (1) or kept the old policy (0).",
	       d->reload_ok ? 1 : 0);
	gauge1(b, "embargo_config_last_reload_success_timestamp_seconds",
	       "Wall time of the last successful load of the config and policy.",
	       (double)d->reload_time);
	gauge1(b, "embargo_clock_below_floor",
	       "Whether the wall clock reads earlier than the clock floor (enforcing as of the floor).",
	       atomic_load(&d->below_floor) ? 1 : 0);
	gauge1(b, "embargo_clock_floor_timestamp_seconds",
	       "The clock floor: no earlier wall-clock time is believed (0 with serve --at).",
	       (double)d->clock_floor);
	gauge1(b, "embargo_exposure_clients",
	       "Exposure entries (client and vendor) held, summed over workers (see exposure-clients).",
	       (double)expo);
	counter1(b, "embargo_exposure_evicted_total",
		 "Exposure entries dropped, least recently seen first, to stay within exposure-clients.",
		 evicted);
	family(b, "embargo_build_info", "gauge", "The running build.");
	evbuffer_add_printf(b, "embargo_build_info{version=");
	label_value(b, EMBARGO_VERSION);
	evbuffer_add_printf(b, "} 1\n");
}

static void build_metrics(struct evbuffer *b, const daemon_ctx *d)
{
	metrics_queries(b, d);
	metrics_policy(b, d);
	metrics_cache(b, d);
	metrics_upstreams(b, d);
	metrics_state(b, d);
}

/* ------------------------------------------------------------------ */
/* /exposure */

/* The merged table as JSON, one client per line. 0, or -1 out of memory. */
static int build_exposure(struct evbuffer *b, const daemon_ctx *d)
{
	obs_expo_row *rows = NULL;
	size_t n = 0, cap = 0;
	uint64_t evicted = 0;
	int rc = 0;
	for (size_t i = 0; i < d->n_workers && !rc; i++) {
		rc = obs_expo_collect(d->workers[i]->obs, &rows, &n, &cap);
		evicted += obs_expo_evicted(d->workers[i]->obs);
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = rc ? NULL : open_memstream(&text, &len);
	if (!f) {
		free(rows);
		return -1;
	}
	n = obs_expo_merge(rows, n);
	fputs("{\"clients\":[", f);
	for (size_t i = 0; i < n; i++) {
		const obs_expo_row *r = &rows[i];
		char ip[CFG_IP_BUF], first[CFG_TIME_BUF], last[CFG_TIME_BUF];
		fputs(i ? ",\n {\"client\":" : "\n {\"client\":", f);
		json_write_str(f, cfg_ip_format(&r->client, ip));
		fputs(",\"vendor\":", f);
		json_write_str(f, r->vendor);
		fprintf(f, ",\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"audited\":%llu,"
			"\"blocked\":%llu,\"exempt\":%llu,\"rules\":[",
			cfg_time_format(r->first, first), cfg_time_format(r->last, last),
			(unsigned long long)r->audited, (unsigned long long)r->blocked,
			(unsigned long long)r->exempt);
		for (size_t k = 0; k < r->n_rules; k++) {
			if (k)
				fputc(',', f);
			json_write_str(f, r->rules[k]);
		}
		fputs("]}", f);
	}
	fprintf(f, "%s],\"evicted\":%llu}\n", n ? "\n" : "", (unsigned long long)evicted);
	free(rows);
	if (fclose(f) != 0) {
		free(text);
		return -1;
	}
	rc = evbuffer_add(b, text, len);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* readiness and the probe */

/* The newest upstream reply seen by any worker, in worker_mono_ms(). */
static uint64_t last_reply_ms(const daemon_ctx *d)
{
	uint64_t last = 0;
	for (size_t i = 0; i < d->n_workers; i++) {
		uint64_t t = obs_last_reply_ms(d->workers[i]->obs);
		if (t > last)
			last = t;
	}
	return last;
}

/* NULL when ready, else why not. */
static const char *not_ready(const daemon_ctx *d)
{
	const worker *w0 = d->workers[0];
	if (atomic_load(&d->stopping))
		return "stopping";
	if (!d->pol)
		return "no policy loaded";
	if (!w0->n_udp && !w0->n_tcp)
		return "not listening";
	uint64_t last = last_reply_ms(d);
	if (!last)
		return "no upstream has answered yet";
	if (worker_mono_ms() - last > READY_WINDOW_S * 1000)
		return "no upstream answered in the last 60 s";
	return NULL;
}

/* Forwards ". NS" from worker 0 with no client waiting: its reply (or the
 * lack of one) is what /readyz reads. */
static void probe_send(daemon_ctx *d)
{
	static const uint8_t pkt[] = {
		0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x02, 0x00, 0x01, /* . NS IN */
	};
	worker *w = d->workers[0];
	wire_query q;
	if (w->stopping || atomic_load(&d->stopping) || !d->n_upstreams)
		return;
	if (wire_parse_query(pkt, sizeof(pkt), &q) == WIRE_OK)
		fwd_prefetch(w->fwd, &q);
}

static void on_probe(evutil_socket_t fd, short what, void *arg)
{
	http_server *h = arg;
	(void)fd;
	(void)what;
	uint64_t last = last_reply_ms(h->d);
	if (!last || worker_mono_ms() - last >= PROBE_IDLE_S * 1000)
		probe_send(h->d);
}

/* ------------------------------------------------------------------ */
/* requests */

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evbuffer *b = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdr, "Content-Type", "text/plain; charset=utf-8");
	evbuffer_add_printf(b, "%s\n", text);
	evhttp_send_reply(req, code, reason, NULL);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	http_server *h = arg;
	const daemon_ctx *d = h->d;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evhttp_request_get_output_buffer(req);

	evhttp_add_header(hdr, "Cache-Control", "no-store");
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(hdr, "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed", "method not allowed");
		return;
	}
	if (!path || !*path)
		path = "/";
	if (!strcmp(path, "/metrics")) {
		evhttp_add_header(hdr, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
		build_metrics(b, d);
		evhttp_send_reply(req, 200, "OK", NULL);
	} else if (!strcmp(path, "/healthz")) {
		reply_text(req, 200, "OK", "ok");
	} else if (!strcmp(path, "/readyz")) {
		const char *why = not_ready(d);
		if (why)
			reply_text(req, 503, "Service Unavailable", why);
		else
			reply_text(req, 200, "OK", "ready");
	} else if (!strcmp(path, "/exposure")) {
		if (build_exposure(b, d) < 0) {
			evbuffer_drain(b, evbuffer_get_length(b));
			reply_text(req, 500, "Internal Server Error", "out of memory");
			return;
		}
		evhttp_add_header(hdr, "Content-Type", "application/json");
		evhttp_send_reply(req, 200, "OK", NULL);
	} else {
		reply_text(req, 404, "Not Found", "not found: try /metrics, /healthz, /readyz or /exposure");
	}
}

/* ------------------------------------------------------------------ */

/* A listening socket on a, or -1 with errno set. */
static int listen_on(const cfg_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

http_server *http_new(daemon_ctx *d, char *err, size_t errlen)
{
	char name[CFG_ADDR_BUF];
	const cfg_addr *a = &d->cfg->http;
	struct event_base *base = d->workers[0]->base;
	http_server *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->d = d;
	int fd = listen_on(a);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on http %s: %s", cfg_addr_format(a, name),
			 strerror(errno));
		free(h);
		return NULL;
	}
	h->eh = evhttp_new(base);
	if (!h->eh || !evhttp_accept_socket_with_handle(h->eh, fd)) {
		close(fd);  /* not evhttp's yet */
		goto fail;
	}
	h->probe = event_new(base, -1, EV_PERSIST, on_probe, h);
	struct timeval every = { .tv_sec = PROBE_EVERY_S };
	if (!h->probe || event_add(h->probe, &every) < 0)
		goto fail;
	/* every method reaches on_request, which answers 405 to all but GET/HEAD */
	evhttp_set_allowed_methods(h->eh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(h->eh, HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(h->eh, 8192);
	evhttp_set_max_body_size(h->eh, 4096);
	evhttp_set_gencb(h->eh, on_request, h);
	probe_send(d);  /* at once: ready within a round trip of starting */
	log_info("serve", "http on %s", cfg_addr_format(a, name));
	return h;
fail:
	snprintf(err, errlen, "cannot start the http server on %s", cfg_addr_format(a, name));
	http_free(h);
	return NULL;
}

void http_free(http_server *h)
{
	if (!h)
		return;
	if (h->probe)
		event_free(h->probe);
	if (h->eh)
		evhttp_free(h->eh);
	free(h);
}
