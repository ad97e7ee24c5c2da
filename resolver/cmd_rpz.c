/*
 * cmd_rpz.c: `embargo rpz`: prints the policy in force at one instant as a
 * Response Policy Zone (policy/rpz.h), for resolvers of a fleet that read
 * RPZ files (Knot Resolver's policy.rpz, BIND's response-policy, Unbound's
 * rpz:, PowerDNS's rpzFile).
 *
 * The default serial only grows across policy edits and cutoffs without
 * keeping any state: it is the latest of the rule instants (effective,
 * until) at or before --at and the newest modification time of the config
 * and policy files (and their folders, so that removing a file counts).
 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "policy/rpz.h"
#include "resolver/cli.h"

#define RPZ_DEFAULT_ORIGIN "rpz.embargo."

static void rpz_usage(FILE *out)
{
	fputs("usage: embargo rpz [-c FILE] [--at TIME] [--origin ZONE] [--serial N] [--ttl N]\n"
	      "\n"
	      "Prints the policy in force at TIME as a Response Policy Zone for BIND,\n"
	      "Unbound, PowerDNS and Knot Resolver: nxdomain and refuse become CNAME .\n"
	      "(RPZ has no REFUSED), nodata CNAME *., sinkhole A and AAAA records, allow\n"
	      "CNAME rpz-passthru.; a domain is NAME and *.NAME, a host NAME only. Rules\n"
	      "that only audit at TIME are left out. Each record's comment names the\n"
	      "vendor/rule and the legal basis.\n"
	      "\n"
	      "  --at TIME      the instant (RFC 3339 or a date; default now)\n"
	      "  --origin ZONE  the zone's name (default the config's rpz.zone, else\n"
	      "                 " RPZ_DEFAULT_ORIGIN ")\n"
	      "  --serial N     the SOA serial (default: the latest of the rule instants\n"
	      "                 effective/until at or before TIME and the newest\n"
	      "                 modification time of the config and policy files, as\n"
	      "                 32-bit Unix time, so it only grows across policy edits\n"
	      "                 and cutoffs)\n"
	      "  --ttl N        TTL of every record and the SOA minimum (default the\n"
	      "                 config's rpz.ttl, else sinkhole.ttl)\n"
	      "  -c, --config FILE\n",
	      out);
}

static int rpz_parse_u32(const char *opt, const char *s, uint32_t max, uint32_t *out)
{
	char *end = NULL;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return cli_usage_error("rpz: %s: \"%s\" is not a number from 0 to %u", opt, s, max);
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || v > max)
		return cli_usage_error("rpz: %s: \"%s\" is not a number from 0 to %u", opt, s, max);
	*out = (uint32_t)v;
	return 0;
}

static void rpz_newer(const char *path, int64_t *newest)
{
	struct stat st;

	if (path && stat(path, &st) == 0 && (int64_t)st.st_mtime > *newest)
		*newest = (int64_t)st.st_mtime;
}

/* The default serial (see the top of this file). */
static uint32_t rpz_default_serial(const cfg *c, const policy *p, int64_t at)
{
	int64_t s = 0;

	for (size_t i = 0; i < policy_rule_count(p); i++) {
		const policy_rule *r = policy_rule_at(p, i);
		if (r->effective <= at && r->effective > s)
			s = r->effective;
		if (r->until != CFG_TIME_NEVER && r->until <= at && r->until > s)
			s = r->until;
	}
	rpz_newer(c->path, &s);
	for (size_t i = 0; i < c->n_vendors; i++) {
		char dir[4096];
		rpz_newer(c->vendors[i].file, &s);
		/* its folder: a policy file removed from it changes the folder */
		snprintf(dir, sizeof dir, "%s", c->vendors[i].file);
		rpz_newer(dirname(dir), &s);
	}
	return (uint32_t)s;
}

int cmd_rpz(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "at", required_argument, NULL, 'a' },
		{ "origin", required_argument, NULL, 'o' },
		{ "serial", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL, *origin = NULL;
	int64_t at = (int64_t)time(NULL);
	uint32_t serial = 0, ttl = 0;
	bool has_serial = false, has_ttl = false;
	char err[256];
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'a':
			if (cli_parse_time("--at", optarg, &at))
				return CLI_EXIT_USAGE;
			break;
		case 'o':
			if (rpz_origin_check(optarg, err, sizeof err) < 0)
				return cli_usage_error("rpz: --origin: %s", err);
			origin = optarg;
			break;
		case 's':
			if (rpz_parse_u32("--serial", optarg, UINT32_MAX, &serial))
				return CLI_EXIT_USAGE;
			has_serial = true;
			break;
		case 't':
			/* RFC 2181 8: a TTL is at most 2^31 - 1 */
			if (rpz_parse_u32("--ttl", optarg, INT32_MAX, &ttl))
				return CLI_EXIT_USAGE;
			has_ttl = true;
			break;
		case 'h': rpz_usage(stdout); return CLI_EXIT_OK;
		case ':': return cli_usage_error("rpz: %s needs a value", argv[optind - 1]);
		default: return cli_usage_error("rpz: unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage_error("rpz: unexpected argument \"%s\"", argv[optind]);

	cfg *c;
	policy *p;
	int rc = cli_load(cli_config_path(config), &c, &p);
	if (rc)
		return rc;
	rpz_params prm = {
		.origin = origin ? origin : c->rpz.zone ? c->rpz.zone : RPZ_DEFAULT_ORIGIN,
		.serial = has_serial ? serial : rpz_default_serial(c, p, at),
		.ttl = has_ttl ? ttl : c->rpz.ttl ? c->rpz.ttl : c->sinkhole.ttl,
		.sink4 = c->sinkhole.ipv4,
		.sink6 = c->sinkhole.ipv6,
	};
	rpz_zone *z = rpz_build(p, at, &prm, err, sizeof err);
	if (!z) {
		fprintf(stderr, "embargo: rpz: %s\n", err);
		rc = CLI_EXIT_INVALID;
	} else {
		if (rpz_skipped(z))
			fprintf(stderr, "embargo: rpz: %zu triggers left out: name and origin exceed 255 octets\n",
				rpz_skipped(z));
		if (rpz_print(stdout, z) < 0) {
			fprintf(stderr, "embargo: rpz: cannot write the zone\n");
			rc = CLI_EXIT_INVALID;
		}
		rpz_free(z);
	}
	policy_free(p);
	cfg_free(c);
	return rc;
}
