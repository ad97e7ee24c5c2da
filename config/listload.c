/*
 * listload.c: the list files of one vendor (domains-file, hosts-file,
 * allow-file), read into its rules and allow list once its YAML is.
 *
 * Published lists overlap, and operators combine several, so a name a list
 * file repeats (one the vendor already has as the same kind of entry, in any
 * rule or list) is a warning and left out rather than the duplicate error
 * the policy gives for names written twice in YAML: the first one stays.
 * Names written in the YAML come first whatever the order of keys.
 */
#include "config/config.h"
#include "config/dname.h"
#include "config/listfile.h"
#include "config/loader.h"
#include "config/nameset.h"
#include "config/yaml_reader.h"

#include <stdlib.h>
#include <string.h>

/* List ids in the name set: 0 the allow list, 1 + 2r rule r's domains,
 * 2 + 2r its hosts. The class is the kind of entry. */
enum { CLS_ALLOW = 0, CLS_DOMAIN, CLS_HOST };

typedef struct vl {
	cfg_vendor *v;
	nameset set;
	uint32_t src;        /* number of the list file being read */
	uint32_t rule;       /* the rule it fills (not for the allow-file) */
	size_t emitted, dups;
} vl;

static cfg_names *vl_list(cfg_vendor *v, uint32_t id)
{
	if (id == 0)
		return &v->allow;
	cfg_rule *r = &v->rules[(id - 1) / 2];
	return id % 2 ? &r->domains : &r->hosts;
}

static const cfg_names *set_list(void *ctx, uint32_t id)
{
	return vl_list(ctx, id);
}

static unsigned set_cls(void *ctx, uint32_t id)
{
	(void)ctx;
	return id == 0 ? CLS_ALLOW : id % 2 ? CLS_DOMAIN : CLS_HOST;
}

/* The names the YAML wrote; its own duplicates are the policy's to report. */
static void seed(vl *x)
{
	uint32_t n_ids = 1 + 2 * (uint32_t)x->v->n_rules;
	for (uint32_t id = 0; id < n_ids; id++) {
		const cfg_names *l = vl_list(x->v, id);
		for (uint32_t i = 0; i < l->n; i++) {
			const uint8_t *w = cfg_names_at(l, i);
			size_t len = dname_wire_len(w);
			uint64_t h = nameset_hash(w, len, set_cls(NULL, id));
			uint32_t fid, fi;
			if (!nameset_find(&x->set, h, w, len, set_cls(NULL, id), &fid, &fi) &&
			    nameset_insert(&x->set, h, id, i) < 0)
				abort();
		}
	}
}

static int vl_add(void *ctx, listfile_kind kind, const uint8_t *wire, size_t len, uint32_t line,
		  uint32_t col)
{
	vl *x = ctx;
	uint32_t id = kind == LISTFILE_KIND_ALLOW    ? 0
		      : kind == LISTFILE_KIND_DOMAIN ? 1 + 2 * x->rule
						     : 2 + 2 * x->rule;
	unsigned cls = set_cls(NULL, id);
	uint64_t h = nameset_hash(wire, len, cls);
	uint32_t fid, fi;
	x->emitted++;
	if (nameset_find(&x->set, h, wire, len, cls, &fid, &fi)) {
		if (x->dups++ < LISTFILE_MAX_WARNINGS) {
			const cfg_names *first = vl_list(x->v, fid);
			char text[DNAME_STR_MAX], rule[300] = "";
			dname_to_str(wire, text);
			if (fid)
				snprintf(rule, sizeof(rule), ", rule %s",
					 x->v->rules[(fid - 1) / 2].id);
			cfg_diags_add(&x->v->warnings, x->v->lists[x->src - 1].path, line, col,
				      "duplicate %s \"%s\" (first at %s:%u:%u%s): ignored",
				      cls == CLS_ALLOW ? "allow entry" : cls == CLS_DOMAIN ? "domain" : "host",
				      text, cfg_vendor_source(x->v, first->col[fi]), first->line[fi],
				      cfg_pos_col(first->col[fi]), rule);
		}
		return 0;
	}
	cfg_names *l = vl_list(x->v, id);
	if (cfg_names_add(l, wire, len, line, cfg_pos_make(x->src, col)) < 0 ||
	    nameset_insert(&x->set, h, id, (uint32_t)l->n - 1) < 0)
		abort();  /* out of memory, like every other allocation here */
	x->v->lists[x->src - 1].n_names++;
	return 0;
}

void yr_vendor_lists(cfg_vendor *v, yr_listref *refs, size_t n, cfg_diags *diags)
{
	if (!n)
		return;
	vl x = {.v = v, .set = {.list = set_list, .cls = set_cls, .ctx = v}};
	v->lists = yr_xrealloc(NULL, n * sizeof(*v->lists));
	if (1 + 2 * v->n_rules >= NAMESET_MAX_LISTS || n > CFG_POS_SRC_MAX) {
		cfg_diags_add(diags, v->file, refs[0].line, refs[0].col,
			      "too many rules or list files to read list files (at most %u rules and "
			      "%u files)",
			      (NAMESET_MAX_LISTS - 2) / 2, CFG_POS_SRC_MAX);
		for (size_t i = 0; i < n; i++)
			free(refs[i].path);
		return;
	}
	seed(&x);
	listfile_sink sink = {.add = vl_add, .ctx = &x, .errors = diags, .warnings = &v->warnings};
	for (size_t i = 0; i < n; i++) {
		cfg_listfile *lf = &v->lists[v->n_lists++];
		*lf = (cfg_listfile){.path = refs[i].path};
		x.src = (uint32_t)v->n_lists;
		x.rule = refs[i].rule;
		x.emitted = x.dups = 0;
		size_t n0 = diags->n;
		listfile_format f = (listfile_format)-1;  /* stays so when unreadable */
		int rc = listfile_parse_file(lf->path, (listfile_key)refs[i].key, &sink, &f);
		if ((int)f == -1) {
			/* say which key named it, where: the policy file's position */
			for (size_t k = n0; k < diags->n; k++) {
				cfg_diag *g = &diags->v[k];
				size_t len = strlen(lf->path) + strlen(g->msg) + 3;
				char *msg = yr_xrealloc(NULL, len);
				snprintf(msg, len, "%s: %s", lf->path, g->msg);
				free(g->msg);
				free(g->file);
				g->msg = msg;
				g->file = yr_xstrdup(v->file);
				g->line = refs[i].line;
				g->col = refs[i].col;
			}
			continue;
		}
		lf->format = listfile_format_name(f);
		if (x.dups > LISTFILE_MAX_WARNINGS)
			cfg_diags_add(&v->warnings, lf->path, 0, 0,
				      "%zu more duplicate names ignored", x.dups - LISTFILE_MAX_WARNINGS);
		if (rc == 0 && x.emitted == 0)
			cfg_diags_add(&v->warnings, lf->path, 0, 0, "no names in this file");
	}
	nameset_free(&x.set);
}

const char *cfg_vendor_source(const cfg_vendor *v, uint32_t col)
{
	uint32_t src = cfg_pos_src(col);
	return src && src <= v->n_lists ? v->lists[src - 1].path : v->file;
}
