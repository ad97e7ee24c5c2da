/*
 * helpers.c: hand-built cfg structs for the policy tests (see helpers.h).
 */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

static uint32_t tc_line = 1;

static char *tc_strdup(const char *s)
{
	char *out = s ? strdup(s) : NULL;
	assert_true(!s || out);
	return out;
}

cfg *tc_new(void)
{
	cfg *c = calloc(1, sizeof *c);
	assert_non_null(c);
	c->path = tc_strdup("embargo.yaml");
	c->vendors = calloc(TC_MAX, sizeof *c->vendors);
	c->groups = calloc(TC_MAX, sizeof *c->groups);
	assert_non_null(c->vendors);
	assert_non_null(c->groups);
	return c;
}

void tc_free(cfg *c)
{
	for (size_t v = 0; v < c->n_vendors; v++) {
		cfg_vendor *cv = &c->vendors[v];
		for (size_t r = 0; r < cv->n_rules; r++) {
			free(cv->rules[r].id);
			cfg_names_free(&cv->rules[r].domains);
			cfg_names_free(&cv->rules[r].hosts);
		}
		free(cv->rules);
		cfg_names_free(&cv->allow);
		free(cv->file);
		free(cv->id);
		free(cv->name);
		free(cv->basis);
		free(cv->url);
	}
	for (size_t g = 0; g < c->n_groups; g++) {
		cfg_group *cg = &c->groups[g];
		for (size_t i = 0; i < cg->n_exempt; i++)
			free(cg->exempt[i]);
		free(cg->exempt);
		free(cg->exempt_line);
		free(cg->exempt_col);
		free(cg->nets);
		free(cg->name);
	}
	free(c->groups);
	free(c->vendors);
	free(c->path);
	free(c);
}

cfg_vendor *tc_vendor(cfg *c, const char *id, const char *basis)
{
	char file[128];
	assert_true(c->n_vendors < TC_MAX);
	cfg_vendor *v = &c->vendors[c->n_vendors++];
	snprintf(file, sizeof file, "policies/%s.yaml", id);
	v->file = tc_strdup(file);
	v->id = tc_strdup(id);
	v->name = tc_strdup(id);
	v->basis = tc_strdup(basis);
	v->ede = 15;
	v->line = v->col = 1;
	v->rules = calloc(TC_MAX, sizeof *v->rules);
	assert_non_null(v->rules);
	return v;
}

cfg_rule *tc_rule(cfg_vendor *v, const char *id, cfg_action a, int64_t effective, int64_t until,
		  cfg_before before)
{
	assert_true(v->n_rules < TC_MAX);
	cfg_rule *r = &v->rules[v->n_rules++];
	r->id = tc_strdup(id);
	r->line = tc_line++;
	r->col = 5;
	r->action = a;
	r->effective = effective;
	r->until = until;
	r->before = before;
	return r;
}

static void tc_add(cfg_names *l, const char *name, uint32_t line, uint32_t col)
{
	uint8_t wire[DNAME_MAX];
	size_t len;
	const char *why = NULL;
	if (dname_from_str(name, wire, &len, &why) != 0)
		fail_msg("bad test name %s: %s", name, why);
	assert_int_equal(cfg_names_add(l, wire, len, line, col), 0);
}

void tc_domain(cfg_rule *r, const char *name)
{
	tc_add(&r->domains, name, tc_line++, 9);
}

void tc_domain_at(cfg_rule *r, const char *name, uint32_t line, uint32_t col)
{
	tc_add(&r->domains, name, line, col);
}

void tc_domain_wire(cfg_rule *r, const uint8_t *wire, size_t len)
{
	assert_int_equal(cfg_names_add(&r->domains, wire, len, tc_line++, 9), 0);
}

void tc_host(cfg_rule *r, const char *name)
{
	tc_add(&r->hosts, name, tc_line++, 9);
}

void tc_allow(cfg_vendor *v, const char *name)
{
	tc_add(&v->allow, name, tc_line++, 5);
}

void tc_allow_at(cfg_vendor *v, const char *name, uint32_t line, uint32_t col)
{
	tc_add(&v->allow, name, line, col);
}

cfg_group *tc_group(cfg *c, const char *name)
{
	assert_true(c->n_groups < TC_MAX);
	cfg_group *g = &c->groups[c->n_groups++];
	g->name = tc_strdup(name);
	g->nets = calloc(TC_MAX, sizeof *g->nets);
	g->exempt = calloc(TC_MAX, sizeof *g->exempt);
	g->exempt_line = calloc(TC_MAX, sizeof *g->exempt_line);
	g->exempt_col = calloc(TC_MAX, sizeof *g->exempt_col);
	assert_true(g->nets && g->exempt && g->exempt_line && g->exempt_col);
	return g;
}

void tc_net(cfg_group *g, const char *cidr)
{
	const char *why = NULL;
	assert_true(g->n_nets < TC_MAX);
	if (cfg_net_parse(cidr, &g->nets[g->n_nets], &why) != 0)
		fail_msg("bad test network %s: %s", cidr, why);
	g->n_nets++;
}

void tc_exempt(cfg_group *g, const char *item)
{
	assert_true(g->n_exempt < TC_MAX);
	g->exempt_line[g->n_exempt] = tc_line++;
	g->exempt_col[g->n_exempt] = 7;
	g->exempt[g->n_exempt++] = tc_strdup(item);
}

policy *tc_build(const cfg *c)
{
	cfg_diags d = {0};
	policy *p = policy_new(c, &d);
	if (d.n)
		cfg_diags_print(&d, stderr);
	assert_int_equal(d.n, 0);
	assert_non_null(p);
	cfg_diags_free(&d);
	return p;
}

const uint8_t *tc_wire(const char *name)
{
	static uint8_t wire[DNAME_MAX];
	size_t len;
	const char *why = NULL;
	if (dname_from_str(name, wire, &len, &why) != 0)
		fail_msg("bad test name %s: %s", name, why);
	return wire;
}

policy_match tc_decide(const policy *p, const char *name, uint16_t qtype, const char *client, int64_t now)
{
	policy_match m;
	cfg_ip ip;
	const char *why = NULL;
	if (client && cfg_ip_parse(client, &ip, &why) != 0)
		fail_msg("bad test address %s: %s", client, why);
	policy_decide(p, tc_wire(name), qtype, client ? &ip : NULL, now, &m);
	/* the daemon's batched way (policy_prepare) must decide the same */
	policy_prep pp;
	policy_match m2;
	policy_prepare(p, tc_wire(name), &pp);
	policy_prepare_recs(p, &pp);
	policy_decide_prepared(p, &pp, qtype, client ? &ip : NULL, now, &m2);
	assert_memory_equal(&m, &m2, sizeof(m));
	return m;
}

const char *tc_entry(const policy_match *m)
{
	static char text[DNAME_STR_MAX];
	if (!m->entry)
		return "";
	dname_to_str(m->entry, text);
	return text;
}
