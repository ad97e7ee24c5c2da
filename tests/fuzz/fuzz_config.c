/*
 * fuzz_config.c: the daemon config, as `embargo check` and a reload load it
 * (cfg_load: embargo.yaml, every policy file it names, the checks across
 * files), then the policy snapshot built from it and the environment
 * overrides applied to it.
 *
 * cfg_load takes a path: the input is written to embargo.yaml in a private
 * folder that also holds policies/acme.yaml (the fixture's), so a config
 * that names `policies/` loads a real policy file, and an empty folder. Invariant: a config that
 * does not load says why (at least one diagnostic, each with its file).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static void fixture_files(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	char path[300];
	snprintf(path, sizeof(path), "%s/policies", fuzz_dir());
	if (mkdir(path, 0700) < 0)
		fuzz_fail(__FILE__, __LINE__, "mkdir policies");
	snprintf(path, sizeof(path), "%s/empty", fuzz_dir());
	if (mkdir(path, 0700) < 0)
		fuzz_fail(__FILE__, __LINE__, "mkdir empty");
	FILE *in = fopen(FUZZ_DATA_DIR "/acme.yaml", "rb");
	FUZZ_CHECK(in != NULL);
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	fuzz_write("policies/acme.yaml", buf, n);
}

static const char *env_get(const char *name)
{
	static const struct { const char *name, *value; } env[] = {
		{ "EMBARGO_LISTEN", "127.0.0.1:5335,[::1]:5335" },
		{ "EMBARGO_UPSTREAMS", "192.0.2.1,tls://9.9.9.9#dns.quad9.net" },
		{ "EMBARGO_HTTP", "off" },
		{ "EMBARGO_LOG_QUERIES", "all" },
	};
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (!strcmp(env[i].name, name))
			return env[i].value;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fixture_files();
	const char *path = fuzz_write("embargo.yaml", data, size);
	cfg_diags d = { 0 };
	cfg *c = cfg_load(path, &d);
	if (!c) {
		FUZZ_CHECK(d.n > 0);
		for (size_t i = 0; i < d.n; i++)
			FUZZ_CHECK(d.v[i].file != NULL && d.v[i].msg != NULL);
	} else {
		FUZZ_CHECK(d.n == 0);
		FUZZ_CHECK(c->cache.min_ttl <= c->cache.max_ttl);
		policy *p = policy_new(c, &d);
		if (p) {
			policy_match m;
			policy_decide(p, (const uint8_t *)"\3www\4acme\7example", 1, fuzz_client(1),
				      fuzz_time(3), &m);
			policy_free(p);
		}
		FUZZ_CHECK(cfg_apply_env(c, env_get, &d) == 0);
		cfg_free(c);
	}
	cfg_diags_free(&d);
	return 0;
}
