/*
 * clockfloor.c: the state file behind the clock floor. A few lines of text,
 * so that an operator can read and fix it:
 *
 *   embargo-state 1
 *   saved-at 2026-11-23T19:00:00Z
 *   enforced 2024-09-29T04:00:00Z
 */
#include "resolver/clockfloor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/values.h"

int clockfloor_load(const char *path, clock_state *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[256], key[32], val[64];
	int rc = -1, lineno = 0;
	bool magic = false;
	snprintf(err, errlen, "%s: not an embargo state file", path);
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (sscanf(line, "%31s %63s", key, val) != 2)
			continue;
		if (!strcmp(key, "embargo-state")) {
			magic = !strcmp(val, "1");
			continue;
		}
		int64_t *dst = !strcmp(key, "saved-at") ? &st->saved_at
			     : !strcmp(key, "enforced") ? &st->enforced : NULL;
		const char *why;
		if (dst && cfg_time_parse(val, dst, &why) < 0) {
			snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, key, why);
			magic = false;
			break;
		}
	}
	if (magic)
		rc = 0;
	fclose(f);
	return rc;
}

int clockfloor_save(const char *path, const clock_state *st, char *err, size_t errlen)
{
	char tmp[4096], a[CFG_TIME_BUF], b[CFG_TIME_BUF], text[256];
	int n = snprintf(text, sizeof(text), "embargo-state 1\nsaved-at %s\nenforced %s\n",
			 cfg_time_format(st->saved_at, a), cfg_time_format(st->enforced, b));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

int64_t clockfloor_of(const clock_state *st, int64_t build_time)
{
	int64_t f = build_time;
	if (st->saved_at > f)
		f = st->saved_at;
	if (st->enforced > f)
		f = st->enforced;
	return f;
}
