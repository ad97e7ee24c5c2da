/*
 * fuzz_util.c: see fuzz_util.h.
 */
#include "fuzz_util.h"

#include <ftw.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
	abort();
}

static cfg *fixture_cfg;
static policy *fixture_pol;

static void fixture_load(void)
{
	if (fixture_pol)
		return;
	cfg_diags d = { 0 };
	fixture_cfg = cfg_load(FUZZ_DATA_DIR "/embargo.yaml", &d);
	if (!fixture_cfg || !(fixture_pol = policy_new(fixture_cfg, &d))) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s:%u:%u: %s\n", d.v[i].file, d.v[i].line, d.v[i].col,
				d.v[i].msg);
		fuzz_fail(__FILE__, __LINE__, "the fixture " FUZZ_DATA_DIR "/embargo.yaml loads");
	}
	cfg_diags_free(&d);
}

const cfg *fuzz_cfg(void)
{
	fixture_load();
	return fixture_cfg;
}

const policy *fuzz_policy(void)
{
	fixture_load();
	return fixture_pol;
}

int64_t fuzz_time(unsigned i)
{
	static const int64_t t[] = {
		1704067199,   /* 2023-12-31T23:59:59Z: before every rule */
		1717200000,   /* 2024-06-01T00:00:00Z: acme's telemetry and downloads start */
		1727582399,   /* 2024-09-29T03:59:59Z: kaspersky's updates still audited */
		1727582400,   /* 2024-09-29T04:00:00Z: every kaspersky rule in force */
		1735689600,   /* 2025-01-01T00:00:00Z: acme/web has ended */
		0,            /* 1970 */
		INT64_MAX,    /* the far end */
		1779000000,   /* 2026 */
	};
	return t[i % (sizeof(t) / sizeof(t[0]))];
}

const cfg_ip *fuzz_client(unsigned i)
{
	static const cfg_ip ip[] = {
		{ .family = 4, .addr = { 127, 0, 0, 1 } },
		{ .family = 4, .addr = { 10, 66, 1, 2 } },   /* group lab */
		{ .family = 6, .addr = { [15] = 1 } },       /* ::1 */
		{ .family = 6, .addr = { 0xfd, 0x00, 0x00, 0x66, [15] = 7 } }, /* lab */
	};
	return &ip[i % (sizeof(ip) / sizeof(ip[0]))];
}

int fuzz_ldns_accepts(const uint8_t *pkt, size_t len)
{
	ldns_pkt *p = NULL;
	ldns_status st = ldns_wire2pkt(&p, pkt, len);
	ldns_pkt_free(p);
	return st == LDNS_STATUS_OK;
}

int fuzz_ldns_parses(const uint8_t *pkt, size_t len, const char *what)
{
	ldns_pkt *p = NULL;
	ldns_status st = ldns_wire2pkt(&p, pkt, len);
	if (st != LDNS_STATUS_OK) {
		fprintf(stderr, "ldns cannot parse %s (%zu octets): %s\n", what, len,
			ldns_get_errorstr_by_id(st));
		for (size_t i = 0; i < len; i++)
			fprintf(stderr, "%02x%s", pkt[i], i % 16 == 15 ? "\n" : " ");
		fprintf(stderr, "\n");
		abort();
	}
	int rcode = ldns_pkt_get_rcode(p);
	ldns_pkt_free(p);
	return rcode;
}

static char dir[64];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Only our own mkdtemp folder, made below, with what the targets wrote. */
static void dir_remove(void)
{
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_dir(void)
{
	if (dir[0])
		return dir;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/embargo-fuzz-XXXXXX", base);
	if (!mkdtemp(dir))
		fuzz_fail(__FILE__, __LINE__, "mkdtemp");
	atexit(dir_remove);
	return dir;
}

const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	FILE *f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		fuzz_fail(__FILE__, __LINE__, "writing the input file");
	return path;
}
