/*
 * upstream.c: building the upstream list.
 */
#include "resolver/upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/log.h"
#include "resolver/netaddr.h"
#include "resolver/updot.h"

/* Whether a is one of our own listen addresses (a wildcard listen address
 * covers every local address on that port). */
static bool is_self(const cfg *c, const cfg_addr *a)
{
	static const uint8_t zero[16];
	for (size_t i = 0; i < c->n_listen; i++) {
		const cfg_addr *l = &c->listen[i];
		if (l->port != a->port)
			continue;
		if (netaddr_equal(l, a))
			return true;
		if (l->ip.family == a->ip.family &&
		    !memcmp(l->ip.addr, zero, l->ip.family == 4 ? 4 : 16))
			return true;
	}
	return false;
}

static int add(daemon_ctx *d, const cfg_addr *a, const cfg_upstream *cu)
{
	upstream *u = realloc(d->upstreams, (d->n_upstreams + 1) * sizeof(*u));
	if (!u)
		return -1;
	d->upstreams = u;
	u = &d->upstreams[d->n_upstreams++];
	memset(u, 0, sizeof(*u));
	u->addr = *a;
	u->salen = netaddr_to_sockaddr(a, &u->sa);
	if (cu && cu->tls) {
		u->tls = true;
		snprintf(u->tls_name, sizeof(u->tls_name), "%s", cu->tls_name);
		u->has_pin = cu->has_pin;
		memcpy(u->pin, cu->pin, sizeof(u->pin));
	}
	return 0;
}

static int from_resolv_conf(daemon_ctx *d, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char word[32], addr[256];
		cfg_addr a;
		const char *why;
		if (sscanf(line, "%31s %255s", word, addr) != 2 || strcmp(word, "nameserver"))
			continue;
		if (cfg_addr_parse(addr, 53, &a, &why) < 0) {
			log_warn("upstream", "%s: skipping nameserver %s: %s", path, addr, why);
			continue;
		}
		if (is_self(d->cfg, &a)) {
			log_info("upstream", "%s: skipping nameserver %s: that is embargo itself", path, addr);
			continue;
		}
		if (add(d, &a, NULL) < 0) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int upstream_setup(daemon_ctx *d, const char *resolv_conf, char *err, size_t errlen)
{
	const cfg *c = d->cfg;
	for (size_t i = 0; i < c->n_upstreams; i++) {
		/* the TLS context is made once, before privileges are dropped
		 * (tls-ca may be readable by root only) */
		if (c->upstreams[i].tls && !d->updot_ctx &&
		    !(d->updot_ctx = updot_ctx_new(c->tls_ca, err, errlen)))
			return -1;
		if (add(d, &c->upstreams[i].addr, &c->upstreams[i]) < 0)
			goto oom;
	}
	if (!c->n_upstreams && from_resolv_conf(d, resolv_conf) < 0)
		goto oom;
	if (!d->n_upstreams) {
		snprintf(err, errlen, "no upstreams: none in the config and none usable in %s",
			 resolv_conf);
		return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}
