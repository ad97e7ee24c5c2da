/*
 * serve.c: `embargo serve`: load the config and policy, bind every listener
 * in every worker, run the workers (worker 0 on the main thread, the others
 * in threads) in the foreground until SIGTERM or SIGINT, then stop them all
 * and exit 0.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "resolver/cache.h"
#include "resolver/cli.h"
#include "resolver/clockfloor.h"
#include "resolver/daemon.h"
#include "resolver/http.h"
#include "resolver/listen_tls.h"
#include "resolver/listen_udp.h"
#include "embargo_config.h"
#include "resolver/log.h"
#include "resolver/netaddr.h"
#include "resolver/qlog.h"
#include "resolver/privs.h"
#include "resolver/upstream.h"
#include "resolver/updot.h"
#include "resolver/watch.h"
#include "resolver/xfr.h"

#define WORKERS_MAX 64
#define HOUSE_INTERVAL_S 60        /* floor checks */
#define STATE_SAVE_INTERVAL_S 3600 /* state saves: hourly, to spare flash */

/* The newest effective instant already in force at `now`, or 0. */
static int64_t newest_enforced(const policy *p, int64_t now)
{
	int64_t best = 0;
	for (size_t i = 0; i < policy_rule_count(p); i++) {
		const policy_rule *r = policy_rule_at(p, i);
		if (r->effective <= now && r->effective > best)
			best = r->effective;
	}
	return best;
}

void daemon_state_save(daemon_ctx *d)
{
	char err[512];
	if (!d->cfg->state_file || d->clock_pinned)
		return;  /* an --at clock is a preview: it must not move the floor */
	int64_t now = daemon_now(d);
	clock_state st = { .saved_at = now, .enforced = newest_enforced(d->pol, now) };
	if (clockfloor_save(d->cfg->state_file, &st, err, sizeof(err)) < 0)
		log_warn("clock", "cannot save the state: %s", err);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	d->state_saved_mono = ts.tv_sec;
}

/* Says when the wall clock falls below the floor or comes back above it. */
static void check_floor(daemon_ctx *d)
{
	char a[CFG_TIME_BUF], b[CFG_TIME_BUF];
	if (d->clock_pinned)
		return;
	int64_t real = (int64_t)time(NULL);
	bool below = real < daemon_now(d);
	if (below == atomic_load(&d->below_floor))
		return;
	atomic_store(&d->below_floor, below);
	if (below)
		log_warn("clock", "the wall clock (%s) is earlier than the clock floor: enforcing as of %s "
			 "until it is set (NTP)", cfg_time_format(real, a), cfg_time_format(daemon_now(d), b));
	else
		log_info("clock", "the wall clock (%s) is past the clock floor again", cfg_time_format(real, a));
}

static void on_house_timer(evutil_socket_t fd, short what, void *arg)
{
	daemon_ctx *d = arg;
	struct timespec ts;
	(void)fd;
	(void)what;
	check_floor(d);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec - d->state_saved_mono >= STATE_SAVE_INTERVAL_S)
		daemon_state_save(d);
}

/*
 * A timerfd armed far in the future with TFD_TIMER_CANCEL_ON_SET wakes up
 * the moment anyone sets the wall clock (NTP stepping it, an operator):
 * then every worker re-arms its cutoff timer, which was computed from the
 * old reading, and the floor is checked again.
 */
static int clock_watch_arm(int fd)
{
	struct itimerspec its = { .it_value = { .tv_sec = INT32_MAX } };
	return timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL);
}

static void on_clock_set(evutil_socket_t fd, short what, void *arg)
{
	daemon_ctx *d = arg;
	uint64_t n;
	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != ECANCELED && errno != EAGAIN)
		return;
	clock_watch_arm(fd);
	char t[CFG_TIME_BUF];
	log_info("clock", "the wall clock was set (now %s): re-arming the cutoff timers",
		 cfg_time_format((int64_t)time(NULL), t));
	check_floor(d);
	for (size_t i = 0; i < d->n_workers; i++)
		worker_post(d->workers[i], WORKER_MAIL_REARM);
}

static void clock_watch_start(daemon_ctx *d)
{
	d->clock_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->clock_fd < 0 || clock_watch_arm(d->clock_fd) < 0 ||
	    !(d->clock_ev = event_new(d->workers[0]->base, d->clock_fd, EV_READ | EV_PERSIST,
				      on_clock_set, d)) ||
	    event_add(d->clock_ev, NULL) < 0)
		log_errno(LOG_WARN, "clock", "cannot watch for wall clock changes");
}

/* Sets the floor from the build time and the state file. */
static void load_floor(daemon_ctx *d)
{
	char err[512], t[CFG_TIME_BUF];
	clock_state st = { 0 };
	if (d->cfg->state_file && clockfloor_load(d->cfg->state_file, &st, err, sizeof(err)) < 0)
		log_warn("clock", "ignoring the state: %s", err);
	d->clock_floor = clockfloor_of(&st, EMBARGO_BUILD_TIME);
	log_info("clock", "clock floor %s", cfg_time_format(d->clock_floor, t));
	check_floor(d);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	daemon_ctx *d = arg;
	(void)sig;
	(void)what;
	if (!atomic_load(&d->stopping))
		daemon_reload(d, "SIGHUP");
}

/* SIGUSR1: reopen the query log file (log rotation). */
static void on_sigusr1(evutil_socket_t sig, short what, void *arg)
{
	daemon_ctx *d = arg;
	(void)sig;
	(void)what;
	qlog_reopen(d->qlog, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	daemon_ctx *d = arg;
	(void)what;
	if (atomic_exchange(&d->stopping, true))
		return;
	log_info("serve", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	for (size_t i = 0; i < d->n_workers; i++)
		worker_post(d->workers[i], WORKER_MAIL_STOP);
}

/*
 * With SO_REUSEPORT a second process could bind our addresses silently and
 * steal half the queries. So before the workers bind with it, each address
 * is bound once without it: a port already in use fails here, clearly.
 */
/* Binds `a` once, without SO_REUSEPORT, and lets it go. */
static int probe_addr(const cfg_addr *a, int type, const char *proto, char *err, size_t errlen)
{
	char name[CFG_ADDR_BUF];
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	int one = 1, fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd >= 0 && ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (fd >= 0 && type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, errlen, "cannot listen on %s/%s: %s", cfg_addr_format(a, name), proto,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int probe_free(const cfg *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->n_listen; i++)
		if (probe_addr(&c->listen[i], SOCK_DGRAM, "udp", err, errlen) < 0 ||
		    probe_addr(&c->listen[i], SOCK_STREAM, "tcp", err, errlen) < 0)
			return -1;
	for (size_t i = 0; i < c->tls.n_listen; i++)
		if (probe_addr(&c->tls.listen[i], SOCK_STREAM, "tls", err, errlen) < 0)
			return -1;
	return 0;
}

static size_t worker_count(const cfg *c)
{
	long n = c->workers ? (long)c->workers : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > WORKERS_MAX ? WORKERS_MAX : (size_t)n;
}

static void daemon_free(daemon_ctx *d)
{
	/* these live on workers[0]'s event base: free them before it */
	http_free(d->http);
	xfr_free(d->xfr);
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	if (d->house_timer)
		event_free(d->house_timer);
	if (d->clock_ev)
		event_free(d->clock_ev);
	if (d->clock_fd > 0)
		close(d->clock_fd);
	if (d->sig_hup)
		event_free(d->sig_hup);
	if (d->sig_usr1)
		event_free(d->sig_usr1);
	qlog_free(d->qlog);  /* stopped early: writes out what was queued */
	watch_free(d->watch);
	for (size_t i = 0; i < d->n_workers; i++)
		worker_free(d->workers[i]);
	free(d->workers);
	free(d->upstreams);
	updot_ctx_free(d->updot_ctx);
	tls_ctx_free(d->tls_ctx);  /* after the workers: they hold references */
	policy_free(d->pol);
	cfg_free(d->cfg);
	policy_free(d->old_pol);  /* stopped in the middle of a reload */
	cfg_free(d->old_cfg);
	free(d);
}

static void print_summary(const daemon_ctx *d)
{
	daemon_stats s = { 0 };
	for (size_t i = 0; i < d->n_workers; i++) {
		const uint64_t *src = (const uint64_t *)&d->workers[i]->stats;
		uint64_t *dst = (uint64_t *)&s;
		for (size_t k = 0; k < sizeof(s) / sizeof(uint64_t); k++)
			dst[k] += src[k];
	}
	log_info("serve",
		 "stopped: queries udp %llu tcp %llu tls %llu, blocked %llu (cloaked %llu), "
		 "audited %llu, forwarded %llu, servfail %llu, formerr %llu, upstream mismatches %llu",
		 (unsigned long long)s.queries[TRANSPORT_UDP], (unsigned long long)s.queries[TRANSPORT_TCP],
		 (unsigned long long)s.queries[TRANSPORT_TLS],
		 (unsigned long long)s.blocked, (unsigned long long)s.cloaked,
		 (unsigned long long)s.audited, (unsigned long long)s.forwarded,
		 (unsigned long long)s.servfail, (unsigned long long)s.formerr,
		 (unsigned long long)s.upstream_mismatch);
	cache_stats cs = { 0 };
	for (size_t i = 0; i < d->n_workers; i++) {
		const cache_stats *c = cache_get_stats(d->workers[i]->cache);
		cs.hits += c->hits;
		cs.misses += c->misses;
		cs.evictions += c->evictions;
		cs.entries += c->entries;
		cs.bytes += c->bytes;
		cs.stale_hits += c->stale_hits;
		cs.prefetches += c->prefetches;
	}
	log_info("serve",
		 "cache: hits %llu, misses %llu, stale %llu, prefetches %llu, evictions %llu, "
		 "%llu entries in %llu bytes",
		 (unsigned long long)cs.hits, (unsigned long long)cs.misses,
		 (unsigned long long)cs.stale_hits, (unsigned long long)cs.prefetches,
		 (unsigned long long)cs.evictions, (unsigned long long)cs.entries,
		 (unsigned long long)cs.bytes);
}

static void serve_usage(FILE *out)
{
	fputs("usage: embargo serve [-c FILE] [--at TIME] [--pidfile FILE] [--allow-root]\n"
	      "\n"
	      "Runs the forwarder in the foreground until SIGTERM or SIGINT. SIGHUP (or a\n"
	      "change to the config or a policy file) reloads them.\n"
	      "\n"
	      "  -c, --config FILE  the daemon config\n"
	      "  --at TIME          pin the policy clock to TIME (RFC 3339 or a date) and let\n"
	      "                     it run on from there: previews and tests\n"
	      "  --pidfile FILE     write the process id there\n"
	      "  --allow-root       serve public addresses as root without `user:`\n",
	      out);
}

static void log_start(const daemon_ctx *d)
{
	char a[CFG_ADDR_BUF], t[CFG_TIME_BUF];
	for (size_t i = 0; i < d->cfg->n_listen; i++)
		log_info("serve", "listening on %s (udp, tcp)", cfg_addr_format(&d->cfg->listen[i], a));
	for (size_t i = 0; i < d->cfg->tls.n_listen; i++)
		log_info("serve", "listening on %s (tls)", cfg_addr_format(&d->cfg->tls.listen[i], a));
	for (size_t i = 0; i < d->n_upstreams; i++) {
		const upstream *u = &d->upstreams[i];
		if (u->tls)
			log_info("serve", "upstream tls://%s#%s%s", cfg_addr_format(&u->addr, a),
				 u->tls_name, u->has_pin ? " (pinned)" : "");
		else
			log_info("serve", "upstream %s", cfg_addr_format(&u->addr, a));
	}
	log_info("serve", "policy: %zu vendors, %zu rules, %zu entries; %zu worker%s; clock %s%s",
		 policy_vendor_count(d->pol), policy_rule_count(d->pol), policy_entry_count(d->pol),
		 d->n_workers, d->n_workers == 1 ? "" : "s", cfg_time_format(daemon_now(d), t),
		 d->clock_pinned ? " (pinned with --at)" : "");
}

typedef struct serve_opts {
	const char *pidfile;
	bool allow_root;
} serve_opts;

/* Every UDP listen address gets its sending sockets (listen_udp.h), once
 * all workers' listeners are bound. Without them, answers leave through
 * the listeners, only slower: a warning, not an error. */
static void open_udp_senders(daemon_ctx *d)
{
	udp_listener *group[WORKERS_MAX];
	char err[256], a[CFG_ADDR_BUF];
	for (size_t i = 0; i < d->cfg->n_listen; i++) {
		for (size_t k = 0; k < d->n_workers; k++)
			group[k] = d->workers[k]->udp[i];
		if (udp_senders_open(group, d->n_workers, err, sizeof(err)) < 0)
			log_warn("serve", "%s/udp: %s: answers leave through the listening socket",
				 cfg_addr_format(&d->cfg->listen[i], a), err);
	}
}

/* Binds everything and runs until stopped. 0, or 1 after printing why. */
static int run(daemon_ctx *d, const serve_opts *o)
{
	char err[256];
	size_t n = worker_count(d->cfg);
	bool reuseport = n > 1;

	if (privs_check_root(d->cfg, o->allow_root, err, sizeof(err)) < 0 ||
	    upstream_setup(d, "/etc/resolv.conf", err, sizeof(err)) < 0 ||
	    tls_listen_setup(d, err, sizeof(err)) < 0 ||
	    probe_free(d->cfg, err, sizeof(err)) < 0)  /* UDP always shares its port */
		goto fail;
	d->workers = calloc(n, sizeof(*d->workers));
	if (!d->workers)
		return 1;
	d->n_workers = n;
	for (size_t i = 0; i < n; i++) {
		d->workers[i] = worker_new(d, (unsigned)i, reuseport, err, sizeof(err));
		if (!d->workers[i]) {
			d->n_workers = i;
			goto fail;
		}
	}
	open_udp_senders(d);
	d->qlog = qlog_new(d, err, sizeof(err));
	if (!d->qlog)
		goto fail;
	struct event_base *base = d->workers[0]->base;
	struct timeval house = { .tv_sec = HOUSE_INTERVAL_S };
	d->house_timer = event_new(base, -1, EV_PERSIST, on_house_timer, d);
	if (!d->house_timer || event_add(d->house_timer, &house) < 0)
		return 1;
	if (!d->clock_pinned)
		clock_watch_start(d);
	d->sig_term = evsignal_new(base, SIGTERM, on_signal, d);
	d->sig_int = evsignal_new(base, SIGINT, on_signal, d);
	d->sig_hup = evsignal_new(base, SIGHUP, on_sighup, d);
	if (!d->sig_term || !d->sig_int || !d->sig_hup || evsignal_add(d->sig_term, NULL) < 0 ||
	    evsignal_add(d->sig_int, NULL) < 0 || evsignal_add(d->sig_hup, NULL) < 0)
		return 1;
	reload_setup(d);
	d->sig_usr1 = evsignal_new(base, SIGUSR1, on_sigusr1, d);
	if (!d->sig_usr1 || evsignal_add(d->sig_usr1, NULL) < 0)
		return 1;
	d->watch = watch_new(d);
	if (d->cfg->http_set && !(d->http = http_new(d, err, sizeof(err))))
		goto fail;
	if (d->cfg->rpz.zone && !(d->xfr = xfr_new(d, err, sizeof(err))))
		goto fail;
	/* every socket is bound: the pid file, then root is no longer needed */
	if ((o->pidfile && privs_write_pidfile(o->pidfile, err, sizeof(err)) < 0) ||
	    (d->cfg->user && privs_drop(d->cfg->user, err, sizeof(err)) < 0))
		goto fail;
	if (d->cfg->user)
		log_info("serve", "running as user %s", d->cfg->user);
	log_start(d);

	for (size_t i = 1; i < n; i++) {
		worker *w = d->workers[i];
		int e = pthread_create(&w->thread, NULL, worker_run, w);
		if (e) {
			snprintf(err, sizeof(err), "cannot start worker %zu: %s", i, strerror(e));
			on_signal(SIGTERM, 0, d);
			for (size_t j = 1; j < i; j++)
				pthread_join(d->workers[j]->thread, NULL);
			goto fail;
		}
		w->threaded = true;
	}
	daemon_state_save(d);
	worker_run(d->workers[0]);
	for (size_t i = 1; i < n; i++)
		pthread_join(d->workers[i]->thread, NULL);
	qlog_free(d->qlog);  /* every answered query is queued: write it all out */
	d->qlog = NULL;
	daemon_state_save(d);
	print_summary(d);
	if (o->pidfile && unlink(o->pidfile) < 0 && d->cfg->user)
		log_info("serve", "pid file %s stays: %s may not remove it", o->pidfile, d->cfg->user);
	return 0;
fail:
	fprintf(stderr, "embargo: %s\n", err);
	return 1;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "at", required_argument, NULL, 'a' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "allow-root", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL;
	serve_opts so = { 0 };
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
		case 'p': so.pidfile = optarg; break;
		case 'R': so.allow_root = true; break;
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
	if (cli_load_lean(path, &d->cfg, &d->pol)) {
		fprintf(stderr, "embargo: %s: invalid, not starting\n", path);
		daemon_free(d);
		return CLI_EXIT_INVALID;
	}
	cfg_drop_names(d->cfg);  /* the snapshot has them now */
	/* glibc keeps the memory freed while loading resident: give it back. */
	malloc_trim(0);
	clock_gettime(CLOCK_MONOTONIC, &d->clock_mono0);
	d->clock_pinned = pinned;
	d->clock_at = at;
	if (!pinned)
		load_floor(d);
	signal(SIGPIPE, SIG_IGN);
	/* Workers are stopped from the main thread: libevent must lock. */
	evthread_use_pthreads();

	int rc = run(d, &so);
	daemon_free(d);
	return rc;
}
