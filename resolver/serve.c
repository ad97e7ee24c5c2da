/*
 * serve.c: `embargo serve`: load, bind every listener, run the event loop in
 * the foreground until SIGTERM or SIGINT, then stop accepting, give queries
 * in flight up to a second, and exit 0.
 *
 * Also the daemon-wide pieces of daemon.h: the policy clock, sending an
 * answer to any client, and the answer size limit.
 */
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/cli.h"
#include "resolver/daemon.h"
#include "resolver/fwd.h"
#include "resolver/listen_tcp.h"
#include "resolver/listen_udp.h"
#include "resolver/log.h"
#include "resolver/upstream.h"

#define STOP_GRACE_MS 1000

int64_t daemon_now(const daemon_ctx *d)
{
	struct timespec ts;
	if (!d->clock_pinned)
		return (int64_t)time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return d->clock_at + (int64_t)(ts.tv_sec - d->clock_mono0.tv_sec) -
	       (ts.tv_nsec < d->clock_mono0.tv_nsec ? 1 : 0);
}

void daemon_send(daemon_ctx *d, const client *c, const uint8_t *pkt, size_t len)
{
	if (c->t == TRANSPORT_UDP)
		udp_send(d, c, pkt, len);
	else
		tcp_conn_send(c->conn, pkt, len);
}

size_t daemon_answer_cap(const client *c, const wire_query *q)
{
	return c->t == TRANSPORT_UDP ? wire_udp_limit(q) : WIRE_TCP_MAX;
}

void daemon_maybe_exit(daemon_ctx *d)
{
	if (d->stopping && !fwd_inflight(d->fwd))
		event_base_loopexit(d->base, NULL);
}

static void close_listeners(daemon_ctx *d)
{
	for (size_t i = 0; i < d->n_udp; i++)
		udp_listener_free(d->udp[i]);
	for (size_t i = 0; i < d->n_tcp; i++)
		tcp_server_free(d->tcp[i]);
	d->n_udp = d->n_tcp = 0;
}

static void on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	daemon_ctx *d = arg;
	(void)fd;
	(void)what;
	event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	daemon_ctx *d = arg;
	(void)what;
	if (d->stopping)
		return;
	log_info("serve", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	d->stopping = true;
	close_listeners(d);
	struct timeval grace = { .tv_sec = STOP_GRACE_MS / 1000, .tv_usec = (STOP_GRACE_MS % 1000) * 1000 };
	d->stop_timer = evtimer_new(d->base, on_stop_timer, d);
	if (d->stop_timer)
		evtimer_add(d->stop_timer, &grace);
	daemon_maybe_exit(d);
}

static int open_listeners(daemon_ctx *d)
{
	const cfg *c = d->cfg;
	char err[256];
	d->udp = calloc(c->n_listen ? c->n_listen : 1, sizeof(*d->udp));
	d->tcp = calloc(c->n_listen ? c->n_listen : 1, sizeof(*d->tcp));
	if (!d->udp || !d->tcp)
		return -1;
	for (size_t i = 0; i < c->n_listen; i++) {
		udp_listener *u = udp_listener_new(d, &c->listen[i], err, sizeof(err));
		if (!u)
			goto fail;
		d->udp[d->n_udp++] = u;
		tcp_server *t = tcp_server_new(d, &c->listen[i], err, sizeof(err));
		if (!t)
			goto fail;
		d->tcp[d->n_tcp++] = t;
	}
	return 0;
fail:
	fprintf(stderr, "embargo: %s\n", err);
	return -1;
}

static void daemon_free(daemon_ctx *d)
{
	close_listeners(d);
	free(d->udp);
	free(d->tcp);
	tcp_close_all(d);
	fwd_free(d->fwd);
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	if (d->stop_timer)
		event_free(d->stop_timer);
	free(d->upstreams);
	policy_free(d->pol);
	cfg_free(d->cfg);
	if (d->base)
		event_base_free(d->base);
	free(d);
}

static void print_summary(const daemon_ctx *d)
{
	const daemon_stats *s = &d->stats;
	log_info("serve",
		 "stopped: queries udp %llu tcp %llu, blocked %llu (cloaked %llu), audited %llu, "
		 "forwarded %llu, servfail %llu, formerr %llu, upstream mismatches %llu",
		 (unsigned long long)s->queries[TRANSPORT_UDP], (unsigned long long)s->queries[TRANSPORT_TCP],
		 (unsigned long long)s->blocked, (unsigned long long)s->cloaked,
		 (unsigned long long)s->audited, (unsigned long long)s->forwarded,
		 (unsigned long long)s->servfail, (unsigned long long)s->formerr,
		 (unsigned long long)s->upstream_mismatch);
}

static void serve_usage(FILE *out)
{
	fputs("usage: embargo serve [-c FILE] [--at TIME]\n"
	      "\n"
	      "Runs the forwarder in the foreground until SIGTERM or SIGINT.\n"
	      "\n"
	      "  -c, --config FILE  the daemon config\n"
	      "  --at TIME          pin the policy clock to TIME (RFC 3339 or a date) and let\n"
	      "                     it run on from there: previews and tests\n",
	      out);
}

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "at", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL;
	bool pinned = false;
	int64_t at = 0;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'a':
			if (cli_parse_time("--at", optarg, &at))
				return CLI_EXIT_USAGE;
			pinned = true;
			break;
		case 'h': serve_usage(stdout); return CLI_EXIT_OK;
		case ':': return cli_usage_error("serve: %s needs a value", argv[optind - 1]);
		default: return cli_usage_error("serve: unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("serve: unexpected argument \"%s\"", argv[optind]);

	daemon_ctx *d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	const char *path = cli_config_path(config);
	if (cli_load(path, &d->cfg, &d->pol)) {
		fprintf(stderr, "embargo: %s: invalid, not starting\n", path);
		daemon_free(d);
		return CLI_EXIT_INVALID;
	}
	if (pinned) {
		d->clock_pinned = true;
		d->clock_at = at;
		clock_gettime(CLOCK_MONOTONIC, &d->clock_mono0);
	}
	signal(SIGPIPE, SIG_IGN);

	char err[256];
	int rc = 1;
	d->base = event_base_new();
	if (!d->base || !(d->fwd = fwd_new(d)))
		goto out;
	if (upstream_setup(d, "/etc/resolv.conf", err, sizeof(err)) < 0) {
		fprintf(stderr, "embargo: %s\n", err);
		goto out;
	}
	if (open_listeners(d) < 0)
		goto out;
	d->sig_term = evsignal_new(d->base, SIGTERM, on_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_signal, d);
	if (!d->sig_term || !d->sig_int || evsignal_add(d->sig_term, NULL) < 0 ||
	    evsignal_add(d->sig_int, NULL) < 0)
		goto out;

	char a[CFG_ADDR_BUF], t[CFG_TIME_BUF];
	for (size_t i = 0; i < d->cfg->n_listen; i++)
		log_info("serve", "listening on %s (udp, tcp)", cfg_addr_format(&d->cfg->listen[i], a));
	for (size_t i = 0; i < d->n_upstreams; i++)
		log_info("serve", "upstream %s", cfg_addr_format(&d->upstreams[i].addr, a));
	log_info("serve", "policy: %zu vendors, %zu rules, %zu entries; clock %s%s",
		 policy_vendor_count(d->pol), policy_rule_count(d->pol), policy_entry_count(d->pol),
		 cfg_time_format(daemon_now(d), t), pinned ? " (pinned with --at)" : "");

	event_base_dispatch(d->base);
	print_summary(d);
	rc = 0;
out:
	daemon_free(d);
	return rc;
}
