/*
 * policy_internal.h: the snapshot's layout, shared by the builder and the
 * matcher. Not installed, not included outside policy/.
 *
 * The matcher is one open-addressing hash table keyed by the lower-cased wire
 * name of every entry. A name's hash is built label by label from the root,
 * h(label.suffix) = policy_hash_label(h(suffix), label), so a lookup hashes
 * the suffixes of the qname in one right-to-left pass and probes each once,
 * shortest first, until a leaf.
 *
 * Layout, chosen for a million names in little memory and few cache misses:
 *   tags[]   uint16 per slot: 0 for an empty slot, else 15 bits of the
 *            name's hash and a 1. Linear probing reads only these until a tag
 *            matches, so a miss touches 2 octets a slot and no record.
 *   offs[]   uint32 per slot: the record's offset in recs (offset 0 is a
 *            dummy byte, never a record) | POLICY_OFF_LEAF when no other
 *            entry lies below the name: a walk that finds a leaf need not
 *            look at longer suffixes.
 *   recs[]   records back to back: the wire name, then one packed entry
 *            (ref, line, col as three unaligned uint32). A name that several
 *            entries share (other vendors, other kinds) holds a MULTI ref to
 *            a run of entries in multi[], sorted allow, host, domain.
 * The 12-byte entry sits right after the name, so a hit costs the tag, the
 * offset and the record line, nothing else; the offset's load does not
 * depend on the tag's, so the core issues both at once.
 */
#ifndef EMBARGO_POLICY_INTERNAL_H
#define EMBARGO_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/dname.h"
#include "policy/policy.h"

/* The stopped-vendor set of one walk is a bitset on the stack. */
#define POLICY_MAX_VENDORS 1024u
/* Rule or vendor index bits of an entry ref; the top two bits are its kind. */
#define POLICY_REF_INDEX 0x3FFFFFFFu
#define POLICY_REF_MULTI 3u
/* Wire names are copied into buffers with this much slack, so hashing may
 * read a whole 8-byte word at the end of any label. */
#define POLICY_NAME_BUF (DNAME_MAX + 17)
/* At most 127 labels fit in 255 octets; one more slot for the root. */
#define POLICY_MAX_LABELS 128

typedef struct policy_entry_rec {
	uint32_t ref;        /* kind << 30 | rule index (domain, host) or vendor index (allow) */
	uint32_t line, col;  /* position; for a MULTI ref, line holds the run length */
} policy_entry_rec;

static inline unsigned policy_ref_kind(uint32_t ref)
{
	return ref >> 30;
}

static inline uint32_t policy_ref_make(unsigned kind, uint32_t index)
{
	return (uint32_t)kind << 30 | (index & POLICY_REF_INDEX);
}

typedef struct policy_group {
	const char *name;    /* in the arena */
	uint8_t *exempt;     /* one flag per rule: skipped for this group's clients */
} policy_group;

typedef struct policy_net {
	cfg_net net;
	uint32_t group;
} policy_net;

typedef struct policy_chunk policy_chunk;

struct policy {
	policy_vendor *vendors;
	size_t n_vendors;
	policy_rule *rules;
	uint32_t *rule_vendor;       /* vendor index of each rule */
	size_t n_rules;

	uint16_t *tags;              /* per slot: 0 empty, else policy_tag_of(hash) */
	uint32_t *offs;              /* per slot: record offset | POLICY_OFF_LEAF */
	size_t n_slots;
	uint8_t *recs;               /* padded with DNAME_MAX zero bytes at the end */
	size_t recs_len;             /* used bytes, padding excluded */
	void *table;                 /* tags, offs and recs in one block of table_size
					octets (policy_alloc_block), or NULL: then each
					is its own allocation */
	size_t table_size;
	policy_entry_rec *multi;     /* runs: a header {ref = count}, then the entries */
	size_t n_multi;
	size_t ent_size;             /* octets after each name: a whole policy_entry_rec,
					or just its ref when built without positions */
	size_t n_entries, n_names;
	bool has_root;               /* an entry is the root: probe it too */
	uint64_t depths;             /* bit d-1: an entry has d labels; all ones if one has 64 or more */
	int max_depth;               /* the most labels of any entry */

	int64_t *changes;            /* every effective and until, sorted, unique */
	size_t n_changes;

	policy_group *groups;
	size_t n_groups;
	policy_net *nets;            /* sorted by prefix length, longest first */
	size_t n_nets;

	policy_chunk *arena;         /* strings: vendor fields, rule ids, ede texts */
	size_t bytes;                /* everything allocated, for policy_memory */
};

static inline uint64_t policy_mum(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Hash of the root, where every name's hash starts. */
#define POLICY_HASH_ROOT 0x243F6A8885A308D3ull

/*
 * Extends the hash of a suffix by one label: one multiply per 8 octets of
 * the label, length octet first. Reads whole 8-byte words and does not mask
 * off what follows the label: that is the rest of the suffix, then zeroes,
 * so the hash is still a function of the suffix alone. Callers hash copies in
 * POLICY_NAME_BUF buffers zeroed for 8 octets past the name. The length octet
 * keeps "ab.c" and "a.bc" apart; most labels are shorter than 8 octets, so
 * most cost a single multiply.
 */
static inline uint64_t policy_hash_label(uint64_t h, const uint8_t *label)
{
	size_t n = (size_t)label[0] + 1;
	uint64_t w;

	for (;;) {
		memcpy(&w, label, 8);
		h = policy_mum(h ^ w, 0xA0761D6478BD642Full);
		if (n <= 8)
			return h;
		n -= 8;
		label += 8;
	}
}

/* Low 32 bits pick the slot (multiply-shift, so the table need not be a
 * power of two), the top bits are the tag (policy_tag_of). */
static inline size_t policy_slot_of(uint64_t h, size_t n_slots)
{
	return (size_t)(((uint64_t)(uint32_t)h * n_slots) >> 32);
}

/* Lower-cases the ASCII letters of eight octets at once. */
static inline uint64_t policy_lower_word(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t low7 = w & ~high;
	/* high bit of each byte: >= 'A' xor > 'Z', and the byte is ASCII */
	uint64_t ge_a = low7 + ones * (0x80 - 'A');
	uint64_t gt_z = low7 + ones * (0x7F - 'Z');
	uint64_t upper = (ge_a ^ gt_z) & ~w & high;
	return w | upper >> 2;
}

/*
 * Lower-cases ASCII letters of n octets in place, eight at a time. Length
 * octets are at most 63, below 'A', so a whole wire name can go through it.
 * buf must have room for n rounded up to 8.
 */
static inline void policy_lower(uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w;
		memcpy(&w, buf + i, 8);
		w = policy_lower_word(w);
		memcpy(buf + i, &w, 8);
	}
}

/*
 * Finds the labels of a wire name of unknown origin. Fills off[] with the
 * offset of each label's length octet and returns the label count, or -1 if
 * the name is malformed (label over 63 octets, name over 255 octets).
 * *wire_len gets the octets including the root label. Reads at most
 * DNAME_MAX octets.
 */
static inline int policy_labels(const uint8_t *wire, uint8_t off[POLICY_MAX_LABELS], size_t *wire_len)
{
	size_t pos = 0;
	int n = 0;
	unsigned len;

	while ((len = wire[pos]) != 0) {
		off[n++] = (uint8_t)pos;
		pos += len + 1;
		/* the next length octet must still be within DNAME_MAX */
		if (len > DNAME_LABEL_MAX || pos >= DNAME_MAX)
			return -1;
	}
	*wire_len = pos + 1;
	return n;
}

/* Sixteen octets at a time where the compiler has vectors (SSE2 on every
 * x86-64), in words elsewhere: the same result either way. */
typedef uint8_t policy_v16 __attribute__((vector_size(16)));
typedef uint64_t policy_v2 __attribute__((vector_size(16)));

/* The difference of 16 octets at a and b, folded into one word: 0 if equal. */
static inline uint64_t policy_diff16(const uint8_t *a, const uint8_t *b)
{
	policy_v2 x, y;
	memcpy(&x, a, 16);
	memcpy(&y, b, 16);
	x ^= y;
	return x[0] | x[1];
}

/*
 * Whether len octets at a and b are equal: whole blocks, the last one
 * overlapping the one before, so nothing needs masking but a name shorter
 * than 8 octets. Both sides must be readable 8 octets past len: the lookup
 * buffer and recs are padded for it. Inline because a library memcmp call
 * costs more than the comparison of a 20-octet name.
 */
static inline bool policy_name_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint64_t x, y;

	if (len >= 16) {
		uint64_t diff = policy_diff16(a, b);
		for (size_t i = 16; i + 16 < len; i += 16)
			diff |= policy_diff16(a + i, b + i);
		return (diff | policy_diff16(a + len - 16, b + len - 16)) == 0;
	}
	if (len >= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		uint64_t diff = x ^ y;
		memcpy(&x, a + len - 8, 8);
		memcpy(&y, b + len - 8, 8);
		return (diff | (x ^ y)) == 0;
	}
	/* the first len octets of a word: a load, where a shift by a
	 * length the compiler computes ahead for every call costs more */
	static const uint64_t head[8] = {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF, 0xFFFFFFFFFF, 0xFFFFFFFFFFFF, 0xFFFFFFFFFFFFFF,
#else
		0, 0xFF00000000000000, 0xFFFF000000000000, 0xFFFFFF0000000000, 0xFFFFFFFF00000000,
		0xFFFFFFFFFF000000, 0xFFFFFFFFFFFF0000, 0xFFFFFFFFFFFFFF00,
#endif
	};
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	return ((x ^ y) & head[len]) == 0;
}

/* A slot's offset: the record's offset in recs, and the leaf flag. */
#define POLICY_OFF_LEAF 0x80000000u
#define POLICY_OFF_MASK 0x7FFFFFFFu

/* A slot's tag: the hash's top 15 bits, and a low bit that is never 0 (an
 * empty slot). A false match costs one name comparison in 32,768. */
static inline uint16_t policy_tag_of(uint64_t h)
{
	return (uint16_t)(h >> 48 | 1);
}

/* Finds the slot of a name by its hash and lower-cased wire form; returns
 * its index, or SIZE_MAX. */
static inline size_t policy_find(const policy *p, uint64_t h, const uint8_t *name, size_t len)
{
	size_t i = policy_slot_of(h, p->n_slots);
	uint16_t tag = policy_tag_of(h);

	/* ask for the offset's line with the tag's: on a hit it is needed at
	 * once, and waiting for the tag first would chain the two misses */
	__builtin_prefetch(p->offs + i);
	for (;;) {
		uint16_t t = p->tags[i];
		if (t == 0)
			return SIZE_MAX;
		/* recs is padded, so comparing len octets never runs off its end;
		 * wire names delimit themselves, so equal octets mean equal names */
		if (t == tag && policy_name_eq(p->recs + (p->offs[i] & POLICY_OFF_MASK), name, len))
			return i;
		if (++i == p->n_slots)
			i = 0;
	}
}

/* policy_rule_state, inline for the matcher's loop. */
static inline policy_state policy_state_at(const policy_rule *r, int64_t t)
{
	if (t >= r->until)
		return POLICY_STATE_INACTIVE;
	if (t >= r->effective)
		return r->action == CFG_ACT_AUDIT ? POLICY_STATE_AUDIT : POLICY_STATE_BLOCK;
	return r->before == CFG_BEFORE_AUDIT ? POLICY_STATE_AUDIT : POLICY_STATE_INACTIVE;
}

/* policy_answer_for, inline for the matcher. */
static inline policy_answer policy_answer_of(cfg_action action, uint16_t qtype)
{
	switch (action) {
	case CFG_ACT_REFUSE:
		return POLICY_ANS_REFUSED;
	case CFG_ACT_NXDOMAIN:
		return POLICY_ANS_NXDOMAIN;
	case CFG_ACT_NODATA:
		return POLICY_ANS_NODATA;
	case CFG_ACT_SINKHOLE:
		return qtype == 1 ? POLICY_ANS_SINK_A : qtype == 28 ? POLICY_ANS_SINK_AAAA : POLICY_ANS_NODATA;
	case CFG_ACT_AUDIT:
		break;
	}
	return POLICY_ANS_NONE;
}

static inline policy_entry_rec policy_rec_entry(const policy *p, uint32_t rec_off, size_t name_len)
{
	policy_entry_rec e = {0, 0, 0};
	if (p->ent_size == sizeof e)
		memcpy(&e, p->recs + rec_off + name_len, sizeof e);
	else
		memcpy(&e.ref, p->recs + rec_off + name_len, sizeof e.ref);
	return e;
}

/* The entries of a shared name, whose record holds a MULTI ref. */
static inline const policy_entry_rec *policy_run(const policy *p, policy_entry_rec head, uint32_t *n)
{
	const policy_entry_rec *h = p->multi + (head.ref & POLICY_REF_INDEX);
	*n = h->ref;
	return h + 1;
}

#endif
