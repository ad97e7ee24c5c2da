/*
 * reload.c: reloading the config and every policy file without a restart
 * (SIGHUP, or a change seen by the watcher in watch.c).
 *
 * The new config and policy snapshot are built on the main thread, off the
 * workers' hot path. The daemon's pointers then switch, and each worker
 * takes the new ones over in its own thread, between two queries, so no
 * query sees half of each. The old pair is freed when the last worker has
 * switched. A config that fails to load changes nothing: the running policy
 * stays, every error is logged with file:line:column, and the status says
 * the last reload failed (like Prometheus' config_last_reload_successful).
 *
 * What a reload cannot change in a running process (listen addresses,
 * upstreams, workers, TLS listen addresses, HTTP, user) keeps its running
 * value and a warning says a restart is needed. The DoT listeners'
 * certificate and key are read again (listen_tls.c): a pair that does not
 * load keeps the one in use.
 */
#include <event2/event.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resolver/cli.h"
#include "resolver/daemon.h"
#include "resolver/listen_tls.h"
#include "resolver/log.h"
#include "resolver/qlog.h"
#include "resolver/watch.h"

static const char *env_get(const char *name)
{
	return getenv(name);
}

static bool same_addrs(const cfg_addr *a, size_t na, const cfg_addr *b, size_t nb)
{
	return na == nb && (!na || !memcmp(a, b, na * sizeof(*a)));
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_upstreams(const cfg *a, const cfg *b)
{
	if (a->n_upstreams != b->n_upstreams)
		return false;
	for (size_t i = 0; i < a->n_upstreams; i++) {
		const cfg_upstream *x = &a->upstreams[i], *y = &b->upstreams[i];
		if (memcmp(&x->addr, &y->addr, sizeof(x->addr)) || x->tls != y->tls ||
		    !same_str(x->tls_name, y->tls_name) || x->has_pin != y->has_pin ||
		    memcmp(x->pin, y->pin, sizeof(x->pin)))
			return false;
	}
	return true;
}

/* Warns about every key whose change needs a restart. */
static void warn_restart_only(const cfg *old, const cfg *new)
{
	const char *keys[12];
	size_t n = 0;
	if (!same_addrs(old->listen, old->n_listen, new->listen, new->n_listen))
		keys[n++] = "listen";
	if (!same_upstreams(old, new))
		keys[n++] = "upstreams";
	if (!same_str(old->tls_ca, new->tls_ca))
		keys[n++] = "tls-ca";  /* read once, into the DoT client context */
	if (old->workers != new->workers)
		keys[n++] = "workers";
	if (!same_addrs(old->tls.listen, old->tls.n_listen, new->tls.listen, new->tls.n_listen))
		keys[n++] = "tls";
	if (old->http_set != new->http_set || memcmp(&old->http, &new->http, sizeof(old->http)))
		keys[n++] = "http";
	if (!same_str(old->user, new->user))
		keys[n++] = "user";
	if (old->cache.entries != new->cache.entries)
		keys[n++] = "cache.entries";
	if (old->exposure_clients != new->exposure_clients)
		keys[n++] = "exposure-clients";
	if (!old->rpz.zone && new->rpz.zone)
		keys[n++] = "rpz";  /* its listeners are bound at start (xfr.c) */
	for (size_t i = 0; i < n; i++)
		log_warn("reload", "%s changed: it takes effect at the next restart", keys[i]);
}

void daemon_reload(daemon_ctx *d, const char *why)
{
	if (atomic_load(&d->reload_acks) > 0) {
		d->reload_again = true;  /* the workers are still switching */
		return;
	}
	log_info("reload", "%s: reloading %s", why, d->cfg->path);
	cfg_diags diags = { 0 };
	cfg *c = cfg_load(d->cfg->path, &diags);
	policy *p = c && cfg_apply_env(c, env_get, &diags) == 0 ? policy_new_lean(c, &diags) : NULL;
	if (!p) {
		for (size_t i = 0; i < diags.n; i++) {
			const cfg_diag *g = &diags.v[i];
			if (g->file && g->line)
				log_err("reload", "%s:%u:%u: %s", g->file, g->line, g->col, g->msg);
			else
				log_err("reload", "%s%s%s", g->file ? g->file : "", g->file ? ": " : "",
					g->msg);
		}
		log_err("reload", "%s is invalid: still running the policy loaded before", d->cfg->path);
		cfg_diags_free(&diags);
		cfg_free(c);
		d->reload_ok = false;
		return;
	}
	cfg_diags_free(&diags);
	for (size_t i = 0; i < c->warnings.n; i++) {
		const cfg_diag *g = &c->warnings.v[i];
		if (g->line)
			log_warn("reload", "%s:%u:%u: warning: %s", g->file ? g->file : "", g->line,
				 g->col, g->msg);
		else
			log_warn("reload", "%s: warning: %s", g->file ? g->file : "", g->msg);
	}
	cli_stamp(c);
	warn_restart_only(d->cfg, c);
	cfg_drop_names(c);  /* the snapshot has them now */
	tls_listen_reload(d, c);  /* the workers take it over with c */

	d->old_cfg = d->cfg;
	d->old_pol = d->pol;
	d->cfg = c;
	d->pol = p;
	atomic_store(&d->reload_acks, (int)d->n_workers);
	for (size_t i = 0; i < d->n_workers; i++)
		worker_post(d->workers[i], WORKER_MAIL_RELOAD);
}

void reload_reclaim(daemon_ctx *d)
{
	policy_free(d->old_pol);
	cfg_free(d->old_cfg);
	d->old_pol = NULL;
	d->old_cfg = NULL;
	malloc_trim(0);  /* glibc keeps the old policy's freed pages resident */
	d->reload_ok = true;
	d->reload_time = (int64_t)time(NULL);
	d->policy_version++;
	log_info("reload", "policy %llu in force: %zu vendors, %zu rules, %zu entries",
		 (unsigned long long)d->policy_version, policy_vendor_count(d->pol),
		 policy_rule_count(d->pol), policy_entry_count(d->pol));
	watch_reset(d->watch);  /* the set of files may have changed */
	qlog_reopen(d->qlog, d->cfg->log.file);  /* rotation, or a new log.file */
	if (d->reload_again) {
		d->reload_again = false;
		daemon_reload(d, "changed again meanwhile");
	}
}

void reload_setup(daemon_ctx *d)
{
	d->reload_ok = true;
	d->reload_time = (int64_t)time(NULL);
	d->policy_version = 1;
}
