/*
 * rpz_test.h: what the RPZ tests share: building a zone with the tests'
 * defaults, and an RPZ consumer in a few lines (exact owner first, else the
 * longest wildcard above the name) to hold the zone against policy_decide.
 */
#ifndef EMBARGO_TEST_RPZ_H
#define EMBARGO_TEST_RPZ_H

#include "helpers.h"
#include "policy/rpz.h"

#define RT_ORIGIN "rpz.test."

/* What a name gets: from policy_decide, or from the zone by RPZ rules. */
typedef enum rt_kind {
	RT_PASS = 0,   /* forwarded: no trigger, or rpz-passthru */
	RT_NXDOMAIN,   /* CNAME . (refuse and nxdomain) */
	RT_NODATA,     /* CNAME *. */
	RT_SINK,       /* A and AAAA: the sinkhole addresses */
	RT_OTHER,      /* anything else: a bug */
} rt_kind;

typedef struct rt_outcome {
	rt_kind kind;
	char who[256];   /* "vendor/rule" of the deciding rule, "" when none */
} rt_outcome;

/* rpz_build with origin RT_ORIGIN, serial 1, ttl 300, 0.0.0.0 and ::;
 * fails the test when it fails. */
rpz_zone *rt_build(const policy *p, int64_t at);

/* What an RPZ consumer of z does with the text name. */
rt_outcome rt_consume(const rpz_zone *z, const char *name);
/* What policy_decide says (no client), in the same terms. */
rt_outcome rt_expect(const policy *p, const char *name, int64_t at);
/* Fails the test, naming name and at, when the two differ. */
void rt_agree(const policy *p, const rpz_zone *z, const char *name, int64_t at);

/* The records at one owner (text, relative to RT_ORIGIN; "*.x" for a
 * wildcard) as "TYPE RDATA" lines, sorted as in the zone; "" if none. */
const char *rt_at(const rpz_zone *z, const char *owner);
/* Whether any record's owner is name or *.name (relative, text). */
bool rt_has(const rpz_zone *z, const char *name);

#endif
