/*
 * loader.h (internal): the two file readers that cfg_load combines.
 *
 * Both keep whatever they could read even when they report errors, so that
 * cfg_load can still run its cross-file checks (duplicate vendors, group
 * exemptions) and report those in the same run. The public cfg_load_daemon and
 * cfg_load_vendor wrap them and discard the partial result on error.
 */
#ifndef EMBARGO_CONFIG_LOADER_H
#define EMBARGO_CONFIG_LOADER_H

#include "config/config.h"

/* Reads the daemon config at path into c (zeroed, then defaults). Expands
 * `policies` into files. 0 when no diagnostic was added, else -1. */
int yr_daemon_read(cfg *c, const char *path, cfg_diags *diags);

/* Reads one policy file into v (zeroed first). 0 when clean, else -1. */
int yr_vendor_read(cfg_vendor *v, const char *path, cfg_diags *diags);

/*
 * Adds one `policies` entry, resolved against dir (NULL: the current folder),
 * to c->policy_paths: a file as is, a folder as its *.yaml files sorted by
 * name. *resolved gets the resolved path (owned: free it). -1 with errno set
 * when the path cannot be read.
 */
int yr_policies_add(cfg *c, size_t *cap, const char *dir, const char *item, char **resolved);

/* [a-z0-9-]+: vendor and rule ids, which appear in logs, metrics labels and
 * "vendor/rule" references, so they are kept to one unambiguous alphabet. */
bool yr_valid_id(const char *s);

#endif
