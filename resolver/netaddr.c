/*
 * netaddr.c: cfg_addr <-> sockaddr.
 */
#include "resolver/netaddr.h"

#include <netinet/in.h>
#include <string.h>

socklen_t netaddr_to_sockaddr(const cfg_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->ip.family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip.addr, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(a->port);
	memcpy(&sin6->sin6_addr, a->ip.addr, 16);
	return sizeof(*sin6);
}

void netaddr_from_sockaddr(const struct sockaddr *sa, cfg_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		out->ip.family = 4;
		memcpy(out->ip.addr, &sin->sin_addr, 4);
		out->port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		out->ip.family = 6;
		memcpy(out->ip.addr, &sin6->sin6_addr, 16);
		out->port = ntohs(sin6->sin6_port);
	}
}

bool netaddr_equal(const cfg_addr *a, const cfg_addr *b)
{
	return a->ip.family == b->ip.family && a->port == b->port &&
	       !memcmp(a->ip.addr, b->ip.addr, a->ip.family == 4 ? 4 : 16);
}

char *netaddr_format_sa(const struct sockaddr *sa, char buf[CFG_ADDR_BUF])
{
	cfg_addr a;
	netaddr_from_sockaddr(sa, &a);
	return cfg_addr_format(&a, buf);
}
