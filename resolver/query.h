/*
 * query.h: what happens to one client query, whatever transport brought it:
 * parse, access check, policy, local answer or hand-off to the forwarder;
 * and the policy's last word on an upstream reply (CNAME cloaking).
 */
#ifndef EMBARGO_QUERY_H
#define EMBARGO_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "resolver/daemon.h"
#include "resolver/obs.h"

/* Handles one query packet from client `c` (borrowed; the forwarder copies
 * what it keeps). */
void query_handle(worker *w, const client *c, const uint8_t *pkt, size_t len);

/*
 * The same in three passes over a batch of packets (listen_udp.c), so that
 * the policy's memory misses of the whole batch overlap (policy_prepare in
 * policy.h). First pass, query_parse_ahead: parses pkt into a->q (which
 * borrows pkt's EDNS options) and, unless the cache may hold the name,
 * prepares its policy lookup; true when it did. Second, for those:
 * query_ahead_recs asks for the policy records. Third: query_handle_ahead
 * handles the query as query_handle would the packet.
 */
typedef struct query_ahead {
	wire_query q;
	int rc;              /* wire_parse_query's result */
	bool prepared;
	bool may_have;       /* cache_may_have said yes (then not prepared) */
	policy_prep prep;
} query_ahead;
bool query_parse_ahead(worker *w, const uint8_t *pkt, size_t len, query_ahead *a);
void query_ahead_recs(worker *w, const query_ahead *a);
void query_handle_ahead(worker *w, const client *c, const query_ahead *a);

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
