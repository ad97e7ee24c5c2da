/*
 * listfile.c: format detection and the two line formats (one name per line,
 * hosts file) of policy list files; RPZ zones are listfile_rpz.c's.
 *
 * The line formats are read by a hand-written scanner over the whole file in
 * memory, with no allocation per line or per name: a hosts file of a million
 * lines is mostly a memchr per line and a dname_from_str per name.
 */
#include "config/listfile_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* A directive or an SOA within this many meaningful lines makes a zone. */
#define DETECT_LINES 1000

const char *listfile_format_name(listfile_format f)
{
	switch (f) {
	case LISTFILE_FMT_NAMES:
		return "names";
	case LISTFILE_FMT_HOSTS:
		return "hosts";
	case LISTFILE_FMT_RPZ:
		return "rpz";
	}
	return "?";
}

static void vadd(cfg_diags *d, const char *file, uint32_t line, uint32_t col, const char *fmt,
		 va_list ap)
{
	char msg[1200];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	cfg_diags_add(d, file, line, col, "%s", msg);
}

void lf_error(lf *l, uint32_t line, uint32_t col, const char *fmt, ...)
{
	if (l->n_errors++ >= LISTFILE_MAX_ERRORS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vadd(l->sink->errors, l->name, line, col, fmt, ap);
	va_end(ap);
}

void lf_warn(lf *l, unsigned kind, uint32_t line, uint32_t col, const char *fmt, ...)
{
	if (!l->sink->warnings || l->n_warn[kind]++ >= LISTFILE_MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vadd(l->sink->warnings, l->name, line, col, fmt, ap);
	va_end(ap);
}

/* The counts of what the caps held back, one message each. */
static void lf_finish(lf *l)
{
	if (l->n_errors > LISTFILE_MAX_ERRORS)
		cfg_diags_add(l->sink->errors, l->name, 0, 0, "%zu more errors not shown",
			      l->n_errors - LISTFILE_MAX_ERRORS);
	for (unsigned k = 0; k < LF_W_KINDS && l->sink->warnings; k++)
		if (l->n_warn[k] > LISTFILE_MAX_WARNINGS)
			cfg_diags_add(l->sink->warnings, l->name, 0, 0,
				      "%zu more warnings like the ones above not shown",
				      l->n_warn[k] - LISTFILE_MAX_WARNINGS);
}

int lf_wire(lf *l, const char *text, size_t n, uint32_t line, uint32_t col, uint8_t wire[DNAME_MAX],
	    size_t *len)
{
	char buf[DNAME_MAX + 2];
	const char *why;
	if (n > DNAME_MAX - 1) {
		lf_error(l, line, col, "bad name \"%.40s...\": name longer than 253 characters", text);
		return -1;
	}
	memcpy(buf, text, n);
	buf[n] = 0;
	if (memchr(text, 0, n)) {
		lf_error(l, line, col, "bad name: it holds a NUL octet");
		return -1;
	}
	if (dname_from_str(buf, wire, len, &why) < 0) {
		lf_error(l, line, col, "bad name \"%s\": %s", buf, why);
		return -1;
	}
	if (*len == 1) {
		lf_error(l, line, col, "\"%s\" is the root: it would match every name", buf);
		return -1;
	}
	return 0;
}

void lf_emit(lf *l, listfile_kind kind, const uint8_t *wire, size_t len, uint32_t line, uint32_t col)
{
	if (l->stopped || !l->sink->add)
		return;
	if (l->sink->add(l->sink->ctx, kind, wire, len, line, col))
		l->stopped = true;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* An IPv4 or IPv6 address, with an optional %zone ("fe80::1%lo0"). */
static bool is_addr(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 16];
	unsigned char a[16];
	const char *pct = memchr(s, '%', n);
	if (pct)
		n = (size_t)(pct - s);
	if (n == 0 || n >= INET6_ADDRSTRLEN)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	return inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1;
}

/* What every hosts file maps to loopback or multicast and no blocklist
 * means: the names AdGuard Home and Blocky skip too. */
static bool hosts_builtin(const char *s, size_t n)
{
	static const char *const names[] = {
		"localhost", "localhost.localdomain", "local", "broadcasthost",
		"localhost4", "localhost4.localdomain4", "localhost6",
		"localhost6.localdomain6", "ip6-localhost", "ip6-loopback",
		"ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
		"ip6-allhosts", "ip4-localhost", "ip4-loopback",
	};
	if (n && s[n - 1] == '.')
		n--;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && !strncasecmp(names[i], s, n))
			return true;
	return false;
}

/* One token of a line: [*tok, *tok + *n); false at the end or a comment. */
static bool next_token(const char **p, const char *end, const char **tok, size_t *n)
{
	const char *s = *p;
	while (s < end && blank(*s))
		s++;
	if (s == end || *s == '#') {
		*p = end;
		return false;
	}
	const char *e = s;
	while (e < end && !blank(*e))
		e++;
	*tok = s;
	*n = (size_t)(e - s);
	*p = e;
	return true;
}

/* One name as written in a list: "*.name" is a domain whatever the key. */
static void take_name(lf *l, const char *tok, size_t n, uint32_t line, uint32_t col)
{
	listfile_kind kind = l->key == LISTFILE_ALLOW ? LISTFILE_KIND_ALLOW
			     : l->key == LISTFILE_HOSTS ? LISTFILE_KIND_HOST
							: LISTFILE_KIND_DOMAIN;
	uint8_t wire[DNAME_MAX];
	size_t len;
	if (n >= 2 && tok[0] == '*' && tok[1] == '.') {
		tok += 2;
		n -= 2;
		if (kind == LISTFILE_KIND_HOST)
			kind = LISTFILE_KIND_DOMAIN;
	}
	if (lf_wire(l, tok, n, line, col, wire, &len) == 0)
		lf_emit(l, kind, wire, len, line, col);
}

static void names_line(lf *l, const char *s, const char *end, uint32_t line)
{
	const char *p = s, *tok, *extra;
	size_t n, n2;
	if (!next_token(&p, end, &tok, &n))
		return;
	uint32_t col = (uint32_t)(tok - s) + 1;
	if (next_token(&p, end, &extra, &n2)) {
		lf_error(l, line, (uint32_t)(extra - s) + 1,
			 "expected one name per line, found \"%.*s\" after \"%.*s\"",
			 (int)(n2 > 64 ? 64 : n2), extra, (int)(n > 64 ? 64 : n), tok);
		return;
	}
	if (is_addr(tok, n)) {
		lf_warn(l, LF_W_ADDRESS, line, col, "\"%.*s\" is an address, not a name: skipped",
			(int)n, tok);
		return;
	}
	take_name(l, tok, n, line, col);
}

static void hosts_line(lf *l, const char *s, const char *end, uint32_t line)
{
	const char *p = s, *tok;
	size_t n;
	if (!next_token(&p, end, &tok, &n))
		return;
	if (!is_addr(tok, n)) {
		lf_error(l, line, (uint32_t)(tok - s) + 1,
			 "expected an address, found \"%.*s\" (a hosts file: ADDRESS NAME...)",
			 (int)(n > 64 ? 64 : n), tok);
		return;
	}
	bool any = false;
	while (next_token(&p, end, &tok, &n)) {
		any = true;
		/* "0.0.0.0 0.0.0.0" heads many published lists */
		if (hosts_builtin(tok, n) || is_addr(tok, n))
			continue;
		take_name(l, tok, n, line, (uint32_t)(tok - s) + 1);
	}
	if (!any)
		lf_error(l, line, (uint32_t)(p - s), "an address without names");
}

/* Calls fn on each line, without its end ("\n" or "\r\n"), numbered from 1. */
static void each_line(lf *l, const char *buf, size_t len,
		      void (*fn)(lf *, const char *, const char *, uint32_t))
{
	const char *p = buf, *end = buf + len;
	uint32_t line = 0;
	while (p < end && !l->stopped) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		line++;
		fn(l, p, le, line);
		p = eol ? eol + 1 : end;
	}
}

/* Does this meaningful line say "zone file": a directive, or an SOA record
 * ("owner [ttl] [class] SOA", or with the owner left out)? */
static bool zone_line(const char *s, const char *end)
{
	if (*s == '$')
		return true;
	const char *p = s, *tok;
	size_t n;
	bool indented = blank(*s);
	for (int i = 0; i < 4 && next_token(&p, end, &tok, &n); i++) {
		if (i == 0 && is_addr(tok, n))
			return false;
		if ((i > 0 || indented) && n == 3 && !strncasecmp(tok, "SOA", 3))
			return true;
	}
	return false;
}

listfile_format listfile_detect(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int seen = 0;
	bool first_addr = false;
	while (p < end && seen < DETECT_LINES) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end, *s = p;
		p = eol ? eol + 1 : end;
		while (s < le && blank(*s))
			s++;
		if (s == le || *s == '#' || *s == ';')
			continue;
		const char *start = s;
		while (start > buf && start[-1] != '\n')
			start--;
		if (zone_line(start, le))
			return LISTFILE_FMT_RPZ;
		if (seen++ == 0) {
			const char *q = s;
			while (q < le && !blank(*q) && *q != '#')
				q++;
			first_addr = is_addr(s, (size_t)(q - s));
		}
	}
	return first_addr ? LISTFILE_FMT_HOSTS : LISTFILE_FMT_NAMES;
}

int listfile_parse_buf(const char *buf, size_t len, const char *name, listfile_key key,
		       const listfile_sink *sink, listfile_format *format)
{
	lf l = {.name = name, .key = key, .sink = sink};
	size_t n0 = sink->errors->n;
	listfile_format f = listfile_detect(buf, len);
	if (format)
		*format = f;
	switch (f) {
	case LISTFILE_FMT_NAMES:
		each_line(&l, buf, len, names_line);
		break;
	case LISTFILE_FMT_HOSTS:
		each_line(&l, buf, len, hosts_line);
		break;
	case LISTFILE_FMT_RPZ:
		lf_rpz(&l, buf, len);
		break;
	}
	lf_finish(&l);
	return sink->errors->n == n0 ? 0 : -1;
}

int listfile_parse_file(const char *path, listfile_key key, const listfile_sink *sink,
			listfile_format *format)
{
	struct stat st;
	FILE *f = NULL;
	/* regular files only: a FIFO would block the load, /dev/zero never end */
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || !(f = fopen(path, "rb"))) {
		int err = errno;
		bool irregular = !f && stat(path, &st) == 0 && !S_ISREG(st.st_mode);
		cfg_diags_add(sink->errors, path, 0, 0, "cannot read: %s",
			      irregular ? (S_ISDIR(st.st_mode) ? "a folder, not a file"
							      : "not a regular file")
					: strerror(err));
		return -1;
	}
	/* one read of the whole file: the scanner wants it contiguous */
	size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len < cap) {
			if (ferror(f)) {
				cfg_diags_add(sink->errors, path, 0, 0, "cannot read: %s",
					      strerror(errno));
				free(buf);
				fclose(f);
				return -1;
			}
			break;
		}
		cap *= 2;  /* the file grew while being read */
		char *b = realloc(buf, cap);
		if (!b)
			abort();
		buf = b;
	}
	fclose(f);
	int rc = listfile_parse_buf(buf, len, path, key, sink, format);
	free(buf);
	return rc;
}
