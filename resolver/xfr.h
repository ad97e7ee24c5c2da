/*
 * xfr.h: the daemon's policy served as an RPZ zone to the fleet's resolvers
 * (DESIGN.md section 7): SOA queries (UDP and TCP), AXFR (RFC 5936) and
 * IXFR (RFC 1995) over TCP on `rpz.listen`, with the `allow-transfer` ACL
 * and TSIG (RFC 8945), and NOTIFY (RFC 1996) of every new serial.
 *
 * Owns: its listeners and connections (its own transport, apart from the
 * resolver's listen_tcp.c: a transfer is a stream of many messages written
 * as the client reads them, not one answer per query), the zone journal,
 * the settings copied from cfg->rpz, and the NOTIFY rounds.
 *
 * The zone is built at start (serial rpz_next_serial(0, now)), again at each
 * instant the policy switches (so secondaries see a new serial at a cutoff),
 * and on reload; a new serial only when the records changed. Time is the
 * daemon's policy clock (serve --at pins it); TSIG uses the wall clock.
 *
 * Everything runs on workers[0]'s event base, the main thread, which is also
 * where reloads swap the daemon's config and policy.
 */
#ifndef EMBARGO_XFR_H
#define EMBARGO_XFR_H

#include <stddef.h>

#include "resolver/daemon.h"

typedef struct xfr_server xfr_server;

/* Binds rpz.listen (TCP and UDP) on workers[0]'s base and builds the first
 * zone. NULL with the reason in err. */
xfr_server *xfr_new(daemon_ctx *d, char *err, size_t errlen);
/* Closes the listeners and every transfer. NULL is fine. */
void xfr_free(xfr_server *x);

/* The policy in force may have changed (a cutoff instant, a reload, the
 * wall clock set): rebuild, and serve and announce a new serial if the
 * records differ. On a reload the rpz settings are taken over as well. */
void xfr_policy_changed(xfr_server *x);

#endif
