/*
 * fuzz_listfile.c: the list import parsers (config/listfile.c) behind the
 * domains-file, hosts-file and allow-file keys: names, hosts and RPZ
 * formats, through the buffer entry point.
 *
 * Input: one octet choosing the key (domains, hosts, allow), then the file.
 * Invariants: every name handed out is lower-case wire form, not the root,
 * and of the kind the key allows; the format reported is the one
 * listfile_detect sees; -1 exactly when an error was added, and the errors
 * stay within the cap.
 */
#include <string.h>

#include "config/dname.h"
#include "config/listfile.h"
#include "fuzz_util.h"

static int add(void *ctx, listfile_kind kind, const uint8_t *wire, size_t len, uint32_t line,
	       uint32_t col)
{
	listfile_key key = *(const listfile_key *)ctx;
	(void)col;
	FUZZ_CHECK(len > 1 && len <= DNAME_MAX && dname_wire_len(wire) == len);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK(!(wire[i] >= 'A' && wire[i] <= 'Z'));
	FUZZ_CHECK((key == LISTFILE_ALLOW) == (kind == LISTFILE_KIND_ALLOW));
	FUZZ_CHECK(line >= 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	listfile_key key = (listfile_key)(data[0] % 3);
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;
	cfg_diags errors = { 0 }, warnings = { 0 };
	listfile_sink sink = { .add = add, .ctx = &key, .errors = &errors, .warnings = &warnings };
	listfile_format f = (listfile_format)-1;
	int rc = listfile_parse_buf(buf, len, "list.txt", key, &sink, &f);
	FUZZ_CHECK(f == listfile_detect(buf, len));
	FUZZ_CHECK((rc < 0) == (errors.n > 0));
	FUZZ_CHECK(errors.n <= LISTFILE_MAX_ERRORS + 1);
	cfg_diags_free(&errors);
	cfg_diags_free(&warnings);
	return 0;
}
