/*
 * listfile_impl.h (internal): what the line formats (listfile.c) and the RPZ
 * reader (listfile_rpz.c) share: the per-file state, capped diagnostics and
 * the step from text to a checked wire name.
 */
#ifndef EMBARGO_CONFIG_LISTFILE_IMPL_H
#define EMBARGO_CONFIG_LISTFILE_IMPL_H

#include <stdbool.h>

#include "config/dname.h"
#include "config/listfile.h"

/* Warning kinds, each capped on its own. */
enum {
	LF_W_ADDRESS = 0,  /* an address where a name was expected */
	LF_W_TRIGGER,      /* an RPZ trigger other than QNAME */
	LF_W_ACTION,       /* an RPZ action that does not do what the key asks */
	LF_W_OTHER,        /* out-of-zone names, records that are no policy */
	LF_W_KINDS,
};

typedef struct lf {
	const char *name;          /* for diagnostics */
	listfile_key key;
	const listfile_sink *sink;
	size_t n_errors;
	size_t n_warn[LF_W_KINDS];
	bool stopped;              /* the sink said stop */
} lf;

void lf_error(lf *l, uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void lf_warn(lf *l, unsigned kind, uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Text (n octets, not NUL-terminated) to a checked wire name; reports and
 * returns -1 when it is not a usable name. */
int lf_wire(lf *l, const char *text, size_t n, uint32_t line, uint32_t col, uint8_t wire[DNAME_MAX],
	    size_t *len);
/* Hands one name to the sink. */
void lf_emit(lf *l, listfile_kind kind, const uint8_t *wire, size_t len, uint32_t line, uint32_t col);

/* Reads an RPZ zone (listfile_rpz.c). */
void lf_rpz(lf *l, const char *buf, size_t len);

#endif
