/*
 * qlog_format.c: one query log line, JSON or text, into a caller's buffer.
 *
 * Pure: no allocation, no clock, no lock, no I/O; the time is an argument. Built
 * from small appenders instead of snprintf, because it runs once per logged
 * query on the worker's thread. The line formats are described in qlog.h.
 */
#include <stdio.h>
#include <string.h>

#include "config/dname.h"
#include "resolver/qlog.h"

/* An output buffer that remembers whether anything did not fit. */
typedef struct out {
	char *p;
	size_t len, cap;
	bool over;
} out;

static void put(out *o, const char *s, size_t n)
{
	if (o->over || n > o->cap - o->len) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void put_str(out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(out *o, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, d + i, sizeof(d) - i);
}

/* v in exactly `width` digits, zero-padded. */
static void put_pad(out *o, unsigned v, unsigned width)
{
	char d[8];
	for (unsigned i = width; i > 0; i--) {
		d[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	put(o, d, width);
}

/* A quoted JSON string (RFC 8259), or null. */
static void put_json(out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (!s) {
		put(o, "null", 4);
		return;
	}
	put(o, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		const unsigned char *run = c;
		while (*c && *c != '"' && *c != '\\' && *c >= 0x20)
			c++;
		put(o, (const char *)run, (size_t)(c - run));
		if (!*c)
			break;
		if (*c == '"' || *c == '\\') {
			char e[2] = { '\\', (char)*c };
			put(o, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15] };
			put(o, e, 6);
		}
	}
	put(o, "\"", 1);
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian), after
 * Howard Hinnant's days_from_civil inverse: no gmtime_r, whose time zone
 * lock the workers would share. days >= 0. */
static void civil_from_days(int64_t days, unsigned *y, unsigned *m, unsigned *d)
{
	days += 719468;                       /* from 0000-03-01 */
	int64_t era = days / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (unsigned)(yoe + era * 400) + (*m <= 2);
}

/* RFC 3339 UTC with milliseconds: 2026-11-23T19:00:00.123Z */
static void put_time(out *o, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	int64_t sec = ms / 1000;
	unsigned y, mo, d, s = (unsigned)(sec % 86400);
	civil_from_days(sec / 86400, &y, &mo, &d);
	put_pad(o, y, 4);
	put(o, "-", 1);
	put_pad(o, mo, 2);
	put(o, "-", 1);
	put_pad(o, d, 2);
	put(o, "T", 1);
	put_pad(o, s / 3600, 2);
	put(o, ":", 1);
	put_pad(o, s / 60 % 60, 2);
	put(o, ":", 1);
	put_pad(o, s % 60, 2);
	put(o, ".", 1);
	put_pad(o, (unsigned)(ms % 1000), 3);
	put(o, "Z", 1);
}

const char *qlog_type_name(uint16_t type, char buf[16])
{
	static const struct { uint16_t t; const char *name; } names[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" },
		{ 13, "HINFO" }, { 15, "MX" }, { 16, "TXT" }, { 17, "RP" }, { 18, "AFSDB" },
		{ 24, "SIG" }, { 25, "KEY" }, { 28, "AAAA" }, { 29, "LOC" }, { 33, "SRV" },
		{ 35, "NAPTR" }, { 36, "KX" }, { 37, "CERT" }, { 39, "DNAME" }, { 41, "OPT" },
		{ 42, "APL" }, { 43, "DS" }, { 44, "SSHFP" }, { 45, "IPSECKEY" }, { 46, "RRSIG" },
		{ 47, "NSEC" }, { 48, "DNSKEY" }, { 49, "DHCID" }, { 50, "NSEC3" },
		{ 51, "NSEC3PARAM" }, { 52, "TLSA" }, { 53, "SMIMEA" }, { 55, "HIP" },
		{ 59, "CDS" }, { 60, "CDNSKEY" }, { 61, "OPENPGPKEY" }, { 62, "CSYNC" },
		{ 63, "ZONEMD" }, { 64, "SVCB" }, { 65, "HTTPS" }, { 99, "SPF" },
		{ 108, "EUI48" }, { 109, "EUI64" }, { 249, "TKEY" }, { 250, "TSIG" },
		{ 251, "IXFR" }, { 252, "AXFR" }, { 255, "ANY" }, { 256, "URI" }, { 257, "CAA" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].t == type)
			return names[i].name;
	snprintf(buf, 16, "TYPE%u", type);
	return buf;
}

const char *qlog_rcode_name(uint16_t rcode, char buf[16])
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
	};
	if (rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	if (rcode == 16)
		return "BADVERS";
	snprintf(buf, 16, "RCODE%u", rcode);
	return buf;
}

size_t qlog_format(cfg_log_format f, const qlog_rec *r, char *buf, size_t cap)
{
	char ip[CFG_IP_BUF], name[DNAME_STR_MAX], tb[16], rb[16];
	out o = { .p = buf, .cap = cap };
	const char *proto = transport_name(r->t);
	const char *qname = NULL, *qtype = NULL;
	if (r->qname) {
		/* dname_to_str gives "." for the root, else no final dot */
		dname_to_str(r->qname, name);
		qname = name;
		qtype = qlog_type_name(r->qtype, tb);
	}
	const char *rcode = r->dropped ? NULL : qlog_rcode_name(r->rcode, rb);
	cfg_ip_format(r->client, ip);

	if (f == CFG_LOGF_TEXT) {
		put_time(&o, r->time_ms);
		put(&o, " ", 1);
		put_str(&o, ip);
		put(&o, " ", 1);
		put_str(&o, proto);
		put(&o, " ", 1);
		put_str(&o, qname ? qname : "-");
		put(&o, " ", 1);
		put_str(&o, qtype ? qtype : "-");
		put(&o, " ", 1);
		put_str(&o, rcode ? rcode : "-");
		put(&o, " ", 1);
		put_str(&o, r->action);
		put(&o, " ", 1);
		if (r->rule) {
			put_str(&o, r->vendor);
			put(&o, "/", 1);
			put_str(&o, r->rule);
		} else {
			put(&o, "-", 1);
		}
		put(&o, " ", 1);
		put_str(&o, r->upstream ? r->upstream : "-");
		put(&o, " ", 1);
		put_u64(&o, r->latency_us);
		put(&o, "us", 2);
		if (r->cached)
			put(&o, " cached", 7);
		if (r->stale)
			put(&o, " stale", 6);
		if (r->cloaked)
			put(&o, " cloaked", 8);
		if (r->ratelimited)
			put(&o, " ratelimited", 12);
	} else {
		put_str(&o, "{\"time\":\"");
		put_time(&o, r->time_ms);
		put_str(&o, "\",\"client\":");
		put_json(&o, ip);
		put_str(&o, ",\"transport\":");
		put_json(&o, proto);
		put_str(&o, ",\"qname\":");
		put_json(&o, qname);
		put_str(&o, ",\"qtype\":");
		put_json(&o, qtype);
		put_str(&o, ",\"rcode\":");
		put_json(&o, rcode);
		put_str(&o, ",\"action\":");
		put_json(&o, r->action);
		put_str(&o, ",\"vendor\":");
		put_json(&o, r->rule ? r->vendor : NULL);
		put_str(&o, ",\"rule\":");
		put_json(&o, r->rule);
		put_str(&o, ",\"upstream\":");
		put_json(&o, r->upstream);
		put_str(&o, ",\"latency_us\":");
		put_u64(&o, r->latency_us);
		put_str(&o, r->cached ? ",\"cached\":true" : ",\"cached\":false");
		if (r->stale)
			put_str(&o, ",\"stale\":true");
		if (r->cloaked)
			put_str(&o, ",\"cloaked\":true");
		if (r->ratelimited)
			put_str(&o, ",\"ratelimited\":true");
		put(&o, "}", 1);
	}
	put(&o, "\n", 1);
	return o.over ? 0 : o.len;
}
