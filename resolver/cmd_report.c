/*
 * cmd_report.c: `embargo report`: fetch a running daemon's /exposure (HTTP,
 * libevent's evhttp client, 5 s timeout) and print which clients reached
 * which vendor, when: an aligned table, the JSON as received, or CSV
 * (RFC 4180: quoted where needed, CRLF line ends, a header line).
 *
 * The URL is --url, else http://ADDR/exposure with ADDR the config's `http`
 * (EMBARGO_HTTP applies), else http://127.0.0.1:9153/exposure. Exit 0; 1
 * when the daemon cannot be read (one line on stderr) or the config is
 * invalid; 2 for usage errors.
 */
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/cli.h"

#define REPORT_TIMEOUT_S 5
#define REPORT_BODY_MAX (64u << 20)
#define DEFAULT_URL "http://127.0.0.1:9153/exposure"

typedef enum fmt { FMT_TABLE, FMT_JSON, FMT_CSV } fmt;

static void report_usage(FILE *out)
{
	fputs("usage: embargo report [-c FILE] [--url URL] [--format table|json|csv]\n"
	      "\n"
	      "Reads a running daemon's /exposure and prints, per client address and\n"
	      "vendor, when it was first and last seen and how many of its lookups were\n"
	      "audited (before a cutoff), blocked (after) or exempt, and the rule ids.\n"
	      "\n"
	      "  -c, --config FILE  the daemon config: its `http` address makes the URL\n"
	      "  --url URL          the endpoint (default http://HTTP-ADDRESS/exposure, else\n"
	      "                     " DEFAULT_URL ")\n"
	      "  --format FORMAT    table (default), json (as received) or csv (RFC 4180)\n",
	      out);
}

/* ------------------------------------------------------------------ */
/* A small JSON reader (RFC 8259): enough for /exposure, strict enough to
 * say "not JSON" rather than print nonsense. Numbers keep their text. */

typedef enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
	jtype t;
	char *s;                 /* J_STR (decoded), J_NUM (as written), J_BOOL */
	struct jval *v;          /* J_ARR, J_OBJ: items */
	char **keys;             /* J_OBJ */
	size_t n;
} jval;

typedef struct jin {
	const char *p, *end;
	int depth;
} jin;

static void jfree(jval *j)
{
	for (size_t i = 0; i < j->n; i++) {
		jfree(&j->v[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->v);
	free(j->keys);
	free(j->s);
}

static void jws(jin *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
		in->p++;
}

static void put_utf8(char *out, size_t *o, unsigned cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xc0 | cp >> 6);
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xe0 | cp >> 12);
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (char)(0xf0 | cp >> 18);
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static int hex4(const char *p, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++) {
		int c = p[i], v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		*out = *out << 4 | (unsigned)v;
	}
	return 0;
}

/* A string at in->p (the opening quote), decoded into a new buffer. */
static char *jstring(jin *in)
{
	const char *p = ++in->p;
	/* decoded text is never longer than the escaped text */
	char *out = malloc((size_t)(in->end - p) + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	while (p < in->end && *p != '"') {
		unsigned char c = (unsigned char)*p++;
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		if (p >= in->end)
			goto bad;
		switch (*p++) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case '/': out[o++] = '/'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (in->end - p < 4 || hex4(p, &cp) < 0)
				goto bad;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && in->end - p >= 6 && p[0] == '\\' &&
			    p[1] == 'u' && hex4(p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			put_utf8(out, &o, cp);
			break;
		}
		default: goto bad;
		}
	}
	if (p >= in->end)
		goto bad;
	in->p = p + 1;
	out[o] = 0;
	return out;
bad:
	free(out);
	return NULL;
}

static int jparse(jin *in, jval *out);

static int jitems(jin *in, jval *out, bool obj)
{
	char close = obj ? '}' : ']';
	size_t cap = 0;
	in->p++;
	jws(in);
	if (in->p < in->end && *in->p == close) {
		in->p++;
		return 0;
	}
	for (;;) {
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			jval *v = realloc(out->v, cap * sizeof(*v));
			char **k = obj ? realloc(out->keys, cap * sizeof(*k)) : NULL;
			if (v)
				out->v = v;
			if (k)
				out->keys = k;
			if (!v || (obj && !k))
				return -1;
		}
		jws(in);
		char *key = NULL;
		if (obj) {
			if (in->p >= in->end || *in->p != '"' || !(key = jstring(in)))
				return -1;
			jws(in);
			if (in->p >= in->end || *in->p++ != ':') {
				free(key);
				return -1;
			}
		}
		jval *item = &out->v[out->n];
		memset(item, 0, sizeof(*item));
		if (obj)
			out->keys[out->n] = key;
		out->n++;
		if (jparse(in, item) < 0)
			return -1;
		jws(in);
		if (in->p >= in->end)
			return -1;
		if (*in->p == ',') {
			in->p++;
			continue;
		}
		if (*in->p++ == close)
			return 0;
		return -1;
	}
}

static int jparse(jin *in, jval *out)
{
	memset(out, 0, sizeof(*out));
	jws(in);
	if (in->p >= in->end || ++in->depth > 32)
		return -1;
	int rc = 0;
	char c = *in->p;
	if (c == '{' || c == '[') {
		out->t = c == '{' ? J_OBJ : J_ARR;
		rc = jitems(in, out, c == '{');
	} else if (c == '"') {
		out->t = J_STR;
		rc = (out->s = jstring(in)) ? 0 : -1;
	} else if (c == '-' || isdigit((unsigned char)c)) {
		const char *s = in->p;
		while (in->p < in->end && strchr("+-.eE0123456789", *in->p))
			in->p++;
		out->t = J_NUM;
		out->s = strndup(s, (size_t)(in->p - s));
		rc = out->s ? 0 : -1;
	} else {
		static const char *const words[] = { "null", "true", "false" };
		rc = -1;
		for (size_t i = 0; i < 3; i++) {
			size_t n = strlen(words[i]);
			if ((size_t)(in->end - in->p) >= n && !memcmp(in->p, words[i], n)) {
				out->t = i ? J_BOOL : J_NULL;
				out->s = i ? strdup(words[i]) : NULL;
				in->p += n;
				rc = 0;
				break;
			}
		}
	}
	in->depth--;
	return rc;
}

static const jval *jget(const jval *obj, const char *key)
{
	if (obj->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (!strcmp(obj->keys[i], key))
			return &obj->v[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* printing */

enum { C_CLIENT, C_VENDOR, C_FIRST, C_LAST, C_AUDITED, C_BLOCKED, C_EXEMPT, C_RULES, NCOLS };

static const char *const table_head[NCOLS] = {
	"CLIENT", "VENDOR", "FIRST-SEEN", "LAST-SEEN", "AUDITED", "BLOCKED", "EXEMPT", "RULES",
};
static const char *const csv_head[NCOLS] = {
	"client", "vendor", "first_seen", "last_seen", "audited", "blocked", "exempt", "rules",
};
static const char *const keys[NCOLS - 1] = {
	"client", "vendor", "first_seen", "last_seen", "audited", "blocked", "exempt",
};

/* One row's cells (owned strings); -1 when the entry is not what /exposure sends. */
static int row_cells(const jval *e, char *cells[NCOLS])
{
	memset(cells, 0, NCOLS * sizeof(*cells));
	for (size_t c = 0; c < NCOLS - 1; c++) {
		const jval *v = jget(e, keys[c]);
		if (!v || (v->t != J_STR && v->t != J_NUM) || !(cells[c] = strdup(v->s)))
			return -1;
	}
	const jval *rules = jget(e, "rules");
	if (!rules || rules->t != J_ARR)
		return -1;
	size_t len = 1;
	for (size_t i = 0; i < rules->n; i++) {
		if (rules->v[i].t != J_STR)
			return -1;
		len += strlen(rules->v[i].s) + 1;
	}
	char *s = cells[C_RULES] = malloc(len);
	if (!s)
		return -1;
	*s = 0;
	for (size_t i = 0; i < rules->n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, rules->v[i].s);
	}
	return 0;
}

static void csv_field(const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	fputs(last ? "\r\n" : ",", stdout);
}

static void print_table(char *(*cells)[NCOLS], size_t n)
{
	size_t w[NCOLS];
	for (size_t c = 0; c < NCOLS; c++) {
		w[c] = strlen(table_head[c]);
		for (size_t r = 0; r < n; r++)
			if (strlen(cells[r][c]) > w[c])
				w[c] = strlen(cells[r][c]);
	}
	for (size_t r = 0; r <= n; r++) {
		for (size_t c = 0; c < NCOLS; c++) {
			const char *s = r ? cells[r - 1][c] : table_head[c];
			bool num = c >= C_AUDITED && c <= C_EXEMPT;
			if (c == C_RULES)
				printf("%s\n", s);
			else if (num)
				printf("%*s  ", (int)w[c], s);
			else
				printf("%-*s  ", (int)w[c], s);
		}
	}
}

/* Prints the /exposure body as a table or CSV. 0, or -1 when it is not
 * what /exposure sends. */
static int print_rows(const char *body, size_t len, fmt f)
{
	jin in = { .p = body, .end = body + len };
	jval root;
	int rc = -1;
	char *(*cells)[NCOLS] = NULL;
	size_t n = 0;
	if (jparse(&in, &root) < 0) {
		jfree(&root);
		return -1;
	}
	jws(&in);
	const jval *clients = jget(&root, "clients");
	if (in.p != in.end || !clients || clients->t != J_ARR)
		goto out;
	cells = calloc(clients->n + 1, sizeof(*cells));
	if (!cells)
		goto out;
	for (; n < clients->n; n++) {
		if (row_cells(&clients->v[n], cells[n]) < 0) {
			n++;
			goto out;
		}
	}
	if (f == FMT_CSV) {
		for (size_t c = 0; c < NCOLS; c++)
			csv_field(csv_head[c], c == NCOLS - 1);
		for (size_t r = 0; r < n; r++)
			for (size_t c = 0; c < NCOLS; c++)
				csv_field(cells[r][c], c == NCOLS - 1);
	} else {
		print_table(cells, n);
		const jval *ev = jget(&root, "evicted");
		if (ev && ev->t == J_NUM && strcmp(ev->s, "0"))
			printf("(%s older entries were evicted: see exposure-clients)\n", ev->s);
	}
	rc = 0;
out:
	for (size_t r = 0; r < n; r++)
		for (size_t c = 0; c < NCOLS; c++)
			free(cells[r][c]);
	free(cells);
	jfree(&root);
	return rc;
}

/* ------------------------------------------------------------------ */
/* fetching */

typedef struct fetch {
	const char *url;
	struct event_base *base;
	int code;                 /* HTTP status; 0: no response */
	const char *why;          /* when there was no response */
	struct evbuffer *body;
} fetch;

static void on_error(enum evhttp_request_error e, void *arg)
{
	fetch *f = arg;
	f->why = e == EVREQ_HTTP_TIMEOUT ? "timed out" : "connection failed";
}

static void on_response(struct evhttp_request *req, void *arg)
{
	fetch *f = arg;
	if (req && evhttp_request_get_response_code(req)) {
		f->code = evhttp_request_get_response_code(req);
		evbuffer_add_buffer(f->body, evhttp_request_get_input_buffer(req));
	}
	event_base_loopexit(f->base, NULL);
}

/* GETs the URL into f->body. 0 on a 200; else, after one line on stderr,
 * CLI_EXIT_USAGE for a URL that is not http://..., or 1. */
static int http_get(fetch *f)
{
	struct evhttp_uri *u = evhttp_uri_parse(f->url);
	struct evhttp_connection *conn = NULL;
	char host[256], target[2048];
	int rc = 1;
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *h = u ? evhttp_uri_get_host(u) : NULL;
	if (!scheme || strcmp(scheme, "http") || !h || !*h) {
		rc = cli_usage_error("report: --url %s: expected http://HOST[:PORT][/PATH]", f->url);
		goto out;
	}
	/* IPv6 literals come bracketed */
	size_t hl = strlen(h);
	if (h[0] == '[' && hl > 2 && h[hl - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), h + 1);
	else
		snprintf(host, sizeof(host), "%s", h);
	int port = evhttp_uri_get_port(u);
	const char *path = evhttp_uri_get_path(u), *query = evhttp_uri_get_query(u);
	if (!path || !*path || !strcmp(path, "/"))
		path = "/exposure";
	snprintf(target, sizeof(target), "%s%s%s", path, query ? "?" : "", query ? query : "");

	f->base = event_base_new();
	f->body = evbuffer_new();
	if (!f->base || !f->body ||
	    !(conn = evhttp_connection_base_new(f->base, NULL, host, (uint16_t)(port > 0 ? port : 80)))) {
		fprintf(stderr, "embargo: report: %s: cannot set up the connection\n", f->url);
		goto out;
	}
	evhttp_connection_set_timeout(conn, REPORT_TIMEOUT_S);
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_max_body_size(conn, REPORT_BODY_MAX);
	struct evhttp_request *req = evhttp_request_new(on_response, f);
	if (!req) {
		fprintf(stderr, "embargo: report: out of memory\n");
		goto out;
	}
	evhttp_request_set_error_cb(req, on_error);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", h);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Accept", "application/json");
	if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, target) < 0) {
		fprintf(stderr, "embargo: report: %s: cannot send the request\n", f->url);
		goto out;
	}
	event_base_dispatch(f->base);
	if (!f->code)
		fprintf(stderr, "embargo: report: %s: %s (is embargo serve running with http: set?)\n",
			f->url, f->why ? f->why : "cannot connect");
	else if (f->code != 200)
		fprintf(stderr, "embargo: report: %s: HTTP %d\n", f->url, f->code);
	else
		rc = 0;
out:
	if (conn)
		evhttp_connection_free(conn);
	if (u)
		evhttp_uri_free(u);
	return rc;
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

/* The URL from the config's `http` address, or the default. NULL after
 * printing why when the config is invalid. */
static char *url_from_config(const char *given)
{
	static const char *const wild4 = "0.0.0.0", *const wild6 = "::";
	char url[128], ip[CFG_IP_BUF];
	const char *path = cli_config_path(given);
	cfg_diags diags = { 0 };
	cfg *c = cfg_load_daemon(path, &diags);
	if (c && cfg_apply_env(c, env_get, &diags) < 0) {
		cfg_free(c);
		c = NULL;
	}
	if (!c && given) {
		cfg_diags_print(&diags, stderr);
		cfg_diags_free(&diags);
		fprintf(stderr, "embargo: %s: invalid\n", path);
		return NULL;
	}
	cfg_diags_free(&diags);
	if (!c || !c->http_set) {
		cfg_free(c);
		return strdup(DEFAULT_URL);  /* no config here: the usual address */
	}
	const char *host = cfg_ip_format(&c->http.ip, ip);
	if (!strcmp(host, wild4))
		host = "127.0.0.1";  /* listening on every address: ask the local one */
	else if (!strcmp(host, wild6))
		host = "::1";
	bool v6 = strchr(host, ':') != NULL;
	snprintf(url, sizeof(url), "http://%s%s%s:%u/exposure", v6 ? "[" : "", host, v6 ? "]" : "",
		 c->http.port);
	cfg_free(c);
	return strdup(url);
}

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL, *url = NULL;
	fmt f = FMT_TABLE;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'u': url = optarg; break;
		case 'f':
			if (!strcmp(optarg, "table"))
				f = FMT_TABLE;
			else if (!strcmp(optarg, "json"))
				f = FMT_JSON;
			else if (!strcmp(optarg, "csv"))
				f = FMT_CSV;
			else
				return cli_usage_error("report: unknown format \"%s\" (table, json or csv)",
						       optarg);
			break;
		case 'h': report_usage(stdout); return CLI_EXIT_OK;
		case ':': return cli_usage_error("report: %s needs a value", argv[optind - 1]);
		default: return cli_usage_error("report: unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("report: unexpected argument \"%s\"", argv[optind]);

	char *u = url ? strdup(url) : url_from_config(config);
	if (!u)
		return 1;
	fetch fe = { .url = u };
	int rc = http_get(&fe);
	if (!rc) {
		size_t len = evbuffer_get_length(fe.body);
		const char *body = (const char *)evbuffer_pullup(fe.body, -1);
		if (f == FMT_JSON) {
			fwrite(body, 1, len, stdout);
			if (len && body[len - 1] != '\n')
				putchar('\n');
		} else if (print_rows(body ? body : "", len, f) < 0) {
			fprintf(stderr, "embargo: report: %s: not an /exposure answer (JSON)\n", u);
			rc = 1;
		}
	}
	if (fe.body)
		evbuffer_free(fe.body);
	if (fe.base)
		event_base_free(fe.base);
	free(u);
	if (fflush(stdout) != 0 && !rc) {
		fprintf(stderr, "embargo: report: cannot write the output\n");
		rc = 1;
	}
	return rc;
}
