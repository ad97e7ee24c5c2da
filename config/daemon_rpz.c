/*
 * daemon_rpz.c: the `rpz:` mapping of embargo.yaml (DESIGN section 7), the
 * zone the daemon serves over AXFR/IXFR to a fleet's resolvers.
 *
 * Kept apart from daemon.c, which reads the rest of the file, because the
 * TSIG keys bring their own checks (names, algorithms, base64). Defaults
 * apply only when the mapping is present: without `rpz:` nothing is served.
 */
#include "config/config.h"
#include "config/dname.h"
#include "config/loader.h"
#include "config/yaml_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Transfers are not a resolver's port 53 (the daemon's own listener is
 * there), so addresses without a port get the one DESIGN.md shows. */
#define RPZ_PORT 5354

/* RFC 8945 section 6 algorithms that ldns signs and verifies. */
static const char *const tsig_algs[] = {
	"hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1",
};
#define N_TSIG_ALGS (sizeof(tsig_algs) / sizeof(tsig_algs[0]))

/* No `ttl` given: sinkhole.ttl, which may come later in the file, is used
 * (cfg_rpz_finish). Not a valid TTL, which is at most 2^31 - 1. */
#define RPZ_TTL_UNSET UINT32_MAX

/* What the handlers share: the zone being filled and the key being read. */
typedef struct rctx {
	cfg *c;
	cfg_tsig_key key;
} rctx;

/* A domain name as text, lower-case with the trailing dot; NULL (reported)
 * when it is not one. */
static char *read_dname(yr *r, const char *name, const char *what, bool root_ok)
{
	yr_scalar s;
	const char *why;
	uint8_t wire[DNAME_MAX];
	char text[DNAME_STR_MAX];
	size_t wlen;
	if (yr_scalar_take(r, name, what, &s) < 0)
		return NULL;
	if (s.null || !*s.s) {
		yr_error_at(r, s.line, s.col, "%s: must not be empty", name);
		return NULL;
	}
	if (dname_from_str(s.s, wire, &wlen, &why) < 0) {
		yr_error_at(r, s.line, s.col, "%s: bad name \"%s\": %s", name, s.s, why);
		return NULL;
	}
	if (wlen == 1 && !root_ok) {
		yr_error_at(r, s.line, s.col, "%s: the root cannot be %s", name, what);
		return NULL;
	}
	size_t n = dname_to_str(wire, text);
	if (strcmp(text, ".") && n + 1 < sizeof(text)) {
		text[n] = '.';
		text[n + 1] = 0;
	}
	return yr_xstrdup(text);
}

/* Octets that standard base64 (RFC 4648 section 4, padded) decodes to, or
 * -1 when `s` is not that. */
static long base64_octets(const char *s)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), pad = 0;
	if (n == 0 || n % 4)
		return -1;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++)
		if (!s[i] || !strchr(b64, s[i]))
			return -1;
	/* the bits the padding leaves over must be zero (canonical form) */
	unsigned last = (unsigned)(strchr(b64, s[n - 1 - pad]) - b64);
	if ((pad == 1 && (last & 3)) || (pad == 2 && (last & 15)))
		return -1;
	return (long)(n / 4 * 3 - pad);
}

static int k_zone(yr *r, const char *name, void *obj)
{
	cfg_rpz *z = &((rctx *)obj)->c->rpz;
	char *v = read_dname(r, name, "a zone", false);
	if (!v)
		return -1;
	free(z->zone);
	z->zone = v;
	return 0;
}

static int k_listen(yr *r, const char *name, void *obj)
{
	cfg_rpz *z = &((rctx *)obj)->c->rpz;
	return yr_read_addrs(r, name, RPZ_PORT, &z->listen, &z->n_listen);
}

static int k_notify(yr *r, const char *name, void *obj)
{
	cfg_rpz *z = &((rctx *)obj)->c->rpz;
	return yr_read_addrs(r, name, 53, &z->notify, &z->n_notify);
}

static int k_allow(yr *r, const char *name, void *obj)
{
	cfg_rpz *z = &((rctx *)obj)->c->rpz;
	return yr_read_nets(r, name, &z->allow_transfer, &z->n_allow_transfer);
}

static int k_ttl(yr *r, const char *name, void *obj)
{
	rctx *x = obj;
	uint64_t v;
	/* DNS TTLs are 31-bit (RFC 2181 section 8) */
	if (yr_uint(r, name, INT32_MAX, &v) < 0)
		return -1;
	x->c->rpz.ttl = (uint32_t)v;
	return 0;
}

static int k_key_name(yr *r, const char *name, void *obj)
{
	rctx *x = obj;
	char *v = read_dname(r, name, "a key name", false);
	if (!v)
		return -1;
	free(x->key.name);
	x->key.name = v;
	return 0;
}

static int k_key_algorithm(yr *r, const char *name, void *obj)
{
	rctx *x = obj;
	int i;
	if (yr_enum(r, name, "algorithm", tsig_algs, N_TSIG_ALGS, &i) < 0)
		return -1;
	free(x->key.algorithm);
	x->key.algorithm = yr_xstrdup(tsig_algs[i]);
	return 0;
}

static int k_key_secret(yr *r, const char *name, void *obj)
{
	rctx *x = obj;
	yr_scalar s;
	if (yr_scalar_take(r, name, "a base64 string", &s) < 0)
		return -1;
	long n = s.null ? -1 : base64_octets(s.s);
	if (n < 0) {
		yr_error_at(r, s.line, s.col, "%s: not base64 (RFC 4648, with '=' padding)", name);
		return -1;
	}
	/* A secret is what a key is; a short one is guessable offline from one
	 * signed message. RFC 8945 section 6 asks for at least half the MAC. */
	if (n < 16) {
		yr_error_at(r, s.line, s.col, "%s: %ld octets is too short (at least 16)", name, n);
		return -1;
	}
	free(x->key.secret);
	x->key.secret = yr_xstrdup(s.s);
	return 0;
}

static const yr_field key_fields[] = {
	{"name", k_key_name, true},
	{"algorithm", k_key_algorithm, false},
	{"secret", k_key_secret, true},
};

static void key_clear(cfg_tsig_key *k)
{
	free(k->name);
	free(k->algorithm);
	free(k->secret);
	memset(k, 0, sizeof(*k));
}

static int k_tsig(yr *r, const char *name, void *obj)
{
	rctx *x = obj;
	cfg_rpz *z = &x->c->rpz;
	size_t cap = 0;
	if (yr_seq_begin(r, name) != 0)
		return 0;
	while (yr_seq_more(r)) {
		yaml_mark_t m;
		uint64_t seen;
		size_t n0 = r->diags.n;
		memset(&x->key, 0, sizeof(x->key));
		int rc = yr_map(r, name, name, key_fields, 3, x, &seen, &m);
		if (rc < 0 || r->diags.n != n0 || !x->key.name || !x->key.secret) {
			key_clear(&x->key);
			continue;
		}
		if (!x->key.algorithm)
			x->key.algorithm = yr_xstrdup(tsig_algs[0]);
		bool dup = false;
		for (size_t i = 0; i < z->n_tsig && !dup; i++)
			dup = !strcmp(z->tsig[i].name, x->key.name);
		if (dup) {
			/* a key is looked up by name: two of one name is ambiguous */
			yr_error(r, &m, "%s: duplicate key \"%s\"", name, x->key.name);
			key_clear(&x->key);
			continue;
		}
		yr_grow(&z->tsig, &cap, z->n_tsig, sizeof(cfg_tsig_key));
		z->tsig[z->n_tsig++] = x->key;
		memset(&x->key, 0, sizeof(x->key));
	}
	return 0;
}

static const yr_field rpz_fields[] = {
	{"zone", k_zone, true},
	{"listen", k_listen, false},
	{"allow-transfer", k_allow, false},
	{"tsig", k_tsig, false},
	{"notify", k_notify, false},
	{"ttl", k_ttl, false},
};

int yr_rpz_read(yr *r, const char *name, cfg *c)
{
	rctx x = {.c = c};
	cfg_rpz *z = &c->rpz;
	const char *why;
	uint64_t seen;

	cfg_rpz_clear(z);
	z->listen = yr_xrealloc(NULL, sizeof(cfg_addr));
	z->n_listen = 1;
	cfg_addr_parse("127.0.0.1", RPZ_PORT, &z->listen[0], &why);
	z->allow_transfer = yr_xrealloc(NULL, 2 * sizeof(cfg_net));
	z->n_allow_transfer = 2;
	cfg_net_parse("127.0.0.0/8", &z->allow_transfer[0], &why);
	cfg_net_parse("::1/128", &z->allow_transfer[1], &why);
	z->ttl = RPZ_TTL_UNSET;
	int rc = yr_map(r, name, name, rpz_fields, sizeof(rpz_fields) / sizeof(rpz_fields[0]), &x,
			&seen, NULL);
	if (rc < 0 || !z->zone) {
		/* without a zone nothing is served; the error says why */
		cfg_rpz_clear(z);
		return -1;
	}
	return 0;
}

void cfg_rpz_finish(cfg *c)
{
	if (c->rpz.zone && c->rpz.ttl == RPZ_TTL_UNSET)
		c->rpz.ttl = c->sinkhole.ttl;
}

void cfg_rpz_clear(cfg_rpz *z)
{
	free(z->zone);
	free(z->listen);
	free(z->allow_transfer);
	for (size_t i = 0; i < z->n_tsig; i++)
		key_clear(&z->tsig[i]);
	free(z->tsig);
	free(z->notify);
	memset(z, 0, sizeof(*z));
}
