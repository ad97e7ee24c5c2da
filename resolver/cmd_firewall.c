/*
 * cmd_firewall.c: `embargo firewall`: print an nftables ruleset for the
 * router or gateway of a LAN that keeps the LAN's DNS on embargo.
 *
 * Why: DNS filtering is bypassed by software that asks public resolvers
 * directly when the local one does not answer for its hosts (Kaspersky's
 * products fall back to 8.8.8.8, 1.1.1.1, 9.9.9.9, 223.6.6.6, 185.228.168.168
 * over UDP and TCP). The ruleset redirects port-53 DNS from the LAN to embargo,
 * rejects DNS over TLS/QUIC (853) to other resolvers, and rejects any port-53
 * DNS from the LAN that the redirect did not take.
 *
 * Everything comes from the config: `listen` (where to redirect to), `access`
 * (the LAN, unless --lan-if names interfaces), `upstreams` (embargo's own
 * traffic, exempted), `tls.listen`. The output is one nft -f file that
 * replaces its table atomically. This file only prints: it opens no socket
 * and runs no nft.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embargo_config.h"
#include "resolver/cli.h"

#define FW_MAX_IFS 16

static void firewall_usage(FILE *out)
{
	fputs("usage: embargo firewall [-c FILE] [--lan-if IFACE]... [--table NAME]\n"
	      "\n"
	      "Prints an nftables ruleset (nft -f syntax) for the router or gateway of a\n"
	      "LAN that keeps the LAN's DNS on embargo: DNS on port 53 (UDP and TCP) from\n"
	      "LAN clients to any other resolver is redirected to embargo's listen address,\n"
	      "DNS over TLS and over QUIC (port 853) to other resolvers is rejected, and\n"
	      "embargo's own queries to its upstreams are left alone. Software that falls\n"
	      "back to public resolvers (Kaspersky's products do) then still meets the\n"
	      "policy. Load it with `nft -f FILE`; loading it again replaces the table.\n"
	      "\n"
	      "  -c, --config FILE  the daemon config (listen, access, upstreams)\n"
	      "  --lan-if IFACE     match LAN clients by input interface (repeatable)\n"
	      "                     instead of by the `access` networks of the config\n"
	      "  --table NAME       the nftables table, in family inet (default embargo):\n"
	      "                     a letter, then letters, digits or _; not an nft\n"
	      "                     keyword such as ip or counter\n",
	      out);
}

/* The options, and the config they apply to. */
typedef struct fw {
	const cfg *c;
	const char *path;            /* the config file, for comments */
	const char *table;
	const char *ifs[FW_MAX_IFS]; /* --lan-if, in order given */
	size_t n_ifs;
	FILE *out;
} fw;

/* Where the redirect of one address family goes. */
typedef enum fw_target_kind {
	FW_TGT_NONE = 0,  /* embargo does not listen in this family */
	FW_TGT_DNAT,      /* a specific, non-loopback address */
	FW_TGT_WILDCARD,  /* 0.0.0.0 or ::: `redirect` to the incoming interface */
	FW_TGT_LOOPBACK,  /* only 127.0.0.0/8 or ::1: unreachable from the LAN */
} fw_target_kind;

typedef struct fw_target {
	fw_target_kind kind;
	cfg_addr addr;
} fw_target;

static bool ip_is_any(const cfg_ip *ip)
{
	size_t n = ip->family == 4 ? 4 : 16;
	for (size_t i = 0; i < n; i++)
		if (ip->addr[i])
			return false;
	return true;
}

static bool ip_is_loopback(const cfg_ip *ip)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };
	if (ip->family == 4)
		return ip->addr[0] == 127;
	return memcmp(ip->addr, v6_loop, 16) == 0;
}

/* A network made only of loopback addresses (127.0.0.0/8 and below, ::1/128). */
static bool net_is_loopback(const cfg_net *n)
{
	if (n->ip.family == 4)
		return n->prefix >= 8 && n->ip.addr[0] == 127;
	return n->prefix == 128 && ip_is_loopback(&n->ip);
}

/* An address embargo can be reached at from another host: neither loopback
 * nor the wildcard. */
static bool addr_is_specific(const cfg_addr *a)
{
	return !ip_is_loopback(&a->ip) && !ip_is_any(&a->ip);
}

/* The first specific listen address of `family`, else a wildcard one, else a
 * loopback one. */
static fw_target pick_target(const cfg *c, int family)
{
	fw_target t = { .kind = FW_TGT_NONE };
	for (size_t i = 0; i < c->n_listen; i++) {
		const cfg_addr *a = &c->listen[i];
		fw_target_kind k = addr_is_specific(a) ? FW_TGT_DNAT
				   : ip_is_any(&a->ip) ? FW_TGT_WILDCARD : FW_TGT_LOOPBACK;
		if (a->ip.family != family)
			continue;
		/* DNAT beats WILDCARD beats LOOPBACK; the first of each wins. */
		if (t.kind == FW_TGT_NONE || (k == FW_TGT_DNAT && t.kind != FW_TGT_DNAT) ||
		    (k == FW_TGT_WILDCARD && t.kind == FW_TGT_LOOPBACK)) {
			t.kind = k;
			t.addr = *a;
		}
	}
	return t;
}

/* An `access` network that belongs in the LAN set of its family: not
 * loopback, and not inside another one listed (nft rejects overlapping
 * intervals; auto-merge would also do, this keeps the output tidy). */
static bool lan_net_wanted(const cfg *c, size_t i)
{
	const cfg_net *n = &c->access[i];
	if (net_is_loopback(n))
		return false;
	for (size_t j = 0; j < c->n_access; j++) {
		const cfg_net *o = &c->access[j];
		if (j == i || o->ip.family != n->ip.family || net_is_loopback(o))
			continue;
		if (o->prefix < n->prefix && cfg_net_contains(o, &n->ip))
			return false;
		if (o->prefix == n->prefix && j < i && cfg_net_contains(o, &n->ip))
			return false;
	}
	return true;
}

static size_t lan_count(const cfg *c, int family)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_access; i++)
		if (c->access[i].ip.family == family && lan_net_wanted(c, i))
			n++;
	return n;
}

/* Prints s in a `#` comment: a newline in a path must not end the comment. */
static void put_commented(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc(*s == '\n' || *s == '\r' ? '?' : *s, out);
}

/* Prints `elements = { ... }` of a set from a list of strings, or nothing
 * when empty. Duplicates (the same upstream twice) are printed once. */
static void put_elements(FILE *out, const char *const *items, size_t n)
{
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = !strcmp(items[i], items[j]);
		if (dup)
			continue;
		fprintf(out, "%s\t\t\t%s", any ? ",\n" : "\t\telements = {\n", items[i]);
		any = true;
	}
	if (any)
		fputs("\n\t\t}\n", out);
}

/* Element texts are built in one buffer of fixed-size slots. */
#define FW_ELEM_LEN 96
typedef struct fw_elems {
	char (*text)[FW_ELEM_LEN];
	const char **ptr;
	size_t n;
} fw_elems;

static void elems_init(fw_elems *e, char (*text)[FW_ELEM_LEN], const char **ptr)
{
	e->text = text;
	e->ptr = ptr;
	e->n = 0;
}

static void elems_add(fw_elems *e, const char *fmt, const char *a, const char *b, unsigned port)
{
	snprintf(e->text[e->n], FW_ELEM_LEN, fmt, a, b, port);
	e->ptr[e->n] = e->text[e->n];
	e->n++;
}

static void print_header(const fw *f)
{
	FILE *o = f->out;
	fputs("#!/usr/sbin/nft -f\n"
	      "#\n"
	      "# Keeps the LAN's DNS on embargo. Generated by `embargo firewall` ("
	      EMBARGO_VERSION ")\n# from ", o);
	put_commented(o, f->path);
	fputs(". Run it again after changing listen, access or upstreams there.\n"
	      "#\n"
	      "# Why: DNS filtering alone is bypassed by software that asks public resolvers\n"
	      "# itself when the local one does not answer for its hosts. Kaspersky's products\n"
	      "# fall back to 8.8.8.8, 1.1.1.1, 9.9.9.9, 223.6.6.6 and 185.228.168.168, over\n"
	      "# UDP and TCP. On the router or gateway of the LAN this table\n"
	      "#   1. redirects DNS on port 53 (UDP and TCP) from LAN clients to any other\n"
	      "#      resolver to embargo (the client still sees the answer come from the\n"
	      "#      address it asked: conntrack reverses the NAT on the reply);\n"
	      "#   2. rejects DNS over TLS (TCP 853, RFC 7858) and DNS over QUIC (UDP 853,\n"
	      "#      RFC 9250) from LAN clients to any resolver but embargo, so that they\n"
	      "#      fall back to port 53 at once, where (1) catches them;\n"
	      "#   3. rejects port-53 DNS from LAN clients that (1) did not redirect (an\n"
	      "#      address family embargo does not listen in): fail closed.\n"
	      "# embargo's own queries to its upstreams are not touched: on the router they\n"
	      "# leave through the output hook, which this table does not filter; from a\n"
	      "# host behind the router they are accepted by address (set upstreams4/6).\n"
	      "#\n"
	      "# Load:    nft -f FILE    (check first: nft -c -f FILE)\n"
	      "# Debian:  save it as /etc/nftables.d/embargo.nft and add\n"
	      "#          include \"/etc/nftables.d/embargo.nft\" to /etc/nftables.conf\n"
	      "# OpenWrt: save it as /usr/share/nftables.d/ruleset-post/embargo.nft (fw4\n"
	      "#          includes it after its own table; /etc/nftables.d/ is included\n"
	      "#          inside `table inet fw4`, where a table cannot be declared)\n"
	      "# Needs NAT in inet tables: Linux 5.2 or later.\n"
	      "# Counters: nft list table inet ", o);
	fputs(f->table, o);
	fputs("\n"
	      "#\n"
	      "# The next two lines make loading idempotent: make sure the table exists,\n"
	      "# delete it, declare it anew, all in one transaction.\n", o);
	fprintf(o, "table inet %s\ndelete table inet %s\n\ntable inet %s {\n", f->table, f->table,
		f->table);
}

static void print_lan_sets(const fw *f)
{
	FILE *o = f->out;
	const cfg *c = f->c;
	char buf[CFG_IP_BUF];

	if (f->n_ifs) {
		fputs("\t# LAN clients: whatever comes in on these interfaces (--lan-if).\n"
		      "\tdefine embargo_lan_ifs = {", o);
		for (size_t i = 0; i < f->n_ifs; i++)
			fprintf(o, "%s\"%s\"", i ? ", " : " ", f->ifs[i]);
		fputs(" }\n\n", o);
		return;
	}
	fputs("\t# LAN clients: the `access` networks of the config, loopback left out.\n"
	      "\t# Clients reach public IPv6 resolvers from their global addresses: when the\n"
	      "\t# LAN has a global prefix, it must be in `access` (then here, and embargo\n"
	      "\t# answers the redirected queries), or use --lan-if. Add one at run time:\n", o);
	fprintf(o, "\t#   nft add element inet %s lan4 { 192.0.2.0/24 }\n", f->table);
	for (int fam = 4; fam <= 6; fam += 2) {
		fprintf(o, "\tset lan%d {\n\t\ttype ipv%d_addr\n\t\tflags interval\n\t\tauto-merge\n",
			fam, fam);
		bool any = false;
		for (size_t i = 0; i < c->n_access; i++) {
			const cfg_net *n = &c->access[i];
			if (n->ip.family != fam || !lan_net_wanted(c, i))
				continue;
			fprintf(o, "%s\t\t\t%s/%u", any ? ",\n" : "\t\telements = {\n",
				cfg_ip_format(&n->ip, buf), n->prefix);
			any = true;
		}
		if (any)
			fputs("\n\t\t}\n", o);
		else
			fprintf(o, "\t\t# empty: `access` has no IPv%d network but loopback\n", fam);
		fputs("\t}\n\n", o);
	}
}

/* embargo's own addresses (DNS and DoT listeners) and its upstreams. */
static void print_embargo_sets(const fw *f)
{
	FILE *o = f->out;
	const cfg *c = f->c;
	size_t cap = c->n_listen + c->tls.n_listen + 2 * c->n_upstreams + 1;
	char(*text)[FW_ELEM_LEN] = calloc(cap, FW_ELEM_LEN);
	const char **ptr = calloc(cap, sizeof(*ptr));
	char ip[CFG_IP_BUF];
	fw_elems e;

	fputs("\t# embargo's own addresses: `listen` and `tls.listen`, loopback and the\n"
	      "\t# wildcard left out. DNS to them is not redirected; their traffic is not\n"
	      "\t# rejected (embargo may run on a host behind this router).\n", o);
	for (int fam = 4; fam <= 6; fam += 2) {
		elems_init(&e, text, ptr);
		for (size_t i = 0; i < c->n_listen + c->tls.n_listen; i++) {
			const cfg_addr *a = i < c->n_listen ? &c->listen[i]
							    : &c->tls.listen[i - c->n_listen];
			if (a->ip.family == fam && addr_is_specific(a))
				elems_add(&e, "%s%s", cfg_ip_format(&a->ip, ip), "", 0);
		}
		fprintf(o, "\tset embargo%d {\n\t\ttype ipv%d_addr\n", fam, fam);
		put_elements(o, e.ptr, e.n);
		fputs("\t}\n\n", o);
	}

	fputs("\t# embargo's upstreams (`upstreams`): address . protocol . port. Plain ones\n"
	      "\t# take UDP and TCP; tls:// ones take TCP (DNS over TLS).\n", o);
	if (!c->n_upstreams)
		fputs("\t# None in the config: embargo asks the nameservers of /etc/resolv.conf.\n"
		      "\t# Nothing to add when embargo runs on this router; when it runs on a host\n"
		      "\t# behind it, add that host's nameservers here, e.g.\n"
		      "\t#   192.0.2.53 . udp . 53, 192.0.2.53 . tcp . 53\n", o);
	for (int fam = 4; fam <= 6; fam += 2) {
		elems_init(&e, text, ptr);
		for (size_t i = 0; i < c->n_upstreams; i++) {
			const cfg_upstream *u = &c->upstreams[i];
			if (u->addr.ip.family != fam)
				continue;
			cfg_ip_format(&u->addr.ip, ip);
			if (!u->tls)
				elems_add(&e, "%s . %s . %u", ip, "udp", u->addr.port);
			elems_add(&e, "%s . %s . %u", ip, "tcp", u->addr.port);
		}
		fprintf(o, "\tset upstreams%d {\n\t\ttype ipv%d_addr . inet_proto . inet_service\n",
			fam, fam);
		put_elements(o, e.ptr, e.n);
		fputs("\t}\n\n", o);
	}
	free(text);
	free(ptr);
}

/* The match for "from a LAN client" in family 4 or 6. */
static void put_lan_match(const fw *f, int fam)
{
	if (f->n_ifs)
		fprintf(f->out, "meta nfproto ipv%d iifname $embargo_lan_ifs", fam);
	else
		fprintf(f->out, "%s saddr @lan%d", fam == 4 ? "ip" : "ip6", fam);
}

static void print_redirect(const fw *f, int fam, fw_target t)
{
	FILE *o = f->out;
	char a[CFG_ADDR_BUF];
	const char *v = fam == 4 ? "IPv4" : "IPv6";

	switch (t.kind) {
	case FW_TGT_NONE:
		fprintf(o, "\t\t# %s: embargo does not listen on any %s address, so there is\n"
			   "\t\t# nothing to redirect to (NAT cannot change the family). The forward\n"
			   "\t\t# chain rejects %s DNS from the LAN instead. Add an %s address\n"
			   "\t\t# of this router to `listen` to redirect it.\n",
			v, v, v, v);
		return;
	case FW_TGT_DNAT:
		fprintf(o, "\t\t# %s: to embargo at %s, the first %s listen address that\n"
			   "\t\t# is neither loopback nor the wildcard.\n",
			v, cfg_addr_format(&t.addr, a), v);
		break;
	case FW_TGT_WILDCARD:
		fprintf(o, "\t\t# %s: embargo listens on the wildcard (%s): `redirect` sends the\n"
			   "\t\t# query to an address of the interface it came in on, port %u.\n",
			v, cfg_addr_format(&t.addr, a), t.addr.port);
		break;
	case FW_TGT_LOOPBACK:
		fprintf(o, "\t\t# %s: WARNING: embargo listens only on loopback (%s), which\n"
			   "\t\t# a LAN client's packet cannot reach. `redirect` rewrites the\n"
			   "\t\t# destination to %s of the interface the packet came in on,\n"
			   "\t\t# port %u: the rules below reach embargo only once it listens\n"
			   "\t\t# there too. Add the router's LAN address to `listen` (or %s),\n"
			   "\t\t# and the LAN to `access`.\n",
			v, cfg_addr_format(&t.addr, a),
			fam == 4 ? "the primary address" : "an address", t.addr.port,
			fam == 4 ? "0.0.0.0:PORT" : "\"[::]:PORT\"");
		if (fam == 4)
			fputs("\t\t# A DNAT to 127.0.0.1 from the LAN is dropped as a martian unless\n"
			      "\t\t# net.ipv4.conf.<lan>.route_localnet=1, which opens every loopback-\n"
			      "\t\t# only service of the router to the LAN: do not.\n", o);
		else
			fputs("\t\t# IPv6 has no route_localnet: ::1 is never reachable from outside.\n", o);
		break;
	}
	for (int tcp = 0; tcp <= 1; tcp++) {
		fputs("\t\t", o);
		put_lan_match(f, fam);
		fprintf(o, " %s dport 53 counter ", tcp ? "tcp" : "udp");
		if (t.kind == FW_TGT_DNAT)
			fprintf(o, "dnat %s to %s\n", fam == 4 ? "ip" : "ip6", a);
		else
			fprintf(o, "redirect to :%u\n", t.addr.port);
	}
}

static void print_nat_chain(const fw *f)
{
	FILE *o = f->out;
	fputs("\t# (1) Redirect. NAT chains see the first packet of each connection (or UDP\n"
	      "\t# flow) only; conntrack rewrites the rest and the replies. After the\n"
	      "\t# redirect the query enters this router's input hook at embargo's port: if\n"
	      "\t# your input policy drops, accept it there (e.g. `ct status dnat accept`);\n"
	      "\t# an accept in this table cannot override a drop in another one.\n"
	      "\tchain dns_redirect {\n"
	      "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	      "\n"
	      "\t\t# DNS addressed to this router itself (embargo, or a local DNS service\n"
	      "\t\t# such as dnsmasq that forwards to it) stays as it is.\n"
	      "\t\tfib daddr type local return\n"
	      "\t\t# DNS addressed to embargo, and embargo's own queries to its upstreams,\n"
	      "\t\t# when embargo runs on a host behind this router.\n"
	      "\t\tip daddr @embargo4 return\n"
	      "\t\tip6 daddr @embargo6 return\n"
	      "\t\tip saddr @embargo4 return\n"
	      "\t\tip6 saddr @embargo6 return\n"
	      "\n"
	      "\t\t# Everything else on port 53 from the LAN goes to embargo. The client's\n"
	      "\t\t# address is kept, so `access`, groups and exposure see the real client.\n",
	      o);
	print_redirect(f, 4, pick_target(f->c, 4));
	fputc('\n', o);
	print_redirect(f, 6, pick_target(f->c, 6));
	fputs("\t}\n\n", o);
}

static void print_forward_chain(const fw *f)
{
	FILE *o = f->out;
	fputs("\t# (2) and (3): DNS from the LAN that this router forwards elsewhere. A\n"
	      "\t# redirected query goes to this router's input hook, not here.\n"
	      "\tchain dns_forward {\n"
	      "\t\ttype filter hook forward priority filter; policy accept;\n"
	      "\n"
	      "\t\t# embargo's upstream queries, when it runs on a host behind this router\n"
	      "\t\t# (on the router itself they use the output hook, not filtered here).\n"
	      "\t\tip saddr @embargo4 ip daddr . meta l4proto . th dport @upstreams4 counter accept\n"
	      "\t\tip6 saddr @embargo6 ip6 daddr . meta l4proto . th dport @upstreams6 counter accept\n"
	      "\t\t# Queries to embargo itself (port 53, or 853 to its DoT listener). These\n"
	      "\t\t# accepts only skip the rejects below; other tables still filter.\n"
	      "\t\tip daddr @embargo4 counter accept\n"
	      "\t\tip6 daddr @embargo6 counter accept\n"
	      "\n"
	      "\t\t# (2) DNS over TLS and DNS over QUIC to any other resolver: rejected, so\n"
	      "\t\t# clients fall back to port 53 at once rather than after a timeout.\n",
	      o);
	for (int fam = 4; fam <= 6; fam += 2) {
		fputs("\t\t", o);
		put_lan_match(f, fam);
		fputs(" tcp dport 853 counter reject with tcp reset\n\t\t", o);
		put_lan_match(f, fam);
		fputs(" udp dport 853 counter reject with icmpx type admin-prohibited\n", o);
	}
	fputs("\n"
	      "\t\t# (3) Port-53 DNS from the LAN that was not redirected: rejected.\n", o);
	for (int fam = 4; fam <= 6; fam += 2)
		for (int tcp = 0; tcp <= 1; tcp++) {
			fputs("\t\t", o);
			put_lan_match(f, fam);
			fputs(tcp ? " tcp dport 53 counter reject with tcp reset\n"
				  : " udp dport 53 counter reject with icmpx type admin-prohibited\n",
			      o);
		}
	fputs("\t}\n", o);
}

static void print_doh_notes(const fw *f)
{
	fputs("\n"
	      "\t# DNS over HTTPS (DoH) runs on port 443 and cannot be told from other HTTPS\n"
	      "\t# by port. To block well-known DoH resolvers too, fill two sets with\n"
	      "\t# their addresses from a source you trust and keep current (each\n"
	      "\t# provider's published addresses, or a maintained list); addresses\n"
	      "\t# change, so none are given here. Declare them in this table:\n"
	      "\t#   set doh4 { type ipv4_addr; flags interval; }\n"
	      "\t#   set doh6 { type ipv6_addr; flags interval; }\n"
	      "\t# and add to chain dns_forward, before its rejects of port 53:\n"
	      "\t#   ip saddr @lan4 ip daddr @doh4 tcp dport 443 reject with tcp reset\n"
	      "\t#   ip saddr @lan4 ip daddr @doh4 udp dport 443 reject   # HTTP/3\n"
	      "\t#   (and the same with ip6, lan6 and doh6)\n"
	      "\t# In embargo itself, a policy file can block the DoH host names (clients\n"
	      "\t# must resolve them first) and answer NXDOMAIN for use-application-dns.net,\n"
	      "\t# the canary name that turns Firefox's automatic DoH off.\n",
	      f->out);
}

/* An interface name as Linux allows it (dev_valid_name) that can also go
 * between double quotes in nft: 1-15 bytes, no '/', ':', space, quote or
 * backslash; a trailing '*' is nft's wildcard. */
static bool ifname_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("/:\"\\", *p))
			return false;
	return true;
}

/* An nft identifier for the table: a letter, then letters, digits or '_'. */
static bool table_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 64 || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* Warnings that the ruleset alone would hide, on stderr. */
static void warn(const fw *f)
{
	char a[CFG_ADDR_BUF];
	for (int fam = 4; fam <= 6; fam += 2) {
		fw_target t = pick_target(f->c, fam);
		if (!f->n_ifs && !lan_count(f->c, fam))
			fprintf(stderr,
				"embargo: warning: `access` in %s has no IPv%d network but loopback: "
				"IPv%d DNS from the LAN is neither redirected nor rejected; add the "
				"LAN's IPv%d prefix to `access` or use --lan-if\n",
				f->path, fam, fam, fam);
		if (t.kind == FW_TGT_LOOPBACK)
			fprintf(stderr,
				"embargo: warning: %s listens only on loopback (%s) for IPv%d; the LAN "
				"cannot reach it there: add the router's LAN address to `listen`\n",
				f->path, cfg_addr_format(&t.addr, a), fam);
	}
}

int cmd_firewall(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "lan-if", required_argument, NULL, 'i' },
		{ "table", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	fw f = { .table = "embargo", .out = stdout };
	const char *config = NULL;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'i':
			if (!ifname_ok(optarg))
				return cli_usage_error("firewall: bad interface name \"%s\"", optarg);
			if (f.n_ifs == FW_MAX_IFS)
				return cli_usage_error("firewall: at most %d --lan-if", FW_MAX_IFS);
			f.ifs[f.n_ifs++] = optarg;
			break;
		case 't':
			if (!table_ok(optarg))
				return cli_usage_error("firewall: bad table name \"%s\" (a letter, then "
						       "letters, digits or _)", optarg);
			f.table = optarg;
			break;
		case 'h': firewall_usage(stdout); return CLI_EXIT_OK;
		case ':': return cli_usage_error("firewall: %s needs a value", argv[optind - 1]);
		default: return cli_usage_error("firewall: unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("firewall: unexpected argument \"%s\"", argv[optind]);

	const char *path = cli_config_path(config);
	cfg *c;
	policy *p;
	int rc = cli_load(path, &c, &p);
	if (rc) {
		fprintf(stderr, "embargo: %s: invalid\n", path);
		return rc;
	}
	f.c = c;
	f.path = path;
	if (!f.n_ifs && !lan_count(c, 4) && !lan_count(c, 6)) {
		policy_free(p);
		cfg_free(c);
		return cli_usage_error("firewall: `access` in %s has no network but loopback; name "
				       "the LAN interface with --lan-if", path);
	}
	warn(&f);
	print_header(&f);
	print_lan_sets(&f);
	print_embargo_sets(&f);
	print_nat_chain(&f);
	print_forward_chain(&f);
	print_doh_notes(&f);
	fputs("}\n", f.out);
	policy_free(p);
	cfg_free(c);
	return fflush(f.out) == 0 ? CLI_EXIT_OK : CLI_EXIT_INVALID;
}
