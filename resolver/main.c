/*
 * main.c: the `embargo` binary: dispatches to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "embargo_config.h"
#include "resolver/cli.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "serve", cmd_serve, "run the forwarder in the foreground" },
	{ "check", cmd_check, "validate the config and every policy file, print a summary" },
	{ "explain", cmd_explain, "say what would happen to one lookup, and why" },
	{ "firewall", cmd_firewall, "print an nftables ruleset that keeps a LAN's DNS on embargo" },
	{ "report", cmd_report, "print which clients reached which vendor, from a running daemon" },
	{ "rpz", cmd_rpz, "print the policy in force as a Response Policy Zone" },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: embargo COMMAND [options]\n"
		"\n"
		"A DNS filtering forwarder that enforces dated vendor bans.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"Every command takes -c FILE / --config FILE (default %s/embargo.yaml,\n"
		"else config/embargo.yaml in a source tree) and --help.\n"
		"\n"
		"  embargo --version   print the version\n",
		EMBARGO_SYSCONFDIR);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
		printf("embargo %s\n", EMBARGO_VERSION);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	return cli_usage_error("unknown command \"%s\"", name);
}
