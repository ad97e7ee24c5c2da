/*
 * env.c: environment overrides, for containers and sidecars that are
 * configured without editing a file. Each variable replaces one key of the
 * loaded config; a bad value is an error named after the variable, and the
 * config is left as the file had it.
 */
#include "config/config.h"
#include "config/yaml_reader.h"

#include <stdlib.h>
#include <string.h>

/* Calls item() on each comma-separated, space-trimmed part of s. */
static int each_item(const char *var, const char *s, cfg_diags *diags,
		     int (*item)(void *ctx, const char *text, char *err, size_t errlen), void *ctx)
{
	char *copy = yr_xstrdup(s), *save = NULL, err[512];
	int rc = 0, n = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		size_t len = strlen(tok);
		while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
			tok[--len] = 0;
		if (!len)
			continue;
		n++;
		if (item(ctx, tok, err, sizeof(err)) < 0) {
			cfg_diags_add(diags, NULL, 0, 0, "%s: %s", var, err);
			rc = -1;
		}
	}
	if (!n && !rc) {
		cfg_diags_add(diags, NULL, 0, 0, "%s: empty list", var);
		rc = -1;
	}
	free(copy);
	return rc;
}

typedef struct addr_list {
	cfg_addr *v;
	size_t n, cap;
} addr_list;

static int listen_item(void *ctx, const char *text, char *err, size_t errlen)
{
	addr_list *l = ctx;
	const char *why;
	cfg_addr a;
	if (cfg_addr_parse(text, 53, &a, &why) < 0) {
		snprintf(err, errlen, "bad address \"%s\": %s", text, why);
		return -1;
	}
	yr_grow(&l->v, &l->cap, l->n, sizeof(a));
	l->v[l->n++] = a;
	return 0;
}

typedef struct up_list {
	cfg_upstream *v;
	size_t n, cap;
} up_list;

static int upstream_item(void *ctx, const char *text, char *err, size_t errlen)
{
	up_list *l = ctx;
	cfg_upstream u;
	if (cfg_upstream_parse(text, &u, err, errlen) < 0)
		return -1;
	yr_grow(&l->v, &l->cap, l->n, sizeof(u));
	l->v[l->n++] = u;
	return 0;
}

static int env_listen(cfg *c, const char *var, const char *val, cfg_diags *diags)
{
	addr_list l = {0};
	if (each_item(var, val, diags, listen_item, &l) < 0) {
		free(l.v);
		return -1;
	}
	free(c->listen);
	c->listen = l.v;
	c->n_listen = l.n;
	return 0;
}

static int env_upstreams(cfg *c, const char *var, const char *val, cfg_diags *diags)
{
	up_list l = {0};
	if (each_item(var, val, diags, upstream_item, &l) < 0) {
		for (size_t i = 0; i < l.n; i++)
			free(l.v[i].tls_name);
		free(l.v);
		return -1;
	}
	for (size_t i = 0; i < c->n_upstreams; i++)
		free(c->upstreams[i].tls_name);
	free(c->upstreams);
	c->upstreams = l.v;
	c->n_upstreams = l.n;
	return 0;
}

static int env_http(cfg *c, const char *var, const char *val, cfg_diags *diags)
{
	const char *why;
	if (!strcmp(val, "off")) {
		c->http_set = false;
		return 0;
	}
	if (cfg_addr_parse(val, 9153, &c->http, &why) < 0) {
		cfg_diags_add(diags, NULL, 0, 0, "%s: bad address \"%s\": %s", var, val, why);
		return -1;
	}
	c->http_set = true;
	return 0;
}

static int env_log_queries(cfg *c, const char *var, const char *val, cfg_diags *diags)
{
	static const char *const names[] = { "off", "blocked", "audited", "all" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(val, names[i])) {
			c->log.queries = (cfg_log_queries)i;
			return 0;
		}
	}
	cfg_diags_add(diags, NULL, 0, 0, "%s: unknown value \"%s\" (expected off, blocked, audited or all)",
		      var, val);
	return -1;
}

int cfg_apply_env(cfg *c, const char *(*get)(const char *name), cfg_diags *diags)
{
	static const struct {
		const char *var;
		int (*apply)(cfg *c, const char *var, const char *val, cfg_diags *diags);
	} vars[] = {
		{ "EMBARGO_LISTEN", env_listen },
		{ "EMBARGO_UPSTREAMS", env_upstreams },
		{ "EMBARGO_HTTP", env_http },
		{ "EMBARGO_LOG_QUERIES", env_log_queries },
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *val = get(vars[i].var);
		if (val && vars[i].apply(c, vars[i].var, val, diags) < 0)
			rc = -1;
	}
	return rc;
}
