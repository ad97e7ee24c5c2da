/*
 * xfr_notify.c: NOTIFY rounds (see xfr_notify.h). Each target has its own
 * socket, so a reply is matched by the socket it arrives on, then by the
 * sender's address and the ID: a stray or spoofed datagram is ignored.
 */
#include "resolver/xfr_notify.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "resolver/log.h"
#include "resolver/netaddr.h"

#define NOTIFY_OPCODE 4

typedef struct target {
	xfr_notifier *n;
	cfg_addr addr;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd;
	struct event *read_ev, *timer;
	uint16_t id;
	unsigned tries;
	bool done;
} target;

struct xfr_notifier {
	struct event_base *base;
	ldns_rr *soa;             /* the SOA being announced */
	uint32_t serial;
	char zone[256];
	bool signed_;
	xfr_tsig_key key;
	target *t;
	size_t nt;
	uint8_t buf[4096];
};

xfr_notifier *xfr_notify_new(struct event_base *base)
{
	xfr_notifier *n = calloc(1, sizeof(*n));
	if (n)
		n->base = base;
	return n;
}

static void target_close(target *t)
{
	if (t->read_ev)
		event_free(t->read_ev);
	if (t->timer)
		event_free(t->timer);
	if (t->fd >= 0)
		close(t->fd);
	t->read_ev = t->timer = NULL;
	t->fd = -1;
	t->done = true;
}

static void round_end(xfr_notifier *n)
{
	for (size_t i = 0; i < n->nt; i++)
		target_close(&n->t[i]);
	free(n->t);
	n->t = NULL;
	n->nt = 0;
	ldns_rr_free(n->soa);
	n->soa = NULL;
}

void xfr_notify_free(xfr_notifier *n)
{
	if (!n)
		return;
	round_end(n);
	free(n);
}

/* The NOTIFY of the round, with target t's ID; its length, or 0. */
static size_t build(xfr_notifier *n, const target *t)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new_frm_type(LDNS_RR_TYPE_SOA);
	ldns_rr *a = ldns_rr_clone(n->soa);
	uint8_t *wire = NULL;
	size_t len = 0;
	if (p && q && a) {
		ldns_rr_set_owner(q, ldns_rdf_clone(ldns_rr_owner(n->soa)));
		ldns_rr_set_question(q, true);
		ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
		ldns_pkt_set_id(p, t->id);
		ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
		ldns_pkt_set_aa(p, true);
		/* RFC 1996 3.7: the new SOA may ride along, so the secondary
		 * knows the serial before it asks */
		if (ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q)) {
			q = NULL;
			if (ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, a))
				a = NULL;
		}
		if (!q && !a && ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK &&
		    len <= sizeof(n->buf))
			memcpy(n->buf, wire, len);
		else
			len = 0;
	}
	free(wire);
	ldns_rr_free(q);
	ldns_rr_free(a);
	ldns_pkt_free(p);
	if (len && n->signed_) {
		xfr_tsig_signer s;
		xfr_tsig_signer_init(&s, &n->key, NULL);
		len = xfr_tsig_sign(&s, n->buf, len, sizeof(n->buf), (int64_t)time(NULL));
	}
	return len;
}

static void send_one(target *t)
{
	xfr_notifier *n = t->n;
	char a[CFG_ADDR_BUF];
	size_t len = build(n, t);
	if (!len || sendto(t->fd, n->buf, len, 0, (struct sockaddr *)&t->sa, t->salen) < 0)
		log_errno(LOG_WARN, "xfr", "NOTIFY %s serial %u to %s: cannot send", n->zone, n->serial,
			  cfg_addr_format(&t->addr, a));
	t->tries++;
	/* 1, 2, 4, 8 s: a secondary that was restarting gets its turn */
	struct timeval tv = { .tv_sec = 1 << (t->tries - 1) };
	evtimer_add(t->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	target *t = arg;
	char a[CFG_ADDR_BUF];
	(void)fd;
	(void)what;
	if (t->tries >= XFR_NOTIFY_TRIES) {
		log_warn("xfr", "NOTIFY %s serial %u to %s: no answer after %u tries, giving up",
			 t->n->zone, t->n->serial, cfg_addr_format(&t->addr, a), t->tries);
		target_close(t);
		return;
	}
	send_one(t);
}

static const char *rcode_name(int rcode)
{
	const ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, rcode);
	return lt ? lt->name : "an unknown RCODE";
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	target *t = arg;
	xfr_notifier *n = t->n;
	char a[CFG_ADDR_BUF];
	(void)what;
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(fd, n->buf, sizeof(n->buf), 0, (struct sockaddr *)&from, &fl);
		if (r < 0)
			return;
		cfg_addr peer;
		netaddr_from_sockaddr((struct sockaddr *)&from, &peer);
		const uint8_t *m = n->buf;
		if (r < 12 || !netaddr_equal(&peer, &t->addr) || (uint16_t)(m[0] << 8 | m[1]) != t->id ||
		    !(m[2] & 0x80) || ((m[2] >> 3) & 0x0f) != NOTIFY_OPCODE)
			continue;  /* not the answer to our NOTIFY */
		int rcode = m[3] & 0x0f;
		if (rcode)
			log_warn("xfr", "NOTIFY %s serial %u to %s: answered with %s after %u tr%s",
				 n->zone, n->serial, cfg_addr_format(&t->addr, a),
				 rcode_name(rcode), t->tries, t->tries == 1 ? "y" : "ies");
		else
			log_info("xfr", "NOTIFY %s serial %u to %s: acknowledged after %u tr%s", n->zone,
				 n->serial, cfg_addr_format(&t->addr, a), t->tries,
				 t->tries == 1 ? "y" : "ies");
		target_close(t);
		return;
	}
}

void xfr_notify_start(xfr_notifier *n, const ldns_rr *soa, const cfg_addr *targets, size_t nt,
		      const xfr_tsig_key *key)
{
	char a[CFG_ADDR_BUF];
	round_end(n);
	if (!nt)
		return;
	n->soa = ldns_rr_clone(soa);
	n->t = calloc(nt, sizeof(*n->t));
	if (!n->soa || !n->t) {
		round_end(n);
		log_err("xfr", "NOTIFY: out of memory");
		return;
	}
	n->serial = ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
	char *z = ldns_rdf2str(ldns_rr_owner(soa));
	snprintf(n->zone, sizeof(n->zone), "%s", z ? z : "?");
	free(z);
	n->signed_ = key != NULL;
	if (key)
		n->key = *key;
	n->nt = nt;
	for (size_t i = 0; i < nt; i++) {
		target *t = &n->t[i];
		t->n = n;
		t->addr = targets[i];
		t->salen = netaddr_to_sockaddr(&targets[i], &t->sa);
		t->id = (uint16_t)arc4random();
		t->fd = socket(t->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (t->fd < 0 ||
		    !(t->read_ev = event_new(n->base, t->fd, EV_READ | EV_PERSIST, on_read, t)) ||
		    !(t->timer = evtimer_new(n->base, on_timer, t)) || event_add(t->read_ev, NULL) < 0) {
			log_errno(LOG_WARN, "xfr", "NOTIFY %s to %s: no socket", n->zone,
				  cfg_addr_format(&t->addr, a));
			target_close(t);
			continue;
		}
		send_one(t);
	}
}
