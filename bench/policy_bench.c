/*
 * policy_bench.c: how fast a big policy loads and how fast it matches.
 *
 * Writes a policy file with N domains (default 1,000,000) spread over a few
 * rules, and a tiny config that names it; then times cfg_load (the YAML
 * parse), policy_new (the snapshot), reports memory (snapshot bytes, RSS at
 * each step, peak RSS), and counts policy_decide calls per second on one
 * core over pre-generated wire qnames: half a few labels below an entry,
 * half matching nothing. Prints a short table.
 *
 *   policy_bench [-n DOMAINS] [-q QNAMES] [-s SECONDS] [-d DIR] [-k]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/dname.h"
#include "policy/policy.h"

#define BENCH_RULES 4
#define BENCH_STRIDE 64 /* bytes per pre-generated qname; all fit */

static double bench_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bench_now(void)
{
	return bench_clock(CLOCK_MONOTONIC);
}

/* CPU time of this thread: on a busy machine, wall time also counts the
 * time other processes held the core. */
static double bench_cpu(void)
{
	return bench_clock(CLOCK_THREAD_CPUTIME_ID);
}

/* VmRSS or VmHWM from /proc/self/status, in KiB; 0 if unreadable. */
static long bench_status_kib(const char *key)
{
	char line[256];
	long kib = 0;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			kib = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kib;
}

static long bench_peak_kib(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return bench_status_kib("VmHWM");
	return ru.ru_maxrss; /* KiB on Linux */
}

/* A small deterministic generator, so every run sees the same names. */
static uint64_t bench_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The zone of entry i: "w<i>.shop-<j>.example" with j spread over 1000. */
static unsigned bench_shop(unsigned i)
{
	return (unsigned)((i * 2654435761u) >> 8) % 1000;
}

static int bench_write_policy(const char *path, unsigned n)
{
	static const char *actions[BENCH_RULES] = {"nxdomain", "refuse", "sinkhole", "nodata"};
	/* three rules in force at the lookup time, one still audited */
	static const char *effective[BENCH_RULES] = {"2024-07-20T00:00:00-04:00", "2024-09-29T04:00:00Z",
						     "2024-10-01", "2030-01-01"};
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "vendor: bench\nname: Generated\nbasis: policy_bench\nede: 16\nrules:\n");
	for (unsigned r = 0; r < BENCH_RULES; r++) {
		fprintf(f, "  - id: rule-%u\n    effective: %s\n    action: %s\n    domains:\n", r, effective[r],
			actions[r]);
		for (unsigned i = r; i < n; i += BENCH_RULES)
			fprintf(f, "      - w%u.shop-%u.example\n", i, bench_shop(i));
		fprintf(f, "    hosts:\n");
		for (unsigned i = r; i < 400; i += BENCH_RULES)
			fprintf(f, "      - h%u.cdn-%u.example\n", i, bench_shop(i));
	}
	fprintf(f, "allow:\n");
	for (unsigned i = 0; i < 100 && i < n; i++)
		fprintf(f, "  - ok.w%u.shop-%u.example\n", i * 7, bench_shop(i * 7));
	return fclose(f) == 0 ? 0 : -1;
}

static int bench_write_config(const char *path, const char *policy_file)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "policies:\n  - %s\n", policy_file);
	return fclose(f) == 0 ? 0 : -1;
}

/* Half below an entry (one to three labels deeper), half matching nothing. */
static uint8_t *bench_qnames(unsigned n_domains, size_t count)
{
	static const char *prefix[] = {"www", "api", "cdn.img", "a.b.c", "static", "m"};
	static const char *other[] = {"com", "net", "org", "example.com", "co.uk"};
	uint8_t *out = calloc(count, BENCH_STRIDE);
	uint64_t s = 0x9E3779B97F4A7C15ull;
	char text[DNAME_STR_MAX];
	size_t len;
	const char *why;

	if (!out)
		return NULL;
	for (size_t k = 0; k < count; k++) {
		uint64_t r = bench_rand(&s);
		unsigned i = (unsigned)(r >> 20) % (n_domains ? n_domains : 1);
		const char *pre = prefix[(r >> 8) % 6];
		if (r & 1)
			snprintf(text, sizeof text, "%s.w%u.shop-%u.example", pre, i, bench_shop(i));
		else if (r & 2) /* a near miss: the same shape, a zone with no entry */
			snprintf(text, sizeof text, "%s.w%u.shop-%u.example", pre, i + n_domains, bench_shop(i));
		else
			snprintf(text, sizeof text, "%s.site-%u.%s", pre, i, other[(r >> 12) % 5]);
		if (dname_from_str(text, out + k * BENCH_STRIDE, &len, &why) != 0 || len > BENCH_STRIDE) {
			fprintf(stderr, "bad generated name %s\n", text);
			free(out);
			return NULL;
		}
	}
	return out;
}

static void bench_usage(void)
{
	fprintf(stderr, "usage: policy_bench [-n DOMAINS] [-q QNAMES] [-s SECONDS] [-d DIR] [-k]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned n = 1000000;
	size_t n_q = 1u << 18;
	double seconds = 2.0;
	const char *dir = NULL;
	bool keep = false;
	int opt;

	while ((opt = getopt(argc, argv, "n:q:s:d:kh")) != -1) {
		switch (opt) {
		case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'q': n_q = strtoul(optarg, NULL, 10); break;
		case 's': seconds = strtod(optarg, NULL); break;
		case 'd': dir = optarg; break;
		case 'k': keep = true; break;
		default: bench_usage();
		}
	}
	if (n_q == 0 || seconds <= 0)
		bench_usage();

	char tmpl[] = "/tmp/policy_bench.XXXXXX", pol[4096], conf[4096];
	if (!dir && !(dir = mkdtemp(tmpl))) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(pol, sizeof pol, "%s/bench.yaml", dir);
	snprintf(conf, sizeof conf, "%s/embargo.yaml", dir);
	double t = bench_now();
	if (bench_write_policy(pol, n) != 0 || bench_write_config(conf, "bench.yaml") != 0) {
		fprintf(stderr, "policy_bench: writing %s: %s\n", dir, strerror(errno));
		return 1;
	}
	struct stat st;
	stat(pol, &st);
	double t_gen = bench_now() - t;
	long rss_start = bench_status_kib("VmRSS");

	/* load: parse, then build, then the cfg goes */
	cfg_diags d = {0};
	t = bench_now();
	cfg *c = cfg_load(conf, &d);
	double t_parse = bench_now() - t;
	if (!c) {
		cfg_diags_print(&d, stderr);
		return 1;
	}
	long rss_cfg = bench_status_kib("VmRSS");
	t = bench_now();
	policy *p = policy_new(c, &d);
	double t_build = bench_now() - t;
	if (!p) {
		cfg_diags_print(&d, stderr);
		return 1;
	}
	long rss_both = bench_status_kib("VmRSS");
	cfg_free(c);
	cfg_diags_free(&d);
	long rss_policy = bench_status_kib("VmRSS");
	long peak_load = bench_peak_kib(), hwm = bench_status_kib("VmHWM");
	/* the three readings come from different counters; report the largest */
	if (hwm > peak_load)
		peak_load = hwm;
	if (rss_both > peak_load)
		peak_load = rss_both;

	uint8_t *q = bench_qnames(n, n_q);
	if (!q)
		return 1;
	cfg_ip client = {.family = 4, .addr = {192, 0, 2, 7}};
	const int64_t now = 1735689600; /* 2025-01-01T00:00:00Z */
	size_t verdicts[4] = {0}, passes = 0;
	volatile unsigned sink = 0; /* the verdicts are used, so no call is dropped */
	policy_match m;
	for (size_t k = 0; k < n_q; k++) { /* warm up, and count the mix */
		policy_decide(p, q + k * BENCH_STRIDE, 1, &client, now, &m);
		verdicts[m.verdict]++;
	}
	double t0 = bench_now(), c0 = bench_cpu(), el;
	do {
		unsigned acc = 0;
		for (size_t k = 0; k < n_q; k++) {
			policy_decide(p, q + k * BENCH_STRIDE, 1, &client, now, &m);
			acc += m.verdict;
		}
		sink += acc;
		passes++;
		el = bench_now() - t0;
	} while (el < seconds);
	double cpu = bench_cpu() - c0;
	double rate = (double)passes * (double)n_q / el, rate_cpu = (double)passes * (double)n_q / cpu;

	printf("policy_bench: %u domains, %zu qnames, policy file %.1f MiB (written in %.2f s)\n", n, n_q,
	       (double)st.st_size / 1048576.0, t_gen);
	printf("  %-28s %10.3f s\n", "parse (cfg_load)", t_parse);
	printf("  %-28s %10.3f s\n", "build (policy_new)", t_build);
	printf("  %-28s %10.3f s\n", "load total", t_parse + t_build);
	printf("  %-28s %10zu\n", "entries", policy_entry_count(p));
	printf("  %-28s %10.1f MiB\n", "snapshot", (double)policy_memory(p) / 1048576.0);
	printf("  %-28s %10.1f MiB\n", "RSS before load", rss_start / 1024.0);
	printf("  %-28s %10.1f MiB\n", "RSS after parse", rss_cfg / 1024.0);
	printf("  %-28s %10.1f MiB\n", "RSS after build", rss_both / 1024.0);
	printf("  %-28s %10.1f MiB\n", "RSS after cfg_free", rss_policy / 1024.0);
	printf("  %-28s %10.1f MiB\n", "peak RSS (load)", peak_load / 1024.0);
	printf("  %-28s %10.2f M/s\n", "lookups/s (1 core, CPU time)", rate_cpu / 1e6);
	printf("  %-28s %10.2f M/s\n", "lookups/s (wall time)", rate / 1e6);
	printf("  %-28s %10.0f ns\n", "per lookup (CPU time)", cpu * 1e9 / ((double)passes * (double)n_q));
	(void)sink; /* a volatile read: the sum is "used" */
	printf("  %-28s %.1f%% block, %.1f%% audit, %.1f%% pass\n", "mix", 100.0 * verdicts[POLICY_BLOCK] / n_q,
	       100.0 * verdicts[POLICY_AUDIT] / n_q, 100.0 * verdicts[POLICY_PASS] / n_q);

	free(q);
	policy_free(p);
	if (!keep) {
		unlink(pol);
		unlink(conf);
		if (dir == tmpl)
			rmdir(dir);
	}
	return 0;
}
