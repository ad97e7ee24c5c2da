/*
 * daemon_upstream.c: the `upstreams` list of embargo.yaml: plain
 * ADDR[:PORT], tls://ADDR[:PORT]#NAME, or the mapping form with a
 * pin-sha256 (RFC 7858 section 4.2). resolver/upstream.c uses what it reads.
 *
 * Kept apart from daemon.c, which reads the rest of the file; the parsers
 * of one upstream and of one pin are also the CLI's (cfg_upstream_parse,
 * cfg_pin_parse).
 */
#include "config/config.h"
#include "config/dname.h"
#include "config/loader.h"
#include "config/yaml_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The upstream mapping being read. */
typedef struct upctx {
	cfg_upstream up;
	bool up_ok;           /* up.addr parsed */
	bool up_pin;          /* pin-sha256 parsed into pin */
	uint8_t pin[32];
	uint32_t pin_line, pin_col;
} upctx;

int cfg_upstream_parse(const char *text0, cfg_upstream *u, char *err, size_t errlen)
{
	const char *text = text0, *why;
	char addr[CFG_ADDR_BUF + 8];
	const char *hash;

	memset(u, 0, sizeof(*u));
	if (!strncmp(text, "tls://", 6)) {
		u->tls = true;
		text += 6;
	} else if (strstr(text, "://")) {
		snprintf(err, errlen,
			 "unknown scheme in \"%s\" (expected ADDR[:PORT] or tls://ADDR[:PORT]#NAME)", text0);
		return -1;
	}
	hash = strchr(text, '#');
	if (!u->tls && hash) {
		snprintf(err, errlen, "\"%s\": #NAME is only for tls:// upstreams", text0);
		return -1;
	}
	if (u->tls && (!hash || !hash[1])) {
		snprintf(err, errlen,
			 "\"%s\" needs #NAME, the name to check the server's certificate against", text0);
		return -1;
	}
	size_t n = hash ? (size_t)(hash - text) : strlen(text);
	if (n >= sizeof(addr)) {
		snprintf(err, errlen, "bad address \"%s\": too long", text0);
		return -1;
	}
	memcpy(addr, text, n);
	addr[n] = 0;
	if (cfg_addr_parse(addr, u->tls ? 853 : 53, &u->addr, &why) < 0) {
		snprintf(err, errlen, "bad address \"%s\": %s", text0, why);
		return -1;
	}
	if (u->tls) {
		uint8_t wire[DNAME_MAX];
		size_t wlen = 0;
		if (dname_from_str(hash + 1, wire, &wlen, &why) < 0) {
			snprintf(err, errlen, "bad TLS name \"%s\": %s", hash + 1, why);
			return -1;
		}
		if (wlen == 1) {
			snprintf(err, errlen, "bad TLS name \"%s\": the root is not a host name", hash + 1);
			return -1;
		}
		u->tls_name = yr_xstrdup(hash + 1);
	}
	return 0;
}

static int parse_upstream(yr *r, const char *name, const yr_scalar *s, cfg_upstream *u)
{
	char err[512];
	if (cfg_upstream_parse(s->s, u, err, sizeof(err)) < 0) {
		yr_error_at(r, s->line, s->col, "%s: %s", name, err);
		return -1;
	}
	return 0;
}

int cfg_pin_parse(const char *text, uint8_t pin[32], char *err, size_t errlen)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(text), out = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	/* 32 octets are 44 characters with one '=' of padding */
	if (n != 44 || text[43] != '=') {
		snprintf(err, errlen, "bad pin-sha256 \"%s\": expected the base64 of 32 octets "
			 "(44 characters)", text);
		return -1;
	}
	for (size_t i = 0; i < 43; i++) {
		const char *p = text[i] ? strchr(b64, text[i]) : NULL;
		if (!p) {
			snprintf(err, errlen, "bad pin-sha256 \"%s\": '%c' is not base64", text, text[i]);
			return -1;
		}
		acc = acc << 6 | (uint32_t)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			pin[out++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1)) {
		snprintf(err, errlen, "bad pin-sha256 \"%s\": trailing bits set", text);
		return -1;
	}
	return 0;
}

static int k_up_address(yr *r, const char *name, void *obj)
{
	upctx *x = obj;
	yr_scalar s;
	if (yr_scalar_take(r, name, "an address", &s) < 0 || parse_upstream(r, name, &s, &x->up) < 0)
		return -1;
	x->up_ok = true;
	return 0;
}

static int k_up_pin(yr *r, const char *name, void *obj)
{
	upctx *x = obj;
	yr_scalar s;
	char err[512];
	if (yr_scalar_take(r, name, "a base64 SHA-256", &s) < 0)
		return -1;
	if (cfg_pin_parse(s.s, x->pin, err, sizeof(err)) < 0) {
		yr_error_at(r, s.line, s.col, "%s: %s", name, err);
		return -1;
	}
	x->up_pin = true;
	x->pin_line = s.line;
	x->pin_col = s.col;
	return 0;
}

static const yr_field upstream_fields[] = {
	{"address", k_up_address, true},
	{"pin-sha256", k_up_pin, false},
};

/* The mapping form of an upstream: {address: "tls://ADDR#NAME", pin-sha256: B64}.
 * 0 with *u filled, or -1 (reported). */
static int read_upstream_map(yr *r, const char *name, upctx *x, cfg_upstream *u)
{
	uint64_t seen;
	memset(&x->up, 0, sizeof(x->up));
	x->up_ok = x->up_pin = false;
	int rc = yr_map(r, name, name, upstream_fields, 2, x, &seen, NULL);
	if (x->up_pin && x->up_ok && !x->up.tls) {
		yr_error_at(r, x->pin_line, x->pin_col, "%s.pin-sha256: a pin is only for tls:// upstreams",
			    name);
		rc = -1;
	}
	if (rc < 0 || !x->up_ok || (seen >> 1 & 1 && !x->up_pin)) {
		free(x->up.tls_name);
		memset(&x->up, 0, sizeof(x->up));
		return -1;
	}
	*u = x->up;
	u->has_pin = x->up_pin;
	memcpy(u->pin, x->pin, sizeof(x->pin));
	memset(&x->up, 0, sizeof(x->up));
	return 0;
}

int yr_upstreams_read(yr *r, const char *name, cfg *c)
{
	upctx x;
	size_t cap = 0;
	memset(&x, 0, sizeof(x));
	if (yr_seq_begin(r, name) != 0)
		return 0;
	while (yr_seq_more(r)) {
		yr_scalar s;
		cfg_upstream u;
		const yaml_event_t *ev = yr_peek(r);
		if (ev && ev->type == YAML_MAPPING_START_EVENT) {
			if (read_upstream_map(r, name, &x, &u) < 0)
				continue;
		} else if (yr_scalar_take(r, name, "an address", &s) < 0 ||
			   parse_upstream(r, name, &s, &u) < 0) {
			continue;
		}
		yr_grow(&c->upstreams, &cap, c->n_upstreams, sizeof(u));
		c->upstreams[c->n_upstreams++] = u;
	}
	return 0;
}
