/*
 * tcp_frame.c: two-octet length framing over a libevent buffer (see
 * tcp_frame.h). The decision is made on a copy of the first two octets and
 * the buffered length, so a message split anywhere, even inside its length,
 * is taken only once it is whole.
 */
#include "resolver/tcp_frame.h"

#include <event2/buffer.h>

tcp_frame_status tcp_frame_check(const uint8_t *hdr, size_t have, size_t min_len, size_t *len)
{
	if (have < 2)
		return TCP_FRAME_MORE;
	size_t n = (size_t)hdr[0] << 8 | hdr[1];
	if (n < min_len)
		return TCP_FRAME_BAD;
	if (have - 2 < n)
		return TCP_FRAME_MORE;
	*len = n;
	return TCP_FRAME_READY;
}

tcp_frame_status tcp_frame_pull(struct evbuffer *in, size_t min_len, uint8_t *out, size_t *len)
{
	uint8_t hdr[2];
	ev_ssize_t got = evbuffer_copyout(in, hdr, sizeof(hdr));
	size_t n;
	tcp_frame_status st = tcp_frame_check(hdr, got < 0 ? 0 : evbuffer_get_length(in), min_len, &n);
	if (st != TCP_FRAME_READY)
		return st;
	evbuffer_drain(in, 2);
	if (evbuffer_remove(in, out, n) != (int)n)
		return TCP_FRAME_BAD;   /* cannot happen: n octets were buffered */
	*len = n;
	return TCP_FRAME_READY;
}
