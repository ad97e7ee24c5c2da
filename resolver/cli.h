/*
 * cli.h: the `embargo` command line: one entry point per subcommand and the
 * pieces they share (config lookup, loading, option errors).
 *
 * Convention: a subcommand returns the process exit code: 0 success, 1 the
 * config or policy is invalid (errors on stderr as file:line:col), 2 a usage
 * error on the command line (one line on stderr).
 */
#ifndef EMBARGO_CLI_H
#define EMBARGO_CLI_H

#include <stdint.h>

#include "config/config.h"
#include "policy/policy.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_INVALID 1
#define CLI_EXIT_USAGE 2

int cmd_check(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_firewall(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_rpz(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Prints "embargo: <message>" on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The config path: the one given, else /etc/embargo/embargo.yaml, else
 * config/embargo.yaml below the working folder, else the source tree's. */
const char *cli_config_path(const char *given);

/* Sets c->policy_digest (SHA-256 of the policy files and their list files)
 * and c->loaded_at. */
void cli_stamp(cfg *c);

/* Parses --at TIME (RFC 3339 or a bare date); 0 or CLI_EXIT_USAGE. */
int cli_parse_time(const char *opt, const char *s, int64_t *out);

/* Loads config and policy, applies the EMBARGO_* environment overrides,
 * and prints every diagnostic to stderr. On success
 * *c and *p are set (caller frees both) and 0 is returned; else
 * CLI_EXIT_INVALID. */
int cli_load(const char *path, cfg **c, policy **p);
/* The same with a snapshot without entry positions (policy_new_lean), for
 * the daemon. */
int cli_load_lean(const char *path, cfg **c, policy **p);

#endif
