/*
 * query.c: the per-query logic between the transports and the forwarder.
 *
 * Block and error answers are built into the worker's scratch buffer and
 * sent at once: no allocation on that path. A query the policy lets pass is
 * answered from the cache, or goes to the forwarder (fwd.c), which calls
 * back query_answer_reply or query_answer_failed. Every answer sent is
 * reported once to obs_query (counters, exposure, query log).
 */
#include "resolver/query.h"

#include <stdio.h>
#include <string.h>

#include "embargo_config.h"

#include "resolver/cache.h"
#include "resolver/fwd.h"
#include "resolver/ratelimit.h"

/* What is known about a query when it is answered. */
typedef struct answer_info {
	const query_meta *meta;
	bool cached, stale, cloaked;
	bool ratelimited;
	int upstream;
	int rule_ref;           /* overrides meta's for a block found in the chain */
} answer_info;

/*
 * Answers embargo makes up itself (blocks with their EDE text, errors) go
 * to UDP clients at most this many times the size of the query (its
 * question and OPT), whose source may be spoofed: past it the EDE text is
 * cut to "vendor/rule", then dropped, then the answer is a bare TC. With the
 * bundled policy whole answers are 3.1-4.1 times a typical query; TCP and
 * TLS get the whole text always.
 */
#define SYNTH_UDP_RATIO 5

static size_t synth_cap(const client *c, const wire_query *q)
{
	size_t cap = client_answer_cap(c, q);
	if (c->t != TRANSPORT_UDP)
		return cap;
	size_t qlen = (q->has_question ? q->question_end : WIRE_HDR_LEN) +
		      (q->edns ? 11 + q->edns_opts_len : 0);
	return SYNTH_UDP_RATIO * qlen < cap ? SYNTH_UDP_RATIO * qlen : cap;
}

static bool access_allowed(const cfg *c, const cfg_ip *ip)
{
	for (size_t i = 0; i < c->n_access; i++)
		if (cfg_net_contains(&c->access[i], ip))
			return true;
	return false;
}

/* Sends the answer in w->out and reports it. Inline: on the hot paths
 * most of the event is known at the call. */
static inline __attribute__((always_inline)) void send_and_report(worker *w, const client *c, const wire_query *q, size_t n,
			    const answer_info *a)
{
	if (!n)
		return;
	worker_send(w, c, w->out, n);
	uint16_t rcode = w->out[3] & 0x0f;
	uint64_t latency_us = worker_us(w) - c->t0_us;
	if (!a->ratelimited && obs_log_off(w)) {
		/* obs_query's common case, without an event in memory */
		obs_count(w, c->t, rcode, latency_us, a->cached, a->stale);
		if (a->rule_ref >= 0 && a->meta->verdict != POLICY_PASS)
			obs_rule_hit(w, &c->ip, a->rule_ref, a->meta->verdict, a->cloaked,
				     worker_now(w));
		return;
	}
	query_event e = {
		.t = c->t,
		.client = &c->ip,
		.q = q,
		.rcode = rcode,
		.verdict = a->meta->verdict,
		.rule_ref = a->rule_ref,
		.cached = a->cached,
		.stale = a->stale,
		.cloaked = a->cloaked,
		.upstream = a->upstream,
		.latency_us = latency_us,
		.now = worker_now(w),
		.ratelimited = a->ratelimited,
	};
	obs_query(w, &e);
}

/*
 * The `ratelimit` of UDP clients (TCP and TLS need a handshake, so their
 * source is real, and are bounded by the connection cap instead). True when
 * the query was over its network's rate and has been dealt with: a TC
 * answer without records (action truncate, for a query that can be
 * answered) or nothing.
 */
static bool rate_limited(worker *w, const client *c, const wire_query *q, bool answerable,
			 const query_meta *meta)
{
	const cfg_ratelimit *rc = &w->cfg->ratelimit;
	if (!w->rl || c->t != TRANSPORT_UDP)
		return false;
	for (size_t i = 0; i < rc->n_exempt; i++)
		if (cfg_net_contains(&rc->exempt[i], &c->ip))
			return false;
	if (ratelimit_allow(w->rl, &c->ip, worker_ms(w)))
		return false;
	if (answerable && rc->action == CFG_RL_TRUNCATE) {
		size_t n = wire_build_tc(q, w->out, client_answer_cap(c, q));
		answer_info a = { .meta = meta, .upstream = -1, .rule_ref = -1, .ratelimited = true };
		send_and_report(w, c, q, n, &a);
		return true;
	}
	query_event e = {
		.t = c->t,
		.client = &c->ip,
		.q = q,
		.verdict = POLICY_PASS,
		.rule_ref = -1,
		.upstream = -1,
		.latency_us = worker_us(w) - c->t0_us,
		.now = worker_now(w),
		.ratelimited = true,
		.dropped = true,
	};
	obs_query(w, &e);
	return true;
}

static void send_error(worker *w, const client *c, const wire_query *q, uint16_t rcode,
		       int32_t ede, const char *text, const query_meta *meta)
{
	size_t n = wire_build_error(q, rcode, ede, text, w->out, synth_cap(c, q));
	answer_info a = { .meta = meta, .upstream = -1, .rule_ref = meta->rule_ref };
	send_and_report(w, c, q, n, &a);
}

/* Maps the policy's answer onto the wire builder's and sends it. */
static void send_block(worker *w, const client *c, const wire_query *q, const policy_match *m,
		       bool cloaked, int up)
{
	wire_block b = {
		.ttl = w->cfg->sinkhole.ttl,
		.serial = (uint32_t)m->rule->effective,
		.soa_owner = m->entry,
		.ede_code = m->rule->vendor->ede,
		.ede_text = m->rule->ede_text,
	};
	switch (m->answer) {
	case POLICY_ANS_REFUSED: b.kind = WIRE_BLOCK_REFUSED; break;
	case POLICY_ANS_NXDOMAIN: b.kind = WIRE_BLOCK_NXDOMAIN; break;
	case POLICY_ANS_SINK_A:
		b.kind = WIRE_BLOCK_SINK_A;
		memcpy(b.sink4, w->cfg->sinkhole.ipv4.addr, 4);
		break;
	case POLICY_ANS_SINK_AAAA:
		b.kind = WIRE_BLOCK_SINK_AAAA;
		memcpy(b.sink6, w->cfg->sinkhole.ipv6.addr, 16);
		break;
	case POLICY_ANS_NODATA:
	case POLICY_ANS_NONE: b.kind = WIRE_BLOCK_NODATA; break;
	}
	w->stats.blocked++;
	size_t n = wire_build_block(q, &b, w->out, synth_cap(c, q));
	query_meta meta = { .verdict = POLICY_BLOCK, .rule_ref = obs_rule_ref(w, m->rule) };
	answer_info a = { .meta = &meta, .cloaked = cloaked, .upstream = up,
			  .rule_ref = meta.rule_ref };
	send_and_report(w, c, q, n, &a);
}

/* CNAME cloaking: if `name`, a target in the answer's chain, is blocked for
 * this client, answers with that rule's block and returns true. */
static bool chain_name_blocked(worker *w, const client *c, const wire_query *q, const uint8_t *name,
			       int64_t now, int up)
{
	policy_match m;
	policy_decide(w->pol, name, q->qtype, &c->ip, now, &m);
	if (m.verdict != POLICY_BLOCK)
		return false;
	w->stats.cloaked++;
	send_block(w, c, q, &m, true, up);
	return true;
}

/* Out of line: only entries with a CNAME/DNAME chain get here. */
static __attribute__((noinline)) bool chain_walk_blocked(worker *w, const client *c,
							 const wire_query *q, const cache_hit *hit)
{
	int64_t now = worker_now(w);
	const uint8_t *name = hit->chain;
	for (size_t i = 0; i < hit->n_chain; i++, name = cache_chain_next(name))
		if (chain_name_blocked(w, c, q, name, now, -1))
			return true;
	return false;
}

/* Whether the cached answer's chain enters a blocked name (then its block
 * was sent); most entries have no chain, which costs one test here. */
static inline bool cache_chain_blocked(worker *w, const client *c, const wire_query *q,
				       const cache_hit *hit)
{
	return hit->n_chain && chain_walk_blocked(w, c, q, hit);
}

/* Looks q up in the cache; the answer, if any, is left in w->out. */
/* filtered: cache_may_have said yes for q in this batch (query_ahead) */
static inline size_t cache_lookup(worker *w, const client *c, const wire_query *q, cache_hit *hit,
				  bool filtered)
{
	if (filtered)
		return cache_answer_filtered(w->cache, q, worker_ms(w), w->out,
					     client_answer_cap(c, q), hit);
	return cache_answer(w->cache, q, worker_ms(w), w->out, client_answer_cap(c, q), hit);
}

/* Sends the hit cache_lookup left in w->out (n octets, n > 0), unless its
 * chain was blocked (then the block went). */
static inline void answer_hit(worker *w, const client *c, const wire_query *q,
			      const query_meta *meta, size_t n, const cache_hit *hit)
{
	w->stats.cache_hits++;
	if (!cache_chain_blocked(w, c, q, hit)) {
		answer_info a = { .meta = meta, .cached = true, .upstream = -1,
				  .rule_ref = meta->rule_ref };
		send_and_report(w, c, q, n, &a);
	}
	if (hit->prefetch) {
		/* asked for in the last tenth of its TTL: refresh it now */
		w->stats.prefetches++;
		fwd_prefetch(w->fwd, q);
	}
}

/*
 * CHAOS-class TXT queries for version.embargo. and policy.embargo. say what
 * runs (as version.bind does for BIND); any other CHAOS query, or all of
 * them with hide-version, is REFUSED and never forwarded (it would tell
 * the upstream's version instead).
 */
static void answer_chaos(worker *w, const client *c, const wire_query *q, const query_meta *meta)
{
	static const uint8_t version[] = "\7version\7embargo";
	static const uint8_t policy_name[] = "\6policy\7embargo";
	char text[160], t[CFG_TIME_BUF];
	const char *answer = NULL;
	bool txt = q->qtype == 16 || q->qtype == 255;
	if (!w->cfg->hide_version && txt) {
		if (wire_name_equal_ci(q->qname, q->qname_len, version, sizeof(version))) {
			answer = "embargo " EMBARGO_VERSION;
		} else if (wire_name_equal_ci(q->qname, q->qname_len, policy_name, sizeof(policy_name))) {
			snprintf(text, sizeof(text), "sha256:%s loaded %s", w->cfg->policy_digest,
				 cfg_time_format(w->cfg->loaded_at, t));
			answer = text;
		}
	}
	if (!answer) {
		send_error(w, c, q, WIRE_RCODE_REFUSED, WIRE_EDE_NONE, NULL, meta);
		return;
	}
	size_t n = wire_build_txt(q, answer, 0, w->out, client_answer_cap(c, q));
	answer_info a = { .meta = meta, .upstream = -1, .rule_ref = -1 };
	send_and_report(w, c, q, n, &a);
}

/* prep: the policy lookup prepared for q (query_parse_ahead), or NULL.
 * filtered: cache_may_have said yes for q in this batch. */
static void handle(worker *w, const client *c, const wire_query *q, int rc, const policy_prep *prep,
		   bool filtered)
{
	static const query_meta no_rule = { .verdict = POLICY_PASS, .rule_ref = -1 };

	w->stats.queries[c->t]++;
	if (rc != WIRE_EDROP && rate_limited(w, c, q, rc == WIRE_OK, &no_rule))
		return;
	switch (rc) {
	case WIRE_OK:
		break;
	case WIRE_EDROP:
		w->stats.dropped++;
		return;
	case WIRE_ENOTIMP:
		w->stats.notimp++;
		send_error(w, c, q, WIRE_RCODE_NOTIMP, WIRE_EDE_NONE, NULL, &no_rule);
		return;
	case WIRE_EBADVERS:
		send_error(w, c, q, WIRE_RCODE_BADVERS, WIRE_EDE_NONE, NULL, &no_rule);
		return;
	default:
		w->stats.formerr++;
		send_error(w, c, q, WIRE_RCODE_FORMERR, WIRE_EDE_NONE, NULL, &no_rule);
		return;
	}

	if (!access_allowed(w->cfg, &c->ip)) {
		w->stats.refused_access++;
		send_error(w, c, q, WIRE_RCODE_REFUSED, WIRE_EDE_PROHIBITED, NULL, &no_rule);
		return;
	}
	if (q->qclass == WIRE_CLASS_CH) {
		answer_chaos(w, c, q, &no_rule);
		return;
	}
	if (q->qtype == WIRE_TYPE_ANY && c->t == TRANSPORT_UDP) {
		/* RFC 8482: ANY over UDP is the amplifier's favourite. A TC answer
		 * is no larger than the query; real clients ask again over TCP,
		 * where ANY is forwarded (and the policy applies) as usual. */
		size_t n = wire_build_tc(q, w->out, client_answer_cap(c, q));
		answer_info a = { .meta = &no_rule, .upstream = -1, .rule_ref = -1 };
		send_and_report(w, c, q, n, &a);
		return;
	}

	/* Without groups, a name the policy passes now passes for everyone
	 * until the next policy change, and its cached answer was stored plain
	 * (cache_insert_plain): a hit on it needs no policy walk. Anything else
	 * found falls through and is decided as usual. */
	int64_t now = worker_now(w);
	cache_hit hit;
	size_t n = 0;
	bool looked = false;
	if (!w->cfg->n_groups && now >= w->plain_from && now < w->plain_until) {
		looked = true;
		if (prep) {
			/* prepared only when the cache certainly has no answer */
			cache_count_miss(w->cache);
		} else {
			n = cache_lookup(w, c, q, &hit, filtered);
			if (n && hit.plain) {
				answer_hit(w, c, q, &no_rule, n, &hit);
				return;
			}
		}
	}

	policy_match m;
	if (prep)
		policy_decide_prepared(w->pol, prep, q->qtype, &c->ip, now, &m);
	else
		policy_decide(w->pol, q->qname, q->qtype, &c->ip, now, &m);
	switch (m.verdict) {
	case POLICY_BLOCK:
		send_block(w, c, q, &m, false, -1);
		return;
	case POLICY_AUDIT:
		w->stats.audited++;
		break;
	case POLICY_EXEMPT:
		w->stats.exempt++;
		break;
	case POLICY_PASS:
		break;
	}
	query_meta meta = { .verdict = m.verdict, .rule_ref = obs_rule_ref(w, m.rule) };
	if (!looked)
		n = cache_lookup(w, c, q, &hit, filtered);
	if (n) {
		answer_hit(w, c, q, &meta, n, &hit);
		return;
	}
	w->stats.cache_misses++;
	w->stats.forwarded++;
	fwd_submit(w->fwd, c, q, &meta);
}

bool query_parse_ahead(worker *w, const uint8_t *pkt, size_t len, query_ahead *a)
{
	a->rc = wire_parse_query(pkt, len, &a->q);
	/* a name the cache may hold is most likely a plain hit, which never
	 * asks the policy: preparing a lookup for it would only cost the hit */
	a->may_have = a->rc == WIRE_OK && cache_may_have(w->cache, &a->q);
	a->prepared = a->rc == WIRE_OK && !a->may_have;
	if (a->prepared)
		policy_prepare(w->pol, a->q.qname, &a->prep);
	return a->prepared;
}

void query_ahead_recs(worker *w, const query_ahead *a)
{
	policy_prepare_recs(w->pol, &a->prep);
}

void query_handle(worker *w, const client *c, const uint8_t *pkt, size_t len)
{
	wire_query q;
	int rc = wire_parse_query(pkt, len, &q);
	handle(w, c, &q, rc, NULL, false);
}

void query_handle_ahead(worker *w, const client *c, const query_ahead *a)
{
	handle(w, c, &a->q, a->rc, a->prepared ? &a->prep : NULL, a->may_have);
}
void query_answer_reply(worker *w, const client *c, const wire_query *q, const query_meta *meta,
			int up, const uint8_t *reply, size_t len, const wire_reply *r)
{
	if (r->chain_overflow) {
		/* A chain longer than we checked: fail closed. */
		query_answer_servfail(w, c, q, meta);
		return;
	}
	int64_t now = worker_now(w);
	for (size_t i = 0; i < r->n_chain; i++)
		if (chain_name_blocked(w, c, q, r->chain[i], now, up))
			return;
	size_t n = wire_reply_to_client(reply, len, r, q, w->cfg->minimal_responses, w->out,
					 client_answer_cap(c, q));
	answer_info a = { .meta = meta, .upstream = up, .rule_ref = meta->rule_ref };
	send_and_report(w, c, q, n, &a);
}

void query_answer_failed(worker *w, const client *c, const wire_query *q, const query_meta *meta)
{
	cache_hit hit;
	size_t cap = client_answer_cap(c, q);
	size_t n = cache_answer_stale(w->cache, q, worker_ms(w), w->out, cap, &hit);
	if (!n) {
		query_answer_servfail(w, c, q, meta);
		return;
	}
	if (hit.stale) {
		w->stats.stale_served++;
		n = cache_add_ede(w->out, n, cap, &hit, CACHE_EDE_STALE_ANSWER, NULL);
	}
	if (!cache_chain_blocked(w, c, q, &hit)) {
		answer_info a = { .meta = meta, .cached = true, .stale = hit.stale, .upstream = -1,
				  .rule_ref = meta->rule_ref };
		send_and_report(w, c, q, n, &a);
	}
}

void query_answer_servfail(worker *w, const client *c, const wire_query *q, const query_meta *meta)
{
	w->stats.servfail++;
	send_error(w, c, q, WIRE_RCODE_SERVFAIL, WIRE_EDE_NO_REACHABLE_AUTHORITY,
		   "no upstream answered", meta);
}
