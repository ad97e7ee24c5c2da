/*
 * tcp_frame.h: the two-octet length framing of DNS over TCP and TLS
 * (RFC 1035 4.2.2, RFC 7766 8): every message is preceded by its length.
 *
 * Owns: finding whole messages in a byte stream that arrives in pieces of
 * any size. tcp_frame_check is pure (it sees only the first two octets and
 * how many are buffered), so it is fuzzed on its own; tcp_frame_pull applies
 * it to a libevent input buffer, which is what the stream readers call: the
 * client listeners (listen_tcp.c, whose connections also carry listen_tls.c's
 * DoT), the DoT upstream connections (updot.c) and the TCP fallback to
 * upstreams after a truncated answer (fwd.c).
 */
#ifndef EMBARGO_RESOLVER_TCP_FRAME_H
#define EMBARGO_RESOLVER_TCP_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

typedef enum tcp_frame_status {
	TCP_FRAME_BAD = -1,   /* the length is below min_len: not DNS, close the stream */
	TCP_FRAME_MORE = 0,   /* no whole message buffered yet: wait for more octets */
	TCP_FRAME_READY = 1,  /* a whole message of *len octets follows the length */
} tcp_frame_status;

/*
 * Looks at a stream of which `have` octets are buffered; hdr holds the
 * first min(have, 2) of them. READY (with *len) when the length and the
 * whole message are there, BAD as soon as a length below min_len is
 * known, else MORE. A zero-length message is READY when min_len is 0.
 */
tcp_frame_status tcp_frame_check(const uint8_t *hdr, size_t have, size_t min_len, size_t *len);

/*
 * Takes the next whole message out of `in` into out (room for 65535
 * octets): READY with its length in *len, and the length and message
 * drained from `in`. MORE and BAD leave `in` as it was.
 */
tcp_frame_status tcp_frame_pull(struct evbuffer *in, size_t min_len, uint8_t *out, size_t *len);

#endif
