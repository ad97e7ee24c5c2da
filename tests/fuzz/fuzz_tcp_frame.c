/*
 * fuzz_tcp_frame.c: DNS over TCP/TLS stream reassembly (resolver/tcp_frame.c)
 * on a libevent buffer, fed in pieces: all at once, one octet at a time,
 * split in two at every octet boundary (every 1/32 of the input past 300
 * octets), and in chunks of random sizes drawn from a generator seeded by
 * the input. Whatever the pieces, the messages taken out, their order and
 * bytes, the point where a bad length stops the stream, and what is left
 * buffered must be those of a one-line reference parse of the whole input.
 * Both minimums are tried: 12 (client queries) and 0.
 */
#include <event2/buffer.h>
#include <string.h>

#include "fuzz_util.h"
#include "resolver/tcp_frame.h"

/* What a stream holds: the reference's view, straight from RFC 1035 4.2.2. */
typedef struct ref {
	size_t off[1 << 15], len[1 << 15];
	size_t n, used;
	bool bad;
} ref;

static void ref_parse(const uint8_t *d, size_t size, size_t min_len, ref *r)
{
	size_t pos = 0;
	r->n = 0;
	r->bad = false;
	while (size - pos >= 2) {
		size_t len = (size_t)d[pos] << 8 | d[pos + 1];
		if (len < min_len) {
			r->bad = true;
			break;
		}
		if (size - pos - 2 < len)
			break;
		r->off[r->n] = pos + 2;
		r->len[r->n++] = len;
		pos += 2 + len;
	}
	r->used = pos;
}

/* Feeds the input in chunks ending at cuts[0..n) (ascending, last = size)
 * and checks everything taken out against the reference. */
static void feed(const uint8_t *d, size_t size, size_t min_len, const ref *r, const size_t *cuts,
		 size_t ncuts)
{
	static uint8_t msg[65536];
	struct evbuffer *in = evbuffer_new();
	FUZZ_CHECK(in != NULL);
	size_t got = 0, from = 0;
	bool bad = false;
	for (size_t c = 0; c < ncuts && !bad; c++) {
		FUZZ_CHECK(cuts[c] >= from && cuts[c] <= size);
		FUZZ_CHECK(evbuffer_add(in, d + from, cuts[c] - from) == 0);
		from = cuts[c];
		for (;;) {
			size_t len = 0;
			tcp_frame_status st = tcp_frame_pull(in, min_len, msg, &len);
			if (st == TCP_FRAME_MORE)
				break;
			if (st == TCP_FRAME_BAD) {
				bad = true;
				break;
			}
			FUZZ_CHECK(got < r->n && len == r->len[got]);
			FUZZ_CHECK(!memcmp(msg, d + r->off[got], len));
			got++;
		}
	}
	FUZZ_CHECK(got == r->n && bad == r->bad);
	if (!bad)
		FUZZ_CHECK(evbuffer_get_length(in) == size - r->used);
	evbuffer_free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ref r;
	static size_t cuts[1 << 16];
	static const size_t mins[] = { 12, 0 };
	if (size > 65535)
		return 0;
	uint64_t seed = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3u;

	for (size_t m = 0; m < 2; m++) {
		ref_parse(data, size, mins[m], &r);
		cuts[0] = size;
		feed(data, size, mins[m], &r, cuts, 1);
		for (size_t i = 0; i < size; i++)
			cuts[i] = i + 1;
		feed(data, size, mins[m], &r, cuts, size);
		size_t step = size <= 300 ? 1 : size / 32;
		for (size_t k = 1; k < size; k += step) {
			cuts[0] = k;
			cuts[1] = size;
			feed(data, size, mins[m], &r, cuts, 2);
		}
		uint64_t x = seed;
		for (int round = 0; round < 4; round++) {
			size_t n = 0, at = 0;
			while (at < size) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				at += 1 + (size_t)(x % 40);
				cuts[n++] = at < size ? at : size;
			}
			if (n)
				feed(data, size, mins[m], &r, cuts, n);
		}
	}
	/* The pure check alone, on every prefix: never READY past the input. */
	for (size_t have = 0; have <= size && have < 70; have++) {
		size_t len = 0;
		if (tcp_frame_check(data, have, 12, &len) == TCP_FRAME_READY)
			FUZZ_CHECK(len + 2 <= have && len >= 12);
	}
	return 0;
}
