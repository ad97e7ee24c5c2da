/*
 * log.c: operational log lines on stderr. Unbuffered stderr keeps lines whole
 * and in order next to the query log on stdout.
 */
#include "resolver/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static void log_vmsg(log_level lvl, const char *tag, const char *err, const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (err)
		fprintf(stderr, "embargo[%s] %s: %s: %s\n", tag, level_names[lvl], line, err);
	else
		fprintf(stderr, "embargo[%s] %s: %s\n", tag, level_names[lvl], line);
}

void log_msg(log_level lvl, const char *tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(lvl, tag, NULL, fmt, ap);
	va_end(ap);
}

void log_errno(log_level lvl, const char *tag, const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(lvl, tag, err, fmt, ap);
	va_end(ap);
}
