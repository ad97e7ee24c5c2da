/*
 * xfr.c: the zone transfer server (see xfr.h): the settings taken from
 * cfg->rpz, the zone's rebuilds and NOTIFY rounds, the decision on each
 * request (zone, ACL, TSIG, type), and the log lines of transfers and
 * refusals. The sockets are xfr_net.c's.
 */
#include "resolver/xfr_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/rpz.h"
#include "resolver/log.h"

/* --- settings --- */

static void settings_clear(xfr_settings *s)
{
	free(s->listen);
	free(s->acl);
	free(s->keys);
	free(s->notify);
	memset(s, 0, sizeof(*s));
}

static void *dup_array(const void *p, size_t n, size_t size)
{
	void *c = n ? malloc(n * size) : NULL;
	if (c)
		memcpy(c, p, n * size);
	return c;
}

static int settings_from(xfr_settings *s, const cfg_rpz *r, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->zone, sizeof(s->zone), "%s", r->zone);
	s->ttl = r->ttl;
	s->listen = dup_array(r->listen, r->n_listen, sizeof(cfg_addr));
	s->n_listen = r->n_listen;
	s->acl = dup_array(r->allow_transfer, r->n_allow_transfer, sizeof(cfg_net));
	s->n_acl = r->n_allow_transfer;
	s->notify = dup_array(r->notify, r->n_notify, sizeof(cfg_addr));
	s->n_notify = r->n_notify;
	s->keys = r->n_tsig ? calloc(r->n_tsig, sizeof(xfr_tsig_key)) : NULL;
	if ((r->n_listen && !s->listen) || (r->n_allow_transfer && !s->acl) ||
	    (r->n_notify && !s->notify) || (r->n_tsig && !s->keys)) {
		snprintf(err, errlen, "out of memory");
		settings_clear(s);
		return -1;
	}
	for (; s->n_keys < r->n_tsig; s->n_keys++) {
		if (xfr_tsig_key_init(&s->keys[s->n_keys], &r->tsig[s->n_keys], err, errlen) < 0) {
			settings_clear(s);
			return -1;
		}
	}
	return 0;
}

static bool acl_allows(const xfr_settings *s, const cfg_ip *ip)
{
	for (size_t i = 0; i < s->n_acl; i++)
		if (cfg_net_contains(&s->acl[i], ip))
			return true;
	return false;
}

/* --- the zone --- */

static uint32_t cur_serial(const xfr_server *x)
{
	return x->j.cur ? rpz_serial(x->j.cur->zone) : 0;
}

/* Builds the zone of the policy now; serves and announces it if it differs
 * from the one served. 0, or -1 (logged; the old zone stays). */
static int rebuild(xfr_server *x)
{
	const daemon_ctx *d = x->d;
	char err[256], t[CFG_TIME_BUF];
	int64_t now = daemon_now(d);
	rpz_params prm = {
		.origin = x->set.zone,
		.serial = rpz_next_serial(cur_serial(x), now),
		.ttl = x->set.ttl,
		.sink4 = d->cfg->sinkhole.ipv4,
		.sink6 = d->cfg->sinkhole.ipv6,
	};
	rpz_zone *z = rpz_build(d->pol, now, &prm, err, sizeof(err));
	if (!z) {
		log_err("xfr", "cannot build zone %s: %s; still serving serial %u", x->set.zone, err,
			cur_serial(x));
		return -1;
	}
	if (x->j.cur && rpz_same_content(x->j.cur->zone, z)) {
		rpz_free(z);
		return 0;
	}
	bool history = x->j.cur && ldns_dname_compare(rpz_origin(x->j.cur->zone), rpz_origin(z)) == 0;
	uint32_t prev = cur_serial(x);
	if (xfr_journal_push(&x->j, z, history) < 0)
		log_warn("xfr", "out of memory for the journal: IXFR falls back to AXFR");
	if (prev)
		log_info("xfr", "zone %s serial %u -> %u: %zu records (policy at %s)", x->set.zone, prev,
			 prm.serial, rpz_rr_count(z) + 1, cfg_time_format(now, t));
	else
		log_info("xfr", "zone %s serial %u: %zu records (policy at %s)", x->set.zone, prm.serial,
			 rpz_rr_count(z) + 1, cfg_time_format(now, t));
	xfr_notify_start(x->notifier, rpz_soa(z), x->set.notify, x->set.n_notify,
			 x->set.n_keys ? &x->set.keys[0] : NULL);
	return 0;
}

/* A reload brought a new config: take its rpz settings over. */
static void take_settings(xfr_server *x)
{
	const cfg *c = x->d->cfg;
	char err[256];
	xfr_settings s;
	x->cfg_seen = c;
	if (!c->rpz.zone) {
		log_warn("reload", "rpz removed: still serving zone %s until the next restart", x->set.zone);
		return;
	}
	if (settings_from(&s, &c->rpz, err, sizeof(err)) < 0) {
		log_err("reload", "rpz: %s: keeping the settings in use", err);
		return;
	}
	if (s.n_listen != x->set.n_listen ||
	    (s.n_listen && memcmp(s.listen, x->set.listen, s.n_listen * sizeof(cfg_addr))))
		log_warn("reload", "rpz.listen changed: it takes effect at the next restart");
	settings_clear(&x->set);
	x->set = s;
}

void xfr_policy_changed(xfr_server *x)
{
	if (!x)
		return;
	if (x->cfg_seen != x->d->cfg)
		take_settings(x);
	rebuild(x);
}

/* --- requests --- */

static void log_refusal(const xfr_server *x, const cfg_addr *peer, const xfr_req *req,
			const char *why)
{
	char a[CFG_ADDR_BUF], tb[16];
	char *name = req->question ? ldns_rdf2str(ldns_rr_owner(req->question)) : NULL;
	log_info("xfr", "refused %s %s from %s: %s", xfr_qtype_name(req->qtype, tb),
		 name ? name : x->set.zone, cfg_addr_format(peer, a), why);
	free(name);
}

static bool is_our_zone(const xfr_server *x, const xfr_req *req)
{
	return x->j.cur && (req->qclass == XFR_CLASS_IN || req->qclass == XFR_CLASS_ANY) &&
	       ldns_dname_compare(ldns_rr_owner(req->question), rpz_origin(x->j.cur->zone)) == 0;
}

xfr_verdict xfr_handle(xfr_server *x, xfr_conn *c, const cfg_addr *peer, const uint8_t *msg,
		       size_t len, uint8_t *out, size_t cap)
{
	int64_t now = (int64_t)time(NULL);  /* TSIG is wall-clock time, not the policy's */
	xfr_verdict v = { 0 };
	xfr_req req;
	xfr_tsig_signer signer, *sg = NULL;
	const xfr_tsig_key *key = NULL;
	char a[CFG_ADDR_BUF];

	switch (xfr_req_parse(msg, len, &req)) {
	case XFR_REQ_DROP:
		goto done;
	case XFR_REQ_FORMERR:
		v.len = xfr_reply_simple(&req, XFR_RCODE_FORMERR, false, NULL, NULL, 0, now, out, cap);
		goto done;
	case XFR_REQ_NOTIMP:
		v.len = xfr_reply_simple(&req, XFR_RCODE_NOTIMP, false, NULL, NULL, 0, now, out, cap);
		goto done;
	case XFR_REQ_OK:
		break;
	}
	bool xfr_type = req.qtype == XFR_TYPE_AXFR || req.qtype == XFR_TYPE_IXFR;
	if (!is_our_zone(x, &req) || !(xfr_type || req.qtype == XFR_TYPE_SOA)) {
		/* only the zone's SOA and transfers are served here */
		v.len = xfr_reply_simple(&req, XFR_RCODE_REFUSED, false, NULL, NULL, 0, now, out, cap);
		goto done;
	}
	if (!acl_allows(&x->set, &peer->ip)) {
		log_refusal(x, peer, &req, "not in allow-transfer");
		v.len = xfr_reply_simple(&req, XFR_RCODE_REFUSED, false, NULL, NULL, 0, now, out, cap);
		goto done;
	}
	if (req.has_tsig) {
		int e = xfr_tsig_verify(x->set.keys, x->set.n_keys, msg, len, &req.tsig, NULL, 0, now, &key);
		if (e != XFR_TSIG_OK) {
			char why[64];
			snprintf(why, sizeof(why), "TSIG %s", xfr_tsig_error_name(e));
			log_refusal(x, peer, &req, why);
			if (e == XFR_TSIG_BADTIME) {
				/* signed, with the request's time and ours (RFC 8945 5.2.3) */
				xfr_tsig_signer_init(&signer, key, &req.tsig);
				signer.error = XFR_TSIG_BADTIME;
				signer.time_signed = req.tsig.time_signed;
				v.len = xfr_reply_simple(&req, XFR_RCODE_NOTAUTH, false, NULL, &signer, 0, now,
							 out, cap);
			} else {
				v.len = xfr_reply_simple(&req, XFR_RCODE_NOTAUTH, false, NULL, NULL, e, now,
							 out, cap);
			}
			goto done;
		}
		xfr_tsig_signer_init(&signer, key, &req.tsig);
		sg = &signer;
	} else if (x->set.n_keys) {
		log_refusal(x, peer, &req, "not signed (TSIG required)");
		v.len = xfr_reply_simple(&req, XFR_RCODE_REFUSED, false, NULL, NULL, 0, now, out, cap);
		goto done;
	}
	const ldns_rr *soa = rpz_soa(x->j.cur->zone);
	if (req.qtype == XFR_TYPE_SOA || (req.qtype == XFR_TYPE_IXFR && !c)) {
		/* over UDP an IXFR gets the SOA: the client then asks over TCP (RFC 1995 2) */
		if (req.qtype == XFR_TYPE_IXFR && !req.has_serial)
			v.len = xfr_reply_simple(&req, XFR_RCODE_FORMERR, false, NULL, sg, 0, now, out, cap);
		else
			v.len = xfr_reply_simple(&req, 0, true, soa, sg, 0, now, out, cap);
		goto done;
	}
	if (!c) {
		/* AXFR over UDP is not defined (RFC 5936 4.2) */
		v.len = xfr_reply_simple(&req, XFR_RCODE_FORMERR, false, NULL, sg, 0, now, out, cap);
		goto done;
	}
	const char *who = key ? key->name_text : NULL;
	uint32_t serial = cur_serial(x);
	if (req.qtype == XFR_TYPE_IXFR) {
		xfr_ixfr ix;
		if (!req.has_serial) {
			v.len = xfr_reply_simple(&req, XFR_RCODE_FORMERR, false, NULL, sg, 0, now, out, cap);
			goto done;
		}
		if (xfr_journal_ixfr(&x->j, req.serial, &ix) < 0) {
			v.len = xfr_reply_simple(&req, XFR_RCODE_SERVFAIL, false, NULL, sg, 0, now, out, cap);
			goto done;
		}
		if (ix.kind == XFR_IXFR_CURRENT) {
			v.len = xfr_reply_simple(&req, 0, true, soa, sg, 0, now, out, cap);
			log_info("xfr", "IXFR %s %u to %s%s%s: up to date, 1 record, %zu bytes", x->set.zone,
				 serial, cfg_addr_format(peer, a), who ? " key " : "", who ? who : "", v.len);
			goto done;
		}
		if (ix.kind == XFR_IXFR_DELTA) {
			xfr_stream_ixfr(&c->st, &req, x->j.cur, &ix, sg);
			snprintf(c->what, sizeof(c->what), "IXFR %s %u -> %u to %s%s%s (delta)", x->set.zone,
				 req.serial, serial, cfg_addr_format(peer, a), who ? " key " : "",
				 who ? who : "");
			v.stream = true;
			goto done;
		}
		snprintf(c->what, sizeof(c->what), "IXFR %s %u -> %u to %s%s%s (serial unknown: full zone)",
			 x->set.zone, req.serial, serial, cfg_addr_format(peer, a), who ? " key " : "",
			 who ? who : "");
	} else {
		snprintf(c->what, sizeof(c->what), "AXFR %s %u to %s%s%s", x->set.zone, serial,
			 cfg_addr_format(peer, a), who ? " key " : "", who ? who : "");
	}
	xfr_stream_axfr(&c->st, &req, x->j.cur, sg);
	v.stream = true;
done:
	xfr_req_clear(&req);
	return v;
}

xfr_server *xfr_new(daemon_ctx *d, char *err, size_t errlen)
{
	char a[CFG_ADDR_BUF];
	xfr_server *x = calloc(1, sizeof(*x));
	*err = 0;
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	x->d = d;
	x->base = d->workers[0]->base;
	x->cfg_seen = d->cfg;
	xfr_journal_init(&x->j);
	if (settings_from(&x->set, &d->cfg->rpz, err, errlen) < 0 ||
	    !(x->notifier = xfr_notify_new(x->base)) || xfr_net_listen(x, err, errlen) < 0) {
		if (!*err)
			snprintf(err, errlen, "out of memory");
		xfr_free(x);
		return NULL;
	}
	if (rebuild(x) < 0) {
		snprintf(err, errlen, "rpz: cannot build zone %s", x->set.zone);
		xfr_free(x);
		return NULL;
	}
	for (size_t i = 0; i < x->set.n_listen; i++)
		log_info("xfr", "serving zone %s on %s (tcp: SOA, AXFR, IXFR; udp: SOA)%s", x->set.zone,
			 cfg_addr_format(&x->set.listen[i], a), x->set.n_keys ? ", TSIG required" : "");
	return x;
}

void xfr_free(xfr_server *x)
{
	if (!x)
		return;
	xfr_net_close(x);
	xfr_notify_free(x->notifier);
	xfr_journal_clear(&x->j);
	settings_clear(&x->set);
	free(x);
}
