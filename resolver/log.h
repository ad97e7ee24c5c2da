/*
 * log.h: the daemon's operational log (not the query log): levels, a
 * subsystem tag, printf-checked. Lines go to stderr as
 * "embargo[tag] level: message", which systemd and containers collect.
 * log_errno variants append strerror(errno).
 */
#ifndef EMBARGO_LOG_H
#define EMBARGO_LOG_H

typedef enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level;

void log_msg(log_level lvl, const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_errno(log_level lvl, const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(tag, ...) log_msg(LOG_ERR, tag, __VA_ARGS__)
#define log_warn(tag, ...) log_msg(LOG_WARN, tag, __VA_ARGS__)
#define log_info(tag, ...) log_msg(LOG_INFO, tag, __VA_ARGS__)

#endif
