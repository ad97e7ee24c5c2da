/*
 * yaml_reader.c: the streaming YAML reader behind both loaders (see
 * yaml_reader.h for the model).
 *
 * Lookahead keeps one event: yr_next() only marks it consumed and the next
 * yr_peek() frees it, so a scalar's text stays readable after the handler has
 * consumed it, without a copy per scalar (a million of them in a big policy).
 */
#include "config/yaml_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void *yr_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		abort();
	return q;
}

char *yr_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(yr_xrealloc(NULL, n), s, n);
}

void yr_grow(void *v, size_t *cap, size_t n, size_t size)
{
	void **p = v;
	if (n < *cap)
		return;
	*cap = *cap ? *cap * 2 : 4;
	*p = yr_xrealloc(*p, *cap * size);
}

static void yr_verror(yr *r, uint32_t line, uint32_t col, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int len = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (len < 0)
		abort();
	char *msg = yr_xrealloc(NULL, (size_t)len + 1);
	vsnprintf(msg, (size_t)len + 1, fmt, ap);
	cfg_diags_add(&r->diags, r->file, line, col, "%s", msg);
	free(msg);
}

void yr_error(yr *r, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	/* libyaml marks are 0-based; editors and compilers count from 1 */
	yr_verror(r, (uint32_t)m->line + 1, (uint32_t)m->column + 1, fmt, ap);
	va_end(ap);
}

void yr_error_at(yr *r, uint32_t line, uint32_t col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	yr_verror(r, line, col, fmt, ap);
	va_end(ap);
}

static void report_syntax(yr *r)
{
	const yaml_parser_t *p = &r->parser;

	if (p->error == YAML_MEMORY_ERROR)
		abort();
	if (p->error == YAML_READER_ERROR) {
		/* encoding problems carry an offset, not a mark: use where reading stopped */
		yr_error(r, &p->mark, "bad input: %s", p->problem ? p->problem : "read error");
		return;
	}
	const char *problem = p->problem ? p->problem : "syntax error";
	if (p->context)
		yr_error(r, &p->problem_mark, "syntax error: %s (%s at line %zu, column %zu)",
			 problem, p->context, p->context_mark.line + 1, p->context_mark.column + 1);
	else
		yr_error(r, &p->problem_mark, "syntax error: %s", problem);
}

/* Anchors and aliases are reported once, here, whether or not the node
 * is later skipped; handlers then drop an alias silently. */
static void check_anchor(yr *r, const yaml_event_t *e)
{
	const yaml_char_t *anchor = NULL;
	switch (e->type) {
	case YAML_ALIAS_EVENT:
		yr_error(r, &e->start_mark, "aliases are not supported");
		return;
	case YAML_SCALAR_EVENT:
		anchor = e->data.scalar.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = e->data.sequence_start.anchor;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = e->data.mapping_start.anchor;
		break;
	default:
		break;
	}
	if (anchor)
		yr_error(r, &e->start_mark, "anchors and aliases are not supported");
}

const yaml_event_t *yr_peek(yr *r)
{
	if (r->failed)
		return NULL;
	if (r->have && !r->consumed)
		return &r->ev;
	if (r->have) {
		yaml_event_delete(&r->ev);
		r->have = false;
	}
	if (!yaml_parser_parse(&r->parser, &r->ev)) {
		report_syntax(r);
		r->failed = true;
		return NULL;
	}
	r->have = true;
	r->consumed = false;
	check_anchor(r, &r->ev);
	return &r->ev;
}

void yr_next(yr *r)
{
	if (yr_peek(r))
		r->consumed = true;
}

void yr_skip(yr *r)
{
	int depth = 0;
	do {
		const yaml_event_t *e = yr_peek(r);
		if (!e)
			return;
		if (e->type == YAML_SEQUENCE_START_EVENT || e->type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (e->type == YAML_SEQUENCE_END_EVENT || e->type == YAML_MAPPING_END_EVENT)
			depth--;
		yr_next(r);
	} while (depth > 0);
}

int yr_open(yr *r, const char *path, cfg_diags *diags)
{
	memset(r, 0, sizeof(*r));
	r->file = path;
	r->out = diags;
	r->fp = fopen(path, "rb");
	struct stat st;
	if (r->fp && fstat(fileno(r->fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(r->fp);
		r->fp = NULL;
		errno = EISDIR;
	}
	if (!r->fp) {
		cfg_diags_add(diags, path, 0, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (!yaml_parser_initialize(&r->parser))
		abort();
	yaml_parser_set_input_file(&r->parser, r->fp);

	const yaml_event_t *e = yr_peek(r);
	if (!e)
		return -1;
	yr_next(r); /* STREAM-START */
	if (!(e = yr_peek(r)))
		return -1;
	if (e->type == YAML_STREAM_END_EVENT) {
		yr_error(r, &e->start_mark, "empty file");
		return -1;
	}
	yr_next(r); /* DOCUMENT-START */
	return yr_peek(r) ? 0 : -1;
}

void yr_finish(yr *r)
{
	const yaml_event_t *e = yr_peek(r);
	if (!e || e->type != YAML_DOCUMENT_END_EVENT)
		return;
	yr_next(r);
	if ((e = yr_peek(r)) && e->type == YAML_DOCUMENT_START_EVENT)
		yr_error(r, &e->start_mark, "multiple documents are not supported");
}

void yr_close(yr *r)
{
	size_t first = r->failed && r->diags.n ? r->diags.n - 1 : 0;
	for (size_t i = first; i < r->diags.n; i++) {
		const cfg_diag *g = &r->diags.v[i];
		cfg_diags_add(r->out, g->file, g->line, g->col, "%s", g->msg);
	}
	cfg_diags_free(&r->diags);
	if (r->have)
		yaml_event_delete(&r->ev);
	if (r->fp) {
		yaml_parser_delete(&r->parser);
		fclose(r->fp);
	}
	memset(r, 0, sizeof(*r));
}

bool yr_is_null(yr *r)
{
	const yaml_event_t *e = yr_peek(r);
	if (!e || e->type != YAML_SCALAR_EVENT || e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = (const char *)e->data.scalar.value;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static const char *found(const yaml_event_t *e)
{
	return e->type == YAML_SEQUENCE_START_EVENT ? "a list" : "a mapping";
}

int yr_scalar_take(yr *r, const char *name, const char *what, yr_scalar *out)
{
	const yaml_event_t *e = yr_peek(r);
	if (!e)
		return -1;
	if (e->type == YAML_ALIAS_EVENT) {
		yr_next(r);
		return -1;
	}
	if (e->type != YAML_SCALAR_EVENT) {
		yr_error(r, &e->start_mark, "%s: expected %s, found %s", name, what, found(e));
		yr_skip(r);
		return -1;
	}
	out->null = yr_is_null(r);
	out->s = (const char *)e->data.scalar.value;
	out->len = e->data.scalar.length;
	out->line = (uint32_t)e->start_mark.line + 1;
	out->col = (uint32_t)e->start_mark.column + 1;
	yr_next(r);
	if (strlen(out->s) != out->len) {
		/* "\0" in a quoted scalar: C strings would silently cut it short */
		yr_error_at(r, out->line, out->col, "%s: NUL character in value", name);
		return -1;
	}
	return 0;
}

int yr_string(yr *r, const char *name, char **out)
{
	yr_scalar v;
	if (yr_scalar_take(r, name, "a string", &v) < 0)
		return -1;
	if (v.null)
		return 0;
	free(*out);
	*out = yr_xstrdup(v.s);
	return 0;
}

int yr_uint(yr *r, const char *name, uint64_t max, uint64_t *out)
{
	yr_scalar v;
	if (yr_scalar_take(r, name, "an integer", &v) < 0)
		return -1;
	return yr_uint_text(r, name, &v, max, out);
}

int yr_uint_text(yr *r, const char *name, const yr_scalar *vp, uint64_t max, uint64_t *out)
{
	yr_scalar v = *vp;
	const char *s = v.s;
	if (s[0] == '-' && s[1] && strspn(s + 1, "0123456789") == strlen(s + 1)) {
		yr_error_at(r, v.line, v.col, "%s: must not be negative, found %s", name, s);
		return -1;
	}
	if (!*s || strspn(s, "0123456789") != v.len) {
		yr_error_at(r, v.line, v.col, "%s: expected a non-negative integer, found \"%s\"",
			    name, s);
		return -1;
	}
	uint64_t n = 0;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (max - d) / 10) {
			yr_error_at(r, v.line, v.col, "%s: %s out of range 0..%llu", name, v.s,
				    (unsigned long long)max);
			return -1;
		}
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

int yr_enum(yr *r, const char *name, const char *noun, const char *const *names, size_t n,
	    int *out)
{
	yr_scalar v;
	if (yr_scalar_take(r, name, "a string", &v) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v.s, names[i])) {
			*out = (int)i;
			return 0;
		}
	}
	/* "(expected a, b or c)", built from the table so it cannot go stale */
	char list[256] = "";
	size_t o = 0;
	for (size_t i = 0; i < n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
				      i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	yr_error_at(r, v.line, v.col, "%s: unknown %s \"%s\" (expected %s)", name, noun, v.s, list);
	return -1;
}

int yr_seq_begin(yr *r, const char *name)
{
	const yaml_event_t *e = yr_peek(r);
	if (!e)
		return -1;
	if (e->type == YAML_SEQUENCE_START_EVENT) {
		yr_next(r);
		return 0;
	}
	if (yr_is_null(r)) {
		yr_next(r);
		return 1;
	}
	if (e->type == YAML_SCALAR_EVENT)
		yr_error(r, &e->start_mark, "%s: expected a list, found \"%s\"", name,
			 (const char *)e->data.scalar.value);
	else if (e->type == YAML_MAPPING_START_EVENT)
		yr_error(r, &e->start_mark, "%s: expected a list, found a mapping", name);
	yr_skip(r);
	return -1;
}

bool yr_seq_more(yr *r)
{
	const yaml_event_t *e = yr_peek(r);
	if (!e)
		return false;
	if (e->type == YAML_SEQUENCE_END_EVENT) {
		yr_next(r);
		return false;
	}
	return true;
}

static int find_field(const yr_field *fields, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(fields[i].key, key))
			return (int)i;
	return -1;
}

int yr_map(yr *r, const char *what, const char *prefix, const yr_field *fields, size_t n,
	   void *obj, uint64_t *seen, yaml_mark_t *mark)
{
	const yaml_event_t *e = yr_peek(r);
	*seen = 0;
	if (!e)
		return -1;
	yaml_mark_t start = e->start_mark;
	if (mark)
		*mark = start;
	if (e->type == YAML_ALIAS_EVENT) {
		yr_next(r);
		return -1;
	}
	if (e->type != YAML_MAPPING_START_EVENT && !yr_is_null(r)) {
		if (e->type == YAML_SCALAR_EVENT)
			yr_error(r, &start, "%s: expected a mapping, found \"%s\"", what,
				 (const char *)e->data.scalar.value);
		else
			yr_error(r, &start, "%s: expected a mapping, found a list", what);
		yr_skip(r);
		return -1;
	}
	bool is_map = e->type == YAML_MAPPING_START_EVENT;
	yr_next(r);
	while (is_map && (e = yr_peek(r)) && e->type != YAML_MAPPING_END_EVENT) {
		if (e->type != YAML_SCALAR_EVENT) {
			if (e->type != YAML_ALIAS_EVENT)
				yr_error(r, &e->start_mark, "keys must be plain strings");
			yr_skip(r); /* the key */
			yr_skip(r); /* its value */
			continue;
		}
		const char *key = (const char *)e->data.scalar.value;
		int i = find_field(fields, n, key);
		if (i < 0 || (*seen >> i & 1)) {
			yr_error(r, &e->start_mark, i < 0 ? "unknown key \"%s\"" : "duplicate key \"%s\"",
				 key);
			yr_next(r);
			yr_skip(r);
			continue;
		}
		*seen |= UINT64_C(1) << i;
		char name[128];
		if (prefix)
			snprintf(name, sizeof(name), "%s.%s", prefix, fields[i].key);
		else
			snprintf(name, sizeof(name), "%s", fields[i].key);
		yr_next(r);
		fields[i].fn(r, name, obj);
	}
	if (!yr_peek(r))
		return -1; /* a syntax error: the missing keys may only be unread */
	if (is_map)
		yr_next(r);
	for (size_t i = 0; i < n; i++)
		if (fields[i].required && !(*seen >> i & 1))
			yr_error(r, &start, "missing required key \"%s\"", fields[i].key);
	return 0;
}
