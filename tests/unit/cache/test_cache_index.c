/*
 * test_cache_index.c: the cache's own machinery: the open-addressing index
 * under churn (against a model), its growth from CACHE_INDEX_FIRST to the
 * limit (a few cells moved with each insert) and back at a flush, the slab (big entries, memory given back),
 * 32-bit times (a rebase after 49 days), long lifetimes.
 */
#include "cache_test.h"
#include "resolver/cache_impl.h"   /* index_cap, n_cells: the index's growth */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void name_of(char *buf, size_t cap, int i)
{
	/* lengths from 1 to 30 labels' worth: many size classes */
	snprintf(buf, cap, "%.*sn%d.example.com", i % 23, "abcdefghijklmnopqrstuvw", i);
}

/* An answer whose A record says which name it is for. */
static ldns_pkt *named_reply(int i, uint32_t ttl)
{
	char name[96], rr[256];
	name_of(name, sizeof(name), i);
	ldns_pkt *p = ct_reply(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	snprintf(rr, sizeof(rr), "%s. %u IN A 10.%d.%d.%d", name, ttl, (i >> 16) & 255,
		 (i >> 8) & 255, i & 255);
	ct_push(p, LDNS_SECTION_ANSWER, rr);
	return p;
}

static void q_of(wire_query *q, int i)
{
	char name[96];
	name_of(name, sizeof(name), i);
	ct_upstream_q(q, name, LDNS_RR_TYPE_A, false, false);
}

/* -1: a miss; else the i the answer's A record names. */
static int lookup(cache *c, int i, uint64_t now)
{
	wire_query q;
	cache_hit hit;
	q_of(&q, i);
	ldns_pkt *p = ct_answer(c, &q, now, 1232, &hit);
	if (p == NULL)
		return -1;
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	const uint8_t *a = ldns_rdf_data(ldns_rr_rdf(rr, 0));
	int got = a[1] << 16 | a[2] << 8 | a[3];
	ldns_pkt_free(p);
	return got;
}

/*
 * Random inserts, replacements, lookups and expiries over 400 names in a
 * 64-entry cache: every hit is the right name's answer, every name just
 * stored is found, and the names found are exactly as many as the cache
 * counts.
 */
static void test_churn(void **state)
{
	(void)state;
	cache *c = ct_cache(64, NULL);
	uint32_t seed = 12345;
	uint64_t now = T0;

	for (int step = 0; step < 4000; step++) {
		seed = seed * 1103515245u + 12345u;
		int i = (int)((seed >> 8) % 400);
		now += (seed >> 20) % 50;
		if ((seed >> 4) % 3) {
			wire_query q;
			q_of(&q, i);
			assert_true(ct_insert(c, &q, named_reply(i, 1 + (seed >> 12) % 30), now));
			assert_int_equal(lookup(c, i, now), i);
		} else {
			int got = lookup(c, i, now);
			assert_true(got == -1 || got == i);
		}
		assert_true(cache_get_stats(c)->entries <= 64);
	}
	/* Without time passing, a lookup drops nothing: count what is there. */
	uint64_t n = 0;
	for (int i = 0; i < 400; i++)
		n += lookup(c, i, now) == i;
	const cache_stats *st = cache_get_stats(c);
	assert_int_equal(n, st->entries);
	/* Later, all expired: every lookup reclaims its entry, and the slab
	 * gives every block back. */
	for (int i = 0; i < 400; i++)
		assert_int_equal(lookup(c, i, now + 100000), -1);
	assert_int_equal(st->entries, 0);
	assert_int_equal(st->bytes, 0);
	/* Usable again. */
	wire_query q;
	q_of(&q, 7);
	assert_true(ct_insert(c, &q, named_reply(7, 60), now));
	assert_int_equal(lookup(c, 7, now), 7);
	cache_free(c);
}

/* Replies past the slab's largest class get a block of their own. */
static void test_big_entries(void **state)
{
	(void)state;
	cache *c = ct_cache(4, NULL);
	wire_query q;
	cache_hit hit;

	for (int k = 0; k < 6; k++) {
		char name[32];
		snprintf(name, sizeof(name), "big%d.example.com", k);
		ldns_pkt *r = ct_reply(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
		for (int i = 0; i < 100; i++) {
			char rr[128];
			snprintf(rr, sizeof(rr), "%s. 300 IN A 192.0.%d.%d", name, k, i + 1);
			ct_push(r, LDNS_SECTION_ANSWER, rr);
		}
		ct_upstream_q(&q, name, LDNS_RR_TYPE_A, false, false);
		assert_true(ct_insert(c, &q, r, T0));
		ldns_pkt *p = ct_answer(c, &q, T0 + 1000, WIRE_TCP_MAX, &hit);
		assert_int_equal(ldns_pkt_ancount(p), 100);
		ct_assert_ttls(p, 299);
		ldns_pkt_free(p);
	}
	const cache_stats *st = cache_get_stats(c);
	assert_int_equal(st->entries, 4);
	assert_int_equal(st->evictions, 2);
	assert_true(st->bytes > 4 * 1600);
	cache_flush(c);
	assert_int_equal(st->bytes, 0);
	cache_free(c);
}

/*
 * Times are 32-bit ms past a base: 49 days on, the base moves. Entries
 * born more than 12 days before go; younger ones keep their age.
 */
static void test_rebase(void **state)
{
	(void)state;
	cache *c = ct_cache(16, &(cache_opts){ .max_ttl = 30 * 86400 });
	const uint64_t day = 86400000;
	wire_query q;

	q_of(&q, 1);
	assert_true(ct_insert(c, &q, named_reply(1, 300), T0));
	q_of(&q, 2);
	assert_true(ct_insert(c, &q, named_reply(2, 20 * 86400), T0 + 38 * day));
	q_of(&q, 3);
	assert_true(ct_insert(c, &q, named_reply(3, 20 * 86400), T0 + 48 * day));
	assert_int_equal(cache_get_stats(c)->entries, 3);
	/* 51 days after T0: past 2^32 ms from the first base. */
	uint64_t now = T0 + 51 * day;
	q_of(&q, 4);
	assert_true(ct_insert(c, &q, named_reply(4, 300), now));
	const cache_stats *st = cache_get_stats(c);
	assert_int_equal(st->entries, 2);     /* 1 (dead) and 2 (13 days old) went */
	assert_int_equal(lookup(c, 2, now), -1);
	assert_int_equal(st->expired, 1);
	assert_int_equal(st->evictions, 1);
	assert_int_equal(lookup(c, 3, now), 3);
	assert_int_equal(lookup(c, 4, now + 299999), 4);
	assert_int_equal(lookup(c, 4, now + 300000), -1);
	/* 3 still counts its age from T0 + 48 days. */
	cache_hit hit;
	q_of(&q, 3);
	ldns_pkt *p = ct_answer(c, &q, now, 1232, &hit);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 20 * 86400 - 3 * 86400);
	ldns_pkt_free(p);
	cache_free(c);
}

/* A lifetime past 9 hours is kept in whole minutes: the entry and its
 * TTLs end together, at most a minute early. */
static void test_long_life(void **state)
{
	(void)state;
	cache *c = ct_cache(16, &(cache_opts){ .max_ttl = 30 * 86400 });
	wire_query q;
	cache_hit hit;

	q_of(&q, 5);
	assert_true(ct_insert(c, &q, named_reply(5, 100000), T0));
	ldns_pkt *p = ct_answer(c, &q, T0, 1232, &hit);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 99960);
	assert_int_equal(hit.ttl_left, 99960);
	ldns_pkt_free(p);
	assert_int_equal(lookup(c, 5, T0 + 99959999), 5);
	assert_int_equal(lookup(c, 5, T0 + 99960000), -1);
	/* Up to 32767 s, to the second. */
	q_of(&q, 6);
	assert_true(ct_insert(c, &q, named_reply(6, 32767), T0));
	assert_int_equal(lookup(c, 6, T0 + 32766999), 6);
	assert_int_equal(lookup(c, 6, T0 + 32767000), -1);
	/* Past 22 days: capped there. */
	q_of(&q, 7);
	assert_true(ct_insert(c, &q, named_reply(7, 25 * 86400), T0));
	p = ct_answer(c, &q, T0, 1232, &hit);
	assert_int_equal(ct_ttl(p, LDNS_SECTION_ANSWER, 0), 0x7FFF * 60);
	ldns_pkt_free(p);
	cache_free(c);
}

/* Over a full revolution, the clock keeps what is hit among sizes that
 * differ (entries of other sizes land on other slab pages). */
static void test_clock_across_sizes(void **state)
{
	(void)state;
	cache *c = ct_cache(32, NULL);
	wire_query q;

	for (int i = 0; i < 32; i++) {
		q_of(&q, i);
		assert_true(ct_insert(c, &q, named_reply(i, 300), T0));
	}
	for (int round = 0; round < 5; round++) {
		/* 0..7 are hit every round; 32 newcomers a round push the rest out */
		for (int i = 0; i < 8; i++)
			assert_int_equal(lookup(c, i, T0), i);
		for (int k = 0; k < 24; k++) {
			int i = 100 + round * 24 + k;
			q_of(&q, i);
			assert_true(ct_insert(c, &q, named_reply(i, 300), T0));
		}
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(lookup(c, i, T0), i);
	assert_int_equal(cache_get_stats(c)->entries, 32);
	cache_free(c);
}

/* Name i of the filter test: the root, names shorter than 8 octets on the
 * wire (the filter reads those apart), and longer ones; upper-cased or not. */
static void fname(char *buf, size_t cap, int i, bool upper)
{
	static const char *const fixed[] = { ".", "a.", "b.", "ab.", "x.y.", "abc.d.", "q.r.s." };
	int nf = (int)(sizeof(fixed) / sizeof(fixed[0]));
	if (i < nf)
		snprintf(buf, cap, "%s", fixed[i]);
	else
		snprintf(buf, cap, "%.*sf%d.example.", (i * 7) % 29, "abcdefghijklmnopqrstuvwxyzabc", i);
	for (char *p = buf; upper && *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
}

static int flookup(cache *c, int i, bool upper, uint64_t now)
{
	char name[96];
	wire_query q;
	cache_hit hit;
	fname(name, sizeof(name), i, upper);
	ct_upstream_q(&q, name, LDNS_RR_TYPE_A, false, false);
	ldns_pkt *p = ct_answer(c, &q, now, 1232, &hit);
	if (p == NULL)
		return -1;
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	const uint8_t *a = ldns_rdf_data(ldns_rr_rdf(rr, 0));
	int got = a[2] << 8 | a[3];
	ldns_pkt_free(p);
	return got;
}

/* cache_answer_filtered, which skips the filter, answers as cache_answer
 * does; and where the filter says no, cache_answer finds nothing. */
static void check_filtered(cache *c, int i, uint64_t now)
{
	char name[96];
	wire_query q;
	uint8_t a[1232], b[1232];
	cache_hit ha, hb;
	fname(name, sizeof(name), i, true);
	ct_upstream_q(&q, name, LDNS_RR_TYPE_A, false, false);
	size_t na = cache_answer(c, &q, now, a, sizeof(a), &ha);
	size_t nb = cache_answer_filtered(c, &q, now, b, sizeof(b), &hb);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	assert_int_equal(ha.hit, hb.hit);
	if (!cache_may_have(c, &q))
		assert_int_equal(na, 0);
}

static void finsert(cache *c, int i, uint64_t now)
{
	char name[96], rr[160];
	wire_query q;
	fname(name, sizeof(name), i, false);
	ct_upstream_q(&q, name, LDNS_RR_TYPE_A, false, false);
	ldns_pkt *p = ct_reply(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	snprintf(rr, sizeof(rr), "%s 300 IN A 10.0.%d.%d", name, (i >> 8) & 255, i & 255);
	ct_push(p, LDNS_SECTION_ANSWER, rr);
	assert_true(ct_insert(c, &q, p, now));
}

/*
 * The miss filter (cache_impl.h) never hides an entry: in a 4-entry cache
 * (16 filter slots, so slots are shared and their counts go up and down
 * with evictions), every name just stored is found when asked in another
 * case, the names found are as many as the cache counts, and after a
 * flush nothing is found until stored again. Misses are still counted.
 */
static void test_filter_never_hides(void **state)
{
	(void)state;
	cache *c = ct_cache(4, NULL);
	uint32_t seed = 777;

	for (int step = 0; step < 3000; step++) {
		seed = seed * 1103515245u + 12345u;
		int i = (int)((seed >> 8) % 60);
		if ((seed >> 4) % 2) {
			finsert(c, i, T0);
			assert_int_equal(flookup(c, i, (seed >> 12) & 1, T0), i);
		} else {
			int got = flookup(c, i, (seed >> 12) & 1, T0);
			assert_true(got == -1 || got == i);
			check_filtered(c, i, T0);
		}
	}
	uint64_t n = 0;
	for (int i = 0; i < 60; i++)
		n += flookup(c, i, true, T0) == i;
	assert_int_equal(n, cache_get_stats(c)->entries);

	cache_flush(c);
	uint64_t misses = cache_get_stats(c)->misses;
	for (int i = 0; i < 60; i++)
		assert_int_equal(flookup(c, i, false, T0), -1);
	assert_int_equal(cache_get_stats(c)->misses, misses + 60);
	for (int i = 0; i < 4; i++) {
		finsert(c, i, T0);
		assert_int_equal(flookup(c, i, true, T0), i);
	}
	cache_free(c);
}

/*
 * The index starts at CACHE_INDEX_FIRST entries and doubles up to the
 * limit (here 5,000: 1,024 -> 2,048 -> 4,096 -> 5,000) as entries come in,
 * without an eviction on the way; every entry stays findable across each
 * growth, the filter included; at the limit the clock evicts; a flush
 * makes the index small again, and it grows again after.
 */
static void test_index_grows(void **state)
{
	(void)state;
	enum { N = 5000 };
	cache *c = ct_cache(N, NULL);
	const cache_stats *st = cache_get_stats(c);
	assert_int_equal(c->index_cap, CACHE_INDEX_FIRST);
	uint32_t small_cells = c->n_cells;
	uint32_t seen[4] = { 0 };
	size_t n_seen = 0;

	for (int i = 0; i < N; i++) {
		wire_query q;
		q_of(&q, i);
		assert_true(ct_insert(c, &q, named_reply(i, 300), T0));
		if (n_seen == 0 || seen[n_seen - 1] != c->index_cap) {
			assert_true(n_seen < 4);
			seen[n_seen++] = c->index_cap;
			/* at each growth, everything stored before is still there */
			for (int j = 0; j <= i; j += 97)
				assert_int_equal(lookup(c, j, T0), j);
		}
		assert_true(5 * (uint64_t)st->entries <= 4 * (uint64_t)c->n_cells);
	}
	assert_int_equal(n_seen, 4);
	assert_int_equal(seen[1], 2 * CACHE_INDEX_FIRST);
	assert_int_equal(seen[2], 4 * CACHE_INDEX_FIRST);
	assert_int_equal(seen[3], N);
	assert_int_equal(st->entries, N);
	assert_int_equal(st->evictions, 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(lookup(c, i, T0), i);

	/* full: one more name evicts one */
	wire_query q;
	q_of(&q, N);
	assert_true(ct_insert(c, &q, named_reply(N, 300), T0));
	assert_int_equal(st->entries, N);
	assert_int_equal(st->evictions, 1);
	assert_int_equal(c->index_cap, N);

	cache_flush(c);
	assert_int_equal(c->index_cap, CACHE_INDEX_FIRST);
	assert_int_equal(c->n_cells, small_cells);
	for (int i = 0; i < N; i += 13)
		assert_int_equal(lookup(c, i, T0), -1);
	for (int i = 0; i < 2 * CACHE_INDEX_FIRST; i++) {
		q_of(&q, i);
		assert_true(ct_insert(c, &q, named_reply(i, 300), T0));
	}
	assert_int_equal(c->index_cap, 2 * CACHE_INDEX_FIRST);
	for (int i = 0; i < 2 * CACHE_INDEX_FIRST; i++)
		assert_int_equal(lookup(c, i, T0), i);
	cache_free(c);
}

static void insert_ttl(cache *c, int i, uint32_t ttl, uint64_t now)
{
	wire_query q;
	q_of(&q, i);
	assert_true(ct_insert(c, &q, named_reply(i, ttl), now));
}

/* Where the index holds name i: 1 in cells, 2 not moved yet (old_cells),
 * 0 nowhere. */
static int where(cache *c, int i)
{
	wire_query q;
	cache_key k;
	q_of(&q, i);
	cache_key_make(c, &q, &k);
	long at = cache_find(c, &k);
	return at < 0 ? 0 : (uint64_t)at < c->n_cells ? 1 : 2;
}

/* Names 0..n-1 that are there: found, the right answer, and the filter
 * lets them through; returns how many. */
static uint64_t count_found(cache *c, int n, uint64_t now)
{
	uint64_t found = 0;
	for (int i = 0; i < n; i++) {
		int got = lookup(c, i, now);
		assert_true(got == -1 || got == i);
		if (got == i) {
			wire_query q;
			q_of(&q, i);
			assert_true(cache_may_have(c, &q));
			found++;
		}
	}
	return found;
}

/*
 * A growth moves the old cells a few with each insert (cache_impl.h):
 * while it does, entries not moved yet are found, answered, replaced,
 * expired and evicted where they are, the filter hides none of them, and
 * the growth ends with every cell moved and the bigger filter in place. A
 * flush in the middle drops it.
 */
static void test_growth_moves_gradually(void **state)
{
	(void)state;
	enum { F = CACHE_INDEX_FIRST, N = 2 * CACHE_INDEX_FIRST + 52 };
	cache *c = ct_cache(N, NULL);
	const cache_stats *st = cache_get_stats(c);
	uint64_t now = T0;

	/* even names live 1 s, odd ones 300 s */
	for (int i = 0; i < F; i++)
		insert_ttl(c, i, i % 2 ? 300 : 1, now);
	assert_null(c->old_cells);
	unsigned small_bits = c->filter_bits;
	insert_ttl(c, F, 300, now);   /* the growth starts */
	assert_non_null(c->old_cells);
	assert_int_equal(c->index_cap, 2 * F);
	assert_int_equal(c->filter_bits, small_bits);  /* the old filter, until the end */
	int in_old = 0, in_cells = 0;
	for (int i = 0; i <= F; i++) {
		int w = where(c, i);
		assert_true(w != 0);
		in_old += w == 2;
		in_cells += w == 1;
	}
	assert_true(in_old > F / 2);   /* most not moved yet */
	assert_true(in_cells >= 1);
	assert_int_equal(count_found(c, F + 1, now), F + 1);

	/* an old one replaced stays one entry, with the new answer */
	int r = -1;
	for (int i = 1; i < F && r < 0; i += 2)
		if (where(c, i) == 2)
			r = i;
	assert_true(r > 0);
	insert_ttl(c, r, 600, now);
	assert_int_equal(where(c, r) != 0, 1);
	assert_int_equal(st->entries, F + 1);
	assert_int_equal(lookup(c, r, now), r);

	/* 2 s on, the even names expire: asking for them drops them, wherever
	 * they are; the odd ones stay */
	now += 2000;
	for (int i = 0; i < F; i += 2)
		assert_int_equal(lookup(c, i, now), -1);
	assert_int_equal(st->entries, F / 2 + 1);
	assert_int_equal(count_found(c, F + 1, now), F / 2 + 1);

	/* more inserts move the rest: the growth ends, tombs and all */
	int next = F + 1;
	while (c->old_cells != NULL && next < 2 * F)
		insert_ttl(c, next++, 300, now);
	assert_null(c->old_cells);
	assert_null(c->grow_filter);
	assert_true(c->filter_bits > small_bits);
	assert_true(next - (F + 1) <= (int)(2 * F + 8) / 8 + 1);  /* CACHE_MOVE_STEP cells an insert */
	assert_int_equal(count_found(c, next, now), st->entries);

	/* to the limit: the last growth (to N) cannot end before the cache is
	 * full, so the clock evicts entries from both tables meanwhile */
	while (st->entries < 2 * F)
		insert_ttl(c, next++, 300, now);
	insert_ttl(c, next++, 300, now);
	assert_non_null(c->old_cells);
	assert_int_equal(c->index_cap, N);
	int last = next;
	while (c->old_cells != NULL) {
		insert_ttl(c, next, 300, now);
		assert_int_equal(lookup(c, next, now), next);
		next++;
		assert_true(st->entries <= N);
	}
	assert_true(st->evictions > 0);
	assert_true(next > last + 52);
	assert_int_equal(count_found(c, next, now), st->entries);

	/* a flush in the middle of a growth */
	cache_flush(c);
	for (int i = 0; i <= F; i++)
		insert_ttl(c, i, 300, now);
	assert_non_null(c->old_cells);
	cache_flush(c);
	assert_null(c->old_cells);
	assert_null(c->grow_filter);
	assert_int_equal(c->index_cap, F);
	assert_int_equal(count_found(c, F + 1, now), 0);
	for (int i = 0; i <= F; i++)
		insert_ttl(c, i, 300, now);
	assert_int_equal(count_found(c, F + 1, now), F + 1);
	cache_free(c);   /* in the middle of a growth again: ASan sees the rest freed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_big_entries),
		cmocka_unit_test(test_rebase),
		cmocka_unit_test(test_long_life),
		cmocka_unit_test(test_clock_across_sizes),
		cmocka_unit_test(test_filter_never_hides),
		cmocka_unit_test(test_index_grows),
		cmocka_unit_test(test_growth_moves_gradually),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
