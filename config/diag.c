/*
 * diag.c: the list of "file:line:column: message" diagnostics that loading
 * collects.
 *
 * Appending never fails from the caller's point of view: a loader that is
 * already reporting an error has no better way to report a second one, so
 * running out of memory here aborts.
 */
#include "config/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void *diag_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q)
		abort();
	return q;
}

static char *diag_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(diag_xrealloc(NULL, n), s, n);
}

void cfg_diags_add(cfg_diags *d, const char *file, uint32_t line, uint32_t col,
		   const char *fmt, ...)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->v = diag_xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		abort();
	char *msg = diag_xrealloc(NULL, (size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)len + 1, fmt, ap);
	va_end(ap);

	cfg_diag *g = &d->v[d->n++];
	g->file = file ? diag_xstrdup(file) : NULL;
	g->line = line;
	g->col = col;
	g->msg = msg;
}

void cfg_diags_print(const cfg_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const cfg_diag *g = &d->v[i];
		if (g->file && g->line)
			fprintf(out, "%s:%u:%u: %s\n", g->file, g->line, g->col, g->msg);
		else if (g->file)
			fprintf(out, "%s: %s\n", g->file, g->msg);
		else
			fprintf(out, "%s\n", g->msg);
	}
}

void cfg_diags_print_warnings(const cfg_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const cfg_diag *g = &d->v[i];
		if (g->file && g->line)
			fprintf(out, "%s:%u:%u: warning: %s\n", g->file, g->line, g->col, g->msg);
		else if (g->file)
			fprintf(out, "%s: warning: %s\n", g->file, g->msg);
		else
			fprintf(out, "warning: %s\n", g->msg);
	}
}

void cfg_diags_move(cfg_diags *to, cfg_diags *from)
{
	for (size_t i = 0; i < from->n; i++) {
		if (to->n == to->cap) {
			to->cap = to->cap ? to->cap * 2 : 8;
			to->v = diag_xrealloc(to->v, to->cap * sizeof(*to->v));
		}
		to->v[to->n++] = from->v[i];  /* the strings move with it */
	}
	free(from->v);
	from->v = NULL;
	from->n = from->cap = 0;
}

void cfg_diags_free(cfg_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}
