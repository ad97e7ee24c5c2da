/*
 * policy.h: the policy engine, an immutable snapshot of every vendor's rules.
 *
 * Owns: the name matcher (label-boundary suffixes and exact hosts, one hash
 * probe per label, case-insensitive), rule time windows, client groups, and
 * the decision (qname, qtype, client, time) -> verdict. Also the next instant
 * at which any decision can change, for the daemon's timer.
 *
 * Pure: no sockets, no clock. Time is always an argument. A snapshot never
 * changes once built, so a reload builds a new one and swaps a pointer, and
 * any number of threads may read one snapshot at once.
 *
 * Matching, most specific first (the walk goes from the full name up to the
 * shortest suffix):
 *   - an entry is `inactive` when its rule is not in force and not audited at
 *     that time (before: allow before `effective`, or at/after `until`), or
 *     when the client's group exempts its vendor or rule: it is skipped;
 *   - at one name, precedence is allow > host > domain;
 *   - an allow entry of vendor V stops V's entries at that name and above
 *     (shorter names); other vendors' entries still apply;
 *   - a block in force stops the walk: BLOCK;
 *   - an audited entry (rule not yet in force, before: audit, or an `audit`
 *     action in force) is remembered and the walk goes on, because a shorter
 *     entry already in force must still block: fail closed;
 *   - at the end, the most specific of the audited entries and the entries
 *     skipped because of the client's group decides: AUDIT or EXEMPT (so a
 *     lab exempt from vendor/updates is counted as exempt on an update host,
 *     not as audited by a broader vendor-wide audit rule); otherwise PASS.
 * Allow entries have no time window and no group applies to them: they only
 * ever unblock. A PASS due to one names it (allowed_by, entry).
 * A qname that is not a well-formed wire name (label over 63 octets, over 255
 * octets in all) matches nothing: PASS.
 */
#ifndef EMBARGO_POLICY_H
#define EMBARGO_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct policy policy;

typedef struct policy_vendor {
	const char *id, *name, *basis, *url, *file;
	uint16_t ede;
} policy_vendor;

typedef struct policy_rule {
	const char *id;
	const policy_vendor *vendor;
	int64_t effective, until;   /* until is CFG_TIME_NEVER when open-ended */
	cfg_action action;
	cfg_before before;
	size_t n_domains, n_hosts;
	uint32_t line, col;         /* in vendor->file */
	const char *ede_text;       /* "vendor/rule: basis", for RFC 8914 EXTRA-TEXT */
} policy_rule;

typedef enum policy_verdict {
	POLICY_PASS = 0,   /* no entry applies: forward */
	POLICY_AUDIT,      /* would be blocked later, or an audit rule: forward and count */
	POLICY_BLOCK,      /* answer locally with rule->action */
	POLICY_EXEMPT,     /* blocked or audited but for the client's group: forward, count */
} policy_verdict;

typedef enum policy_entry_kind {
	POLICY_ENTRY_DOMAIN = 0,   /* the name and everything below it */
	POLICY_ENTRY_HOST,         /* exactly the name */
	POLICY_ENTRY_ALLOW,        /* exception, the name and everything below it */
} policy_entry_kind;

/* What a block answers, after the qtype is taken into account. */
typedef enum policy_answer {
	POLICY_ANS_NONE = 0,       /* not a block */
	POLICY_ANS_REFUSED,
	POLICY_ANS_NXDOMAIN,
	POLICY_ANS_NODATA,
	POLICY_ANS_SINK_A,         /* sinkhole and qtype A */
	POLICY_ANS_SINK_AAAA,      /* sinkhole and qtype AAAA */
} policy_answer;

typedef struct policy_match {
	policy_verdict verdict;
	policy_answer answer;          /* for POLICY_BLOCK */
	const policy_rule *rule;       /* the deciding rule; NULL for PASS (and for an allow) */
	const uint8_t *entry;          /* wire name of the deciding entry, borrowed; NULL if none */
	policy_entry_kind entry_kind;
	uint32_t entry_line, entry_col;/* position of the entry in its vendor's file */
	const policy_vendor *allowed_by; /* PASS because of this vendor's allow entry, or NULL */
	const char *group;             /* the client's group name, or NULL */
} policy_match;

/*
 * Builds a snapshot from a loaded config (borrowed: everything needed is
 * copied, so `c` may be freed afterwards). Returns NULL and appends to
 * `diags` when the rules conflict (the same name twice in one vendor's
 * rules of the same kind). Free with policy_free.
 */
policy *policy_new(const cfg *c, cfg_diags *diags);
/* The same without the entries' positions in their files (entry_line and
 * entry_col, and policy_entry's line and col, read 0): 8 octets a name
 * less. Decisions are the same. For the daemon, which never shows them. */
policy *policy_new_lean(const cfg *c, cfg_diags *diags);
void policy_free(policy *p);

/*
 * Decides one lookup. `qname` is an uncompressed wire name in any case,
 * `client` may be NULL (no group applies), `now` is seconds since the epoch.
 * Fills *out. Thread-safe on a shared snapshot; allocates nothing.
 */
void policy_decide(const policy *p, const uint8_t *qname, uint16_t qtype,
		   const cfg_ip *client, int64_t now, policy_match *out);

/*
 * A lookup in two halves, for a batch of them (the daemon's recvmmsg
 * batch). The lookup of a random name waits on memory twice: for the slot
 * of the suffix it probes first, then for the record the slot points at.
 * policy_prepare does the lookup's work up to that first probe (labels,
 * lower-casing, hashing) and asks the CPU for the slot;
 * policy_prepare_recs, once every lookup of the batch is prepared, asks
 * for the record that slot points at; policy_decide_prepared then decides
 * exactly as policy_decide would. The misses of the whole batch overlap
 * instead of coming one after another.
 */
#define POLICY_PREP_PROBES 4
typedef struct policy_prep {
	_Alignas(16) uint8_t buf[272];  /* the name lower-cased, zero-padded */
	uint8_t off[129];               /* each label's offset */
	int n;                          /* labels; -1: not a name any entry can match */
	uint32_t len;                   /* the name's octets */
	/* the first suffixes probed, shortest first: label, hash, slot, tag */
	uint8_t n_probes;
	uint8_t probe_at[POLICY_PREP_PROBES];
	uint16_t probe_tag[POLICY_PREP_PROBES];
	uint32_t probe_slot[POLICY_PREP_PROBES];
	uint64_t probe_hash[POLICY_PREP_PROBES];
	/* where the walk goes on past them: label, depth, hash so far */
	int next_i, next_d;
	uint64_t next_hash;
} policy_prep;
void policy_prepare(const policy *p, const uint8_t *qname, policy_prep *pp);
void policy_prepare_recs(const policy *p, const policy_prep *pp);
void policy_decide_prepared(const policy *p, const policy_prep *pp, uint16_t qtype,
			    const cfg_ip *client, int64_t now, policy_match *out);

/* The first instant after `now` at which some rule starts or ends;
 * CFG_TIME_NEVER when none is left. */
int64_t policy_next_change(const policy *p, int64_t now);

/* Whether the rule is in force (blocking, or auditing for action audit) at t. */
bool policy_rule_in_force(const policy_rule *r, int64_t t);

/* Read-only walks over the snapshot, for `check`, metrics and RPZ export. */
size_t policy_vendor_count(const policy *p);
const policy_vendor *policy_vendor_at(const policy *p, size_t i);
size_t policy_rule_count(const policy *p);
const policy_rule *policy_rule_at(const policy *p, size_t i);
size_t policy_entry_count(const policy *p);

const char *policy_verdict_name(policy_verdict v);  /* "pass", "audit", ... */

/* --- Additions beyond the first draft of this API --- */

/* What a rule does at t: nothing, audit (pass and count), or block. */
typedef enum policy_state {
	POLICY_STATE_INACTIVE = 0,
	POLICY_STATE_AUDIT,
	POLICY_STATE_BLOCK,
} policy_state;
policy_state policy_rule_state(const policy_rule *r, int64_t t);

/* The answer a block with `action` gives to `qtype` (POLICY_ANS_NONE for audit). */
policy_answer policy_answer_for(cfg_action action, uint16_t qtype);
const char *policy_answer_name(policy_answer a);  /* "refused", "sinkhole-a", ... */

/* Distinct names in the matcher (entries sharing a name count once). */
size_t policy_name_count(const policy *p);
/* Bytes the snapshot holds on the heap. */
size_t policy_memory(const policy *p);

/* One entry as the walk reports it; pointers borrowed from the snapshot. */
typedef struct policy_entry {
	const uint8_t *name;           /* lower-cased wire form */
	policy_entry_kind kind;
	const policy_rule *rule;       /* NULL for an allow entry */
	const policy_vendor *vendor;
	uint32_t line, col;
} policy_entry;
typedef int (*policy_entry_fn)(const policy_entry *e, void *ctx);
/*
 * Calls fn on every entry, grouped by name (names in first-seen order, the
 * entries of one name in allow, host, domain order). Stops and returns the
 * first nonzero value fn returns; 0 when every entry was visited.
 */
int policy_entry_walk(const policy *p, policy_entry_fn fn, void *ctx);

#endif
