/*
 * yaml_reader.h (internal): a streaming YAML reader with one event of
 * lookahead and declarative mapping schemas, shared by the daemon and policy
 * loaders.
 *
 * Why events and not libyaml's document API: a policy file may hold a million
 * names, and a document tree of that costs several hundred bytes a node. Here
 * each event is looked at once and dropped.
 *
 * Error model: every problem becomes a cfg_diags entry with the file and the
 * 1-based line:column of the node, the offending node is skipped, and reading
 * goes on so that one run reports every error. A YAML syntax error ends the
 * stream: yr_peek() then returns NULL and every loop unwinds.
 */
#ifndef EMBARGO_CONFIG_YAML_READER_H
#define EMBARGO_CONFIG_YAML_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h>

#include "config/diag.h"

typedef struct yr {
	yaml_parser_t parser;
	FILE *fp;
	const char *file;   /* for diagnostics; not owned */
	cfg_diags *out;     /* where yr_close hands the diagnostics */
	cfg_diags diags;    /* this file's, held back: see yr_close */
	yaml_event_t ev;    /* the lookahead, or the event last consumed */
	bool have;          /* ev holds an event that must be deleted */
	bool consumed;      /* ev was consumed: fetch the next on peek */
	bool failed;        /* a syntax error ended the stream */
} yr;

/* A scalar taken from the stream. s stays valid until the next yr_ call. */
typedef struct yr_scalar {
	const char *s;
	size_t len;
	uint32_t line, col;
	bool null;          /* plain "", "~" or "null": YAML's null */
} yr_scalar;

struct yr_field;
/*
 * Reads the value of one key. The value's first event is current; the handler
 * must consume exactly that node (yr_skip on error). `name` is the key as
 * written in messages ("cache.min-ttl"). Returns 0, or -1 after reporting.
 */
typedef int (*yr_fn)(yr *r, const char *name, void *obj);

typedef struct yr_field {
	const char *key;
	yr_fn fn;
	bool required;      /* "missing required key" at the mapping when absent */
} yr_field;

/* Opens path and reads up to the top-level node. -1 (reported) when the
 * file cannot be opened, is empty, or starts with a syntax error. */
int yr_open(yr *r, const char *path, cfg_diags *diags);
/* After the top-level node: rejects a second document. */
void yr_finish(yr *r);
/* Frees the reader and moves its diagnostics out. After a syntax error only
 * that error is kept: what was read before it may be misread because of it
 * (an unclosed '[' turns the next lines into one scalar). */
void yr_close(yr *r);

/* The current event, or NULL after a syntax error. */
const yaml_event_t *yr_peek(yr *r);
void yr_next(yr *r);
/* Skips the current node, with everything nested in it. */
void yr_skip(yr *r);

void yr_error(yr *r, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void yr_error_at(yr *r, uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Is the current event YAML's null (a plain empty, "~" or "null" scalar)? */
bool yr_is_null(yr *r);

/* Takes a scalar; anything else is "<name>: expected <what>, found a list"
 * (reported, skipped, -1). */
int yr_scalar_take(yr *r, const char *name, const char *what, yr_scalar *out);
/* Takes a scalar as an owned string; null leaves *out unchanged. */
int yr_string(yr *r, const char *name, char **out);
/* Takes a non-negative integer no greater than max. */
int yr_uint(yr *r, const char *name, uint64_t max, uint64_t *out);
/* The same check on a scalar already taken. */
int yr_uint_text(yr *r, const char *name, const yr_scalar *v, uint64_t max, uint64_t *out);
/* Takes one of `names` (n of them) and stores its index; `noun` and the
 * list name the choices in the message. */
int yr_enum(yr *r, const char *name, const char *noun, const char *const *names, size_t n,
	    int *out);

/*
 * Sequences: `if (yr_seq_begin(r, name) == 0) while (yr_seq_more(r)) {...}`.
 * yr_seq_begin returns 0 when a list begins, 1 for null (consumed: an empty
 * list), -1 for anything else (reported, skipped). Each loop body must
 * consume exactly one node.
 */
int yr_seq_begin(yr *r, const char *name);
bool yr_seq_more(yr *r);

/*
 * Walks a mapping against a schema. Unknown keys, duplicate keys, non-scalar
 * keys and missing required keys are reported; each known key's value goes to
 * its handler. `name` names the mapping when it is not one ("rules: expected
 * a mapping"); `prefix` (or NULL) is prepended to key names passed to
 * handlers ("cache" gives "cache.min-ttl"). Null counts as an empty mapping.
 * *seen gets bit i for fields[i] (n <= 64); *mark (or NULL) the mapping's
 * position. -1 when the node is not a mapping.
 */
int yr_map(yr *r, const char *name, const char *prefix, const yr_field *fields, size_t n,
	   void *obj, uint64_t *seen, yaml_mark_t *mark);

/* Allocation that aborts on failure: loaders have no better recovery. */
void *yr_xrealloc(void *p, size_t n);
char *yr_xstrdup(const char *s);
/* Makes room for one more element in *v (count n, capacity *cap). */
void yr_grow(void *v, size_t *cap, size_t n, size_t size);

#endif
