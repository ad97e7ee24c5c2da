/*
 * helpers.h: builds cfg structs by hand for the policy tests, so that they
 * test the engine and not the YAML loader. Everything here fails the test on
 * a bad argument rather than returning an error.
 */
#ifndef EMBARGO_TEST_POLICY_HELPERS_H
#define EMBARGO_TEST_POLICY_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/dname.h"
#include "policy/policy.h"

/* Room enough for every test: pointers into these arrays stay valid. */
#define TC_MAX 16

/* 2024-09-29T04:00:00Z, the instant the tests' rules mostly turn on. */
#define TC_T0 INT64_C(1727582400)

cfg *tc_new(void);
/* Frees what the tc_ helpers allocated (not cfg_free: that is the loader's). */
void tc_free(cfg *c);

cfg_vendor *tc_vendor(cfg *c, const char *id, const char *basis);
cfg_rule *tc_rule(cfg_vendor *v, const char *id, cfg_action a, int64_t effective, int64_t until,
		  cfg_before before);
/* Entries; the _at forms set the source position, the others number lines. */
void tc_domain(cfg_rule *r, const char *name);
void tc_domain_at(cfg_rule *r, const char *name, uint32_t line, uint32_t col);
void tc_host(cfg_rule *r, const char *name);
void tc_allow(cfg_vendor *v, const char *name);
void tc_allow_at(cfg_vendor *v, const char *name, uint32_t line, uint32_t col);
/* Appends a raw wire name, for names dname_from_str would refuse. */
void tc_domain_wire(cfg_rule *r, const uint8_t *wire, size_t len);

cfg_group *tc_group(cfg *c, const char *name);
void tc_net(cfg_group *g, const char *cidr);
void tc_exempt(cfg_group *g, const char *item);

/* policy_new that must succeed, with no diagnostics. */
policy *tc_build(const cfg *c);

/* Text to wire form, into a static buffer (one at a time). */
const uint8_t *tc_wire(const char *name);
/* Decides a text name; client is an address string or NULL. */
policy_match tc_decide(const policy *p, const char *name, uint16_t qtype, const char *client, int64_t now);
/* The matched entry as text, or "" when there is none. */
const char *tc_entry(const policy_match *m);

#endif
