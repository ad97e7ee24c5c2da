/*
 * values.h: scalar value types of the configuration and their text forms.
 *
 * Owns: IP addresses with ports, networks (CIDR), durations, RFC 3339 times.
 * Pure string <-> value conversions; no sockets (addresses are plain bytes).
 * Parsers return 0, or -1 and set *why to a static English reason.
 */
#ifndef EMBARGO_CONFIG_VALUES_H
#define EMBARGO_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IP address as bytes, network order. family is 4 or 6. */
typedef struct cfg_ip {
	uint8_t family;
	uint8_t addr[16];  /* IPv4 uses the first 4 bytes */
} cfg_ip;

typedef struct cfg_addr {
	cfg_ip ip;
	uint16_t port;
} cfg_addr;

typedef struct cfg_net {
	cfg_ip ip;         /* host bits are zero */
	uint8_t prefix;    /* 0..32 or 0..128 */
} cfg_net;

/* "192.0.2.1", "192.0.2.1:5300", "::1", "[::1]:5300". No names. */
int cfg_addr_parse(const char *s, uint16_t default_port, cfg_addr *out, const char **why);
/* "10.0.0.0/8", "fd00::/8"; a bare address is a host route. Host bits set: error,
 * *why equal (strcmp) to CFG_WHY_HOST_BITS and *out the masked network (a hint). */
#define CFG_WHY_HOST_BITS "host bits set"
int cfg_net_parse(const char *s, cfg_net *out, const char **why);
int cfg_ip_parse(const char *s, cfg_ip *out, const char **why);
bool cfg_net_contains(const cfg_net *n, const cfg_ip *ip);

/* "192.0.2.1:53" or "[2001:db8::1]:53"; returns buf. */
#define CFG_ADDR_BUF 56
char *cfg_addr_format(const cfg_addr *a, char buf[CFG_ADDR_BUF]);
#define CFG_IP_BUF 46
char *cfg_ip_format(const cfg_ip *ip, char buf[CFG_IP_BUF]);

/* "1500ms", "2s", "5m", "1h", "1d", or a bare number of seconds. */
int cfg_duration_parse(const char *s, uint64_t *ms, const char **why);

/* Times are seconds since the epoch, UTC. CFG_TIME_NEVER means "no end". */
#define CFG_TIME_NEVER INT64_MAX
/*
 * RFC 3339 with a required offset ("2024-09-29T04:00:00Z",
 * "2024-09-29T00:00:00-04:00", fractional seconds dropped) or a bare date
 * ("2024-09-29", 00:00 UTC).
 */
int cfg_time_parse(const char *s, int64_t *out, const char **why);
/* RFC 3339 in UTC: "2024-09-29T04:00:00Z"; "never" for CFG_TIME_NEVER. */
#define CFG_TIME_BUF 32
char *cfg_time_format(int64_t t, char buf[CFG_TIME_BUF]);

#endif
