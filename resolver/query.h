/*
 * query.h: what happens to one client query, whatever transport brought it:
 * parse, access check, policy, local answer or hand-off to the forwarder;
 * and the policy's last word on an upstream reply (CNAME cloaking).
 */
#ifndef EMBARGO_QUERY_H
#define EMBARGO_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "resolver/daemon.h"
#include "resolver/obs.h"

/* Handles one query packet from client `c` (borrowed; the forwarder copies
 * what it keeps). */
void query_handle(worker *w, const client *c, const uint8_t *pkt, size_t len);

/*
 * Answers client `c`'s query `q` with the upstream reply `reply` (checked as
 * `r`), unless the reply's CNAME/DNAME chain enters a blocked name: then the
 * client gets that rule's block answer instead.
 */
void query_answer_reply(worker *w, const client *c, const wire_query *q, const query_meta *meta,
			int up, const uint8_t *reply, size_t len, const wire_reply *r);

/* Every upstream failed: answers from the cache, stale if need be (RFC 8767,
 * with EDE 3), else SERVFAIL. */
void query_answer_failed(worker *w, const client *c, const wire_query *q, const query_meta *meta);

/* Answers with SERVFAIL and EDE 22 (No Reachable Authority). */
void query_answer_servfail(worker *w, const client *c, const wire_query *q, const query_meta *meta);

#endif
