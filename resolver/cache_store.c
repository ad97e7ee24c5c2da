/*
 * cache_store.c: what an upstream reply becomes in the cache (see cache.h
 * and the entry layout in cache_impl.h).
 *
 * The stored copy is made ready to serve: question lower-cased (the key
 * compares with memcmp, the client's case is copied in at hit time), RA
 * set, AA clear, each TTL clamped to the entry's lifetime, records after
 * the OPT dropped. The upstream's OPT is not kept: a hit writes ours, as
 * wire_reply_to_client does (UDP size, version 0, the client's DO), unless
 * it carried EDE options, the one thing in it that speaks about the
 * answer: then our OPT with those options is stored, last, so that it can
 * be cut off for a client without EDNS by copying less. With
 * minimal-responses, a reply wire_reply_is_minimal trims is stored
 * trimmed, header, question and answer section.
 */
#include "resolver/cache_impl.h"

/* What one walk over a reply's records found. */
typedef struct cache_scan {
	size_t n_rr;           /* records before the OPT (all without one) */
	size_t n_ptr;          /* leading records whose owner is a 2-octet pointer */
	bool soa;              /* a SOA in the authority section */
	uint32_t an_min_ttl;   /* lowest TTL of the answer records (RFC 2181 8) */
} cache_scan;

/*
 * Walks the records before the OPT (or all of them without one), noting
 * the offsets of the first n_offs TTL fields at offs (big-endian u16).
 * The reply passed wire_check_reply; these checks only keep a wrong *r
 * from reading out of bounds.
 */
static bool scan_records(const uint8_t *pkt, const wire_reply *r, uint8_t *offs, size_t n_offs,
			 cache_scan *s)
{
	size_t an = r->ancount, ns = r->nscount;
	size_t total = an + ns + (r->edns ? r->opt_index : r->arcount);
	size_t len = r->edns ? r->opt_end : r->end, pos = r->question_end, p;

	memset(s, 0, sizeof(*s));
	s->an_min_ttl = UINT32_MAX;
	for (size_t i = 0; i < total; i++) {
		if (wire_skip_name(pkt, len, pos, &p) != WIRE_OK || len - p < 10)
			return false;
		if (s->n_ptr == i && p == pos + 2 && (pkt[pos] & 0xC0) == 0xC0)
			s->n_ptr++;
		uint16_t type = get16(pkt + p);
		size_t rdlen = get16(pkt + p + 8);
		if (type == WIRE_TYPE_OPT || rdlen > len - p - 10)
			return false;
		if (i < n_offs)
			put16(offs + 2 * i, (uint16_t)(p + 4));
		if (i < an) {
			uint32_t ttl = get32(pkt + p + 4);
			ttl = (ttl & 0x80000000u) ? 0 : ttl;
			if (ttl < s->an_min_ttl)
				s->an_min_ttl = ttl;
		}
		if (i >= an && i < an + ns && type == WIRE_TYPE_SOA)
			s->soa = true;
		pos = p + 10 + rdlen;
	}
	s->n_rr = total;
	if (!r->edns)
		return pos == r->end;
	return pos == r->opt_start && r->opt_start + 11 <= r->opt_end &&
	       pkt[r->opt_start] == 0 && get16(pkt + r->opt_start + 1) == WIRE_TYPE_OPT &&
	       r->opt_start + 11 + (size_t)get16(pkt + r->opt_start + 9) == r->opt_end;
}

/* The octets of the EDE options in the OPT's RDATA. */
static size_t ede_octets(const uint8_t *rdata, size_t rdlen)
{
	size_t in = 0, sum = 0;
	while (rdlen - in >= 4) {
		size_t n = get16(rdata + in + 2);
		if (n > rdlen - in - 4)
			break;
		if (get16(rdata + in) == WIRE_OPT_EDE)
			sum += 4 + n;
		in += 4 + n;
	}
	return sum;
}

/* Our OPT with the upstream's EDE options, at w (11 + ede octets), as
 * wire_opt_own makes it; DO is the query's (RFC 3225; DO is in the key,
 * so every client of the entry asked the same). */
static void write_opt(uint8_t *w, const uint8_t *opt, size_t ede, bool dnssec_ok)
{
	const uint8_t *rdata = opt + 11;
	size_t rdlen = get16(opt + 9), in = 0, out = 0;

	w[0] = 0;
	put16(w + 1, WIRE_TYPE_OPT);
	put16(w + 3, WIRE_EDNS_UDP);
	put32(w + 5, (uint32_t)opt[5] << 24 | (dnssec_ok ? 0x8000u : 0));
	put16(w + 9, (uint16_t)ede);
	while (rdlen - in >= 4 && out < ede) {
		size_t n = get16(rdata + in + 2);
		if (n > rdlen - in - 4)
			break;
		if (get16(rdata + in) == WIRE_OPT_EDE) {
			memcpy(w + 11 + out, rdata + in, 4 + n);
			out += 4 + n;
		}
		in += 4 + n;
	}
}

/* The entry's lifetime in seconds, 0 if the reply is not to be cached. */
static uint32_t lifetime(const cache *c, const wire_reply *r, const cache_scan *s, bool minimal)
{
	/* A trimmed answer lives as long as what it keeps. */
	uint32_t ttl = minimal ? s->an_min_ttl : r->min_ttl;

	if (r->tc || r->partial || r->chain_overflow)
		return 0;
	if (r->rcode == WIRE_RCODE_SERVFAIL)
		return ttl < c->o.servfail_ttl ? ttl : c->o.servfail_ttl;
	if (r->rcode == WIRE_RCODE_NXDOMAIN || (r->rcode == WIRE_RCODE_NOERROR && r->ancount == 0)) {
		if (!s->soa)   /* RFC 2308 5: no SOA, no negative caching */
			return 0;
	} else if (r->rcode != WIRE_RCODE_NOERROR) {
		return 0;
	}
	if (ttl == 0 || ttl == WIRE_TTL_NONE)
		return 0;
	if (ttl < c->o.min_ttl)
		ttl = c->o.min_ttl;
	return ttl < c->o.max_ttl ? ttl : c->o.max_ttl;
}

/* Whether reply/len, *r is a well-formed answer to q as far as the entry
 * layout relies on. */
static bool reply_fits(const wire_query *q, const uint8_t *reply, size_t len, const wire_reply *r)
{
	return q != NULL && reply != NULL && r != NULL && q->has_question && r->end <= len &&
	       r->question_end <= r->end && r->end <= UINT16_MAX &&
	       r->question_end == WIRE_HDR_LEN + (size_t)q->qname_len + 4 &&
	       r->an_end >= r->question_end && r->an_end <= r->ar_start && r->ar_start <= r->end &&
	       (!r->edns || (r->opt_start >= r->ar_start && r->opt_end <= r->end)) &&
	       wire_name_equal_ci(reply + WIRE_HDR_LEN, q->qname_len, q->qname, q->qname_len) &&
	       get16(reply + r->question_end - 4) == q->qtype &&
	       get16(reply + r->question_end - 2) == q->qclass;
}

static void insert(cache *c, const wire_query *q, const uint8_t *reply, size_t len,
		   const wire_reply *r, uint64_t now_ms, unsigned extra_flags)
{
	if (c == NULL || c->cells == NULL)
		return;
	c->st.uncacheable++;   /* undone below once stored */
	cache_scan s;
	if (!reply_fits(q, reply, len, r) || !scan_records(reply, r, NULL, 0, &s))
		return;
	bool minimal = c->o.minimal && wire_reply_is_minimal(r, q);
	/* As the entry can keep it (ce_life), so no TTL outlives the entry. */
	uint32_t life = ce_life_decode(ce_life_code(lifetime(c, r, &s, minimal)));
	if (life == 0)
		return;

	/* What is kept: the records up to the answer section's end (minimal)
	 * or the OPT, and of the OPT only its EDE options. */
	size_t body = minimal ? r->an_end : r->edns ? r->opt_start : r->end;
	size_t n_ttl = minimal ? r->ancount : s.n_rr;
	bool walk = s.n_ptr >= n_ttl;   /* the TTLs need no offsets */
	size_t offs_len = walk ? 0 : 2 * n_ttl;
	const uint8_t *opt = r->edns ? reply + r->opt_start : NULL;
	size_t ede = opt ? ede_octets(opt + 11, get16(opt + 9)) : 0;
	size_t opt_len = ede ? 11 + ede : 0;
	size_t chain_bytes = 0;
	for (size_t i = 0; i < r->n_chain; i++)
		chain_bytes += r->chain_len[i];
	unsigned ext = (opt_len ? CX_OPT : 0) | (r->n_chain ? CX_CHAIN : 0);
	size_t size = CE_HDR + body + opt_len + (ext ? 1 : 0) + offs_len + (opt_len ? 2 : 0) +
		      (r->n_chain ? 1 + chain_bytes : 0);
	if (body + opt_len > UINT16_MAX)
		return;

	/* born is 32 bits of ms past base: base starts 12 days back (a clock
	 * that steps back a little costs nothing) and moves when it must. */
	if (!c->based) {
		c->base = now_ms > (1ULL << 30) ? now_ms - (1ULL << 30) : 0;
		c->based = true;
	} else if (now_ms > c->base && now_ms - c->base > UINT32_MAX) {
		cache_rebase(c, now_ms);
	}
	cache_key k;
	cache_key_make(c, q, &k);
	long old = cache_find(c, &k);
	/* Room first: the hand must not meet the newcomer half made. */
	if (old < 0 && !cache_room(c))
		cache_evict(c, now_ms);
	cache_ref ref = slab_alloc(&c->slab, size);
	if (ref == 0)
		return;
	cache_entry *e = cache_entry_at(c, ref);
	e->born = now_ms > c->base ? (uint32_t)(now_ms - c->base) : 0;
	e->flags = (uint8_t)(k.bits | (ext ? CE_EXT : 0) | (walk ? CE_WALK : 0) | extra_flags);

	uint8_t *w = e->reply;
	memcpy(w, reply, body);
	uint16_t arcount = minimal ? 0 : r->edns ? r->opt_index : r->arcount;
	if (minimal)
		put16(w + 8, 0);
	if (opt_len) {
		write_opt(w + body, opt, ede, q->edns_do);
		arcount++;
	}
	put16(w + 10, arcount);
	memcpy(w + WIRE_HDR_LEN, k.b, (size_t)k.name_len + 4);
	put16(w, (uint16_t)(body + opt_len));   /* ID: the length */
	put16(w + 4, ce_life_code(life));       /* QDCOUNT: the lifetime */
	put16(w + 2, (uint16_t)((get16(w + 2) | WIRE_FLAG_RA) &
				~(unsigned)(WIRE_FLAG_AA | WIRE_FLAG_TC)));

	uint8_t *p = w + body + opt_len;
	if (ext)
		*p++ = (uint8_t)ext;
	if (!walk)
		scan_records(reply, r, p, n_ttl, &s);
	bool servfail = r->rcode == WIRE_RCODE_SERVFAIL;
	ttl_iter it;
	ttl_iter_init(&it, w, walk ? NULL : p, r->question_end);
	for (size_t i = 0; i < n_ttl; i++) {
		uint8_t *t = w + ttl_next(&it);
		uint32_t v = get32(t);
		if (v & 0x80000000u)   /* RFC 2181 8 */
			v = 0;
		if (!servfail && v < c->o.min_ttl)
			v = c->o.min_ttl;
		put32(t, v < life ? v : life);
	}
	p += offs_len;
	if (opt_len) {
		put16(p, (uint16_t)body);
		p += 2;
	}
	if (r->n_chain) {
		*p++ = (uint8_t)r->n_chain;
		for (size_t i = 0; i < r->n_chain; i++) {
			memcpy(p, r->chain[i], r->chain_len[i]);
			p += r->chain_len[i];
		}
	}

	if (old >= 0)
		cache_replace_at(c, old, ref);   /* which re-arms its prefetch */
	else
		cache_add(c, k.hash, ref);
	c->st.inserts++;
	c->st.uncacheable--;
}

void cache_insert(cache *c, const wire_query *q, const uint8_t *reply, size_t len,
		  const wire_reply *r, uint64_t now_ms)
{
	insert(c, q, reply, len, r, now_ms, 0);
}

void cache_insert_plain(cache *c, const wire_query *q, const uint8_t *reply, size_t len,
			const wire_reply *r, uint64_t now_ms)
{
	insert(c, q, reply, len, r, now_ms, r && r->n_chain == 0 ? CE_PLAIN : 0);
}
