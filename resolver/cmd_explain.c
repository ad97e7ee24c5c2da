/*
 * cmd_explain.c: `embargo explain NAME`: what the loaded policy does with one
 * lookup, and why: the verdict, the rule and entry that decide it, the action
 * and answer, and since or from when. --json gives one object for scripts.
 */
#include <getopt.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/dname.h"
#include "resolver/cli.h"
#include "resolver/json.h"

static void explain_usage(FILE *out)
{
	fputs("usage: embargo explain NAME [--type QTYPE] [--client IP] [--at TIME] [--json] [-c FILE]\n"
	      "\n"
	      "Says what would happen to one lookup: pass, audit (forwarded and counted\n"
	      "because a rule is not in force yet), block (with the action and answer),\n"
	      "or exempt (the client's group is exempt); the vendor, rule and entry that\n"
	      "decided it, and the time the rule took or takes effect.\n"
	      "\n"
	      "  --type QTYPE   query type (default A)\n"
	      "  --client IP    the client's address, for groups (default none)\n"
	      "  --at TIME      the time of the lookup (RFC 3339 or a date; default now)\n"
	      "  --json         one JSON object instead of text\n"
	      "  -c, --config FILE\n",
	      out);
}

/* The answer a block gives, in words ("A 0.0.0.0", "NXDOMAIN"). */
static void answer_text(const cfg *c, const policy_match *m, char *buf, size_t len)
{
	char ip[CFG_IP_BUF];
	switch (m->answer) {
	case POLICY_ANS_REFUSED: snprintf(buf, len, "REFUSED"); break;
	case POLICY_ANS_NXDOMAIN: snprintf(buf, len, "NXDOMAIN with SOA, ttl %u", c->sinkhole.ttl); break;
	case POLICY_ANS_NODATA: snprintf(buf, len, "NOERROR/NODATA with SOA, ttl %u", c->sinkhole.ttl); break;
	case POLICY_ANS_SINK_A:
		snprintf(buf, len, "A %s, ttl %u", cfg_ip_format(&c->sinkhole.ipv4, ip), c->sinkhole.ttl);
		break;
	case POLICY_ANS_SINK_AAAA:
		snprintf(buf, len, "AAAA %s, ttl %u", cfg_ip_format(&c->sinkhole.ipv6, ip), c->sinkhole.ttl);
		break;
	case POLICY_ANS_NONE: snprintf(buf, len, "forwarded upstream"); break;
	}
}

static const char *entry_kind_name(policy_entry_kind k)
{
	switch (k) {
	case POLICY_ENTRY_DOMAIN: return "domain";
	case POLICY_ENTRY_HOST: return "host";
	case POLICY_ENTRY_ALLOW: return "allow";
	}
	return "?";
}

typedef struct explain_in {
	const char *name;
	uint16_t qtype;
	const char *client;
	int64_t at;
} explain_in;

/* The file the deciding entry is in: the policy file or one of its list
 * files (cfg_pos_src), the entry's column unpacked into *col. */
static const char *entry_file(const cfg *c, const policy_match *m, uint32_t *col)
{
	const policy_vendor *pv = m->rule ? m->rule->vendor : m->allowed_by;
	*col = cfg_pos_col(m->entry_col);
	for (size_t i = 0; pv && i < c->n_vendors; i++)
		if (c->vendors[i].id && !strcmp(c->vendors[i].id, pv->id))
			return cfg_vendor_source(&c->vendors[i], m->entry_col);
	return pv ? pv->file : "?";
}

static void print_text(const cfg *c, const explain_in *in, const policy_match *m)
{
	char t[CFG_TIME_BUF], t2[CFG_TIME_BUF], answer[128], entry[DNAME_STR_MAX];
	char *type = ldns_rr_type2str(in->qtype);
	const policy_rule *r = m->rule;

	printf("query:   %s %s from %s at %s\n", in->name, type, in->client ? in->client : "any client",
	       cfg_time_format(in->at, t));
	free(type);
	printf("verdict: %s\n", policy_verdict_name(m->verdict));
	if (m->group)
		printf("group:   %s\n", m->group);
	if (m->entry) {
		dname_to_str(m->entry, entry);
		uint32_t col;
		const char *file = entry_file(c, m, &col);
		printf("entry:   %s %s (%s:%u:%u)\n", entry_kind_name(m->entry_kind), entry, file,
		       m->entry_line, col);
	}
	if (m->allowed_by && !r) {
		printf("why:     an allow entry of vendor %s exempts this name\n", m->allowed_by->id);
		return;
	}
	if (!r) {
		printf("why:     no rule of the policy covers this name\n");
		return;
	}
	printf("vendor:  %s%s%s%s\n", r->vendor->id, r->vendor->name ? " (" : "",
	       r->vendor->name ? r->vendor->name : "", r->vendor->name ? ")" : "");
	printf("rule:    %s, action %s (%s:%u:%u)\n", r->id, cfg_action_name(r->action),
	       r->vendor->file, r->line, r->col);
	if (r->vendor->basis)
		printf("basis:   %s\n", r->vendor->basis);
	cfg_time_format(r->effective, t);
	cfg_time_format(r->until, t2);
	switch (m->verdict) {
	case POLICY_BLOCK:
		answer_text(c, m, answer, sizeof(answer));
		printf("answer:  %s\n", answer);
		printf("ede:     %u \"%s\"\n", r->vendor->ede, r->ede_text);
		printf("since:   %s (until %s)\n", t, t2);
		break;
	case POLICY_AUDIT:
		if (r->action == CFG_ACT_AUDIT)
			printf("why:     audit rule in force since %s: forwarded and counted\n", t);
		else
			printf("why:     forwarded and counted; blocked with %s from %s\n",
			       cfg_action_name(r->action), t);
		break;
	case POLICY_EXEMPT:
		printf("why:     the client's group %s is exempt from %s/%s: forwarded and counted\n",
		       m->group ? m->group : "?", r->vendor->id, r->id);
		break;
	case POLICY_PASS:
		break;
	}
}

static void print_json(const cfg *c, const explain_in *in, const policy_match *m)
{
	char t[CFG_TIME_BUF], answer[128], entry[DNAME_STR_MAX];
	char *type = ldns_rr_type2str(in->qtype);
	const policy_rule *r = m->rule;

	printf("{\"name\":");
	json_write_str(stdout, in->name);
	printf(",\"type\":");
	json_write_str(stdout, type);
	free(type);
	printf(",\"client\":");
	json_write_str(stdout, in->client);
	printf(",\"at\":\"%s\",\"verdict\":\"%s\"", cfg_time_format(in->at, t),
	       policy_verdict_name(m->verdict));
	printf(",\"group\":");
	json_write_str(stdout, m->group);
	printf(",\"entry\":");
	if (m->entry) {
		dname_to_str(m->entry, entry);
		json_write_str(stdout, entry);
		uint32_t col;
		printf(",\"entry_kind\":\"%s\",\"entry_line\":%u", entry_kind_name(m->entry_kind),
		       m->entry_line);
		printf(",\"entry_file\":");
		json_write_str(stdout, entry_file(c, m, &col));
	} else {
		printf("null");
	}
	printf(",\"allowed_by\":");
	json_write_str(stdout, m->allowed_by ? m->allowed_by->id : NULL);
	if (r) {
		printf(",\"vendor\":");
		json_write_str(stdout, r->vendor->id);
		printf(",\"rule\":");
		json_write_str(stdout, r->id);
		printf(",\"action\":\"%s\",\"effective\":\"%s\"", cfg_action_name(r->action),
		       cfg_time_format(r->effective, t));
		printf(",\"until\":");
		json_write_str(stdout, r->until == CFG_TIME_NEVER ? NULL : cfg_time_format(r->until, t));
		printf(",\"basis\":");
		json_write_str(stdout, r->vendor->basis);
		printf(",\"ede\":%u,\"ede_text\":", r->vendor->ede);
		json_write_str(stdout, r->ede_text);
	}
	if (m->verdict == POLICY_BLOCK) {
		answer_text(c, m, answer, sizeof(answer));
		printf(",\"answer\":");
		json_write_str(stdout, answer);
	}
	printf("}\n");
}

int cmd_explain(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "type", required_argument, NULL, 't' },
		{ "client", required_argument, NULL, 'C' },
		{ "at", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	explain_in in = { .qtype = LDNS_RR_TYPE_A, .at = time(NULL) };
	const char *config = NULL;
	cfg_ip client_ip;
	bool json = false;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		const char *why = NULL;
		switch (opt) {
		case 'c': config = optarg; break;
		case 't':
			in.qtype = ldns_get_rr_type_by_name(optarg);
			if (!in.qtype)
				return cli_usage_error("explain: --type: unknown type \"%s\"", optarg);
			break;
		case 'C':
			if (cfg_ip_parse(optarg, &client_ip, &why) < 0)
				return cli_usage_error("explain: --client: bad address \"%s\": %s", optarg, why);
			in.client = optarg;
			break;
		case 'a':
			if (cli_parse_time("--at", optarg, &in.at))
				return CLI_EXIT_USAGE;
			break;
		case 'j': json = true; break;
		case 'h': explain_usage(stdout); return CLI_EXIT_OK;
		case ':': return cli_usage_error("explain: %s needs a value", argv[optind - 1]);
		default: return cli_usage_error("explain: unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind >= argc ? "explain: which NAME?"
						      : "explain: one NAME at a time");
	in.name = argv[optind];

	uint8_t wire[DNAME_MAX];
	size_t wire_len;
	const char *why = NULL;
	if (dname_from_str(in.name, wire, &wire_len, &why) < 0)
		return cli_usage_error("explain: bad name \"%s\": %s", in.name, why);

	cfg *c;
	policy *p;
	int rc = cli_load(cli_config_path(config), &c, &p);
	if (rc)
		return rc;
	policy_match m;
	policy_decide(p, wire, in.qtype, in.client ? &client_ip : NULL, in.at, &m);
	if (json)
		print_json(c, &in, &m);
	else
		print_text(c, &in, &m);
	policy_free(p);
	cfg_free(c);
	return CLI_EXIT_OK;
}
