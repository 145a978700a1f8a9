/* Runs every file of the given directories (or the given files) through a fuzz target once,
 * in name order, so that each build replays the seed corpus and the regression inputs as an
 * ordinary test. A target signals a broken invariant by aborting, as under libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_INPUT_BYTES_MAX (16u << 20)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *data = malloc(REPLAY_INPUT_BYTES_MAX);
	size_t n = data != NULL ? fread(data, 1, REPLAY_INPUT_BYTES_MAX, f) : 0;
	int bad = data == NULL || ferror(f) || !feof(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "replay: %s: unreadable or over %u bytes\n", path,
			REPLAY_INPUT_BYTES_MAX);
		free(data);
		return -1;
	}
	/* An exact-size copy, so that a read past the input is caught by ASan. */
	uint8_t *exact = malloc(n > 0 ? n : 1);
	memcpy(exact, data, n);
	free(data);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Returns the number of inputs run, or -1. */
static int replay_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) == 0 ? 1 : -1;
	struct dirent **names;
	int n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	int run = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		char file[4096];
		if (names[i]->d_name[0] != '.') {
			snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
			int r = replay_path(file);
			if (r < 0)
				failed = 1;
			else
				run += r;
		}
		free(names[i]);
	}
	free(names);
	return failed ? -1 : run;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s <corpus dir or file>...\n", argv[0]);
		return 2;
	}
	int total = 0;
	for (int i = 1; i < argc; i++) {
		int r = replay_path(argv[i]);
		if (r < 0)
			return 1;
		total += r;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	printf("replay: %d passed, 0 failed\n", total);
	return 0;
}
