/*
 * replay_main.c: runs a fuzz target over files and folders of inputs
 * without libFuzzer, so every build (gcc, ASan) replays the seed corpora
 * and the regress-* inputs that once found bugs. A broken invariant aborts
 * as under libFuzzer; the input is named first.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	/* a copy of exactly n octets, so ASan sees reads past the input */
	uint8_t *in = malloc(n ? n : 1);
	if (!in)
		return -1;
	memcpy(in, buf, n);
	fprintf(stderr, "%s\n", path);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	return 0;
}


static int run_path(const char *path, size_t *count)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	struct dirent **list;
	int n = scandir(path, &list, NULL, alphasort);
	if (n < 0) {
		perror(path);
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.') {
			char p[4096];
			snprintf(p, sizeof(p), "%s/%s", path, list[i]->d_name);
			if (run_path(p, count) < 0)
				rc = -1;
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int rc = 0;
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			rc = 1;
	printf("%zu inputs replayed\n", count);
	return rc || count == 0;
}
