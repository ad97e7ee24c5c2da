/*
 * rpz_bench.c: how long the policy takes to become a Response Policy Zone,
 * and how much memory the zone holds.
 *
 * Loads a config and its policies (policy_bench -n 100000 -d DIR -k writes
 * a suitable one: four rules of four actions, one still audited, hosts and
 * allows), then times rpz_build at --at, rpz_print to a file, a second
 * rpz_build at a later instant and rpz_diff between the two, and reports
 * the resident memory after each step and the peak. CPU time of the thread,
 * so that other processes on the machine do not count.
 *
 *   rpz_bench CONFIG [AT] [OUT]     (AT: RFC 3339, default 2024-10-01;
 *                                    OUT: default /dev/null)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config/config.h"
#include "policy/policy.h"
#include "policy/rpz.h"

static double bench_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long bench_rss_kib(void)
{
	char line[256];
	long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static long bench_peak_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

int main(int argc, char **argv)
{
	const char *why = NULL;
	int64_t at, later;
	char err[256];

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: rpz_bench CONFIG [AT] [OUT]\n");
		return 2;
	}
	if (cfg_time_parse(argc > 2 ? argv[2] : "2024-10-01", &at, &why) < 0) {
		fprintf(stderr, "rpz_bench: bad time: %s\n", why);
		return 2;
	}
	later = at + 10 * 365 * 86400LL;
	cfg_diags d = { 0 };
	double t = bench_cpu();
	cfg *c = cfg_load(argv[1], &d);
	policy *p = c ? policy_new(c, &d) : NULL;
	if (!p) {
		cfg_diags_print(&d, stderr);
		return 1;
	}
	cfg_diags_free(&d);
	double t_load = bench_cpu() - t;
	long rss_policy = bench_rss_kib();

	rpz_params prm = { .origin = "rpz.embargo.", .serial = 1, .ttl = 300,
			   .sink4 = c->sinkhole.ipv4, .sink6 = c->sinkhole.ipv6 };
	t = bench_cpu();
	rpz_zone *z = rpz_build(p, at, &prm, err, sizeof err);
	double t_build = bench_cpu() - t;
	long rss_zone = bench_rss_kib();
	if (!z) {
		fprintf(stderr, "rpz_bench: %s\n", err);
		return 1;
	}

	FILE *out = fopen(argc > 3 ? argv[3] : "/dev/null", "w");
	if (!out) {
		perror("rpz_bench: open");
		return 1;
	}
	t = bench_cpu();
	int rc = rpz_print(out, z);
	long bytes = ftell(out);
	fclose(out);
	double t_print = bench_cpu() - t;

	prm.serial = 2;
	rpz_zone *z2 = rpz_build(p, later, &prm, err, sizeof err);
	ldns_rr_list *del = NULL, *add = NULL;
	t = bench_cpu();
	int rc2 = z2 ? rpz_diff(z, z2, &del, &add) : -1;
	double t_diff = bench_cpu() - t;
	long rss_two = bench_rss_kib();

	printf("policy: %zu entries, %zu names; load %.3f s CPU, RSS %ld KiB\n", policy_entry_count(p),
	       policy_name_count(p), t_load, rss_policy);
	printf("rpz_build: %zu records, %.3f s CPU, +%ld KiB RSS (%.0f bytes a record)\n", rpz_rr_count(z),
	       t_build, rss_zone - rss_policy, 1024.0 * (double)(rss_zone - rss_policy) / (double)rpz_rr_count(z));
	printf("rpz_print: %ld bytes, %.3f s CPU%s\n", bytes, t_print, rc ? " (write error)" : "");
	if (rc2 == 0)
		printf("rpz_diff: %zu deleted, %zu added, %.3f s CPU (second zone: %zu records, RSS %ld KiB)\n",
		       ldns_rr_list_rr_count(del), ldns_rr_list_rr_count(add), t_diff, rpz_rr_count(z2), rss_two);
	printf("peak RSS: %ld KiB\n", bench_peak_kib());
	ldns_rr_list_deep_free(del);
	ldns_rr_list_deep_free(add);
	rpz_free(z2);
	rpz_free(z);
	policy_free(p);
	cfg_free(c);
	return rc || rc2 ? 1 : 0;
}
