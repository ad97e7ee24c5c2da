/*
 * wire_ref.h: the f44fb66 parser and builders (wire_ref.c), the reference
 * that test_wire_same compares the current ones against.
 */
#ifndef EMBARGO_TESTS_WIRE_REF_H
#define EMBARGO_TESTS_WIRE_REF_H

#include "resolver/wire.h"

int ref_wire_parse_query(const uint8_t *pkt, size_t len, wire_query *q);
size_t ref_wire_build_block(const wire_query *q, const wire_block *b, uint8_t *out, size_t cap);
size_t ref_wire_build_error(const wire_query *q, uint16_t rcode, int32_t ede_code,
			    const char *ede_text, uint8_t *out, size_t cap);
size_t ref_wire_build_tc(const wire_query *q, uint8_t *out, size_t cap);
size_t ref_wire_build_txt(const wire_query *q, const char *text, uint32_t ttl, uint8_t *out,
			  size_t cap);

#endif
