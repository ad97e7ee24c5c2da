/*
 * cli.c: what the subcommands share: finding and loading the config,
 * parsing times given on the command line, usage errors.
 */
#include "resolver/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <ldns/sha2.h>

#include "embargo_config.h"

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("embargo: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return CLI_EXIT_USAGE;
}

const char *cli_config_path(const char *given)
{
	static const char *const candidates[] = {
		EMBARGO_SYSCONFDIR "/embargo.yaml",
		"config/embargo.yaml",
		EMBARGO_SOURCE_CONFIG,
	};
	if (given)
		return given;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	return candidates[0]; /* reported as missing by the loader */
}

int cli_parse_time(const char *opt, const char *s, int64_t *out)
{
	const char *why = NULL;
	if (cfg_time_parse(s, out, &why) < 0)
		return cli_usage_error("%s: bad time \"%s\": %s", opt, s, why);
	return 0;
}

/* ldns's SHA-256 rather than OpenSSL's EVP: the first EVP call loads
 * OpenSSL's providers and config, 2 MB of RSS a daemon without TLS never
 * needs (measured; it matters on a home router). */
void cli_stamp(cfg *c)
{
	unsigned char md[LDNS_SHA256_DIGEST_LENGTH];
	unsigned char buf[8192];
	ldns_sha256_CTX ctx;
	c->loaded_at = (int64_t)time(NULL);
	ldns_sha256_init(&ctx);
	/* the policy files, then each vendor's list files: a change to either
	 * is a new policy */
	size_t n_files = c->n_policy_paths;
	for (size_t v = 0; v < c->n_vendors; v++)
		n_files += c->vendors[v].n_lists;
	for (size_t i = 0, v = 0, l = 0; i < n_files; i++) {
		const char *path;
		if (i < c->n_policy_paths) {
			path = c->policy_paths[i];
		} else {
			while (l == c->vendors[v].n_lists)
				v++, l = 0;
			path = c->vendors[v].lists[l++].path;
		}
		FILE *f = fopen(path, "rb");
		size_t n;
		if (!f)
			continue;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			ldns_sha256_update(&ctx, buf, n);
		fclose(f);
	}
	ldns_sha256_final(md, &ctx);
	for (unsigned int i = 0; i < sizeof(md); i++)
		snprintf(c->policy_digest + 2 * i, 3, "%02x", md[i]);
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

static int cli_load_as(const char *path, cfg **c, policy **p, bool lean)
{
	cfg_diags diags = {0};
	*c = cfg_load(path, &diags);
	*p = *c && cfg_apply_env(*c, env_get, &diags) == 0
		? (lean ? policy_new_lean : policy_new)(*c, &diags) : NULL;
	if (!*p) {
		cfg_diags_print(&diags, stderr);
		cfg_diags_free(&diags);
		cfg_free(*c);
		*c = NULL;
		return CLI_EXIT_INVALID;
	}
	cfg_diags_free(&diags);
	cfg_diags_print_warnings(&(*c)->warnings, stderr);
	cli_stamp(*c);
	return 0;
}

int cli_load(const char *path, cfg **c, policy **p)
{
	return cli_load_as(path, c, p, false);
}

int cli_load_lean(const char *path, cfg **c, policy **p)
{
	return cli_load_as(path, c, p, true);
}
