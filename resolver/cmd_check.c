/*
 * cmd_check.c: `embargo check`: load and validate the config and every
 * policy file; print what is enforced, from when, and the next instants at
 * which the policy changes. Exit 1 with every error when anything is invalid.
 */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "resolver/cli.h"
#include "resolver/listen_tls.h"

static void check_usage(FILE *out)
{
	fputs("usage: embargo check [-c FILE] [--at TIME]\n"
	      "\n"
	      "Loads and validates the config and every policy file. Prints the vendors,\n"
	      "their rules (action, effective, until, entries) and the next instants at\n"
	      "which the policy changes. Exit 0 when valid, 1 when not (each error on\n"
	      "stderr as file:line:column: message).\n"
	      "\n"
	      "  -c, --config FILE  the daemon config\n"
	      "  --at TIME          state the rules at TIME instead of now (RFC 3339 or a date)\n",
	      out);
}

/* "in force", "audit until ...", "ended ...": a rule's state at `now`. */
static const char *rule_state(const policy_rule *r, int64_t now)
{
	if (now >= r->until)
		return "ended";
	if (now >= r->effective)
		return "in force";
	return r->before == CFG_BEFORE_AUDIT ? "audit (before effective)" : "not yet (ignored)";
}

static void print_listen(const cfg *c)
{
	char buf[CFG_ADDR_BUF];
	printf("listen:");
	for (size_t i = 0; i < c->n_listen; i++)
		printf("%s %s", i ? "," : "", cfg_addr_format(&c->listen[i], buf));
	printf("\nupstreams:");
	if (!c->n_upstreams)
		printf(" the nameservers of /etc/resolv.conf");
	for (size_t i = 0; i < c->n_upstreams; i++) {
		const cfg_upstream *u = &c->upstreams[i];
		printf("%s %s%s%s%s%s", i ? "," : "", u->tls ? "tls://" : "",
		       cfg_addr_format(&u->addr, buf), u->tls ? "#" : "",
		       u->tls ? u->tls_name : "", u->has_pin ? " (pinned)" : "");
	}
	printf("\n");
}

/* One line for the zone transfers a fleet reads (DESIGN section 7). */
static void print_rpz(const cfg *c)
{
	char buf[CFG_ADDR_BUF], ip[CFG_IP_BUF];
	const cfg_rpz *z = &c->rpz;
	if (!z->zone)
		return;
	printf("rpz: zone %s, ttl %u, on", z->zone, z->ttl);
	for (size_t i = 0; i < z->n_listen; i++)
		printf("%s %s", i ? "," : "", cfg_addr_format(&z->listen[i], buf));
	printf("; transfers from");
	if (!z->n_allow_transfer)
		printf(" nobody");
	for (size_t i = 0; i < z->n_allow_transfer; i++)
		printf("%s %s/%u", i ? "," : "", cfg_ip_format(&z->allow_transfer[i].ip, ip),
		       z->allow_transfer[i].prefix);
	if (z->n_tsig) {
		printf(" signed with");
		for (size_t i = 0; i < z->n_tsig; i++)
			printf("%s %s (%s)", i ? "," : "", z->tsig[i].name, z->tsig[i].algorithm);
	} else {
		printf(", unsigned");
	}
	printf("; notify");
	if (!z->n_notify)
		printf(" none");
	for (size_t i = 0; i < z->n_notify; i++)
		printf("%s %s", i ? "," : "", cfg_addr_format(&z->notify[i], buf));
	printf("\n");
}

static void print_rules(const cfg *c, const policy *p, int64_t now)
{
	char eff[CFG_TIME_BUF], until[CFG_TIME_BUF];
	for (size_t v = 0; v < policy_vendor_count(p); v++) {
		const policy_vendor *pv = policy_vendor_at(p, v);
		printf("\nvendor %s", pv->id);
		if (pv->name)
			printf(" (%s)", pv->name);
		printf("  [%s]\n", pv->file);
		if (pv->basis)
			printf("  basis: %s\n", pv->basis);
		if (pv->url)
			printf("  url:   %s\n", pv->url);
		printf("  ede:   %u\n", pv->ede);
		/* policy vendors are the config's, in order */
		const cfg_vendor *cv = v < c->n_vendors ? &c->vendors[v] : NULL;
		for (size_t i = 0; cv && i < cv->n_lists; i++)
			printf("  list:  %s  (%s, %zu names)\n", cv->lists[i].path,
			       cv->lists[i].format ? cv->lists[i].format : "unread",
			       cv->lists[i].n_names);
		for (size_t r = 0; r < policy_rule_count(p); r++) {
			const policy_rule *pr = policy_rule_at(p, r);
			if (pr->vendor != pv)
				continue;
			printf("  rule %-12s %-9s effective %s  until %s  %zu domains, %zu hosts  (%s)\n",
			       pr->id, cfg_action_name(pr->action),
			       cfg_time_format(pr->effective, eff),
			       cfg_time_format(pr->until, until),
			       pr->n_domains, pr->n_hosts, rule_state(pr, now));
		}
	}
}

static void print_changes(const policy *p, int64_t now)
{
	char t[CFG_TIME_BUF];
	int64_t at = now;
	printf("\nnext changes after %s:\n", cfg_time_format(now, t));
	for (int shown = 0; shown < 10; shown++) {
		at = policy_next_change(p, at);
		if (at == CFG_TIME_NEVER) {
			if (!shown)
				printf("  none: every rule is in its final state\n");
			return;
		}
		printf("  %s:", cfg_time_format(at, t));
		for (size_t r = 0; r < policy_rule_count(p); r++) {
			const policy_rule *pr = policy_rule_at(p, r);
			if (pr->effective == at)
				printf(" %s/%s takes effect (%s);", pr->vendor->id, pr->id,
				       cfg_action_name(pr->action));
			if (pr->until == at)
				printf(" %s/%s ends;", pr->vendor->id, pr->id);
		}
		printf("\n");
	}
}

int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "at", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL;
	int64_t now = time(NULL);
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'a':
			if (cli_parse_time("--at", optarg, &now))
				return CLI_EXIT_USAGE;
			break;
		case 'h': check_usage(stdout); return CLI_EXIT_OK;
		case ':': return cli_usage_error("check: %s needs a value", argv[optind - 1]);
		default: return cli_usage_error("check: unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("check: unexpected argument \"%s\"", argv[optind]);

	const char *path = cli_config_path(config);
	cfg *c;
	policy *p;
	int rc = cli_load(path, &c, &p);
	if (rc) {
		fprintf(stderr, "embargo: %s: invalid\n", path);
		return rc;
	}
	if (c->tls.n_listen) {
		/* serve would refuse to start with a pair that does not load */
		char err[512];
		struct ssl_ctx_st *ctx = tls_ctx_new(c->tls.certificate, c->tls.key, err, sizeof(err));
		if (!ctx) {
			fprintf(stderr, "%s: tls: %s\nembargo: %s: invalid\n", path, err, path);
			policy_free(p);
			cfg_free(c);
			return CLI_EXIT_INVALID;
		}
		tls_ctx_free(ctx);
	}
	printf("config: %s: valid\n", path);
	print_listen(c);
	print_rpz(c);
	printf("policy: %zu vendors, %zu rules, %zu entries\n", policy_vendor_count(p),
	       policy_rule_count(p), policy_entry_count(p));
	print_rules(c, p, now);
	print_changes(p, now);
	policy_free(p);
	cfg_free(c);
	return CLI_EXIT_OK;
}
