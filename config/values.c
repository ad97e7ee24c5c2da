/*
 * values.c: text <-> value conversions for addresses, networks, durations and
 * RFC 3339 times.
 *
 * Strict on purpose: a config value that parses "mostly" (a trailing unit
 * typo, a date without an offset) is a cutoff at the wrong instant or a
 * listener on the wrong port, so anything not exactly understood is an error
 * with a short reason. Times are computed with a days-from-civil formula rather
 * than timegm() so that results never depend on TZ or the C library.
 */
#include "config/values.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Parses all of s[0..n) as a decimal number no greater than max. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	if (n == 0)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int cfg_ip_parse(const char *s, cfg_ip *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (!*s) {
		*why = "empty address";
		return -1;
	}
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, out->addr) == 1) {
			out->family = 6;
			return 0;
		}
		*why = "not an IPv6 address";
		return -1;
	}
	if (inet_pton(AF_INET, s, out->addr) == 1) {
		out->family = 4;
		return 0;
	}
	*why = "not an IP address (host names are not allowed)";
	return -1;
}

static int parse_port(const char *s, uint16_t *port, const char **why)
{
	uint64_t v;
	if (parse_uint(s, strlen(s), UINT64_MAX / 16, &v) < 0) {
		*why = "bad port";
		return -1;
	}
	if (v < 1 || v > 65535) {
		*why = "port out of range 1..65535";
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

int cfg_addr_parse(const char *s, uint16_t default_port, cfg_addr *out, const char **why)
{
	char host[CFG_IP_BUF + 2];
	const char *port = NULL;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (*s == '[') {
		/* "[v6]" or "[v6]:port": the brackets are what let a port follow. */
		const char *end = strchr(s, ']');
		if (!end) {
			*why = "missing ']'";
			return -1;
		}
		n = (size_t)(end - s - 1);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1]) {
			*why = "junk after ']'";
			return -1;
		}
		if (n >= sizeof(host)) {
			*why = "not an IPv6 address";
			return -1;
		}
		memcpy(host, s + 1, n);
		host[n] = 0;
		if (!strchr(host, ':')) {
			*why = "only IPv6 addresses go in brackets";
			return -1;
		}
	} else {
		const char *colon = strchr(s, ':');
		if (colon && !strchr(colon + 1, ':')) {
			/* exactly one colon: IPv4 with a port */
			n = (size_t)(colon - s);
			port = colon + 1;
		} else {
			/* none, or several: a bare IPv4 or IPv6 address */
			n = strlen(s);
		}
		if (n >= sizeof(host)) {
			*why = "not an IP address";
			return -1;
		}
		memcpy(host, s, n);
		host[n] = 0;
	}
	if (cfg_ip_parse(host, &out->ip, why) < 0)
		return -1;
	if (port)
		return parse_port(port, &out->port, why);
	out->port = default_port;
	return 0;
}

/* Is bit i (from the most significant of addr[0]) set? */
static bool ip_bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

int cfg_net_parse(const char *s, cfg_net *out, const char **why)
{
	char host[CFG_IP_BUF];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	memset(out, 0, sizeof(*out));
	if (n >= sizeof(host)) {
		*why = "not an IP address";
		return -1;
	}
	memcpy(host, s, n);
	host[n] = 0;
	if (cfg_ip_parse(host, &out->ip, why) < 0)
		return -1;
	unsigned bits = out->ip.family == 4 ? 32 : 128;
	uint64_t prefix = bits;
	if (slash && parse_uint(slash + 1, strlen(slash + 1), 255, &prefix) < 0) {
		*why = "bad prefix length";
		return -1;
	}
	if (prefix > bits) {
		*why = out->ip.family == 4 ? "prefix length out of range 0..32"
					   : "prefix length out of range 0..128";
		return -1;
	}
	out->prefix = (uint8_t)prefix;
	bool host_bits = false;
	for (unsigned i = out->prefix; i < bits; i++) {
		if (ip_bit(out->ip.addr, i)) {
			host_bits = true;
			out->ip.addr[i / 8] &= (uint8_t)~(1u << (7 - i % 8));
		}
	}
	if (host_bits) {
		*why = CFG_WHY_HOST_BITS;
		return -1;
	}
	return 0;
}

bool cfg_net_contains(const cfg_net *n, const cfg_ip *ip)
{
	if (n->ip.family != ip->family)
		return false;
	unsigned full = n->prefix / 8, rest = n->prefix % 8;
	/* a loop, not memcmp: every query checks its client this way, and
	 * prefixes are a few octets */
	for (unsigned i = 0; i < full; i++)
		if (n->ip.addr[i] != ip->addr[i])
			return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (n->ip.addr[full] & mask) == (ip->addr[full] & mask);
}

char *cfg_ip_format(const cfg_ip *ip, char buf[CFG_IP_BUF])
{
	if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, buf, CFG_IP_BUF))
		snprintf(buf, CFG_IP_BUF, "?");
	return buf;
}

char *cfg_addr_format(const cfg_addr *a, char buf[CFG_ADDR_BUF])
{
	char ip[CFG_IP_BUF];
	cfg_ip_format(&a->ip, ip);
	snprintf(buf, CFG_ADDR_BUF, a->ip.family == 6 ? "[%s]:%u" : "%s:%u", ip, a->port);
	return buf;
}

int cfg_duration_parse(const char *s, uint64_t *ms, const char **why)
{
	size_t digits = strspn(s, "0123456789");
	const char *unit = s + digits;
	uint64_t scale;

	if (digits == 0) {
		*why = "expected a number and a unit (ms, s, m, h, d)";
		return -1;
	}
	if (!*unit || !strcmp(unit, "s"))
		scale = 1000;
	else if (!strcmp(unit, "ms"))
		scale = 1;
	else if (!strcmp(unit, "m"))
		scale = 60 * 1000;
	else if (!strcmp(unit, "h"))
		scale = 3600 * 1000;
	else if (!strcmp(unit, "d"))
		scale = 86400 * 1000;
	else {
		*why = "unknown unit (expected ms, s, m, h or d)";
		return -1;
	}
	uint64_t v;
	if (parse_uint(s, digits, UINT64_MAX / scale, &v) < 0) {
		*why = "too large";
		return -1;
	}
	*ms = v * scale;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dim[m - 1];
}

/* Reads exactly n digits at *p; advances *p. */
static int take_digits(const char **p, size_t n, unsigned *out)
{
	uint64_t v;
	if (strspn(*p, "0123456789") < n || parse_uint(*p, n, 9999, &v) < 0)
		return -1;
	*p += n;
	*out = (unsigned)v;
	return 0;
}

int cfg_time_parse(const char *s, int64_t *out, const char **why)
{
	const char *p = s;
	unsigned y, mo, d, h = 0, mi = 0, sec = 0;

	if (take_digits(&p, 4, &y) < 0 || *p++ != '-' || take_digits(&p, 2, &mo) < 0 ||
	    *p++ != '-' || take_digits(&p, 2, &d) < 0) {
		*why = "expected YYYY-MM-DD or RFC 3339 (2024-09-29T04:00:00Z)";
		return -1;
	}
	if (mo < 1 || mo > 12) {
		*why = "month out of range 01..12";
		return -1;
	}
	if (d < 1 || d > days_in_month(y, mo)) {
		*why = "day out of range for the month";
		return -1;
	}
	int64_t offset = 0;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ') {
			*why = "expected 'T' between date and time";
			return -1;
		}
		p++;
		if (take_digits(&p, 2, &h) < 0 || *p++ != ':' || take_digits(&p, 2, &mi) < 0 ||
		    *p++ != ':' || take_digits(&p, 2, &sec) < 0) {
			*why = "expected the time as HH:MM:SS";
			return -1;
		}
		/* 60 is a leap second; it lands on the next second, as POSIX time must. */
		if (h > 23 || mi > 59 || sec > 60) {
			*why = "time of day out of range";
			return -1;
		}
		if (*p == '.') {
			p++;
			size_t frac = strspn(p, "0123456789");
			if (frac == 0) {
				*why = "expected digits after '.'";
				return -1;
			}
			p += frac; /* sub-second precision has no use in a policy cutoff */
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1;
			unsigned oh, om;
			if (take_digits(&p, 2, &oh) < 0 || *p++ != ':' || take_digits(&p, 2, &om) < 0) {
				*why = "expected the UTC offset as +hh:mm or -hh:mm";
				return -1;
			}
			if (oh > 23 || om > 59) {
				*why = "UTC offset out of range";
				return -1;
			}
			offset = sign * (int64_t)(oh * 3600 + om * 60);
		} else if (!*p) {
			*why = "missing UTC offset (add Z or +hh:mm/-hh:mm)";
			return -1;
		} else {
			*why = "junk after the time";
			return -1;
		}
		if (*p) {
			*why = "junk after the UTC offset";
			return -1;
		}
	}
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	return 0;
}

char *cfg_time_format(int64_t t, char buf[CFG_TIME_BUF])
{
	if (t == CFG_TIME_NEVER) {
		snprintf(buf, CFG_TIME_BUF, "never");
		return buf;
	}
	int64_t days = t / 86400, rem = t % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	/* Years past 9999 only come from arithmetic, not from parsing; format
	 * them wide and let the copy cut them rather than overrun buf. */
	char wide[80];
	snprintf(wide, sizeof(wide), "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
		 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
	size_t n = strlen(wide);
	if (n >= CFG_TIME_BUF)
		n = CFG_TIME_BUF - 1;
	memcpy(buf, wide, n);
	buf[n] = 0;
	return buf;
}
