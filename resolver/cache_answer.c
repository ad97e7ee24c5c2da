/*
 * cache_answer.c: answers written from cache entries (see cache.h).
 *
 * The fast path, taken whenever the stored reply fits the client's limit,
 * is a memcpy and patches in place: ID, question case, RD/AD, ARCOUNT when
 * the OPT is cut off or ours is added, and one 4-octet TTL per record. Only
 * a reply too big for the client goes through wire_reply_to_client, which
 * drops the additional section or truncates; the TTLs of what remains are
 * patched after it the same way, since earlier offsets do not move.
 */
#include "resolver/cache_impl.h"

#include <string.h>

/*
 * The client's qname over the stored one. A plain memcpy here is inlined by
 * gcc as `rep movsq` (the length is known to be < 256), whose start-up cost
 * is most of a hit; 16-octet moves that may overlap cost a few cycles.
 */
static inline void copy_qname(uint8_t *dst, const uint8_t *src, size_t n)
{
	if (n >= 16) {
		size_t i = 0;
		for (; i + 16 <= n; i += 16)
			memcpy(dst + i, src + i, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else {
		for (size_t i = 0; i < n; i++)
			dst[i] = src[i];
	}
}

/* Where an entry's parts are, read once per hit. */
typedef struct entry_view {
	const uint8_t *src;    /* the stored reply */
	size_t len;
	const uint8_t *ttls;   /* big-endian offsets, one per TTL, ascending; NULL: walk */
	size_t opt_at;         /* the stored OPT; 0: none */
	const uint8_t *chain;  /* n_chain names; NULL: none */
	size_t n_chain;
} entry_view;

static inline void view(const cache_entry *e, entry_view *v)
{
	unsigned ext = ce_ext(e);
	v->src = e->reply;
	v->len = ce_len(e);
	v->ttls = (e->flags & CE_WALK) ? NULL : v->src + v->len + (ext ? 1 : 0);
	v->opt_at = 0;
	v->chain = NULL;
	v->n_chain = 0;
	if (!ext)
		return;
	/* past the TTL offsets (their count only matters here and when the
	 * TTLs are patched) */
	const uint8_t *p = v->src + v->len + 1;
	if (v->ttls)
		p += 2 * ce_n_ttl(e, ext);
	if (ext & CX_OPT) {
		v->opt_at = get16(p);
		p += 2;
	}
	if (ext & CX_CHAIN) {
		v->n_chain = *p;
		v->chain = p + 1;
	}
}

/* Records with a TTL (ce_n_ttl): every one but a stored OPT. */
static inline size_t view_n_ttl(const entry_view *v)
{
	const uint8_t *h = v->src;
	return (size_t)get16(h + 6) + get16(h + 8) + get16(h + 10) - (v->opt_at ? 1 : 0);
}

/* The end of `count` records from pos (the stored reply is well-formed). */
static size_t skip_records(const uint8_t *pkt, size_t len, size_t pos, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		size_t p;
		if (wire_skip_name(pkt, len, pos, &p) != WIRE_OK || len - p < 10)
			return pos;
		pos = p + 10 + get16(pkt + p + 8);
	}
	return pos;
}

/*
 * A reply too big for the client: wire.c drops the additional section or
 * truncates. Out of line, so the fast path does not carry this frame (a
 * wire_reply holds the 4 KB chain array).
 */
static __attribute__((noinline)) size_t write_fallback(const entry_view *v, const wire_query *q,
							uint8_t *out, size_t cap, size_t *limit,
							cache_hit *hit)
{
	const uint8_t *src = v->src;
	wire_reply r;

	memset(&r, 0, offsetof(wire_reply, chain_len));
	r.flags = get16(src + 2);
	r.rcode = r.flags & 0xF;
	r.edns = v->opt_at != 0;
	r.ancount = get16(src + 6);
	r.nscount = get16(src + 8);
	r.arcount = get16(src + 10);
	r.question_end = WIRE_HDR_LEN + (size_t)q->qname_len + 4;
	/* wire.c sets the ID; the QDCOUNT field held the lifetime */
	r.an_end = skip_records(src, v->len, r.question_end, r.ancount);
	r.ar_start = skip_records(src, v->len, r.an_end, r.nscount);
	r.opt_start = r.edns ? v->opt_at : v->len;
	r.opt_end = r.end = v->len;
	r.opt_ttl = r.edns ? v->opt_at + 5 : 0;
	r.opt_index = r.edns ? (uint16_t)(r.arcount - 1) : 0;
	size_t n = wire_reply_to_client(src, v->len, &r, q, false, out, cap);
	if (n == 0)
		return 0;
	put16(out + 4, 1);
	/* The records before the additional section stay where they were,
	 * unless the answer is a bare TC. Both fallbacks end with an OPT of
	 * wire.c's own, without options. */
	*limit = (get16(out + 2) & WIRE_FLAG_TC) ? 0 : r.ar_start;
	hit->opt_rdlen_at = q->edns ? n - 2 : 0;
	return n;
}

/* Writes e's answer for q; every TTL becomes ttl_set if >= 0, else is
 * decreased by dec. Returns the length or 0. Inline: it is most of a hit. */
static inline __attribute__((always_inline)) size_t entry_write(const entry_view *v, const wire_query *q, uint8_t *out, size_t cap,
			  uint32_t dec, int64_t ttl_set, cache_hit *hit)
{
	const uint8_t *src = v->src;
	bool strip = v->opt_at && !q->edns;
	/* Stored without an OPT (the usual case): a client with EDNS gets
	 * ours (UDP size, extended RCODE, DO), as wire_reply_to_client adds. */
	bool add_opt = q->edns && !v->opt_at;
	size_t n = strip ? v->opt_at : v->len, limit;

	if (n + (add_opt ? 11 : 0) <= cap) {
		/* The common case: the whole reply fits. */
		memcpy(out, src, n);
		if (strip)
			put16(out + 10, (uint16_t)(get16(src + 10) - 1));
		put16(out, q->id);   /* over the length */
		put16(out + 4, 1);   /* QDCOUNT, over the lifetime */
		copy_qname(out + WIRE_HDR_LEN, q->qname, q->qname_len);
		limit = n;
		hit->opt_rdlen_at = strip ? 0 : v->opt_at ? v->opt_at + 9 : 0;
		if (add_opt) {
			uint8_t *o = out + n;
			o[0] = 0;
			put16(o + 1, WIRE_TYPE_OPT);
			put16(o + 3, WIRE_EDNS_UDP);
			put32(o + 5, q->edns_do ? 0x8000u : 0);   /* rcodes cached fit in 4 bits */
			put16(o + 9, 0);
			put16(out + 10, (uint16_t)(get16(out + 10) + 1));
			hit->opt_rdlen_at = n + 9;
			n += 11;
		}
	} else {
		n = write_fallback(v, q, out, cap, &limit, hit);
		if (n == 0)
			return 0;
	}
	/* RD is the client's; AD only for a client that can use it (RFC 6840 5.8). */
	uint16_t flags = get16(out + 2) & (uint16_t)~(WIRE_FLAG_RD | WIRE_FLAG_AD);
	if (q->rd)
		flags |= WIRE_FLAG_RD;
	if ((q->ad || q->edns_do) && (get16(src + 2) & WIRE_FLAG_AD))
		flags |= WIRE_FLAG_AD;
	put16(out + 2, flags);

	if (ttl_set < 0 && dec == 0)
		return n;
	ttl_iter it;
	ttl_iter_init(&it, src, v->ttls, WIRE_HDR_LEN + (size_t)q->qname_len + 4);
	for (size_t i = 0, n_ttl = view_n_ttl(v); i < n_ttl; i++) {
		size_t off = ttl_next(&it);
		if (off >= limit)
			break;
		uint32_t t = get32(src + off);
		put32(out + off, ttl_set >= 0 ? (uint32_t)ttl_set : t > dec ? t - dec : 0);
	}
	return n;
}

/* Inline in every caller: with stale_ok and filtered constants, cache_answer
 * carries no serve-stale code, and a probe that misses costs no call.
 * filtered: the caller's cache_may_have said yes for q just now. */
static inline __attribute__((always_inline)) size_t serve(cache *c, const wire_query *q, uint64_t now_ms, uint8_t *out, size_t cap,
		    cache_hit *hit, bool stale_ok, bool filtered)
{
	cache_hit dummy;

	if (hit == NULL)
		hit = &dummy;
	memset(hit, 0, sizeof(*hit));
	if (c == NULL || c->cells == NULL)
		return 0;
	if (q == NULL || !q->has_question || out == NULL ||
	    (!filtered && c->filter[cache_filter_slot_q(c, q)] == 0)) {   /* certainly not there */
		c->st.misses++;
		return 0;
	}
	cache_key k;
	cache_key_make(c, q, &k);
	long i = cache_find(c, &k);
	if (i < 0) {
		c->st.misses++;
		return 0;
	}
	cache_entry *e = cache_entry_at(c, (cache_ref)cache_cell(c, i));
	uint32_t life_s = ce_life(e);
	uint64_t age = cache_age_ms(c, e, now_ms), life = (uint64_t)life_s * 1000;
	unsigned flags = e->flags;
	entry_view v;
	size_t n;

	view(e, &v);
	if (age < life) {
		n = entry_write(&v, q, out, cap, (uint32_t)(age / 1000), -1, hit);
		if (n == 0)
			goto miss;
		hit->ttl_left = life_s - (uint32_t)(age / 1000);
		/* The last tenth of the lifetime: ask for one refresh. */
		if ((life - age) * 10 <= life && !(flags & CE_PREFETCH)) {
			flags |= CE_PREFETCH;
			hit->prefetch = true;
			c->st.prefetches++;
		}
		c->st.hits++;
	} else if (stale_ok && c->o.stale_max > 0 && age - life <= (uint64_t)c->o.stale_max * 1000) {
		n = entry_write(&v, q, out, cap, 0, CACHE_STALE_TTL, hit);
		if (n == 0)
			goto miss;
		hit->stale = true;
		c->st.stale_hits++;
	} else {
		if (cache_entry_dead(c, e, now_ms)) {
			c->st.expired++;
			cache_remove_at(c, i);
		}
		goto miss;
	}
	if (e->flags != (flags | CE_REF))   /* a write only when something changes */
		e->flags = (uint8_t)(flags | CE_REF);
	hit->hit = true;
	hit->rcode = get16(v.src + 2) & 0xF;
	hit->n_chain = v.n_chain;
	hit->chain = v.chain;
	hit->plain = (flags & CE_PLAIN) != 0;
	return n;
miss:
	hit->opt_rdlen_at = 0;
	c->st.misses++;
	return 0;
}

bool cache_may_have(const cache *c, const wire_query *q)
{
	return c != NULL && c->cells != NULL && q->has_question &&
	       c->filter[cache_filter_slot_q(c, q)] != 0;
}

void cache_count_miss(cache *c)
{
	if (c != NULL && c->cells != NULL)
		c->st.misses++;
}

size_t cache_answer(cache *c, const wire_query *q, uint64_t now_ms, uint8_t *out, size_t cap,
		    cache_hit *hit)
{
	return serve(c, q, now_ms, out, cap, hit, false, false);
}

size_t cache_answer_filtered(cache *c, const wire_query *q, uint64_t now_ms, uint8_t *out,
			     size_t cap, cache_hit *hit)
{
	return serve(c, q, now_ms, out, cap, hit, false, true);
}

size_t cache_answer_stale(cache *c, const wire_query *q, uint64_t now_ms, uint8_t *out,
			  size_t cap, cache_hit *hit)
{
	return serve(c, q, now_ms, out, cap, hit, true, false);
}

size_t cache_add_ede(uint8_t *out, size_t len, size_t cap, const cache_hit *hit,
		     uint16_t info_code, const char *text)
{
	if (out == NULL || hit == NULL || !hit->hit || hit->opt_rdlen_at == 0 || cap < len ||
	    hit->opt_rdlen_at + 2 > len)
		return len;
	size_t at = hit->opt_rdlen_at, rdlen = get16(out + at);
	if (at + 2 + rdlen != len)   /* the OPT must be the last record */
		return len;
	size_t tl = text ? strnlen(text, UINT16_MAX) : 0;
	if (rdlen + 6 + tl > UINT16_MAX || tl > cap - len || 6 > cap - len - tl)
		tl = 0;   /* the INFO-CODE alone still says why */
	if (rdlen + 6 > UINT16_MAX || 6 > cap - len)
		return len;
	uint8_t *p = out + len;
	put16(p, WIRE_OPT_EDE);
	put16(p + 2, (uint16_t)(2 + tl));
	put16(p + 4, info_code);
	if (tl)
		memcpy(p + 6, text, tl);
	put16(out + at, (uint16_t)(rdlen + 6 + tl));
	return len + 6 + tl;
}
