/*
 * fuzz_util.h: what the fuzz targets share.
 *
 * A policy built once from data/embargo.yaml (read-only, like the daemon's
 * snapshot, so it does not carry state from one input to the next), a few
 * clocks and clients around its cutoffs, the check that a message embargo
 * wrote parses with ldns, and a private folder for loaders that take paths.
 * Any broken invariant aborts, which libFuzzer reports as a crash.
 */
#ifndef EMBARGO_TESTS_FUZZ_UTIL_H
#define EMBARGO_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "policy/policy.h"

/* libFuzzer's entry point, one per target. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints why and aborts: a finding. */
#define FUZZ_CHECK(cond)                                                                      \
	do {                                                                                  \
		if (!(cond))                                                                  \
			fuzz_fail(__FILE__, __LINE__, #cond);                                 \
	} while (0)
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

/* The fixture: config and policy of data/embargo.yaml (aborts if they do
 * not load). Never freed: it lives as long as the process. */
const cfg *fuzz_cfg(void);
const policy *fuzz_policy(void);

/* Policy times around the fixture's cutoffs, and clients in and out of its
 * group; index with any number (taken modulo the count). */
int64_t fuzz_time(unsigned i);
const cfg_ip *fuzz_client(unsigned i);

/* The message must parse with ldns; returns the ldns packet's rcode. */
int fuzz_ldns_parses(const uint8_t *pkt, size_t len, const char *what);
/* Whether ldns accepts the message at all (for inputs, not our output). */
int fuzz_ldns_accepts(const uint8_t *pkt, size_t len);

/* A private folder (made once, removed at exit) and a file in it holding
 * data; returns the file's path (static storage, overwritten next call). */
const char *fuzz_dir(void);
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

#endif
