/*
 * dname.h: domain names in wire form (length-prefixed labels, root last).
 *
 * Owns: converting names between text and wire form, validating them, and the
 * small helpers the matcher and the packet code share. Names handled here are
 * uncompressed; reading compressed names out of a packet is the wire module's.
 */
#ifndef EMBARGO_CONFIG_DNAME_H
#define EMBARGO_CONFIG_DNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNAME_MAX 255      /* wire octets, root label included */
#define DNAME_LABEL_MAX 63
#define DNAME_STR_MAX 1024 /* enough for any name in escaped text form */

/*
 * Text to lower-cased wire form. Accepts a trailing dot; "." is the root.
 * Labels: letters, digits, '-', '_' ; no empty label; 1..63 octets; a label
 * may not begin or end with '-'; the whole name at most 255 octets in wire
 * form (253 characters of text). Non-ASCII is an error: IDNs must be written
 * as A-labels ("xn--..."). 0, or -1 with *why set.
 */
int dname_from_str(const char *s, uint8_t out[DNAME_MAX], size_t *out_len, const char **why);

/* Wire to text, without a trailing dot ("." for the root). Escapes
 * non-printable octets as \DDD. Returns the text length. */
size_t dname_to_str(const uint8_t *wire, char out[DNAME_STR_MAX]);

/* Octets of a well-formed uncompressed wire name, root label included. */
size_t dname_wire_len(const uint8_t *wire);

/* Number of labels, the root not counted ("a.b." is 2). */
unsigned dname_labels(const uint8_t *wire);

/* Lower-cases ASCII letters of a wire name in place. */
void dname_lower(uint8_t *wire);

#endif
