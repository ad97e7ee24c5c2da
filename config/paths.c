/*
 * paths.c: resolving the `policies` entries of embargo.yaml into files.
 *
 * Relative paths are taken from the config file's folder, not the current
 * one, so that `embargo check -c /etc/embargo/embargo.yaml` and the daemon see
 * the same files wherever they are started. A folder stands for its *.yaml
 * files in name order, so load order (and the order of vendors in logs and RPZ
 * output) never depends on the file system.
 */
#include "config/config.h"
#include "config/loader.h"
#include "config/yaml_reader.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void add_path(cfg *c, size_t *cap, char *path)
{
	yr_grow(&c->policy_paths, cap, c->n_policy_paths, sizeof(char *));
	c->policy_paths[c->n_policy_paths++] = path;
}

static char *join(const char *dir, const char *name)
{
	if (!dir || name[0] == '/')
		return yr_xstrdup(name);
	size_t a = strlen(dir), b = strlen(name);
	char *p = yr_xrealloc(NULL, a + b + 2);
	memcpy(p, dir, a);
	if (a && dir[a - 1] != '/')
		p[a++] = '/';
	memcpy(p + a, name, b + 1);
	return p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_dir(cfg *c, size_t *cap, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char **names = NULL;
	size_t n = 0, ncap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		/* dot files are editor backups and the like, never policies */
		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".yaml"))
			continue;
		yr_grow(&names, &ncap, n, sizeof(char *));
		names[n++] = yr_xstrdup(de->d_name);
	}
	closedir(d);
	if (n)   /* an empty folder: names is NULL, which qsort must not get */
		qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		add_path(c, cap, join(dir, names[i]));
		free(names[i]);
	}
	free(names);
	return 0;
}

int yr_policies_add(cfg *c, size_t *cap, const char *dir, const char *item, char **resolved)
{
	struct stat st;
	char *path = join(dir, item);
	*resolved = path;
	if (stat(path, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode))
		return add_dir(c, cap, path);
	add_path(c, cap, yr_xstrdup(path));
	return 0;
}
