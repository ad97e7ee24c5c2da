/*
 * privs.h: running with the least privilege: refuse to serve the network as
 * root unless told to, drop to `user:` once every socket is bound, and the
 * pid file.
 */
#ifndef EMBARGO_PRIVS_H
#define EMBARGO_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/*
 * As root, with no `user:` to drop to, a listen address that is public (a
 * wildcard, or a globally routable address; loopback, RFC 1918, ULA and
 * link-local are not) is refused unless allow_root. 0, or -1 with why.
 */
int privs_check_root(const cfg *c, bool allow_root, char *err, size_t errlen);

/* Drops to `user` (its primary group, no supplementary groups) for good.
 * 0, or -1 with why. */
int privs_drop(const char *user, char *err, size_t errlen);

/* Writes the pid file (created anew, 0644). 0 or -1 with why. */
int privs_write_pidfile(const char *path, char *err, size_t errlen);

#endif
