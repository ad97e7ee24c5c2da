/*
 * listen_udp.h: a UDP listener: a bound socket in the worker's event loop
 * and, once udp_senders_open has run, a sending socket on the same address
 * and port outside it; queries are read in batches (recvmmsg) and handed to
 * query_handle; the answers that are ready within the batch (blocked names,
 * errors) go out in one sendmmsg.
 */
#ifndef EMBARGO_LISTEN_UDP_H
#define EMBARGO_LISTEN_UDP_H

#include <stdbool.h>
#include <stddef.h>

#include "resolver/daemon.h"

typedef struct udp_listener udp_listener;

/* Binds `a` (with SO_REUSEPORT: other workers' listeners and the sending
 * sockets share it); on failure returns NULL with a reason in err. */
udp_listener *udp_listener_new(worker *w, const cfg_addr *a, char *err, size_t errlen);

/* Gives the n listeners of one address (one per worker, in the order they
 * were bound; borrowed) sockets that only send, and steers every query to
 * the listeners. Call once, after every listener of the address is bound
 * and before any other socket joins its port. 0, or -1 with the reason in
 * err: then each listener sends on its own socket, as before. */
int udp_senders_open(udp_listener *const *group, size_t n, char *err, size_t errlen);
void udp_listener_free(udp_listener *l);

/* Sends one datagram to c: queued on c's listener inside a worker batch
 * (sent by udp_flush_all at its end), else sent at once. Errors are
 * counted, never fatal. */
void udp_send(worker *w, const client *c, const uint8_t *pkt, size_t len);

/* Sends what every listener of w has queued (one sendmmsg each). */
void udp_flush_all(worker *w);

#endif
