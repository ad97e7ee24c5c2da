/*
 * cache_bench.c: hits per second and memory of the response cache.
 *
 * Fills a 100,000-entry cache with typical A answers (two A records, two NS
 * in authority, an OPT: 115 octets on the wire, built by hand), stored as
 * the daemon does by default (minimal-responses: the NS go), then answers
 * queries in mixed case: first over a hot set of 1,000 names (the issue's
 * cache-hit run), then uniformly over all 100,000 (the CPU caches no
 * longer help). Reports inserts/s, hits/s and the RSS the entries and the
 * index take. Not run in CI:
 * `ninja -C build bench/cache_bench && build/bench/cache_bench [secs [hot|full]]`
 * (hot: the hot set only, for perf; full: minimal-responses off).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resolver/cache.h"

#define N_ENTRIES 100000
#define N_NAMES 100000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void u16(uint8_t *b, size_t *n, unsigned v)
{
	b[(*n)++] = (uint8_t)(v >> 8);
	b[(*n)++] = (uint8_t)v;
}

static void u32(uint8_t *b, size_t *n, uint32_t v)
{
	u16(b, n, v >> 16);
	u16(b, n, v & 0xFFFF);
}

/* "h%05u.example.com" in wire form: 23 octets; the digits at [2, 7). */
static size_t name(uint8_t *b, unsigned i, bool upper)
{
	char s[8];
	snprintf(s, sizeof(s), "%05u", i % 100000);
	b[0] = 6;
	b[1] = upper ? 'H' : 'h';
	memcpy(b + 2, s, 5);
	memcpy(b + 7, upper ? "\7EXAMPLE\3com" : "\7example\3com", 13);
	return 20;
}

static size_t query(uint8_t *b, unsigned i, bool upper)
{
	size_t n = 0;
	u16(b, &n, 0x1234);
	u16(b, &n, 0x0100);
	u16(b, &n, 1);
	u16(b, &n, 0);
	u16(b, &n, 0);
	u16(b, &n, 1);
	n += name(b + n, i, upper);
	u16(b, &n, 1);
	u16(b, &n, 1);
	b[n++] = 0;               /* OPT */
	u16(b, &n, 41);
	u16(b, &n, 1232);
	u32(b, &n, 0);
	u16(b, &n, 0);
	return n;
}

static size_t reply(uint8_t *b, unsigned i)
{
	size_t n = 0;
	u16(b, &n, 0x1234);
	u16(b, &n, 0x8180);
	u16(b, &n, 1);
	u16(b, &n, 2);
	u16(b, &n, 2);
	u16(b, &n, 1);
	n += name(b + n, i, false);
	u16(b, &n, 1);
	u16(b, &n, 1);
	for (unsigned k = 0; k < 2; k++) {   /* A, owner -> question */
		u16(b, &n, 0xC00C);
		u16(b, &n, 1);
		u16(b, &n, 1);
		u32(b, &n, 3600);
		u16(b, &n, 4);
		u32(b, &n, 0xC0000200u | (i & 0xFF) | k << 8);
	}
	for (unsigned k = 0; k < 2; k++) {   /* example.com NS nsK.example.com */
		u16(b, &n, 0xC000 | 19);
		u16(b, &n, 2);
		u16(b, &n, 1);
		u32(b, &n, 86400);
		u16(b, &n, 6);
		b[n++] = 3;
		b[n++] = 'n';
		b[n++] = 's';
		b[n++] = (uint8_t)('1' + k);
		u16(b, &n, 0xC000 | 19);
	}
	b[n++] = 0;               /* OPT */
	u16(b, &n, 41);
	u16(b, &n, 1232);
	u32(b, &n, 0);
	u16(b, &n, 0);
	return n;
}

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* Hits over names [0, span) in random order, for about `secs` seconds. */
static void run_hits(cache *c, unsigned span, double secs, const char *label)
{
	uint8_t pkt[512], out[1232];
	wire_query q;
	cache_hit hit;
	uint32_t seed = 2463534242u;
	unsigned long n = 0, miss = 0;
	size_t bytes = 0;

	if (wire_parse_query(pkt, query(pkt, 0, true), &q) != WIRE_OK)
		abort();
	double t0 = now_s(), t;
	do {
		for (int k = 0; k < 4096; k++) {
			unsigned v = xorshift(&seed) % span;
			for (int d = 6; d >= 2; d--, v /= 10)
				q.qname[d] = (uint8_t)('0' + v % 10);
			q.id = (uint16_t)n;
			size_t len = cache_answer(c, &q, 5000, out, sizeof(out), &hit);
			bytes += len;
			miss += len == 0;
			n++;
		}
		t = now_s() - t0;
	} while (t < secs);
	printf("%-28s %10.0f hits/s  (%.0f ns each incl. setting the name; %lu misses; %zu B avg)\n",
	       label, (double)n / t, t * 1e9 / (double)n, miss, bytes / (n ? n : 1));
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	cache_opts o = {
		.entries = N_ENTRIES,
		.min_ttl = 0,
		.max_ttl = 86400,
		.servfail_ttl = 5,
		.stale_max = 0,
		.minimal = !(argc > 2 && strcmp(argv[2], "full") == 0),
		.seed = { 0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL },
	};
	uint8_t qb[512], rb[512];
	long rss0 = rss_kb();
	cache *c = cache_new(&o);

	if (c == NULL)
		return 1;
	long rss1 = rss_kb();
	size_t rlen = 0;
	double t0 = now_s();
	for (unsigned i = 0; i < N_NAMES; i++) {
		wire_query q;
		wire_reply r;
		rlen = reply(rb, i);
		if (wire_parse_query(qb, query(qb, i, false), &q) != WIRE_OK ||
		    wire_check_reply(rb, rlen, 0x1234, q.qname, q.qtype, q.qclass, &r) != WIRE_OK)
			abort();
		cache_insert(c, &q, rb, rlen, &r, 0);
	}
	double ti = now_s() - t0;
	long rss2 = rss_kb();
	const cache_stats *st = cache_get_stats(c);

	printf("cache_bench: %u entries, replies of %zu octets, minimal-responses %s\n", N_ENTRIES,
	       rlen, o.minimal ? "yes" : "no");
	printf("inserts (with parse+check)   %10.0f /s\n", N_NAMES / ti);
	printf("entries %llu, entry bytes %llu (%.1f per entry)\n", (unsigned long long)st->entries,
	       (unsigned long long)st->bytes, (double)st->bytes / (double)st->entries);
	printf("RSS: start %ld kB, empty cache %ld kB, full %ld kB: cache total %.1f MiB, "
	       "%.1f octets an entry\n", rss0, rss1, rss2, (double)(rss2 - rss0) / 1024.0,
	       (double)(rss2 - rss0) * 1024.0 / (double)st->entries);
	run_hits(c, 1000, secs, "hot set (1,000 names)");
	if (argc <= 2 || strcmp(argv[2], "hot") != 0)
		run_hits(c, N_NAMES, secs, "uniform (100,000 names)");
	cache_free(c);
	return 0;
}
