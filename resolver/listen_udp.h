/*
 * listen_udp.h: a UDP listener: one bound socket, queries read in batches
 * and handed to query_handle; answers sent with daemon_send.
 */
#ifndef EMBARGO_LISTEN_UDP_H
#define EMBARGO_LISTEN_UDP_H

#include <stddef.h>

#include "resolver/daemon.h"

typedef struct udp_listener udp_listener;

/* Binds `a`; on failure returns NULL with a reason in err. */
udp_listener *udp_listener_new(daemon_ctx *d, const cfg_addr *a, char *err, size_t errlen);
void udp_listener_free(udp_listener *l);

/* Sends one datagram to c; errors are counted, never fatal. */
void udp_send(daemon_ctx *d, const client *c, const uint8_t *pkt, size_t len);

#endif
