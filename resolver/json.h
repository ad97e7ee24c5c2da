/*
 * json.h: writing JSON strings safely (escaping), for --json output, the
 * query log and the HTTP endpoints.
 */
#ifndef EMBARGO_JSON_H
#define EMBARGO_JSON_H

#include <stdio.h>

/* Writes s as a quoted JSON string (NULL as null). */
void json_write_str(FILE *out, const char *s);

#endif
