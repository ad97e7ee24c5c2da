/*
 * wire_name.c: domain names and RR headers inside DNS messages.
 *
 * Reading a compressed name is where a hostile packet can make a parser loop
 * or read out of bounds, so every step here is bounded: offsets are checked
 * against the packet length before each load, a pointer must point strictly
 * before the start of the label run that contains it (so the walk always
 * moves to lower offsets and terminates), hops are capped, and the output
 * never exceeds 255 octets.
 */
#include "resolver/wire_impl.h"

const char *wire_strerror(int status)
{
	switch (status) {
	case WIRE_OK: return "ok";
	case WIRE_EDROP: return "drop";
	case WIRE_EFORMERR: return "formerr";
	case WIRE_ENOTIMP: return "notimp";
	case WIRE_EBADVERS: return "badvers";
	case WIRE_EMISMATCH: return "mismatch";
	case WIRE_EMALFORMED: return "malformed";
	default: return "unknown";
	}
}

/* Whether any of the n octets from `from` is marked in the map (see
 * wire_read_name_avoid); octets past the map are never marked. */
static bool wire_avoided(const uint8_t *avoid, size_t from, size_t n)
{
	for (size_t i = from; avoid && i < from + n && i < WIRE_AVOID_OCTETS; i++)
		if (avoid[i >> 3] & (1u << (i & 7)))
			return true;
	return false;
}

int wire_read_name(const uint8_t *pkt, size_t len, size_t pos,
		   uint8_t out[WIRE_NAME_MAX], size_t *out_len, size_t *end)
{
	return wire_read_name_avoid(pkt, len, pos, NULL, out, out_len, end);
}

int wire_read_name_avoid(const uint8_t *pkt, size_t len, size_t pos, const uint8_t *avoid,
			 uint8_t out[WIRE_NAME_MAX], size_t *out_len, size_t *end)
{
	size_t n = 0;            /* octets written to out */
	size_t seg = pos;        /* start of the current label run */
	size_t after = 0;        /* offset past the name as stored at pos */
	unsigned hops = 0;

	if (pkt == NULL)
		return WIRE_EMALFORMED;
	for (;;) {
		if (pos >= len)
			return WIRE_EMALFORMED;
		uint8_t c = pkt[pos];
		if ((c & 0xC0) == 0xC0) {
			if (pos + 1 >= len || wire_avoided(avoid, pos, 2))
				return WIRE_EMALFORMED;
			size_t target = (size_t)(c & 0x3F) << 8 | pkt[pos + 1];
			/* Strictly before the current run, and not into the header. */
			if (target >= seg || target < WIRE_HDR_LEN || ++hops > WIRE_PTR_HOPS_MAX)
				return WIRE_EMALFORMED;
			if (after == 0)
				after = pos + 2;
			pos = seg = target;
			continue;
		}
		if (c & 0xC0)    /* 0x40 (extended, obsolete) and 0x80 (reserved) */
			return WIRE_EMALFORMED;
		if (c == 0) {
			if (n + 1 > WIRE_NAME_MAX || wire_avoided(avoid, pos, 1))
				return WIRE_EMALFORMED;
			out[n++] = 0;
			if (after == 0)
				after = pos + 1;
			break;
		}
		/* Label: length octet + c octets, within the packet and the name
		 * limit (leaving room for the root octet). */
		if (c > len - pos - 1 || n + 1 + c + 1 > WIRE_NAME_MAX ||
		    wire_avoided(avoid, pos, 1 + (size_t)c))
			return WIRE_EMALFORMED;
		out[n++] = c;
		for (size_t i = 1; i <= c; i++)
			out[n++] = wire_lower(pkt[pos + i]);
		pos += 1 + (size_t)c;
	}
	*out_len = n;
	*end = after;
	return WIRE_OK;
}

int wire_skip_name(const uint8_t *pkt, size_t len, size_t pos, size_t *end)
{
	size_t start = pos, total = 0;

	if (pkt == NULL)
		return WIRE_EMALFORMED;
	for (;;) {
		if (pos >= len)
			return WIRE_EMALFORMED;
		uint8_t c = pkt[pos];
		if ((c & 0xC0) == 0xC0) {
			if (pos + 1 >= len)
				return WIRE_EMALFORMED;
			size_t target = (size_t)(c & 0x3F) << 8 | pkt[pos + 1];
			/* Not followed, but a pointer forward or into this name is
			 * malformed whatever it leads to. */
			if (target >= start || target < WIRE_HDR_LEN)
				return WIRE_EMALFORMED;
			*end = pos + 2;
			return WIRE_OK;
		}
		if (c & 0xC0)
			return WIRE_EMALFORMED;
		if (c == 0) {
			*end = pos + 1;
			return WIRE_OK;
		}
		total += 1 + (size_t)c;
		if (c > len - pos - 1 || total + 1 > WIRE_NAME_MAX)
			return WIRE_EMALFORMED;
		pos += 1 + (size_t)c;
	}
}

size_t wire_name_len(const uint8_t *name, size_t max)
{
	size_t pos = 0;

	if (name == NULL)
		return 0;
	if (max > WIRE_NAME_MAX)
		max = WIRE_NAME_MAX;
	while (pos < max) {
		uint8_t c = name[pos];
		if (c == 0)
			return pos + 1;
		if (c > WIRE_LABEL_MAX || c >= max - pos - 1)
			return 0;
		pos += 1 + (size_t)c;
	}
	return 0;
}

bool wire_name_equal_ci(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	/* Length octets are <= 63, below 'A', so lower-casing every octet
	 * compares labels and structure at once. */
	if (alen != blen || a == NULL || b == NULL)
		return false;
	if (!memcmp(a, b, alen))
		return true;  /* the usual case: a reply echoes the question as sent */
	for (size_t i = 0; i < alen; i++)
		if (wire_lower(a[i]) != wire_lower(b[i]))
			return false;
	return true;
}

int wire_rr_read(const uint8_t *pkt, size_t len, size_t pos, wire_rr *rr)
{
	size_t p;

	if (wire_skip_name(pkt, len, pos, &p) != WIRE_OK)
		return WIRE_EMALFORMED;
	if (len - p < 10)
		return WIRE_EMALFORMED;
	rr->start = pos;
	rr->owner_end = p;
	rr->type = wire_get16(pkt + p);
	rr->rclass = wire_get16(pkt + p + 2);
	rr->ttl = wire_get32(pkt + p + 4);
	rr->rdlen = wire_get16(pkt + p + 8);
	rr->rdata = p + 10;
	if (rr->rdlen > len - rr->rdata)
		return WIRE_EMALFORMED;
	rr->end = rr->rdata + rr->rdlen;
	return WIRE_OK;
}
