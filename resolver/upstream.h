/*
 * upstream.h: the list of upstream resolvers: from the config, or else the
 * nameservers of /etc/resolv.conf, never one of embargo's own listen
 * addresses (that would loop).
 */
#ifndef EMBARGO_UPSTREAM_H
#define EMBARGO_UPSTREAM_H

#include <stddef.h>

#include "resolver/daemon.h"

/* Fills d->upstreams. `resolv_conf` is the file to read when the config
 * names none. 0, or -1 with a reason in err. */
int upstream_setup(daemon_ctx *d, const char *resolv_conf, char *err, size_t errlen);

#endif
