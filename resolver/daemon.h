/*
 * daemon.h: the running forwarder: the daemon (what all threads share) and
 * its workers (one event loop each), and the client handle that a query
 * carries until it is answered.
 *
 * The daemon struct is the only state shared between threads, and once the
 * workers run it is read-only to them (config, policy snapshot, upstreams,
 * clock). Each worker owns everything it mutates: its event base, listener
 * sockets (SO_REUSEPORT when there are several workers), TCP connections,
 * the forwarding table and its counters, so the hot path takes no lock.
 */
#ifndef EMBARGO_DAEMON_H
#define EMBARGO_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "config/config.h"
#include "policy/policy.h"
#include "resolver/wire.h"

struct event_base;
struct event;
struct tcp_conn;
struct udp_listener;
struct tcp_server;
struct fwd;
struct cache;
struct watch;
struct obs_worker;
struct qlog;
struct ratelimit;

typedef enum transport { TRANSPORT_UDP = 0, TRANSPORT_TCP, TRANSPORT_TLS, TRANSPORT_COUNT } transport;

/* "udp", "tcp", "tls": in metrics and the query log. */
static inline const char *transport_name(transport t)
{
	static const char *const names[TRANSPORT_COUNT] = { "udp", "tcp", "tls" };
	return (unsigned)t < TRANSPORT_COUNT ? names[t] : "?";
}

/* Where an answer goes back to. For TCP and TLS it holds a reference on the
 * connection (tcp_conn_ref/tcp_conn_unref), so a connection closed while
 * its queries are upstream is freed only when the last one is answered. */
typedef struct client {
	transport t;
	int fd;                        /* UDP: the listener socket */
	struct sockaddr_storage sa;    /* UDP: the client's address */
	socklen_t salen;
	cfg_ip ip;                     /* for groups and access */
	struct tcp_conn *conn;         /* TCP and TLS */
	uint64_t t0_us;                /* when the query arrived (obs_now_us) */
} client;

/* Counters of one worker; the daemon adds them up. */
typedef struct daemon_stats {
	uint64_t queries[TRANSPORT_COUNT];
	uint64_t blocked, audited, exempt, forwarded, refused_access;
	uint64_t formerr, notimp, dropped;
	uint64_t upstream_replies, upstream_mismatch, upstream_timeouts, upstream_errors;
	uint64_t servfail, cloaked, tcp_fallback, coalesced;
	uint64_t cache_hits, cache_misses, stale_served, prefetches;
} daemon_stats;

typedef struct upstream {
	cfg_addr addr;
	struct sockaddr_storage sa;
	socklen_t salen;
	bool tls;                      /* DNS over TLS (updot.c), else UDP/TCP */
	char tls_name[256];            /* checked against the certificate, and the SNI */
	bool has_pin;                  /* pin-sha256 given */
	uint8_t pin[32];               /* SHA-256 of the server's SubjectPublicKeyInfo */
} upstream;

typedef struct worker worker;

typedef struct daemon_ctx {
	cfg *cfg;                      /* owned */
	policy *pol;                   /* owned; the snapshot in force */

	/* Policy clock: the wall clock, or --at pinned and running on. */
	bool clock_pinned;
	int64_t clock_at;              /* the pinned instant */
	struct timespec clock_mono0;   /* monotonic time when it was pinned or started */
	int64_t clock_floor;           /* the wall clock is not believed before this */
	atomic_bool below_floor;       /* the wall clock reads earlier than the floor */
	struct event *house_timer;     /* on workers[0]: floor checks, state saves */
	int clock_fd;                  /* timerfd that fires when the wall clock is set */
	struct event *clock_ev;
	int64_t state_saved_mono;      /* when the state file was last written */

	upstream *upstreams;           /* owned */
	size_t n_upstreams;
	struct ssl_ctx_st *updot_ctx;  /* owned: TLS client context of the DoT
					  upstreams (updot.c); NULL when none */
	struct ssl_ctx_st *tls_ctx;    /* one reference: the DoT listeners' server
					  context (listen_tls.c), replaced on reload;
					  NULL without tls.listen */

	worker **workers;              /* owned; workers[0] runs on the main thread */
	size_t n_workers;
	struct event *sig_term, *sig_int, *sig_hup; /* on workers[0]'s base */
	struct event *sig_usr1;        /* query log reopen, on workers[0]'s base */
	struct qlog *qlog;             /* owned: the query log (qlog.c) */
	atomic_bool stopping;

	/* Reload (reload.c): the previous config and policy stay alive until
	 * every worker has switched to the new ones. */
	cfg *old_cfg;
	policy *old_pol;
	atomic_int reload_acks;        /* workers yet to switch */
	/* the last worker to switch posts WORKER_MAIL_RECLAIM to workers[0] */
	bool reload_again;             /* asked for while one was under way */
	bool reload_ok;                /* the last reload succeeded */
	int64_t reload_time;           /* wall time of the last successful load */
	uint64_t policy_version;       /* 1 at start, +1 per successful reload */
	struct watch *watch;           /* inotify on the config and policy files */
	struct http_server *http;      /* on workers[0]'s base; NULL when http is off */
	struct xfr_server *xfr;        /* on workers[0]'s base: the RPZ zone served
					  (xfr.c); NULL without rpz */
} daemon_ctx;

struct worker {
	daemon_ctx *d;
	unsigned id;
	/* The config and policy this worker answers with: the daemon's, taken
	 * over in the worker's own thread on a reload. */
	const cfg *cfg;
	const policy *pol;
	/* The mailbox (worker_post): other threads set bits in `mail` and
	 * wake the loop through the eventfd. The base itself has no locks
	 * (worker_base_new), so nothing else of it is touched from outside. */
	atomic_uint mail;
	int mail_fd;                   /* owned: an eventfd */
	struct event *mail_ev;
	struct event_base *base;       /* owned */
	pthread_t thread;              /* workers 1..n-1 */
	bool threaded;

	struct udp_listener **udp;     /* owned */
	size_t n_udp;
	/* Inside a batch (worker_batch_begin/end): UDP answers and upstream
	 * queries are queued and go out together at its end. */
	bool batching;
	struct tcp_server **tcp;       /* owned */
	size_t n_tcp;
	struct tcp_server **tls;       /* owned: DoT listeners (listen_tls.c) */
	size_t n_tls;
	struct ssl_ctx_st *tls_ctx;    /* one reference: the daemon's tls_ctx as of
					  this worker's last reload */
	void *tcp_conns;               /* owned by listen_tcp.c: open TCP and TLS
					  connections */
	size_t tcp_max_conns;
	struct fwd *fwd;               /* owned */
	struct cache *cache;           /* owned; this worker's share of cache.entries */
	struct obs_worker *obs;        /* owned: counters, exposure (obs.c) */
	struct ratelimit *rl;          /* owned: UDP buckets per client network
					  (ratelimit.c); NULL without `ratelimit` */

	struct event *policy_timer;    /* fires at the next effective/until instant */
	/* The policy time span [plain_from, plain_until) in which no decision
	 * changes and the cache holds nothing from outside it: plain cache
	 * entries (cache_insert_plain) may be served without the policy walk. */
	int64_t plain_from, plain_until;
	/* +1 at every worker_policy_changed: a decision taken under an older
	 * epoch may no longer hold. */
	uint64_t policy_epoch;
	struct event *stop_timer;
	bool stopping;

	/* The clocks, read once per batch of queries (worker_tick_begin/end)
	 * instead of several times per query; outside a batch they are read
	 * afresh (worker_now and friends). */
	struct {
		bool valid;
		int64_t now;          /* policy time, seconds */
		uint64_t mono_us;     /* obs_now_us() */
		uint64_t mono_ms;     /* worker_mono_ms() */
	} tick;

	daemon_stats stats;
	/* Scratch: one query in, one answer out at a time. An answer is built
	 * at `out`: out_own, or while a UDP listener handles its batch, the
	 * listener's next send slot (WIRE_EDNS_UDP octets, the most a UDP
	 * answer may have), so that sending it copies nothing. */
	uint8_t in[WIRE_TCP_MAX];
	uint8_t *out;
	uint8_t out_own[WIRE_TCP_MAX + 2];
};

/* The policy time now: seconds since the epoch. Any thread. */
int64_t daemon_now(const daemon_ctx *d);
/* The same in milliseconds, for timers. */
int64_t daemon_now_ms(const daemon_ctx *d);
/* A monotonic clock in milliseconds (coarse, cheap): cache ages. */
uint64_t worker_mono_ms(void);
/* Reads the clocks for a batch of queries handled now; _end forgets them. */
void worker_tick_begin(worker *w);
static inline void worker_tick_end(worker *w)
{
	w->tick.valid = false;
}
/*
 * A batch: a round of datagrams read from one socket (a listener's or an
 * upstream's) and handled together. Reads the clocks once (as
 * worker_tick_begin); until _end, the UDP answers to clients and the
 * upstream queries are queued; _end sends the queries (one sendmmsg per
 * upstream socket), then the answers (one sendmmsg per listener). Not nested.
 */
void worker_batch_begin(worker *w);
void worker_batch_end(worker *w);
/* Policy time, monotonic milliseconds and microseconds: the batch's reading
 * inside a batch, else the clocks now (worker_us_now). Inline: every query
 * asks several times. */
uint64_t worker_us_now(void);
static inline int64_t worker_now(worker *w)
{
	return w->tick.valid ? w->tick.now : daemon_now(w->d);
}
static inline uint64_t worker_ms(worker *w)
{
	return w->tick.valid ? w->tick.mono_ms : worker_mono_ms();
}
static inline uint64_t worker_us(worker *w)
{
	return w->tick.valid ? w->tick.mono_us : worker_us_now();
}

/* Writes the clock floor's state file, if there is one (workers[0]). */
void daemon_state_save(daemon_ctx *d);


/* Creates worker `id` with its event base and forwarding table; binds its
 * listeners (reuseport: share the addresses with the other workers).
 * NULL with a reason in err. */
worker *worker_new(daemon_ctx *d, unsigned id, bool reuseport, char *err, size_t errlen);
void worker_free(worker *w);
/* Runs the loop until stopped (the thread function for workers 1..n-1). */
void *worker_run(void *w);
/* What a worker can be asked, from any thread, with worker_post. */
enum {
	WORKER_MAIL_RELOAD = 1,   /* take over d->cfg and d->pol (reload.c) */
	WORKER_MAIL_REARM = 2,    /* the wall clock stepped: re-arm policy_timer */
	WORKER_MAIL_STOP = 4,     /* close listeners, finish in-flight queries
				     within a second, leave the loop */
	WORKER_MAIL_RECLAIM = 8,  /* workers[0] only: every worker switched,
				     the old snapshot can go (reload_reclaim) */
};
/* Sets bits in w's mailbox and wakes its loop; the worker handles them in
 * its own thread. Any thread, the worker's own included. */
void worker_post(worker *w, unsigned mail);

/* Sends an answer to a client (UDP datagram or TCP frame); drops it when the
 * TCP connection is gone. */
void worker_send(worker *w, const client *c, const uint8_t *pkt, size_t len);

/* The answer size limit for this client and query. */
static inline size_t client_answer_cap(const client *c, const wire_query *q)
{
	return c->t == TRANSPORT_UDP ? wire_udp_limit(q) : WIRE_TCP_MAX;
}

/* The policy in force changed (a cutoff instant passed, or a reload): drop
 * whatever was decided under the old one. */
void worker_policy_changed(worker *w);

/* Reloads the config and every policy file (SIGHUP, or files changed): a
 * new snapshot is built here, on the main thread, and each worker switches
 * to it between two queries. A config that fails to load keeps the running
 * one, and every error is logged with file:line:column. */
void daemon_reload(daemon_ctx *d, const char *why);

/* Called by the forwarding table when it drained, so a stopping worker can
 * leave its loop early. */
void worker_maybe_exit(worker *w);

#endif
