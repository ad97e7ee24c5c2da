/*
 * listen_udp.h: a UDP listener: one bound socket; queries are read in
 * batches (recvmmsg) and handed to query_handle; the answers that are ready
 * within the batch (blocked names, errors) go out in one sendmmsg.
 */
#ifndef EMBARGO_LISTEN_UDP_H
#define EMBARGO_LISTEN_UDP_H

#include <stdbool.h>
#include <stddef.h>

#include "resolver/daemon.h"

typedef struct udp_listener udp_listener;

/* Binds `a` (with SO_REUSEPORT when several workers share it); on failure
 * returns NULL with a reason in err. */
udp_listener *udp_listener_new(worker *w, const cfg_addr *a, bool reuseport, char *err,
			       size_t errlen);
void udp_listener_free(udp_listener *l);

/* Sends one datagram to c: queued on c's listener inside a worker batch
 * (sent by udp_flush_all at its end), else sent at once. Errors are
 * counted, never fatal. */
void udp_send(worker *w, const client *c, const uint8_t *pkt, size_t len);

/* Sends what every listener of w has queued (one sendmmsg each). */
void udp_flush_all(worker *w);

#endif
