/*
 * vendor.c: the schema of a policy file (DESIGN section 3) and its reader.
 *
 * One file is one vendor: who, why (basis, url), the EDE code to answer with,
 * the dated rules and the allow-list. This is the hot loader: a file may list
 * a million names, so names go straight from the YAML event to the compact
 * cfg_names arena, with no per-name allocation.
 */
#include "config/config.h"
#include "config/dname.h"
#include "config/listfile.h"
#include "config/loader.h"
#include "config/yaml_reader.h"

#include <stdlib.h>
#include <string.h>

/* RFC 8914 Blocked: the default info-code of a blocked answer. */
#define EDE_BLOCKED 15

typedef struct vctx {
	cfg_vendor *v;
	size_t cap_rules;
	cfg_rule *rule;         /* the rule being read */
	size_t rule_names;      /* entries seen under domains and hosts, valid or not */
	bool effective_ok, until_ok;
	uint32_t id_line, id_col, until_line, until_col;
	yr_listref *refs;       /* list files named so far, read at the end */
	size_t n_refs, cap_refs;
} vctx;

bool yr_valid_id(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static int read_id(yr *r, const char *name, const char *what, char **out, uint32_t *line,
		   uint32_t *col)
{
	yr_scalar s;
	if (yr_scalar_take(r, name, "an id", &s) < 0)
		return -1;
	*line = s.line;
	*col = s.col;
	if (!yr_valid_id(s.s)) {
		yr_error_at(r, s.line, s.col, "%s: bad %s \"%s\" (use a-z, 0-9 and '-')", name, what,
			    s.s);
		return -1;
	}
	free(*out);
	*out = yr_xstrdup(s.s);
	return 0;
}

/* A list of names into `out`; *seen counts entries, valid or not. */
static int read_names(yr *r, const char *name, cfg_names *out, size_t *seen)
{
	if (yr_seq_begin(r, name) != 0)
		return 0;
	while (yr_seq_more(r)) {
		yr_scalar s;
		uint8_t wire[DNAME_MAX];
		size_t len;
		const char *why;
		if (seen)
			(*seen)++;
		if (yr_scalar_take(r, name, "a domain name", &s) < 0)
			continue;
		if (dname_from_str(s.s, wire, &len, &why) < 0) {
			yr_error_at(r, s.line, s.col, "%s: bad name \"%s\": %s", name, s.s, why);
			continue;
		}
		if (len == 1) {
			yr_error_at(r, s.line, s.col, "%s: \"%s\" is the root: it would match every name",
				    name, s.s);
			continue;
		}
		if (cfg_names_add(out, wire, len, s.line, s.col) < 0)
			abort(); /* out of memory, like every other allocation here */
	}
	return 0;
}

static int read_time(yr *r, const char *name, bool null_ok, int64_t *out, uint32_t *line,
		     uint32_t *col)
{
	yr_scalar s;
	const char *why;
	if (yr_scalar_take(r, name, "a time", &s) < 0)
		return -1;
	*line = s.line;
	*col = s.col;
	if (s.null && null_ok) {
		*out = CFG_TIME_NEVER;
		return 0;
	}
	if (cfg_time_parse(s.s, out, &why) < 0) {
		yr_error_at(r, s.line, s.col, "%s: bad time \"%s\": %s", name, s.s, why);
		return -1;
	}
	return 0;
}

static int k_rule_id(yr *r, const char *name, void *obj)
{
	vctx *x = obj;
	return read_id(r, name, "rule id", &x->rule->id, &x->id_line, &x->id_col);
}

static int k_effective(yr *r, const char *name, void *obj)
{
	vctx *x = obj;
	uint32_t line, col;
	x->effective_ok = read_time(r, name, false, &x->rule->effective, &line, &col) == 0;
	return x->effective_ok ? 0 : -1;
}

static int k_until(yr *r, const char *name, void *obj)
{
	vctx *x = obj;
	x->until_ok = read_time(r, name, true, &x->rule->until, &x->until_line, &x->until_col) == 0;
	return x->until_ok ? 0 : -1;
}

static int k_action(yr *r, const char *name, void *obj)
{
	/* in cfg_action order */
	static const char *const names[] = {"refuse", "nxdomain", "nodata", "sinkhole", "audit"};
	int v;
	if (yr_enum(r, name, "action", names, 5, &v) < 0)
		return -1;
	((vctx *)obj)->rule->action = (cfg_action)v;
	return 0;
}

static int k_before(yr *r, const char *name, void *obj)
{
	static const char *const names[] = {"audit", "allow"};
	int v;
	if (yr_enum(r, name, "value", names, 2, &v) < 0)
		return -1;
	((vctx *)obj)->rule->before = (cfg_before)v;
	return 0;
}

static int k_domains(yr *r, const char *name, void *obj)
{
	vctx *x = obj;
	return read_names(r, name, &x->rule->domains, &x->rule_names);
}

static int k_hosts(yr *r, const char *name, void *obj)
{
	vctx *x = obj;
	return read_names(r, name, &x->rule->hosts, &x->rule_names);
}

/* A path relative to the policy file's folder. */
static char *list_path(const char *policy, const char *item)
{
	const char *slash = strrchr(policy, '/');
	if (item[0] == '/' || !slash)
		return yr_xstrdup(item);
	size_t a = (size_t)(slash - policy) + 1, b = strlen(item);
	char *p = yr_xrealloc(NULL, a + b + 1);
	memcpy(p, policy, a);
	memcpy(p + a, item, b + 1);
	return p;
}

static void add_ref(yr *r, vctx *x, int key, const yr_scalar *s)
{
	if (!s->len) {
		yr_error_at(r, s->line, s->col, "expected a file name, found nothing");
		return;
	}
	yr_grow(&x->refs, &x->cap_refs, x->n_refs, sizeof(yr_listref));
	x->refs[x->n_refs++] = (yr_listref){
		.path = list_path(x->v->file, s->s),
		.key = key,
		.rule = (uint32_t)x->v->n_rules,
		.line = s->line,
		.col = s->col,
	};
}

/* `domains-file: PATH` or a list of paths. */
static int read_list_files(yr *r, const char *name, vctx *x, int key)
{
	const yaml_event_t *e = yr_peek(r);
	if (!e)
		return -1;
	yr_scalar s;
	if (e->type == YAML_SCALAR_EVENT) {
		if (yr_scalar_take(r, name, "a file name", &s) < 0)
			return -1;
		add_ref(r, x, key, &s);
		if (key != LISTFILE_ALLOW)
			x->rule_names++;
		return 0;
	}
	if (yr_seq_begin(r, name) != 0)
		return 0;
	while (yr_seq_more(r)) {
		if (yr_scalar_take(r, name, "a file name", &s) < 0)
			continue;
		add_ref(r, x, key, &s);
		if (key != LISTFILE_ALLOW)
			x->rule_names++;
	}
	return 0;
}

static int k_domains_file(yr *r, const char *name, void *obj)
{
	return read_list_files(r, name, obj, LISTFILE_DOMAINS);
}

static int k_hosts_file(yr *r, const char *name, void *obj)
{
	return read_list_files(r, name, obj, LISTFILE_HOSTS);
}

static const yr_field rule_fields[] = {
	{"id", k_rule_id, true},
	{"effective", k_effective, true},
	{"until", k_until, false},
	{"action", k_action, true},
	{"before", k_before, false},
	{"domains", k_domains, false},
	{"hosts", k_hosts, false},
	{"domains-file", k_domains_file, false},
	{"hosts-file", k_hosts_file, false},
};

static void rule_clear(cfg_rule *r)
{
	free(r->id);
	cfg_names_free(&r->domains);
	cfg_names_free(&r->hosts);
	memset(r, 0, sizeof(*r));
}

/* Reads one rule mapping; checks that need the whole rule come after it. */
static void read_rule(yr *r, vctx *x)
{
	cfg_vendor *v = x->v;
	yaml_mark_t m;
	uint64_t seen;

	yr_grow(&v->rules, &x->cap_rules, v->n_rules, sizeof(cfg_rule));
	x->rule = &v->rules[v->n_rules];
	memset(x->rule, 0, sizeof(*x->rule));
	x->rule->until = CFG_TIME_NEVER;
	x->rule_names = 0;
	x->effective_ok = x->until_ok = false;
	if (yr_map(r, "rules", NULL, rule_fields, 9, x, &seen, &m) < 0) {
		rule_clear(x->rule);
		/* the rule is dropped: so are the list files it named */
		while (x->n_refs && x->refs[x->n_refs - 1].rule == v->n_rules &&
		       x->refs[x->n_refs - 1].key != LISTFILE_ALLOW)
			free(x->refs[--x->n_refs].path);
		return;
	}
	cfg_rule *rule = x->rule;
	rule->line = (uint32_t)m.line + 1;
	rule->col = (uint32_t)m.column + 1;
	if (x->rule_names == 0)
		yr_error(r, &m, "rule%s%s%s has no domains or hosts", rule->id ? " \"" : "",
			 rule->id ? rule->id : "", rule->id ? "\"" : "");
	if (x->effective_ok && x->until_ok && rule->until <= rule->effective) {
		char u[CFG_TIME_BUF], e[CFG_TIME_BUF];
		yr_error_at(r, x->until_line, x->until_col, "until %s is not after effective %s",
			    cfg_time_format(rule->until, u), cfg_time_format(rule->effective, e));
	}
	for (size_t i = 0; rule->id && i < v->n_rules; i++) {
		if (v->rules[i].id && !strcmp(v->rules[i].id, rule->id)) {
			yr_error_at(r, x->id_line, x->id_col,
				    "id: duplicate rule id \"%s\" (first at line %u)", rule->id,
				    v->rules[i].line);
			break;
		}
	}
	v->n_rules++;
}

static int k_rules(yr *r, const char *name, void *obj)
{
	vctx *x = obj;
	const yaml_event_t *e = yr_peek(r);
	if (!e)
		return -1;
	yaml_mark_t m = e->start_mark;
	int rc = yr_seq_begin(r, name);
	if (rc < 0)
		return -1;
	bool any = false;
	while (rc == 0 && yr_seq_more(r)) {
		any = true;
		read_rule(r, x);
	}
	x->rule = NULL;
	if (!any)
		yr_error(r, &m, "%s: must not be empty", name);
	return 0;
}

static int k_vendor(yr *r, const char *name, void *obj)
{
	cfg_vendor *v = ((vctx *)obj)->v;
	return read_id(r, name, "vendor id", &v->id, &v->line, &v->col);
}

static int k_name(yr *r, const char *name, void *obj)
{
	return yr_string(r, name, &((vctx *)obj)->v->name);
}

static int k_basis(yr *r, const char *name, void *obj)
{
	return yr_string(r, name, &((vctx *)obj)->v->basis);
}

static int k_url(yr *r, const char *name, void *obj)
{
	return yr_string(r, name, &((vctx *)obj)->v->url);
}

static int k_ede(yr *r, const char *name, void *obj)
{
	yr_scalar s;
	uint64_t n;
	if (yr_scalar_take(r, name, "an integer", &s) < 0)
		return -1;
	/* A number that is merely too big or negative gets the range in the message. */
	size_t digits = strspn(s.s, "0123456789");
	bool neg = s.s[0] == '-' && s.len > 1 && strspn(s.s + 1, "0123456789") == s.len - 1;
	bool big = s.len > 0 && digits == s.len && (digits > 5 || strtoul(s.s, NULL, 10) > 65535);
	if (neg || big) {
		yr_error_at(r, s.line, s.col, "%s: info-code out of range 0..65535 (found %s)", name,
			    s.s);
		return -1;
	}
	if (yr_uint_text(r, name, &s, 65535, &n) < 0)
		return -1;
	((vctx *)obj)->v->ede = (uint16_t)n;
	return 0;
}

static int k_allow(yr *r, const char *name, void *obj)
{
	return read_names(r, name, &((vctx *)obj)->v->allow, NULL);
}

static int k_allow_file(yr *r, const char *name, void *obj)
{
	return read_list_files(r, name, obj, LISTFILE_ALLOW);
}

static const yr_field vendor_fields[] = {
	{"vendor", k_vendor, true},
	{"name", k_name, false},
	{"basis", k_basis, false},
	{"url", k_url, false},
	{"ede", k_ede, false},
	{"rules", k_rules, true},
	{"allow", k_allow, false},
	{"allow-file", k_allow_file, false},
};

int yr_vendor_read(cfg_vendor *v, const char *path, cfg_diags *diags)
{
	size_t n0 = diags->n;
	vctx x = {.v = v};
	yr r;

	memset(v, 0, sizeof(*v));
	v->file = yr_xstrdup(path);
	v->ede = EDE_BLOCKED;
	if (yr_open(&r, path, diags) == 0) {
		uint64_t seen;
		yr_map(&r, "document", NULL, vendor_fields, 8, &x, &seen, NULL);
		yr_finish(&r);
	}
	bool broken = r.failed;
	yr_close(&r);
	/* after a syntax error what was read may be misread: no list files */
	if (broken)
		for (size_t i = 0; i < x.n_refs; i++)
			free(x.refs[i].path);
	else
		yr_vendor_lists(v, x.refs, x.n_refs, diags);
	free(x.refs);
	return diags->n == n0 ? 0 : -1;
}

int cfg_load_vendor(const char *path, cfg_vendor *out, cfg_diags *diags)
{
	if (yr_vendor_read(out, path, diags) < 0) {
		cfg_vendor_clear(out);
		return -1;
	}
	return 0;
}

void cfg_vendor_clear(cfg_vendor *v)
{
	free(v->file);
	free(v->id);
	free(v->name);
	free(v->basis);
	free(v->url);
	for (size_t i = 0; i < v->n_rules; i++)
		rule_clear(&v->rules[i]);
	free(v->rules);
	cfg_names_free(&v->allow);
	for (size_t i = 0; i < v->n_lists; i++)
		free(v->lists[i].path);
	free(v->lists);
	cfg_diags_free(&v->warnings);
	memset(v, 0, sizeof(*v));
}
