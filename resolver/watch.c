/*
 * watch.c: inotify on the folders of the config and policy files (and of
 * the DoT listeners' certificate and key).
 */
#include "resolver/watch.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "resolver/log.h"

#define WATCH_MAX 64

typedef struct watched {
	int wd;
	char *dir;
	bool any_yaml;     /* a policy folder: every *.yaml in it counts */
	char **names;      /* files in it that count */
	size_t n_names;
} watched;

struct watch {
	daemon_ctx *d;
	int fd;
	struct event *ev, *debounce;
	watched w[WATCH_MAX];
	size_t n;
};

static void clear(watch *wt)
{
	for (size_t i = 0; i < wt->n; i++) {
		inotify_rm_watch(wt->fd, wt->w[i].wd);
		free(wt->w[i].dir);
		for (size_t j = 0; j < wt->w[i].n_names; j++)
			free(wt->w[i].names[j]);
		free(wt->w[i].names);
	}
	wt->n = 0;
}

static watched *dir_entry(watch *wt, const char *dir)
{
	for (size_t i = 0; i < wt->n; i++)
		if (!strcmp(wt->w[i].dir, dir))
			return &wt->w[i];
	if (wt->n == WATCH_MAX)
		return NULL;
	int wd = inotify_add_watch(wt->fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
						  IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
	if (wd < 0) {
		log_errno(LOG_WARN, "watch", "cannot watch %s", dir);
		return NULL;
	}
	for (size_t i = 0; i < wt->n; i++)
		if (wt->w[i].wd == wd)
			return &wt->w[i];  /* the same folder by another name */
	watched *e = &wt->w[wt->n++];
	memset(e, 0, sizeof(*e));
	e->wd = wd;
	e->dir = strdup(dir);
	return e;
}

/* Watches `path`: a folder (every *.yaml in it) or a file (in its folder). */
static void add_path(watch *wt, const char *path, bool folder)
{
	char dir[PATH_MAX];
	const char *name = NULL;
	if (folder) {
		snprintf(dir, sizeof(dir), "%s", path);
	} else {
		const char *slash = strrchr(path, '/');
		if (slash) {
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
			if (!dir[0])
				strcpy(dir, "/");
			name = slash + 1;
		} else {
			strcpy(dir, ".");
			name = path;
		}
	}
	watched *e = dir_entry(wt, dir);
	if (!e)
		return;
	if (folder) {
		e->any_yaml = true;
		return;
	}
	char **names = realloc(e->names, (e->n_names + 1) * sizeof(*names));
	if (!names)
		return;
	e->names = names;
	e->names[e->n_names++] = strdup(name);
}

void watch_reset(watch *wt)
{
	if (!wt)
		return;
	clear(wt);
	const cfg *c = wt->d->cfg;
	add_path(wt, c->path, false);
	for (size_t i = 0; i < c->n_policy_paths; i++)
		add_path(wt, c->policy_paths[i], false);
	/* the DoT listeners' certificate and key: a renewal is reloaded too */
	if (c->tls.n_listen && c->tls.certificate && c->tls.key) {
		add_path(wt, c->tls.certificate, false);
		add_path(wt, c->tls.key, false);
	}
	/* the policies' list files (domains-file, hosts-file, allow-file) */
	for (size_t v = 0; v < c->n_vendors; v++)
		for (size_t i = 0; i < c->vendors[v].n_lists; i++)
			add_path(wt, c->vendors[v].lists[i].path, false);
	/* a policy folder also gains and loses files: watch it for any *.yaml */
	for (size_t i = 0; i < c->n_policy_paths; i++) {
		const char *slash = strrchr(c->policy_paths[i], '/');
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - c->policy_paths[i]) : 1,
			 slash ? c->policy_paths[i] : ".");
		add_path(wt, dir, true);
	}
}

static bool counts(const watched *e, const char *name)
{
	if (name[0] == '.')
		return false;  /* editors' swap and temporary files */
	size_t n = strlen(name);
	if (e->any_yaml && n > 5 && !strcmp(name + n - 5, ".yaml"))
		return true;
	for (size_t i = 0; i < e->n_names; i++)
		if (!strcmp(e->names[i], name))
			return true;
	return false;
}

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
	watch *wt = arg;
	(void)fd;
	(void)what;
	daemon_reload(wt->d, "files changed");
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	watch *wt = arg;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	(void)what;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (!ev->len)
				continue;
			for (size_t i = 0; i < wt->n; i++)
				if (wt->w[i].wd == ev->wd && counts(&wt->w[i], ev->name))
					hit = true;
		}
	}
	if (hit) {
		struct timeval tv = { .tv_sec = 0, .tv_usec = WATCH_DEBOUNCE_MS * 1000 };
		evtimer_add(wt->debounce, &tv);  /* re-adding restarts the quiet period */
	}
}

watch *watch_new(daemon_ctx *d)
{
	watch *wt = calloc(1, sizeof(*wt));
	if (!wt)
		return NULL;
	wt->d = d;
	wt->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	struct event_base *base = d->workers[0]->base;
	if (wt->fd < 0 || !(wt->ev = event_new(base, wt->fd, EV_READ | EV_PERSIST, on_inotify, wt)) ||
	    !(wt->debounce = evtimer_new(base, on_debounce, wt)) || event_add(wt->ev, NULL) < 0) {
		log_errno(LOG_WARN, "watch", "no inotify: reload with SIGHUP");
		watch_free(wt);
		return NULL;
	}
	watch_reset(wt);
	return wt;
}

void watch_free(watch *wt)
{
	if (!wt)
		return;
	clear(wt);
	if (wt->ev)
		event_free(wt->ev);
	if (wt->debounce)
		event_free(wt->debounce);
	if (wt->fd >= 0)
		close(wt->fd);
	free(wt);
}
