/*
 * names.c: cfg_names, the compact list of wire names a policy file holds.
 *
 * A policy may list a million names, so each is one run of octets in a shared
 * buffer plus three 32-bit integers (offset, line, column) instead of a
 * malloc'd string each: about 40 bytes a name instead of over 100. Arrays grow
 * geometrically so that loading stays linear.
 */
#include "config/config.h"

#include <stdlib.h>
#include <string.h>

int cfg_names_add(cfg_names *l, const uint8_t *wire, size_t wire_len, uint32_t line, uint32_t col)
{
	if (wire_len > UINT32_MAX - l->len)
		return -1; /* offsets are 32-bit: 4 GiB of names is not a policy */
	if (l->len + wire_len > l->cap) {
		size_t cap = l->cap ? l->cap : 256;
		while (cap < l->len + wire_len)
			cap *= 2;
		uint8_t *buf = realloc(l->buf, cap);
		if (!buf)
			return -1;
		l->buf = buf;
		l->cap = cap;
	}
	if (l->n == l->cap_n) {
		size_t cap = l->cap_n ? l->cap_n * 2 : 16;
		uint32_t *off = realloc(l->off, cap * sizeof(*off));
		if (!off)
			return -1;
		l->off = off;
		uint32_t *ln = realloc(l->line, cap * sizeof(*ln));
		if (!ln)
			return -1;
		l->line = ln;
		uint32_t *cl = realloc(l->col, cap * sizeof(*cl));
		if (!cl)
			return -1;
		l->col = cl;
		l->cap_n = cap;
	}
	memcpy(l->buf + l->len, wire, wire_len);
	l->off[l->n] = (uint32_t)l->len;
	l->line[l->n] = line;
	l->col[l->n] = col;
	l->n++;
	l->len += wire_len;
	return 0;
}

void cfg_names_free(cfg_names *l)
{
	free(l->buf);
	free(l->off);
	free(l->line);
	free(l->col);
	memset(l, 0, sizeof(*l));
}

void cfg_drop_names(cfg *c)
{
	for (size_t i = 0; c && i < c->n_vendors; i++) {
		cfg_vendor *v = &c->vendors[i];
		for (size_t k = 0; k < v->n_rules; k++) {
			cfg_names_free(&v->rules[k].domains);
			cfg_names_free(&v->rules[k].hosts);
		}
		cfg_names_free(&v->allow);
	}
}

const char *cfg_action_name(cfg_action a)
{
	switch (a) {
	case CFG_ACT_REFUSE:
		return "refuse";
	case CFG_ACT_NXDOMAIN:
		return "nxdomain";
	case CFG_ACT_NODATA:
		return "nodata";
	case CFG_ACT_SINKHOLE:
		return "sinkhole";
	case CFG_ACT_AUDIT:
		return "audit";
	}
	return "?";
}
