/*
 * daemon_ratelimit.c: the `ratelimit:` mapping of embargo.yaml, the rate of
 * UDP queries each client network may send (resolver/ratelimit.c applies it).
 *
 * Kept apart from daemon.c, which reads the rest of the file. Defaults
 * apply only when the mapping is present: without `ratelimit:` nothing is
 * limited.
 */
#include "config/config.h"
#include "config/loader.h"
#include "config/yaml_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past these a setting is a typo: a million queries a second is more than
 * one server answers, and a table of 16M buckets is 512 MB per worker. */
#define RL_QPS_MAX 1000000
#define RL_ENTRIES_MAX (1u << 24)
#define RL_ENTRIES_MIN 16

typedef struct rlctx {
	cfg_ratelimit *rl;
	bool burst_set;
} rlctx;

static int k_qps(yr *r, const char *name, void *obj)
{
	uint64_t v;
	if (yr_uint(r, name, RL_QPS_MAX, &v) < 0)
		return -1;
	((rlctx *)obj)->rl->qps = (uint32_t)v;
	return 0;
}

static int k_burst(yr *r, const char *name, void *obj)
{
	rlctx *x = obj;
	uint64_t v;
	if (yr_uint(r, name, RL_QPS_MAX, &v) < 0)
		return -1;
	x->rl->burst = (uint32_t)v;
	x->burst_set = true;
	return 0;
}

static int read_prefix(yr *r, const char *name, uint64_t max, uint8_t *out)
{
	uint64_t v;
	if (yr_uint(r, name, max, &v) < 0)
		return -1;
	*out = (uint8_t)v;
	return 0;
}

static int k_v4(yr *r, const char *name, void *obj)
{
	return read_prefix(r, name, 32, &((rlctx *)obj)->rl->ipv4_prefix);
}

static int k_v6(yr *r, const char *name, void *obj)
{
	return read_prefix(r, name, 128, &((rlctx *)obj)->rl->ipv6_prefix);
}

static int k_action(yr *r, const char *name, void *obj)
{
	static const char *const names[] = {"truncate", "drop"};
	int v;
	if (yr_enum(r, name, "action", names, 2, &v) < 0)
		return -1;
	((rlctx *)obj)->rl->action = (cfg_rl_action)v;
	return 0;
}

static int k_exempt(yr *r, const char *name, void *obj)
{
	cfg_ratelimit *rl = ((rlctx *)obj)->rl;
	return yr_read_nets(r, name, &rl->exempt, &rl->n_exempt);
}

static int k_entries(yr *r, const char *name, void *obj)
{
	yr_scalar s;
	uint64_t v;
	if (yr_scalar_take(r, name, "an integer", &s) < 0 ||
	    yr_uint_text(r, name, &s, RL_ENTRIES_MAX, &v) < 0)
		return -1;
	if (v < RL_ENTRIES_MIN) {
		yr_error_at(r, s.line, s.col, "%s: must be at least %u", name, RL_ENTRIES_MIN);
		return -1;
	}
	((rlctx *)obj)->rl->entries = (uint32_t)v;
	return 0;
}

static const yr_field rl_fields[] = {
	{"qps", k_qps, false},
	{"burst", k_burst, false},
	{"ipv4-prefix", k_v4, false},
	{"ipv6-prefix", k_v6, false},
	{"action", k_action, false},
	{"exempt", k_exempt, false},
	{"entries", k_entries, false},
};

int yr_ratelimit_read(yr *r, const char *name, cfg *c)
{
	cfg_ratelimit *rl = &c->ratelimit;
	rlctx x = {.rl = rl};
	yaml_mark_t m;
	uint64_t seen;

	free(rl->exempt);
	memset(rl, 0, sizeof(*rl));
	rl->qps = 100;
	rl->ipv4_prefix = 32;
	rl->ipv6_prefix = 56;
	rl->action = CFG_RL_TRUNCATE;
	rl->entries = 65536;
	if (yr_map(r, name, name, rl_fields, sizeof(rl_fields) / sizeof(rl_fields[0]), &x, &seen,
		   &m) < 0)
		goto fail;
	if (!x.burst_set)
		rl->burst = rl->qps * 2 > RL_QPS_MAX ? RL_QPS_MAX : rl->qps * 2;
	if (rl->qps == 0) {
		yr_error(r, &m, "%s: qps must be at least 1 (leave ratelimit out to turn it off)", name);
		goto fail;
	}
	if (rl->burst == 0) {
		yr_error(r, &m, "%s: burst must be at least 1", name);
		goto fail;
	}
	rl->on = true;
	return 0;
fail:
	free(rl->exempt);
	memset(rl, 0, sizeof(*rl));
	return -1;
}
