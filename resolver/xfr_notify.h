/*
 * xfr_notify.h: telling the fleet's secondaries that the zone has a new
 * serial (DNS NOTIFY, RFC 1996).
 *
 * Owns: one round of NOTIFY per serial: to each `rpz.notify` target, over
 * UDP from an ephemeral socket of its own, a NOTIFY (opcode 4, AA, the SOA
 * question, the new SOA in the answer, TSIG with the first key when keys
 * are set), sent again after 1, 2, 4 and 8 seconds until a reply with the
 * same ID comes from that target's address, at most XFR_NOTIFY_TRIES times.
 * A new serial ends the round of the previous one: the secondaries then
 * only need to hear of the newest. Acknowledgements and give-ups are logged.
 *
 * Runs on one event base (workers[0]'s), like the transfer server.
 */
#ifndef EMBARGO_XFR_NOTIFY_H
#define EMBARGO_XFR_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "config/values.h"
#include "resolver/xfr_tsig.h"

struct event_base;

#define XFR_NOTIFY_TRIES 5

typedef struct xfr_notifier xfr_notifier;

xfr_notifier *xfr_notify_new(struct event_base *base);
/* Ends the round under way and frees everything. */
void xfr_notify_free(xfr_notifier *n);

/*
 * Starts the round for `soa` (cloned) of zone `zone` to targets[0..nt),
 * ending the previous round. `key` (copied) signs each NOTIFY, or NULL.
 */
void xfr_notify_start(xfr_notifier *n, const ldns_rr *soa, const cfg_addr *targets, size_t nt,
		      const xfr_tsig_key *key);

#endif
