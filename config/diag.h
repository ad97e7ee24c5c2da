/*
 * diag.h: collected diagnostics, each "file:line:column: message".
 *
 * Owns: the list of errors that loading found. Loaders append and go on, so
 * that one run reports every error it can find, not just the first.
 */
#ifndef EMBARGO_CONFIG_DIAG_H
#define EMBARGO_CONFIG_DIAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cfg_diag {
	char *file;     /* owned copy */
	uint32_t line;  /* 1-based; 0 when the error has no position */
	uint32_t col;   /* 1-based */
	char *msg;      /* owned */
} cfg_diag;

typedef struct cfg_diags {
	cfg_diag *v;
	size_t n, cap;
} cfg_diags;

/* Appends one diagnostic; `file` may be NULL. Never fails (aborts on OOM). */
void cfg_diags_add(cfg_diags *d, const char *file, uint32_t line, uint32_t col,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Prints each as "file:line:col: message\n" (or "file: message" without a line). */
void cfg_diags_print(const cfg_diags *d, FILE *out);

/* The same for warnings: "file:line:col: warning: message\n". */
void cfg_diags_print_warnings(const cfg_diags *d, FILE *out);

/* Appends every diagnostic of from to to, leaving from empty. */
void cfg_diags_move(cfg_diags *to, cfg_diags *from);

void cfg_diags_free(cfg_diags *d);

#endif
