/*
 * netaddr.h: converting the config's plain addresses (cfg_addr, cfg_ip) to
 * and from socket addresses. The pure modules keep addresses as bytes; the
 * I/O layer needs sockaddrs.
 */
#ifndef EMBARGO_NETADDR_H
#define EMBARGO_NETADDR_H

#include <stdbool.h>
#include <sys/socket.h>

#include "config/values.h"

socklen_t netaddr_to_sockaddr(const cfg_addr *a, struct sockaddr_storage *ss);
void netaddr_from_sockaddr(const struct sockaddr *sa, cfg_addr *out);
bool netaddr_equal(const cfg_addr *a, const cfg_addr *b);
/* "127.0.0.1:53" / "[::1]:53" for a sockaddr. */
char *netaddr_format_sa(const struct sockaddr *sa, char buf[CFG_ADDR_BUF]);

#endif
