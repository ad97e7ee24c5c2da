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
#include "config/yaml_reader.h"

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

/* A sequence of addresses (`port` when one has none) or networks into a new
 * array (*v freed first); bad items are reported at their position and
 * skipped. Always 0: the caller goes on with the rest of the file. */
int yr_read_addrs(yr *r, const char *name, uint16_t port, cfg_addr **v, size_t *n);
int yr_read_nets(yr *r, const char *name, cfg_net **v, size_t *n);

/* Reads the `rpz` mapping (daemon_rpz.c) into c->rpz, defaults first. -1
 * (reported, c->rpz cleared) when it is not usable. */
int yr_rpz_read(yr *r, const char *name, cfg *c);
/* After the whole file: what defaults to other keys (rpz.ttl). */
void cfg_rpz_finish(cfg *c);
void cfg_rpz_clear(cfg_rpz *z);

/* Reads the `upstreams` sequence (daemon_upstream.c), appending to
 * c->upstreams; bad items are reported at their position and skipped.
 * Always 0. */
int yr_upstreams_read(yr *r, const char *name, cfg *c);

/* Reads the `ratelimit` mapping (daemon_ratelimit.c) into c->ratelimit,
 * defaults first. -1 (reported, c->ratelimit off) when it is not usable. */
int yr_ratelimit_read(yr *r, const char *name, cfg *c);

/* A list file named in a policy file, read once the whole YAML is. */
typedef struct yr_listref {
	char *path;          /* resolved; owned */
	int key;             /* listfile_key */
	uint32_t rule;       /* index in v->rules; unused for the allow-file */
	uint32_t line, col;  /* of the path in the policy file */
} yr_listref;

/* Reads each list file into v (its rules' domains and hosts, its allow
 * list), leaving out names the vendor already has (warnings); fills
 * v->lists. Frees the refs' paths. */
void yr_vendor_lists(cfg_vendor *v, yr_listref *refs, size_t n, cfg_diags *diags);

/* [a-z0-9-]+: vendor and rule ids, which appear in logs, metrics labels and
 * "vendor/rule" references, so they are kept to one unambiguous alphabet. */
bool yr_valid_id(const char *s);

#endif
