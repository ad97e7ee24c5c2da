/*
 * ratelimit.c: token buckets per client network in a fixed table (see
 * ratelimit.h).
 *
 * Tokens are counted in thousandths, so that a bucket refills smoothly at
 * any rate: qps thousandths per millisecond. A set holds 4 buckets; a
 * network not in its set takes the set's free bucket, else the least
 * recently used one. A flood from many (spoofed) sources therefore churns
 * the cold buckets and leaves a busy network's bucket alone: its own
 * queries keep it the most recently used of its set.
 */
#include "resolver/ratelimit.h"
#include "resolver/siphash.h"

#include <stdlib.h>
#include <string.h>

#define WAYS 4
#define MILLI 1000u

typedef struct rl_bucket {
	uint64_t key[2];       /* the address cut to its prefix */
	uint64_t last_ms;      /* when tokens were last added */
	uint64_t used;         /* the table's use count at its last query: recency */
	uint32_t mtok;         /* tokens, in thousandths */
	uint8_t family;        /* 4 or 6; 0: unused */
} rl_bucket;

struct ratelimit {
	ratelimit_opts o;
	uint32_t mask;         /* sets - 1 */
	rl_bucket *b;          /* (mask + 1) * WAYS */
	uint64_t uses;         /* queries seen: the recency clock */
	ratelimit_stats st;
};

ratelimit *ratelimit_new(const ratelimit_opts *o)
{
	if (!o || !o->qps || !o->burst)
		return NULL;
	ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->o = *o;
	if (rl->o.ipv4_prefix > 32)
		rl->o.ipv4_prefix = 32;
	if (rl->o.ipv6_prefix > 128)
		rl->o.ipv6_prefix = 128;
	uint32_t sets = 1;
	while ((uint64_t)sets * WAYS < o->entries && sets < (1u << 30))
		sets <<= 1;
	rl->mask = sets - 1;
	rl->b = calloc((size_t)sets * WAYS, sizeof(rl_bucket));
	if (!rl->b) {
		free(rl);
		return NULL;
	}
	return rl;
}

void ratelimit_free(ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->b);
	free(rl);
}

bool ratelimit_same(const ratelimit *rl, const ratelimit_opts *o)
{
	return rl && o && rl->o.qps == o->qps && rl->o.burst == o->burst &&
	       rl->o.ipv4_prefix == (o->ipv4_prefix > 32 ? 32 : o->ipv4_prefix) &&
	       rl->o.ipv6_prefix == (o->ipv6_prefix > 128 ? 128 : o->ipv6_prefix) &&
	       rl->o.entries == o->entries;
}

ratelimit_stats ratelimit_get_stats(const ratelimit *rl)
{
	ratelimit_stats none = { 0 };
	return rl ? rl->st : none;
}

/* SipHash-1-3 (Aumasson, Bernstein) of two words and a final one. */

static uint64_t rl_hash(const uint64_t k[2], uint64_t m0, uint64_t m1, uint64_t last)
{
	uint64_t v0 = k[0] ^ 0x736f6d6570736575ULL, v1 = k[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k[0] ^ 0x6c7967656e657261ULL, v3 = k[1] ^ 0x7465646279746573ULL;
	const uint64_t m[3] = { m0, m1, last };
	for (int i = 0; i < 3; i++) {
		v3 ^= m[i];
		SIPROUND;
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* The first `bits` bits of 16 octets, as two big-endian words. */
static void cut(const uint8_t *a, unsigned octets, unsigned bits, uint64_t out[2])
{
	uint8_t x[16] = { 0 };
	unsigned whole = bits / 8;
	memcpy(x, a, whole < octets ? whole : octets);
	if (bits % 8 && whole < octets)
		x[whole] = (uint8_t)(a[whole] & (0xff00u >> (bits % 8)));
	out[0] = out[1] = 0;
	for (int i = 0; i < 8; i++) {
		out[0] = out[0] << 8 | x[i];
		out[1] = out[1] << 8 | x[8 + i];
	}
}

/* Adds the tokens earned since b->last_ms, up to the burst. */
static void refill(const ratelimit *rl, rl_bucket *b, uint64_t now_ms)
{
	uint64_t full = (uint64_t)rl->o.burst * MILLI;
	if (now_ms > b->last_ms) {
		uint64_t add = (now_ms - b->last_ms) * rl->o.qps;  /* thousandths */
		uint64_t t = b->mtok + (add < full ? add : full);
		b->mtok = (uint32_t)(t < full ? t : full);
		b->last_ms = now_ms;
	}
}

bool ratelimit_allow(ratelimit *rl, const cfg_ip *ip, uint64_t now_ms)
{
	uint64_t key[2];
	uint8_t fam = ip->family == 6 ? 6 : 4;
	if (fam == 4)
		cut(ip->addr, 4, rl->o.ipv4_prefix, key);
	else
		cut(ip->addr, 16, rl->o.ipv6_prefix, key);
	uint64_t h = rl_hash(rl->o.seed, key[0], key[1], fam);
	rl_bucket *set = &rl->b[(size_t)(h & rl->mask) * WAYS], *b = NULL, *victim = NULL;
	for (int i = 0; i < WAYS; i++) {
		rl_bucket *x = &set[i];
		if (x->family == fam && x->key[0] == key[0] && x->key[1] == key[1]) {
			b = x;
			break;
		}
		if (!victim || (victim->family && (!x->family || x->used < victim->used)))
			victim = x;
	}
	if (!b) {
		b = victim;
		if (b->family) {
			refill(rl, b, now_ms);
			if (b->mtok < (uint64_t)rl->o.burst * MILLI)
				rl->st.evicted++;  /* it had not earned its bucket back yet */
		} else {
			rl->st.used++;
		}
		b->family = fam;
		b->key[0] = key[0];
		b->key[1] = key[1];
		b->mtok = rl->o.burst * MILLI;
		b->last_ms = now_ms;
	} else {
		refill(rl, b, now_ms);
	}
	/* A refused query counts as use too: the flooder keeps its bucket. */
	b->used = ++rl->uses;
	if (b->mtok >= MILLI) {
		b->mtok -= MILLI;
		rl->st.allowed++;
		return true;
	}
	rl->st.limited++;
	return false;
}
