/*
 * dname.c: domain names between text and lower-cased wire form.
 *
 * Policy names are stored in wire form because that is what the matcher
 * compares against query names, and lower-cased once here so that matching
 * never folds case again. Validation follows the host-name rules (letters,
 * digits, '-', and '_' for service labels) because a policy entry that could
 * never match a real name is a mistake worth reporting, not storing.
 */
#include "config/dname.h"

#include <stdio.h>
#include <string.h>

static inline uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static bool label_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int dname_from_str(const char *s, uint8_t out[DNAME_MAX], size_t *out_len, const char **why)
{
	size_t n = strlen(s);

	if (n == 0) {
		*why = "empty name";
		return -1;
	}
	if (n == 1 && s[0] == '.') {
		out[0] = 0;
		*out_len = 1;
		return 0;
	}
	if (s[n - 1] == '.')
		n--; /* the trailing dot of a fully qualified name */
	if (n > DNAME_MAX - 2) {
		*why = "name longer than 253 characters";
		return -1;
	}
	/* Wire form is the text shifted by one octet: each '.' becomes the length
	 * of the label that follows it, so the name is at most n + 2 octets. */
	size_t w = 0, label = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			size_t len = w - label;
			if (len == 0) {
				*why = "empty label";
				return -1;
			}
			if (len > DNAME_LABEL_MAX) {
				*why = "label longer than 63 characters";
				return -1;
			}
			if (out[label + 1] == '-') {
				*why = "label begins with '-'";
				return -1;
			}
			if (out[w] == '-') {
				*why = "label ends with '-'";
				return -1;
			}
			out[label] = (uint8_t)len;
			label = ++w;
			continue;
		}
		uint8_t c = lower((uint8_t)s[i]);
		if (c >= 0x80) {
			*why = "non-ASCII character (write IDNs as A-labels, xn--...)";
			return -1;
		}
		if (!label_char(c)) {
			*why = c == '*' ? "wildcards are not needed ('domains' match every name below)"
					: "invalid character (use letters, digits, '-' and '_')";
			return -1;
		}
		out[++w] = c;
	}
	out[w] = 0; /* the root label */
	*out_len = w + 1;
	return 0;
}

size_t dname_to_str(const uint8_t *wire, char out[DNAME_STR_MAX])
{
	size_t o = 0;

	if (!wire[0]) {
		out[0] = '.';
		out[1] = 0;
		return 1;
	}
	for (const uint8_t *p = wire; *p; p += 1 + *p) {
		if (p != wire)
			out[o++] = '.';
		for (unsigned i = 1; i <= *p; i++) {
			uint8_t c = p[i];
			if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else if (c <= 0x20 || c >= 0x7f) {
				/* 255 octets of \DDD is 1020 characters: within DNAME_STR_MAX */
				o += (size_t)snprintf(out + o, 5, "\\%03u", c);
			} else {
				out[o++] = (char)c;
			}
		}
	}
	out[o] = 0;
	return o;
}

size_t dname_wire_len(const uint8_t *wire)
{
	const uint8_t *p = wire;
	while (*p)
		p += 1 + *p;
	return (size_t)(p - wire) + 1;
}

unsigned dname_labels(const uint8_t *wire)
{
	unsigned n = 0;
	for (const uint8_t *p = wire; *p; p += 1 + *p)
		n++;
	return n;
}

void dname_lower(uint8_t *wire)
{
	for (uint8_t *p = wire; *p; p += 1 + *p)
		for (unsigned i = 1; i <= *p; i++)
			p[i] = lower(p[i]);
}
