/*
 * load.c: cfg_load, which reads the daemon config and every policy file it
 * names, then runs the checks that span files: vendor ids unique across
 * files, and group exemptions that name a vendor or rule that exists.
 *
 * Files with errors are still kept (partially read) until the end so that the
 * cross-file checks run in the same pass and one `embargo check` shows every
 * problem; the result is only handed out when no diagnostic was added.
 */
#include "config/config.h"
#include "config/loader.h"
#include "config/yaml_reader.h"

#include <stdlib.h>
#include <string.h>

static const cfg_vendor *find_vendor(const cfg *c, const char *id, size_t len)
{
	for (size_t i = 0; i < c->n_vendors; i++) {
		const char *v = c->vendors[i].id;
		if (v && strlen(v) == len && !memcmp(v, id, len))
			return &c->vendors[i];
	}
	return NULL;
}

static void check_vendors(const cfg *c, const bool *broken, cfg_diags *diags)
{
	for (size_t i = 0; i < c->n_vendors; i++) {
		const cfg_vendor *v = &c->vendors[i];
		for (size_t j = 0; v->id && j < i; j++) {
			const cfg_vendor *first = &c->vendors[j];
			if (first->id && !strcmp(first->id, v->id)) {
				cfg_diags_add(diags, v->file, v->line, v->col,
					      "duplicate vendor \"%s\" (first defined at %s:%u:%u)",
					      v->id, first->file, first->line, first->col);
				break;
			}
		}
	}
	for (size_t g = 0; g < c->n_groups; g++) {
		const cfg_group *grp = &c->groups[g];
		for (size_t i = 0; i < grp->n_exempt; i++) {
			const char *e = grp->exempt[i], *slash = strchr(e, '/');
			size_t vlen = slash ? (size_t)(slash - e) : strlen(e);
			const cfg_vendor *v = find_vendor(c, e, vlen);
			if (!v) {
				/* A policy file that failed to read may be the one meant:
				 * its own errors already say what is wrong. */
				bool unsure = false;
				for (size_t k = 0; k < c->n_vendors; k++)
					unsure |= broken[k] && !c->vendors[k].id;
				if (!unsure)
					cfg_diags_add(diags, c->path, grp->exempt_line[i],
						      grp->exempt_col[i],
						      "groups.exempt: unknown vendor \"%.*s\"", (int)vlen, e);
				continue;
			}
			if (!slash)
				continue;
			bool found = false;
			for (size_t r = 0; r < v->n_rules && !found; r++)
				found = v->rules[r].id && !strcmp(v->rules[r].id, slash + 1);
			if (!found && !broken[v - c->vendors])
				cfg_diags_add(diags, c->path, grp->exempt_line[i], grp->exempt_col[i],
					      "groups.exempt: vendor \"%s\" has no rule \"%s\"", v->id,
					      slash + 1);
		}
	}
}

cfg *cfg_load(const char *path, cfg_diags *diags)
{
	size_t n0 = diags->n;
	cfg *c = yr_xrealloc(NULL, sizeof(*c));

	yr_daemon_read(c, path, diags);
	bool *broken = yr_xrealloc(NULL, c->n_policy_paths * sizeof(bool));
	c->vendors = yr_xrealloc(NULL, c->n_policy_paths * sizeof(cfg_vendor));
	for (size_t i = 0; i < c->n_policy_paths; i++)
		broken[i] = yr_vendor_read(&c->vendors[c->n_vendors++], c->policy_paths[i], diags) < 0;
	for (size_t i = 0; i < c->n_vendors; i++)
		cfg_diags_move(&c->warnings, &c->vendors[i].warnings);
	check_vendors(c, broken, diags);
	free(broken);
	if (diags->n != n0) {
		cfg_free(c);
		return NULL;
	}
	return c;
}

void cfg_free(cfg *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->listen);
	free(c->tls.listen);
	free(c->tls.certificate);
	free(c->tls.key);
	for (size_t i = 0; i < c->n_upstreams; i++)
		free(c->upstreams[i].tls_name);
	free(c->upstreams);
	free(c->tls_ca);
	for (size_t i = 0; i < c->n_policy_paths; i++)
		free(c->policy_paths[i]);
	free(c->policy_paths);
	for (size_t i = 0; i < c->n_groups; i++) {
		cfg_group *g = &c->groups[i];
		free(g->name);
		free(g->nets);
		for (size_t j = 0; j < g->n_exempt; j++)
			free(g->exempt[j]);
		free(g->exempt);
		free(g->exempt_line);
		free(g->exempt_col);
	}
	free(c->groups);
	free(c->log.file);
	free(c->access);
	free(c->user);
	free(c->state_file);
	cfg_rpz_clear(&c->rpz);
	free(c->ratelimit.exempt);
	for (size_t i = 0; i < c->n_vendors; i++)
		cfg_vendor_clear(&c->vendors[i]);
	free(c->vendors);
	cfg_diags_free(&c->warnings);
	free(c);
}
