/*
 * listfile.h: name lists in the formats operators already have, for the
 * `domains-file`, `hosts-file` and `allow-file` keys of a policy file.
 *
 * Owns: detecting a list's format and reading its names. Three formats,
 * detected per file:
 *   - names: one name per line; blank lines and '#' comments; a trailing dot
 *     is optional; "*.name" is the domain `name`;
 *   - hosts: "ADDR name [name...]" (0.0.0.0, 127.0.0.1, ::, ::1 or any other
 *     address), '#' comments; the usual non-domains of a hosts file
 *     (localhost, broadcasthost, ip6-loopback, ...) and address literals in
 *     name position are skipped;
 *   - rpz: a Response Policy Zone (a $ORIGIN or $TTL directive, or an SOA
 *     record), read with ldns. Only QNAME triggers count, owner names taken
 *     relative to the zone's apex: "*.name" is the domain `name`, a bare
 *     `name` the exact host `name`, and both together one domain. IP, NSDNAME,
 *     NSIP and client-IP triggers, and the rpz-passthru/rpz-drop/
 *     rpz-tcp-only actions (which do not block) are warnings, skipped; in an
 *     allow list it is the other way round: only passthru triggers count.
 *
 * Errors and warnings name the list file and the 1-based line:column. After
 * LISTFILE_MAX_ERRORS errors (or as many warnings of one kind) in one file the
 * rest are counted in one last message, so a file in the wrong format says
 * so without a million lines of output.
 *
 * Pure: the buffer entry point does no I/O at all (the fuzz targets call it);
 * listfile_parse_file only reads the file. No allocation survives a call.
 */
#ifndef EMBARGO_CONFIG_LISTFILE_H
#define EMBARGO_CONFIG_LISTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "config/diag.h"

#define LISTFILE_MAX_ERRORS 20
#define LISTFILE_MAX_WARNINGS 10

/* Which key names the file: what a bare name in it becomes. */
typedef enum listfile_key {
	LISTFILE_DOMAINS = 0, /* domains-file: bare names are domains */
	LISTFILE_HOSTS,       /* hosts-file: bare names are exact hosts */
	LISTFILE_ALLOW,       /* allow-file: every name is an allow entry */
} listfile_key;

typedef enum listfile_format {
	LISTFILE_FMT_NAMES = 0,
	LISTFILE_FMT_HOSTS,
	LISTFILE_FMT_RPZ,
} listfile_format;

/* "names", "hosts", "rpz" */
const char *listfile_format_name(listfile_format f);

/* What one name found stands for. */
typedef enum listfile_kind {
	LISTFILE_KIND_DOMAIN = 0, /* the name and every name below it */
	LISTFILE_KIND_HOST,       /* exactly the name */
	LISTFILE_KIND_ALLOW,      /* an exception: the name and every name below it */
} listfile_kind;

/*
 * Called once per name, in file order (for rpz: the domains first, then the
 * exact hosts). `wire` is lower-cased wire form, not the root, borrowed for
 * the call. Nonzero stops reading (out of memory, say).
 */
typedef int (*listfile_add_fn)(void *ctx, listfile_kind kind, const uint8_t *wire, size_t len,
			       uint32_t line, uint32_t col);

typedef struct listfile_sink {
	listfile_add_fn add;  /* NULL: names are only checked (fuzzing) */
	void *ctx;
	cfg_diags *errors;    /* required */
	cfg_diags *warnings;  /* NULL: warnings are dropped */
} listfile_sink;

/* Which format `buf` is in (the detection listfile_parse_buf uses). */
listfile_format listfile_detect(const char *buf, size_t len);

/*
 * Parses a list held in memory: `buf` (len octets, need not be NUL-
 * terminated, may hold NULs and CRLF line ends) as file `name` (used in
 * diagnostics only). *format (or NULL) gets the format detected. Returns 0
 * when no error was added, else -1. This is the fuzz targets' entry point.
 */
int listfile_parse_buf(const char *buf, size_t len, const char *name, listfile_key key,
		       const listfile_sink *sink, listfile_format *format);

/* Reads the file at path and parses it as listfile_parse_buf does. An
 * unreadable file is one error, "path: cannot read: <reason>". */
int listfile_parse_file(const char *path, listfile_key key, const listfile_sink *sink,
			listfile_format *format);

#endif
