/*
 * watch.h: reload on file change. inotify watches the folders that hold
 * the config file, the policy files and their list files (editors replace
 * files by renaming, so watching the files themselves would lose them), and
 * a change to one
 * of those files, or to any *.yaml in a policy folder, reloads after a
 * short quiet period, so that a burst of writes is one reload.
 */
#ifndef EMBARGO_WATCH_H
#define EMBARGO_WATCH_H

#include "resolver/daemon.h"

#define WATCH_DEBOUNCE_MS 500

typedef struct watch watch;

/* Starts watching d's config and policy paths on workers[0]'s loop. NULL
 * when inotify is not available (reload on SIGHUP still works). */
watch *watch_new(daemon_ctx *d);
/* Watches the paths of d's current config again (after a reload). */
void watch_reset(watch *w);
void watch_free(watch *w);

/* Sets up reloading's state (reload.c). */
void reload_setup(daemon_ctx *d);
/* Every worker has switched to the new snapshot: frees the old one, and
 * starts a reload asked for meanwhile. workers[0]'s thread
 * (WORKER_MAIL_RECLAIM). */
void reload_reclaim(daemon_ctx *d);

#endif
