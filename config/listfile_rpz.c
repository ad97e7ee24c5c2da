/*
 * listfile_rpz.c: Response Policy Zones as policy list files.
 *
 * ldns reads the records (directives, parentheses, relative names, escapes);
 * this file decides what each one means for embargo. Only QNAME triggers
 * become names: the owner taken relative to the zone's apex (the SOA owner;
 * before any SOA the first $ORIGIN, else the root). The RPZ action decides
 * whether a trigger blocks: CNAME . (NXDOMAIN), CNAME *. (NODATA) and local
 * data block; rpz-passthru (or the old CNAME-to-itself), rpz-drop and
 * rpz-tcp-only do not. The rule's own action is what embargo answers with.
 *
 * A zone lists `name` and `*.name` for one domain, and often several records
 * for one owner (A and AAAA), so triggers are collected first and merged:
 * each name once, a name with a wildcard as one domain.
 */
#include "config/config.h"
#include "config/listfile_impl.h"
#include "config/nameset.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum rz_action {
	RZ_BLOCK = 0,
	RZ_PASSTHRU,
	RZ_DROP,
	RZ_TCP_ONLY,
} rz_action;

typedef struct rz {
	lf *l;
	const char *buf;
	size_t len;
	size_t scan_off;    /* start of line scan_line (0-based) */
	uint32_t scan_line;
	ldns_rdf *apex;     /* the SOA owner, once seen */
	ldns_rdf *first_origin;
	cfg_names wild, bare; /* relative names of "*.name" and "name" triggers */
} rz;

/*
 * Where the record after `consumed` lines starts: ldns has read that many
 * newlines before it, and skips blank and comment lines on its own.
 */
static void rz_pos(rz *z, uint32_t consumed, uint32_t *line, uint32_t *col)
{
	while (z->scan_line < consumed && z->scan_off < z->len) {
		const char *nl = memchr(z->buf + z->scan_off, '\n', z->len - z->scan_off);
		z->scan_off = nl ? (size_t)(nl - z->buf) + 1 : z->len;
		z->scan_line++;
	}
	size_t off = z->scan_off;
	uint32_t ln = z->scan_line;
	for (;;) {
		size_t s = off;
		while (s < z->len && (z->buf[s] == ' ' || z->buf[s] == '\t' || z->buf[s] == '\r'))
			s++;
		if (s >= z->len || (z->buf[s] != '\n' && z->buf[s] != ';')) {
			*line = ln + 1;
			*col = (uint32_t)(s - off) + 1;
			return;
		}
		const char *nl = memchr(z->buf + s, '\n', z->len - s);
		if (!nl) {
			*line = ln + 1;
			*col = 1;
			return;
		}
		off = (size_t)(nl - z->buf) + 1;
		ln++;
	}
}

static bool label_is(const uint8_t *label, const char *s)
{
	size_t n = strlen(s);
	return label[0] == n && !strncasecmp((const char *)label + 1, s, n);
}

static bool wire_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i];
		uint8_t y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i];
		if (x != y)
			return false;
	}
	return true;
}

/* A single-label absolute name equal to s ("rpz-passthru"), or the root for "". */
static bool target_is(const ldns_rdf *t, const char *s)
{
	const uint8_t *w = ldns_rdf_data(t);
	size_t n = strlen(s);
	if (!n)
		return ldns_rdf_size(t) == 1 && w[0] == 0;
	return ldns_rdf_size(t) == n + 2 && label_is(w, s) && w[n + 1] == 0;
}

/* `rel`: the trigger's name, whose CNAME to itself is the old passthru */
static rz_action rz_classify(const ldns_rr *rr, const uint8_t *rel, size_t rel_len)
{
	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_CNAME || ldns_rr_rd_count(rr) < 1)
		return RZ_BLOCK;  /* local data: the answer is rewritten */
	const ldns_rdf *t = ldns_rr_rdf(rr, 0);
	if (target_is(t, "rpz-passthru") ||
	    (ldns_rdf_size(t) == rel_len && wire_eq(ldns_rdf_data(t), rel, rel_len)))
		return RZ_PASSTHRU;
	if (target_is(t, "rpz-drop"))
		return RZ_DROP;
	if (target_is(t, "rpz-tcp-only"))
		return RZ_TCP_ONLY;
	return RZ_BLOCK;  /* CNAME . (NXDOMAIN), CNAME *. (NODATA), a rewrite */
}

static const char *const action_names[] = {"block", "rpz-passthru", "rpz-drop", "rpz-tcp-only"};

static void rz_record(rz *z, ldns_rr *rr, ldns_rdf **origin, bool explicit_origin, uint32_t line,
		      uint32_t col)
{
	lf *l = z->l;
	ldns_rdf *owner = ldns_rr_owner(rr);
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
		if (!z->apex) {
			z->apex = ldns_rdf_clone(owner);
			if (!explicit_origin) {  /* relative names below the SOA: its owner */
				ldns_rdf_deep_free(*origin);
				*origin = ldns_rdf_clone(owner);
			}
		}
		return;
	}
	const ldns_rdf *apex = z->apex ? z->apex : z->first_origin;
	ldns_rdf *root = NULL;
	if (!apex)
		apex = root = ldns_dname_new_frm_str(".");
	char text[DNAME_STR_MAX];
	if (!apex || ldns_dname_compare(owner, apex) == 0)
		goto out;  /* the apex's own records: SOA, NS */
	if (!ldns_dname_is_subdomain(owner, apex)) {
		dname_to_str(ldns_rdf_data(owner), text);
		lf_warn(l, LF_W_OTHER, line, col, "\"%s\" is outside the zone: skipped", text);
		goto out;
	}
	/* the owner's labels above the apex, as a wire name of their own */
	uint8_t rel[DNAME_MAX];
	size_t keep = ldns_dname_label_count(owner) - ldns_dname_label_count(apex), o = 0;
	const uint8_t *w = ldns_rdf_data(owner);
	const uint8_t *last = w;
	for (size_t i = 0; i < keep; i++) {
		last = w + o;
		o += 1 + w[o];
	}
	memcpy(rel, w, o);
	rel[o] = 0;
	dname_to_str(rel, text);
	static const char *const others[] = {"rpz-ip", "rpz-nsdname", "rpz-nsip", "rpz-client-ip"};
	for (size_t i = 0; i < 4; i++) {
		if (label_is(last, others[i])) {
			lf_warn(l, LF_W_TRIGGER, line, col,
				"\"%s\": %s triggers are not supported (only QNAME triggers): skipped",
				text, others[i]);
			goto out;
		}
	}
	ldns_rr_type type = ldns_rr_get_type(rr);
	if (type == LDNS_RR_TYPE_NS || type == LDNS_RR_TYPE_SOA) {
		lf_warn(l, LF_W_OTHER, line, col, "\"%s\": an %s record is no policy: skipped", text,
			type == LDNS_RR_TYPE_NS ? "NS" : "SOA");
		goto out;
	}
	rz_action a = rz_classify(rr, rel, o + 1);
	bool want = l->key == LISTFILE_ALLOW ? a == RZ_PASSTHRU : a == RZ_BLOCK;
	if (!want) {
		if (l->key == LISTFILE_ALLOW)
			lf_warn(l, LF_W_ACTION, line, col,
				"\"%s\": %s is not an exception (an allow-file takes rpz-passthru "
				"triggers): skipped",
				text, action_names[a]);
		else
			lf_warn(l, LF_W_ACTION, line, col, "\"%s\": %s does not block: skipped", text,
				action_names[a]);
		goto out;
	}
	bool wildcard = rel[0] == 1 && rel[1] == '*';
	const char *name = wildcard ? (rel[2] ? text + 2 : "") : text;
	uint8_t wire[DNAME_MAX];
	size_t len;
	if (wildcard && !*name) {
		lf_error(l, line, col, "\"*\" at the zone's apex would match every name");
		goto out;
	}
	if (lf_wire(l, name, strlen(name), line, col, wire, &len) < 0)
		goto out;
	if (cfg_names_add(wildcard ? &z->wild : &z->bare, wire, len, line, col) < 0)
		abort();
out:
	if (root)
		ldns_rdf_deep_free(root);
}

static const cfg_names *rz_list(void *ctx, uint32_t id)
{
	rz *z = ctx;
	return id ? &z->bare : &z->wild;
}

static unsigned rz_cls(void *ctx, uint32_t id)
{
	(void)ctx;
	(void)id;
	return 0;  /* a name is one entry, wildcard or not */
}

/* Each name once: the wildcards as domains, then the bare names left. */
static void rz_emit(rz *z)
{
	lf *l = z->l;
	nameset set = {.list = rz_list, .cls = rz_cls, .ctx = z};
	for (uint32_t id = 0; id < 2; id++) {
		const cfg_names *names = rz_list(z, id);
		listfile_kind kind = l->key == LISTFILE_ALLOW ? LISTFILE_KIND_ALLOW
				     : id == 0		      ? LISTFILE_KIND_DOMAIN
							      : LISTFILE_KIND_HOST;
		for (uint32_t i = 0; i < names->n; i++) {
			const uint8_t *w = cfg_names_at(names, i);
			size_t len = dname_wire_len(w);
			uint64_t h = nameset_hash(w, len, 0);
			uint32_t fid, fi;
			if (nameset_find(&set, h, w, len, 0, &fid, &fi))
				continue;
			if (nameset_insert(&set, h, id, i) < 0)
				abort();
			lf_emit(l, kind, w, len, names->line[i], names->col[i]);
		}
	}
	nameset_free(&set);
}

void lf_rpz(lf *l, const char *buf, size_t len)
{
	rz z = {.l = l, .buf = buf, .len = len};
	/* read-only: fmemopen wants a non-const buffer for other modes */
	FILE *fp = len ? fmemopen((void *)(uintptr_t)buf, len, "r") : NULL;
	if (!fp) {
		if (len)
			lf_error(l, 0, 0, "cannot read the zone");
		return;
	}
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 3600;
	int line_nr = 0;
	bool explicit_origin = false;
	while (!feof(fp)) {
		ldns_rr *rr = NULL;
		int before = line_nr;
		if (!origin)  /* relative names before any $ORIGIN or SOA: the root's */
			origin = ldns_dname_new_frm_str(".");
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line_nr);
		uint32_t line, col;
		switch (s) {
		case LDNS_STATUS_OK:
			rz_pos(&z, (uint32_t)before, &line, &col);
			rz_record(&z, rr, &origin, explicit_origin, line, col);
			ldns_rr_free(rr);
			break;
		case LDNS_STATUS_SYNTAX_EMPTY:
		case LDNS_STATUS_SYNTAX_TTL:
			break;
		case LDNS_STATUS_SYNTAX_ORIGIN:
			explicit_origin = true;
			if (!z.first_origin && origin)
				z.first_origin = ldns_rdf_clone(origin);
			break;
		case LDNS_STATUS_SYNTAX_INCLUDE:
			rz_pos(&z, (uint32_t)before, &line, &col);
			lf_error(l, line, col, "$INCLUDE is not supported in a list file");
			break;
		default:
			rz_pos(&z, (uint32_t)before, &line, &col);
			lf_error(l, line, col, "bad record: %s", ldns_get_errorstr_by_id(s));
			break;
		}
	}
	fclose(fp);
	rz_emit(&z);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	ldns_rdf_deep_free(z.apex);
	ldns_rdf_deep_free(z.first_origin);
	cfg_names_free(&z.wild);
	cfg_names_free(&z.bare);
}
