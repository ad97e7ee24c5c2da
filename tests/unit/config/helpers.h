/*
 * helpers.h: shared by the config unit tests. Each test gets a fresh temp
 * folder (cmocka setup/teardown), writes small YAML files into it and
 * compares diagnostics exactly, as "relative/path:line:col: message" with the
 * folder stripped so the expected strings read like the files.
 */
#ifndef EMBARGO_TEST_CONFIG_HELPERS_H
#define EMBARGO_TEST_CONFIG_HELPERS_H

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

typedef struct tctx {
	char dir[64];
	cfg_diags diags;
} tctx;

static inline int tctx_setup(void **state)
{
	tctx *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/embargo-cfg-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static inline int tctx_teardown(void **state)
{
	tctx *t = *state;
	nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	cfg_diags_free(&t->diags);
	free(t);
	return 0;
}

/* Full path of name inside the test folder, in a static-per-call buffer set. */
static inline const char *tpath(tctx *t, const char *name)
{
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % 8];
	snprintf(b, 512, "%s/%s", t->dir, name);
	return b;
}

static inline void tmkdir(tctx *t, const char *name)
{
	assert_int_equal(mkdir(tpath(t, name), 0755), 0);
}

/* Writes name (relative to the test folder) with text; returns its full path. */
static inline const char *twrite(tctx *t, const char *name, const char *text)
{
	const char *p = tpath(t, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return p;
}

/* Diagnostic i as "file:line:col: msg", the test folder stripped from file. */
static inline const char *tdiag(tctx *t, size_t i)
{
	static char buf[4096];
	const cfg_diag *g = &t->diags.v[i];
	const char *file = g->file ? g->file : "";
	size_t n = strlen(t->dir);
	if (!strncmp(file, t->dir, n) && file[n] == '/')
		file += n + 1;
	if (g->line)
		snprintf(buf, sizeof(buf), "%s:%u:%u: %s", file, g->line, g->col, g->msg);
	else
		snprintf(buf, sizeof(buf), "%s: %s", file, g->msg);
	return buf;
}

static inline void tdump(tctx *t)
{
	for (size_t i = 0; i < t->diags.n; i++)
		fprintf(stderr, "  diag[%zu] %s\n", i, tdiag(t, i));
}

/* Asserts the diagnostics are exactly the NULL-terminated list given. */
static inline void texpect(tctx *t, ...)
{
	va_list ap;
	size_t n = 0;
	va_start(ap, t);
	for (const char *want; (want = va_arg(ap, const char *)); n++) {
		if (n >= t->diags.n) {
			tdump(t);
			fail_msg("missing diagnostic: %s", want);
		}
		if (strcmp(tdiag(t, n), want)) {
			tdump(t);
			assert_string_equal(tdiag(t, n), want);
		}
	}
	va_end(ap);
	if (n != t->diags.n)
		tdump(t);
	assert_int_equal(t->diags.n, n);
}

/* Loads a policy text written to name; returns cfg_load_vendor's result. */
static inline int tvendor(tctx *t, const char *name, const char *text, cfg_vendor *v)
{
	return cfg_load_vendor(twrite(t, name, text), v, &t->diags);
}

/* Loads a daemon config text written to name. */
static inline cfg *tdaemon(tctx *t, const char *name, const char *text)
{
	return cfg_load_daemon(twrite(t, name, text), &t->diags);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, tctx_setup, tctx_teardown)

#endif
