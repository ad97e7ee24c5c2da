/*
 * fwd.h: the forwarder: queries in flight to the upstreams.
 *
 * Owns: one request per distinct question in flight (identical questions
 * share it: no thundering herd), the upstream attempts for it (UDP from a
 * fresh socket, so a random source port, and a fresh random ID each time;
 * TCP when the reply is truncated), the per-attempt timeout and the failover
 * to the next upstream, and handing the reply to every waiting client.
 * A reply is accepted only from the upstream's address and port (connected
 * sockets), with the ID and the question that were sent.
 */
#ifndef EMBARGO_FWD_H
#define EMBARGO_FWD_H

#include <stddef.h>
#include <stdint.h>

#include "resolver/daemon.h"
#include "resolver/obs.h"

typedef struct fwd fwd;

fwd *fwd_new(worker *w);
/* Drops every request in flight without answering it. */
void fwd_free(fwd *f);

/*
 * Forwards client c's query q (q->edns_opts is read during the call only).
 * The client is answered later, through query_answer_reply or
 * query_answer_servfail.
 */
void fwd_submit(fwd *f, const client *c, const wire_query *q, const query_meta *meta);

/* Refreshes q's cache entry: forwards q with nobody waiting, unless the
 * same question is already in flight. */
void fwd_prefetch(fwd *f, const wire_query *q);

/* Sends the upstream queries queued during the worker's batch. A send that
 * fails moves its request on to the next upstream, as at once. */
void fwd_flush(fwd *f);

/* Requests in flight. */
size_t fwd_inflight(const fwd *f);

#endif
