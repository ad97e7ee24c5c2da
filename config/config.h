/*
 * config.h: the typed daemon configuration and the vendor policy sources.
 *
 * Owns: reading embargo.yaml and every policy file (libyaml, streaming),
 * defaults, and validation with file:line:column for every error. The result
 * is a plain struct (`cfg`) that the policy engine and the daemon read.
 *
 * Pure: no sockets, no clock, no libevent. The only I/O is reading files.
 * Convention: functions return 0 on success and a negative value on error.
 */
#ifndef EMBARGO_CONFIG_H
#define EMBARGO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/diag.h"
#include "config/values.h"

/* What a policy rule does once it is in force. */
typedef enum cfg_action {
	CFG_ACT_REFUSE = 0,
	CFG_ACT_NXDOMAIN,
	CFG_ACT_NODATA,
	CFG_ACT_SINKHOLE,
	CFG_ACT_AUDIT,
} cfg_action;

/* What a rule does before its `effective` instant. */
typedef enum cfg_before {
	CFG_BEFORE_AUDIT = 0, /* pass and count (default) */
	CFG_BEFORE_ALLOW,     /* ignore the rule entirely */
} cfg_before;

/* Text of an action as written in YAML ("refuse", ...). */
const char *cfg_action_name(cfg_action a);

/*
 * A compact list of domain names: lower-cased wire form, concatenated in one
 * buffer, with the source position of each. Compact because a policy may hold
 * a million names. Name i starts at buf + off[i]; its length follows from its
 * labels (dname_wire_len).
 */
typedef struct cfg_names {
	uint8_t *buf;
	size_t len, cap;
	uint32_t *off;
	uint32_t *line, *col; /* 1-based, in the owning vendor's file or one of its
				 list files: see cfg_pos_src */
	size_t n, cap_n;
} cfg_names;

/*
 * A name read from a list file (domains-file, ...) keeps its position in that
 * file: its col packs the file's number above CFG_POS_SRC_SHIFT (0: the
 * policy file itself, i: vendor->lists[i - 1]) and the column below, so that
 * positions stay three integers a name. cfg_vendor_source names the file.
 */
#define CFG_POS_SRC_SHIFT 20
#define CFG_POS_COL_MAX ((1u << CFG_POS_SRC_SHIFT) - 1)
#define CFG_POS_SRC_MAX ((1u << (32 - CFG_POS_SRC_SHIFT)) - 1)
static inline uint32_t cfg_pos_make(uint32_t src, uint32_t col)
{
	return src << CFG_POS_SRC_SHIFT | (col > CFG_POS_COL_MAX ? CFG_POS_COL_MAX : col);
}
static inline uint32_t cfg_pos_src(uint32_t col)
{
	return col >> CFG_POS_SRC_SHIFT;
}
static inline uint32_t cfg_pos_col(uint32_t col)
{
	return col & CFG_POS_COL_MAX;
}

/* Appends one wire name (copied) with its position. */
int cfg_names_add(cfg_names *l, const uint8_t *wire, size_t wire_len, uint32_t line, uint32_t col);
static inline const uint8_t *cfg_names_at(const cfg_names *l, size_t i)
{
	return l->buf + l->off[i];
}
void cfg_names_free(cfg_names *l);

typedef struct cfg_rule {
	char *id;
	uint32_t line, col;  /* position of the rule's mapping */
	int64_t effective;   /* seconds since the epoch, UTC */
	int64_t until;       /* CFG_TIME_NEVER when absent or null */
	cfg_action action;
	cfg_before before;
	cfg_names domains;   /* the name and every name below it */
	cfg_names hosts;     /* exactly this name */
} cfg_rule;

/* One list file named by a policy file (domains-file, hosts-file, allow-file). */
typedef struct cfg_listfile {
	char *path;          /* resolved against the policy file's folder */
	const char *format;  /* "names", "hosts" or "rpz" (static); NULL if unread */
	size_t n_names;      /* names taken from it, duplicates left out */
} cfg_listfile;

typedef struct cfg_vendor {
	char *file;          /* path of the policy file, as opened */
	char *id;            /* [a-z0-9-]+, unique across files */
	char *name, *basis, *url;
	uint16_t ede;        /* RFC 8914 info-code, default 15 (Blocked) */
	uint32_t line, col;  /* position of the `vendor:` value */
	cfg_rule *rules;
	size_t n_rules;
	cfg_names allow;     /* exceptions: never blocked by this vendor */
	cfg_listfile *lists; /* the list files read, in order (see cfg_pos_src) */
	size_t n_lists;
	cfg_diags warnings;  /* what is worth saying but no error (list files) */
} cfg_vendor;

/* The file a position packed by cfg_pos_make is in: the policy file or one
 * of its list files. Borrowed from v. */
const char *cfg_vendor_source(const cfg_vendor *v, uint32_t col);

typedef struct cfg_upstream {
	cfg_addr addr;       /* port 53, or 853 with tls */
	bool tls;            /* tls://ADDR[:PORT]#NAME */
	char *tls_name;      /* name after '#', checked against the certificate */
	bool has_pin;        /* pin-sha256 given (tls only) */
	uint8_t pin[32];     /* SHA-256 of the server's SubjectPublicKeyInfo (RFC 7858 4.2) */
} cfg_upstream;

typedef struct cfg_group {
	char *name;
	cfg_net *nets;
	size_t n_nets;
	char **exempt;       /* "vendor" or "vendor/rule" */
	uint32_t *exempt_line, *exempt_col;
	size_t n_exempt;
} cfg_group;

typedef enum cfg_log_queries {
	CFG_LOGQ_OFF = 0,
	CFG_LOGQ_BLOCKED,
	CFG_LOGQ_AUDITED,    /* blocked and audited */
	CFG_LOGQ_ALL,
} cfg_log_queries;

typedef enum cfg_log_format {
	CFG_LOGF_JSON = 0,
	CFG_LOGF_TEXT,
} cfg_log_format;

/* One TSIG key (RFC 8945) of `rpz.tsig`. */
typedef struct cfg_tsig_key {
	char *name;          /* a domain name, lower-case, with the trailing dot */
	char *algorithm;     /* "hmac-sha256" (default), "hmac-sha512", ... */
	char *secret;        /* base64 as written; checked to decode */
} cfg_tsig_key;

/* `rpz`: the policy served as a Response Policy Zone (DESIGN section 7). */
typedef struct cfg_rpz {
	char *zone;          /* origin, lower-case, trailing dot; NULL: no zone served */
	cfg_addr *listen;    /* default 127.0.0.1:5354 (port 5354 when omitted) */
	size_t n_listen;
	cfg_net *allow_transfer; /* default 127.0.0.0/8 and ::1/128 */
	size_t n_allow_transfer;
	cfg_tsig_key *tsig;  /* none: transfers need no signature */
	size_t n_tsig;
	cfg_addr *notify;    /* secondaries told of new serials (port 53 when omitted) */
	size_t n_notify;
	uint32_t ttl;        /* TTL of the zone's records; default sinkhole.ttl */
} cfg_rpz;

/* What a UDP client over its `ratelimit` gets. */
typedef enum cfg_rl_action {
	CFG_RL_TRUNCATE = 0,  /* a TC answer without records: real clients retry over TCP */
	CFG_RL_DROP,          /* nothing */
} cfg_rl_action;

/* `ratelimit`: UDP queries per client network, a token bucket each
 * (daemon_ratelimit.c). Off unless the mapping is present. */
typedef struct cfg_ratelimit {
	bool on;
	uint32_t qps;         /* tokens per second; default 100 */
	uint32_t burst;       /* bucket size; default 2 * qps */
	uint8_t ipv4_prefix;  /* clients counted together: default /32 */
	uint8_t ipv6_prefix;  /* default /56 */
	cfg_rl_action action; /* default truncate */
	cfg_net *exempt;      /* never limited */
	size_t n_exempt;
	uint32_t entries;     /* buckets per worker; default 65536 */
} cfg_ratelimit;

/* The whole configuration: the daemon's settings and every vendor loaded. */
typedef struct cfg {
	char *path;                  /* the config file as opened */

	cfg_addr *listen;            /* default 127.0.0.1:53 and [::1]:53 */
	size_t n_listen;
	struct {
		cfg_addr *listen;
		size_t n_listen;
		char *certificate, *key;
	} tls;
	cfg_upstream *upstreams;     /* empty: the resolver reads /etc/resolv.conf */
	size_t n_upstreams;
	char *tls_ca;                /* NULL: the system store */
	uint32_t timeout_ms;         /* default 1500 */
	struct {
		uint32_t entries;        /* default 100000; 0 turns the cache off */
		uint32_t min_ttl;        /* default 0 */
		uint32_t max_ttl;        /* default 86400 */
		uint32_t stale_max;      /* seconds an expired answer may be served when
					    every upstream fails (RFC 8767); default 0: off */
	} cache;
	struct {
		cfg_ip ipv4, ipv6;       /* default 0.0.0.0 and :: */
		uint32_t ttl;            /* default 300 */
	} sinkhole;
	char **policy_paths;         /* as resolved against the config's folder */
	size_t n_policy_paths;
	cfg_group *groups;
	size_t n_groups;
	struct {
		cfg_log_queries queries; /* default blocked */
		cfg_log_format format;   /* default json */
		char *file;              /* default "-" (stdout) */
	} log;
	cfg_net *access;             /* default loopback and private ranges */
	size_t n_access;
	bool http_set;
	cfg_addr http;
	char *user;                  /* NULL: keep the current user */
	char *state_file;            /* the clock floor's state; NULL: none */
	bool hide_version;           /* CHAOS version/policy queries get REFUSED */
	bool minimal_responses;      /* default true: a positive answer to a query
					without DO loses its authority and
					additional records (wire_reply_is_minimal) */
	uint32_t workers;            /* default 1; 0 means one per CPU ("auto") */
	uint32_t exposure_clients;   /* (client, vendor) entries kept for /exposure,
					least recently seen evicted; default 10000, 0: off */
	cfg_rpz rpz;                 /* zone transfers of the policy; zone NULL: off */
	cfg_ratelimit ratelimit;     /* UDP queries per client network */

	cfg_vendor *vendors;         /* every policy file, in load order */
	size_t n_vendors;
	cfg_diags warnings;          /* every vendor's, gathered by cfg_load */

	/* Set by whoever loads it for serving (not by cfg_load): a SHA-256 of
	 * the policy files' bytes, and the wall time of the load. */
	char policy_digest[65];
	int64_t loaded_at;
} cfg;

/*
 * Loads the config at `path` and every policy file it names. Returns a new
 * cfg (free with cfg_free) or NULL when anything is wrong; every error found
 * is appended to `diags` (loading goes on after an error to find the rest).
 */
cfg *cfg_load(const char *path, cfg_diags *diags);

/* Loads only a config, with no policy files; for tests and tools. */
cfg *cfg_load_daemon(const char *path, cfg_diags *diags);

/* Loads one vendor policy file into `out` (zeroed first). 0 or -1. */
int cfg_load_vendor(const char *path, cfg_vendor *out, cfg_diags *diags);

/* One `upstreams` item: "ADDR[:PORT]" or "tls://ADDR[:PORT]#NAME". 0, or -1
 * with the reason in err. u->tls_name is owned by u. */
int cfg_upstream_parse(const char *text, cfg_upstream *u, char *err, size_t errlen);
/* A `pin-sha256` value: base64 of 32 octets, into pin. 0, or -1 with the
 * reason in err. */
int cfg_pin_parse(const char *text, uint8_t pin[32], char *err, size_t errlen);

/*
 * Environment overrides for containers: EMBARGO_LISTEN and EMBARGO_UPSTREAMS
 * (comma-separated lists that replace `listen` and `upstreams`), EMBARGO_HTTP
 * (an address, or "off") and EMBARGO_LOG_QUERIES (off|blocked|audited|all).
 * `get` looks a variable up (getenv, or a test's table). Errors are added to
 * diags under the variable's name; -1 when there was one.
 */
int cfg_apply_env(cfg *c, const char *(*get)(const char *name), cfg_diags *diags);

void cfg_vendor_clear(cfg_vendor *v);
void cfg_free(cfg *c);

/* Frees every vendor's name lists (rules' domains and hosts, allow), and
 * nothing else. For the daemon once it has built its policy snapshot, which
 * copies the names: a 100,000-name policy would otherwise be held twice. */
void cfg_drop_names(cfg *c);

#endif
