/*
 * daemon.c: the schema of embargo.yaml (DESIGN section 2) and its reader.
 *
 * Each key is one row in a table of {key, handler}; a handler reads exactly
 * its value and reports what is wrong with it at the value's position. Defaults
 * are set before reading, so an absent key or an empty file means "defaults".
 * Policy paths are resolved here, against the config file's folder, because
 * a missing path is an error in this file, at that list item.
 */
#include "config/config.h"
#include "config/loader.h"
#include "config/yaml_reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the handlers share: the config being filled and where it lives. */
typedef struct dctx {
	cfg *c;
	char *dir;            /* folder of the config file; NULL: the current one */
	uint64_t tls_seen;
	cfg_group *group;     /* the group being read */
	uint32_t group_line, group_col;
} dctx;

static const char *const default_access[] = {
	"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
};

/* DNS TTLs are 31-bit (RFC 2181 section 8). */
#define TTL_MAX INT32_MAX

int yr_read_addrs(yr *r, const char *name, uint16_t port, cfg_addr **v, size_t *n)
{
	size_t cap = 0;
	free(*v);
	*v = NULL;
	*n = 0;
	if (yr_seq_begin(r, name) != 0)
		return 0;
	while (yr_seq_more(r)) {
		yr_scalar s;
		const char *why;
		cfg_addr a;
		if (yr_scalar_take(r, name, "an address", &s) < 0)
			continue;
		if (cfg_addr_parse(s.s, port, &a, &why) < 0) {
			yr_error_at(r, s.line, s.col, "%s: bad address \"%s\": %s", name, s.s, why);
			continue;
		}
		yr_grow(v, &cap, *n, sizeof(**v));
		(*v)[(*n)++] = a;
	}
	return 0;
}

int yr_read_nets(yr *r, const char *name, cfg_net **v, size_t *n)
{
	size_t cap = 0;
	free(*v);
	*v = NULL;
	*n = 0;
	if (yr_seq_begin(r, name) != 0)
		return 0;
	while (yr_seq_more(r)) {
		yr_scalar s;
		const char *why;
		cfg_net net;
		if (yr_scalar_take(r, name, "a network", &s) < 0)
			continue;
		if (cfg_net_parse(s.s, &net, &why) < 0) {
			if (!strcmp(why, CFG_WHY_HOST_BITS)) {
				char ip[CFG_IP_BUF];
				yr_error_at(r, s.line, s.col, "%s: host bits set in %s (did you mean %s/%u?)",
					    name, s.s, cfg_ip_format(&net.ip, ip), net.prefix);
			} else {
				yr_error_at(r, s.line, s.col, "%s: bad network \"%s\": %s", name, s.s, why);
			}
			continue;
		}
		yr_grow(v, &cap, *n, sizeof(**v));
		(*v)[(*n)++] = net;
	}
	return 0;
}

static int read_u32(yr *r, const char *name, uint64_t max, uint32_t *out)
{
	uint64_t v;
	if (yr_uint(r, name, max, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int k_listen(yr *r, const char *name, void *obj)
{
	dctx *x = obj;
	return yr_read_addrs(r, name, 53, &x->c->listen, &x->c->n_listen);
}

static int k_tls_listen(yr *r, const char *name, void *obj)
{
	dctx *x = obj;
	return yr_read_addrs(r, name, 853, &x->c->tls.listen, &x->c->tls.n_listen);
}

static int k_tls_certificate(yr *r, const char *name, void *obj)
{
	return yr_string(r, name, &((dctx *)obj)->c->tls.certificate);
}

static int k_tls_key(yr *r, const char *name, void *obj)
{
	return yr_string(r, name, &((dctx *)obj)->c->tls.key);
}

static const yr_field tls_fields[] = {
	{"listen", k_tls_listen, false},
	{"certificate", k_tls_certificate, false},
	{"key", k_tls_key, false},
};

static int k_tls(yr *r, const char *name, void *obj)
{
	dctx *x = obj;
	yaml_mark_t m;
	uint64_t seen;
	if (yr_map(r, name, name, tls_fields, 3, x, &seen, &m) < 0)
		return -1;
	/* A listener without a certificate can only fail at startup: say so now. */
	if (x->c->tls.n_listen) {
		for (size_t i = 1; i < 3; i++)
			if (!(seen >> i & 1))
				yr_error(r, &m, "tls: missing required key \"%s\" (needed by tls.listen)",
					 tls_fields[i].key);
	}
	return 0;
}

static int k_upstreams(yr *r, const char *name, void *obj)
{
	return yr_upstreams_read(r, name, ((dctx *)obj)->c);
}

static int k_tls_ca(yr *r, const char *name, void *obj)
{
	return yr_string(r, name, &((dctx *)obj)->c->tls_ca);
}

/* A duration in [min_ms, max_ms]; `range` words the bounds for the error. */
static int read_duration(yr *r, const char *name, uint64_t min_ms, uint64_t max_ms,
			 const char *range, uint64_t *ms)
{
	yr_scalar s;
	const char *why;
	if (yr_scalar_take(r, name, "a duration", &s) < 0)
		return -1;
	if (cfg_duration_parse(s.s, ms, &why) < 0) {
		yr_error_at(r, s.line, s.col, "%s: bad duration \"%s\": %s", name, s.s, why);
		return -1;
	}
	if (*ms < min_ms || *ms > max_ms) {
		yr_error_at(r, s.line, s.col, "%s: %s is out of range (%s)", name, s.s, range);
		return -1;
	}
	return 0;
}

static int k_timeout(yr *r, const char *name, void *obj)
{
	uint64_t ms;
	/* Past a minute a client has long given up; zero would never wait. */
	if (read_duration(r, name, 1, 60000, "more than 0, at most 60s", &ms) < 0)
		return -1;
	((dctx *)obj)->c->timeout_ms = (uint32_t)ms;
	return 0;
}

static int k_cache_entries(yr *r, const char *name, void *obj)
{
	return read_u32(r, name, UINT32_MAX, &((dctx *)obj)->c->cache.entries);
}

static int k_cache_min(yr *r, const char *name, void *obj)
{
	return read_u32(r, name, TTL_MAX, &((dctx *)obj)->c->cache.min_ttl);
}

static int k_cache_max(yr *r, const char *name, void *obj)
{
	return read_u32(r, name, TTL_MAX, &((dctx *)obj)->c->cache.max_ttl);
}

static int k_cache_stale(yr *r, const char *name, void *obj)
{
	uint64_t ms;
	if (read_duration(r, name, 0, (uint64_t)TTL_MAX * 1000, "at most 68 years", &ms) < 0)
		return -1;
	((dctx *)obj)->c->cache.stale_max = (uint32_t)(ms / 1000);
	return 0;
}

static const yr_field cache_fields[] = {
	{"entries", k_cache_entries, false},
	{"min-ttl", k_cache_min, false},
	{"max-ttl", k_cache_max, false},
	{"stale-max", k_cache_stale, false},
};

static int k_cache(yr *r, const char *name, void *obj)
{
	cfg *c = ((dctx *)obj)->c;
	yaml_mark_t m;
	uint64_t seen;
	if (yr_map(r, name, name, cache_fields, sizeof(cache_fields) / sizeof(cache_fields[0]), obj, &seen, &m) < 0)
		return -1;
	if (c->cache.min_ttl > c->cache.max_ttl)
		yr_error(r, &m, "cache: min-ttl %u is greater than max-ttl %u", c->cache.min_ttl,
			 c->cache.max_ttl);
	return 0;
}

static int read_ip(yr *r, const char *name, int family, cfg_ip *out)
{
	yr_scalar s;
	const char *why;
	cfg_ip ip;
	if (yr_scalar_take(r, name, "an address", &s) < 0)
		return -1;
	if (cfg_ip_parse(s.s, &ip, &why) < 0) {
		yr_error_at(r, s.line, s.col, "%s: bad address \"%s\": %s", name, s.s, why);
		return -1;
	}
	if (ip.family != family) {
		yr_error_at(r, s.line, s.col, "%s: \"%s\" is not an IPv%d address", name, s.s, family);
		return -1;
	}
	*out = ip;
	return 0;
}

static int k_sink_v4(yr *r, const char *name, void *obj)
{
	return read_ip(r, name, 4, &((dctx *)obj)->c->sinkhole.ipv4);
}

static int k_sink_v6(yr *r, const char *name, void *obj)
{
	return read_ip(r, name, 6, &((dctx *)obj)->c->sinkhole.ipv6);
}

static int k_sink_ttl(yr *r, const char *name, void *obj)
{
	return read_u32(r, name, TTL_MAX, &((dctx *)obj)->c->sinkhole.ttl);
}

static const yr_field sinkhole_fields[] = {
	{"ipv4", k_sink_v4, false},
	{"ipv6", k_sink_v6, false},
	{"ttl", k_sink_ttl, false},
};

static int k_sinkhole(yr *r, const char *name, void *obj)
{
	uint64_t seen;
	return yr_map(r, name, name, sinkhole_fields, 3, obj, &seen, NULL);
}

static int k_policies(yr *r, const char *name, void *obj)
{
	dctx *x = obj;
	size_t cap = 0;
	if (yr_seq_begin(r, name) != 0)
		return 0;
	while (yr_seq_more(r)) {
		yr_scalar s;
		if (yr_scalar_take(r, name, "a path", &s) < 0)
			continue;
		if (s.null || !*s.s) {
			yr_error_at(r, s.line, s.col, "%s: empty path", name);
			continue;
		}
		char *path;
		if (yr_policies_add(x->c, &cap, x->dir, s.s, &path) < 0)
			yr_error_at(r, s.line, s.col, "%s: cannot open \"%s\": %s", name, path,
				    strerror(errno));
		free(path);
	}
	return 0;
}

static int k_group_name(yr *r, const char *name, void *obj)
{
	dctx *x = obj;
	yr_scalar s;
	if (yr_scalar_take(r, name, "a string", &s) < 0)
		return -1;
	if (s.null || !*s.s) {
		yr_error_at(r, s.line, s.col, "%s: must not be empty", name);
		return -1;
	}
	x->group->name = yr_xstrdup(s.s);
	return 0;
}

static int k_group_networks(yr *r, const char *name, void *obj)
{
	cfg_group *g = ((dctx *)obj)->group;
	return yr_read_nets(r, name, &g->nets, &g->n_nets);
}

static bool valid_exempt(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash)
		return yr_valid_id(s);
	char vendor[256];
	size_t n = (size_t)(slash - s);
	if (n >= sizeof(vendor))
		return false;
	memcpy(vendor, s, n);
	vendor[n] = 0;
	return yr_valid_id(vendor) && yr_valid_id(slash + 1);
}

static int k_group_exempt(yr *r, const char *name, void *obj)
{
	cfg_group *g = ((dctx *)obj)->group;
	size_t cap = 0;
	if (yr_seq_begin(r, name) != 0)
		return 0;
	while (yr_seq_more(r)) {
		yr_scalar s;
		if (yr_scalar_take(r, name, "a vendor id", &s) < 0)
			continue;
		if (!valid_exempt(s.s)) {
			yr_error_at(r, s.line, s.col, "%s: bad entry \"%s\" (expected VENDOR or VENDOR/RULE)",
				    name, s.s);
			continue;
		}
		size_t c0 = cap;
		yr_grow(&g->exempt, &cap, g->n_exempt, sizeof(char *));
		cap = c0;
		yr_grow(&g->exempt_line, &cap, g->n_exempt, sizeof(uint32_t));
		cap = c0;
		yr_grow(&g->exempt_col, &cap, g->n_exempt, sizeof(uint32_t));
		g->exempt[g->n_exempt] = yr_xstrdup(s.s);
		g->exempt_line[g->n_exempt] = s.line;
		g->exempt_col[g->n_exempt] = s.col;
		g->n_exempt++;
	}
	return 0;
}

static const yr_field group_fields[] = {
	{"name", k_group_name, true},
	{"networks", k_group_networks, true},
	{"exempt", k_group_exempt, false},
};

static void group_clear(cfg_group *g)
{
	free(g->name);
	free(g->nets);
	for (size_t i = 0; i < g->n_exempt; i++)
		free(g->exempt[i]);
	free(g->exempt);
	free(g->exempt_line);
	free(g->exempt_col);
	memset(g, 0, sizeof(*g));
}

static int k_groups(yr *r, const char *name, void *obj)
{
	dctx *x = obj;
	cfg *c = x->c;
	size_t cap = 0;
	if (yr_seq_begin(r, name) != 0)
		return 0;
	while (yr_seq_more(r)) {
		yaml_mark_t m;
		uint64_t seen;
		yr_grow(&c->groups, &cap, c->n_groups, sizeof(cfg_group));
		x->group = &c->groups[c->n_groups];
		memset(x->group, 0, sizeof(cfg_group));
		if (yr_map(r, name, name, group_fields, 3, x, &seen, &m) < 0) {
			group_clear(x->group);
			continue;
		}
		for (size_t i = 0; x->group->name && i < c->n_groups; i++)
			if (c->groups[i].name && !strcmp(c->groups[i].name, x->group->name))
				yr_error(r, &m, "%s: duplicate group \"%s\"", name, x->group->name);
		c->n_groups++;
	}
	x->group = NULL;
	return 0;
}

static int k_log_queries(yr *r, const char *name, void *obj)
{
	static const char *const names[] = {"off", "blocked", "audited", "all"};
	int v;
	if (yr_enum(r, name, "value", names, 4, &v) < 0)
		return -1;
	((dctx *)obj)->c->log.queries = (cfg_log_queries)v;
	return 0;
}

static int k_log_format(yr *r, const char *name, void *obj)
{
	static const char *const names[] = {"json", "text"};
	int v;
	if (yr_enum(r, name, "value", names, 2, &v) < 0)
		return -1;
	((dctx *)obj)->c->log.format = (cfg_log_format)v;
	return 0;
}

static int k_log_file(yr *r, const char *name, void *obj)
{
	return yr_string(r, name, &((dctx *)obj)->c->log.file);
}

static const yr_field log_fields[] = {
	{"queries", k_log_queries, false},
	{"format", k_log_format, false},
	{"file", k_log_file, false},
};

static int k_log(yr *r, const char *name, void *obj)
{
	uint64_t seen;
	return yr_map(r, name, name, log_fields, 3, obj, &seen, NULL);
}

static int k_access(yr *r, const char *name, void *obj)
{
	cfg *c = ((dctx *)obj)->c;
	return yr_read_nets(r, name, &c->access, &c->n_access);
}

static int k_http(yr *r, const char *name, void *obj)
{
	cfg *c = ((dctx *)obj)->c;
	yr_scalar s;
	const char *why;
	if (yr_scalar_take(r, name, "an address", &s) < 0)
		return -1;
	if (s.null)
		return 0;
	/* 9153 is the port Prometheus exporters of DNS servers customarily use */
	if (cfg_addr_parse(s.s, 9153, &c->http, &why) < 0) {
		yr_error_at(r, s.line, s.col, "%s: bad address \"%s\": %s", name, s.s, why);
		return -1;
	}
	c->http_set = true;
	return 0;
}

static int k_user(yr *r, const char *name, void *obj)
{
	return yr_string(r, name, &((dctx *)obj)->c->user);
}

static int k_hide_version(yr *r, const char *name, void *obj)
{
	static const char *const names[] = {"false", "true"};
	int v;
	if (yr_enum(r, name, "value", names, 2, &v) < 0)
		return -1;
	((dctx *)obj)->c->hide_version = v == 1;
	return 0;
}

static int k_minimal_responses(yr *r, const char *name, void *obj)
{
	/* yes/no as in unbound.conf, true/false as hide-version */
	static const char *const names[] = {"no", "yes", "false", "true"};
	int v;
	if (yr_enum(r, name, "value", names, 4, &v) < 0)
		return -1;
	((dctx *)obj)->c->minimal_responses = v & 1;
	return 0;
}

/* A path relative to the config's folder, like `policies`. */
static int k_state_file(yr *r, const char *name, void *obj)
{
	dctx *x = obj;
	char *path = NULL;
	if (yr_string(r, name, &path) < 0)
		return -1;
	if (!path)
		return 0;
	if (path[0] != '/' && x->dir) {
		size_t n = strlen(x->dir) + strlen(path) + 2;
		char *full = yr_xrealloc(NULL, n);
		snprintf(full, n, "%s/%s", x->dir, path);
		free(path);
		path = full;
	}
	free(x->c->state_file);
	x->c->state_file = path;
	return 0;
}

static int k_workers(yr *r, const char *name, void *obj)
{
	cfg *c = ((dctx *)obj)->c;
	yr_scalar s;
	uint64_t v;
	if (yr_scalar_take(r, name, "an integer or auto", &s) < 0)
		return -1;
	if (!strcmp(s.s, "auto")) {
		c->workers = 0;
		return 0;
	}
	if (yr_uint_text(r, name, &s, 1024, &v) < 0)
		return -1;
	if (v == 0) {
		yr_error_at(r, s.line, s.col, "%s: must be at least 1 (or auto)", name);
		return -1;
	}
	c->workers = (uint32_t)v;
	return 0;
}

static int k_exposure_clients(yr *r, const char *name, void *obj)
{
	/* a million entries is about 100 MB: more is a typo, not a network */
	return read_u32(r, name, 1000000, &((dctx *)obj)->c->exposure_clients);
}

static int k_rpz(yr *r, const char *name, void *obj)
{
	return yr_rpz_read(r, name, ((dctx *)obj)->c);
}

static int k_ratelimit(yr *r, const char *name, void *obj)
{
	return yr_ratelimit_read(r, name, ((dctx *)obj)->c);
}

static const yr_field daemon_fields[] = {
	{"listen", k_listen, false},
	{"tls", k_tls, false},
	{"upstreams", k_upstreams, false},
	{"tls-ca", k_tls_ca, false},
	{"timeout", k_timeout, false},
	{"cache", k_cache, false},
	{"sinkhole", k_sinkhole, false},
	{"policies", k_policies, false},
	{"groups", k_groups, false},
	{"log", k_log, false},
	{"access", k_access, false},
	{"http", k_http, false},
	{"user", k_user, false},
	{"state-file", k_state_file, false},
	{"hide-version", k_hide_version, false},
	{"minimal-responses", k_minimal_responses, false},
	{"workers", k_workers, false},
	{"exposure-clients", k_exposure_clients, false},
	{"rpz", k_rpz, false},
	{"ratelimit", k_ratelimit, false},
};
#define N_DAEMON_FIELDS (sizeof(daemon_fields) / sizeof(daemon_fields[0]))

static void set_defaults(cfg *c)
{
	const char *why;
	c->timeout_ms = 1500;
	c->cache.entries = 100000;
	c->cache.min_ttl = 0;
	c->cache.max_ttl = 86400;
	c->minimal_responses = true;
	c->sinkhole.ipv4.family = 4;
	c->sinkhole.ipv6.family = 6;
	c->sinkhole.ttl = 300;
	c->log.queries = CFG_LOGQ_BLOCKED;
	c->log.format = CFG_LOGF_JSON;
	c->log.file = yr_xstrdup("-");
	c->workers = 1;
	c->exposure_clients = 10000;
	c->listen = yr_xrealloc(NULL, 2 * sizeof(cfg_addr));
	c->n_listen = 2;
	cfg_addr_parse("127.0.0.1", 53, &c->listen[0], &why);
	cfg_addr_parse("::1", 53, &c->listen[1], &why);
	size_t n = sizeof(default_access) / sizeof(default_access[0]);
	c->access = yr_xrealloc(NULL, n * sizeof(cfg_net));
	for (c->n_access = 0; c->n_access < n; c->n_access++)
		cfg_net_parse(default_access[c->n_access], &c->access[c->n_access], &why);
}

int yr_daemon_read(cfg *c, const char *path, cfg_diags *diags)
{
	size_t n0 = diags->n;
	dctx x = {.c = c};
	yr r;

	memset(c, 0, sizeof(*c));
	c->path = yr_xstrdup(path);
	set_defaults(c);
	const char *slash = strrchr(path, '/');
	if (slash) {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		x.dir = yr_xrealloc(NULL, n + 1);
		memcpy(x.dir, path, n);
		x.dir[n] = 0;
	}
	if (yr_open(&r, path, diags) == 0) {
		uint64_t seen;
		/* A document that is only "~" or "---" is a config of defaults. */
		if (yr_is_null(&r))
			yr_next(&r);
		else
			yr_map(&r, "document", NULL, daemon_fields, N_DAEMON_FIELDS, &x, &seen, NULL);
		yr_finish(&r);
	}
	yr_close(&r);
	cfg_rpz_finish(c);
	free(x.dir);
	return diags->n == n0 ? 0 : -1;
}

cfg *cfg_load_daemon(const char *path, cfg_diags *diags)
{
	cfg *c = yr_xrealloc(NULL, sizeof(*c));
	if (yr_daemon_read(c, path, diags) < 0) {
		cfg_free(c);
		return NULL;
	}
	return c;
}
