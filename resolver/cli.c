/*
 * cli.c: what the subcommands share: finding and loading the config,
 * parsing times given on the command line, usage errors.
 */
#include "resolver/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

void cli_stamp(cfg *c)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char buf[8192];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	c->loaded_at = (int64_t)time(NULL);
	c->policy_digest[0] = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return;
	}
	for (size_t i = 0; i < c->n_policy_paths; i++) {
		FILE *f = fopen(c->policy_paths[i], "rb");
		size_t n;
		if (!f)
			continue;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			EVP_DigestUpdate(ctx, buf, n);
		fclose(f);
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32)
		for (unsigned int i = 0; i < mdlen; i++)
			snprintf(c->policy_digest + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(ctx);
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

int cli_load(const char *path, cfg **c, policy **p)
{
	cfg_diags diags = {0};
	*c = cfg_load(path, &diags);
	*p = *c && cfg_apply_env(*c, env_get, &diags) == 0 ? policy_new(*c, &diags) : NULL;
	if (!*p) {
		cfg_diags_print(&diags, stderr);
		cfg_diags_free(&diags);
		cfg_free(*c);
		*c = NULL;
		return CLI_EXIT_INVALID;
	}
	cfg_diags_free(&diags);
	cli_stamp(*c);
	return 0;
}
