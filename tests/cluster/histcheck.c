/* histcheck: checks a recorded client history of registers for linearizability, key by key,
 * with the simulator's checker (tests/sim/lincheck.c). The fault suite writes the history of
 * real clients against a real cluster; this tool reads it and says which keys, if any, have
 * no linearization.
 *
 * Input, one operation per line ('#' starts a comment, blank lines are skipped):
 *     KEY w VALUE CALL_US RET_US     a write of VALUE (unique per key, not 0)
 *     KEY w VALUE CALL_US open       a write whose outcome is unknown (timed out, or an
 *                                    error that says it may or may not have been applied)
 *     KEY r VALUE CALL_US RET_US     a read that returned VALUE (0: the key was missing)
 * Reads without an answer are left out by the caller. Times are microseconds on one clock.
 *
 * Output: a line per key that is not linearizable (with the operations around the one the
 * search could not place), then a summary line. Exit status: 0 every key linearizable,
 * 1 a violation, 2 the search budget ran out on some key (undecided), 3 bad input or usage. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/panic.h"
#include "lincheck.h"

#define HIST_LINE_BYTES_MAX 512
#define HIST_KEY_BYTES_MAX 200
#define HIST_OPS_MAX (64u << 20)          /* operations in one history */
#define HIST_KEY_OPS_MAX (1u << 20)       /* operations on one key */
#define HIST_BUDGET_DEFAULT 100000000ull  /* search steps per key */
#define HIST_CONTEXT_OPS 12               /* operations shown around a culprit */

enum { HIST_EXIT_OK = 0, HIST_EXIT_VIOLATION = 1, HIST_EXIT_UNKNOWN = 2, HIST_EXIT_BAD = 3 };

struct hist_op {
	char *key;
	unsigned line;
	struct lin_op op;
};

struct hist {
	struct hist_op *ops;
	size_t count, cap;
};

static int hist_u64(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* Parses one line's fields into *op; returns a reason on bad input, NULL if sound. */
static const char *hist_fields(char **f, struct hist_op *op)
{
	if (strlen(f[0]) > HIST_KEY_BYTES_MAX)
		return "key too long";
	if (strcmp(f[1], "w") != 0 && strcmp(f[1], "r") != 0)
		return "kind must be w or r";
	op->op.kind = f[1][0] == 'w' ? LIN_WRITE : LIN_READ;
	if (hist_u64(f[2], &op->op.value) != 0 || op->op.value >= LIN_OPEN - 1)
		return "bad value";
	if (op->op.kind == LIN_WRITE && op->op.value == 0)
		return "a write of 0 (the initial value)";
	if (hist_u64(f[3], &op->op.call_us) != 0 || op->op.call_us >= LIN_OPEN)
		return "bad call time";
	if (strcmp(f[4], "open") == 0) {
		if (op->op.kind != LIN_WRITE)
			return "only writes can be open";
		op->op.ret_us = LIN_OPEN;
	} else if (hist_u64(f[4], &op->op.ret_us) != 0 || op->op.ret_us >= LIN_OPEN) {
		return "bad return time";
	} else if (op->op.ret_us < op->op.call_us) {
		return "returns before its call";
	}
	op->key = strdup(f[0]);
	ASSERT(op->key != NULL);
	return NULL;
}

/* Splits a line into exactly five fields; NULL if it is blank or a comment. */
static const char *hist_line(char *text, unsigned line, struct hist *h, bool *added)
{
	*added = false;
	char *hash = strchr(text, '#');
	if (hash != NULL)
		*hash = '\0';
	char *f[6];
	unsigned n = 0;
	for (char *tok = strtok(text, " \t\r\n"); tok != NULL; tok = strtok(NULL, " \t\r\n")) {
		if (n == 6)
			break;
		f[n++] = tok;
	}
	if (n == 0)
		return NULL;
	if (n != 5)
		return "expected: KEY w|r VALUE CALL_US RET_US|open";
	if (h->count == HIST_OPS_MAX)
		return "too many operations";
	if (h->count == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 4096;
		h->ops = realloc(h->ops, h->cap * sizeof(*h->ops));
		ASSERT(h->ops != NULL);
	}
	struct hist_op *op = &h->ops[h->count];
	op->line = line;
	const char *why = hist_fields(f, op);
	if (why == NULL) {
		h->count++;
		*added = true;
	}
	return why;
}

static int hist_read(FILE *in, const char *name, struct hist *h)
{
	char buf[HIST_LINE_BYTES_MAX + 2];
	unsigned line = 0;
	while (fgets(buf, sizeof(buf), in) != NULL) {
		line++;
		size_t len = strlen(buf);
		if (len > 0 && buf[len - 1] != '\n' && !feof(in)) {
			fprintf(stderr, "histcheck: %s:%u: line longer than %d bytes\n", name, line,
				HIST_LINE_BYTES_MAX);
			return -EINVAL;
		}
		bool added;
		const char *why = hist_line(buf, line, h, &added);
		if (why != NULL) {
			fprintf(stderr, "histcheck: %s:%u: %s\n", name, line, why);
			return -EINVAL;
		}
	}
	if (ferror(in)) {
		fprintf(stderr, "histcheck: %s: read error\n", name);
		return -EIO;
	}
	return 0;
}

/* By key, then by line: each key's operations together, in the order they were recorded. */
static int hist_cmp(const void *a, const void *b)
{
	const struct hist_op *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Two writes of one value on one key would make the register's states ambiguous: returns
 * such a value, or 0. */
static uint64_t hist_duplicate_write(const struct hist_op *ops, size_t n)
{
	uint64_t *vals = malloc(n * sizeof(*vals) + 1);
	ASSERT(vals != NULL);
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (ops[i].op.kind == LIN_WRITE)
			vals[w++] = ops[i].op.value;
	qsort(vals, w, sizeof(*vals), u64_cmp);
	uint64_t dup = 0;
	for (size_t i = 1; i < w && dup == 0; i++)
		if (vals[i] == vals[i - 1])
			dup = vals[i];
	free(vals);
	return dup;
}

static void hist_print_op(const struct hist_op *o, const char *mark)
{
	char ret[24];
	if (o->op.ret_us == LIN_OPEN)
		snprintf(ret, sizeof(ret), "open");
	else
		snprintf(ret, sizeof(ret), "%" PRIu64, o->op.ret_us);
	printf("  %s line %u: %c %" PRIu64 " call %" PRIu64 " ret %s\n", mark, o->line,
	       o->op.kind == LIN_WRITE ? 'w' : 'r', o->op.value, o->op.call_us, ret);
}

/* The culprit and the operations that overlap it or come just before, by call time. */
static void hist_print_context(const struct hist_op *ops, size_t n, size_t culprit)
{
	const struct hist_op *c = &ops[culprit];
	unsigned shown = 0;
	for (size_t i = 0; i < n && shown < HIST_CONTEXT_OPS; i++) {
		const struct hist_op *o = &ops[i];
		bool overlaps = o->op.call_us <= c->op.ret_us && o->op.ret_us + 1 >= c->op.call_us;
		if (i == culprit || overlaps) {
			hist_print_op(o, i == culprit ? "=>" : "  ");
			shown++;
		}
	}
}

/* Checks one key's operations; prints what is wrong. */
static enum lin_result hist_check_key(struct hist_op *ops, size_t n, uint64_t budget)
{
	struct lin_op *lops = malloc(n * sizeof(*lops));
	ASSERT(lops != NULL);
	for (size_t i = 0; i < n; i++)
		lops[i] = ops[i].op;
	unsigned culprit = 0;
	enum lin_result r = lin_check(lops, (unsigned)n, budget, &culprit);
	free(lops);
	if (r == LIN_VIOLATION) {
		ASSERT(culprit < n);
		printf("key %s ops %zu VIOLATION: no linearization places line %u\n", ops[0].key, n,
		       ops[culprit].line);
		hist_print_context(ops, n, culprit);
	} else if (r == LIN_UNKNOWN) {
		printf("key %s ops %zu UNKNOWN: search budget of %" PRIu64 " steps spent\n",
		       ops[0].key, n, budget);
	}
	return r;
}

static int hist_check(struct hist *h, uint64_t budget)
{
	qsort(h->ops, h->count, sizeof(*h->ops), hist_cmp);
	size_t keys = 0, bad = 0, unknown = 0, big = 0;
	for (size_t i = 0; i < h->count;) {
		size_t j = i;
		while (j < h->count && strcmp(h->ops[j].key, h->ops[i].key) == 0)
			j++;
		keys++;
		uint64_t dup = hist_duplicate_write(&h->ops[i], j - i);
		if (dup != 0) {
			fprintf(stderr, "histcheck: key %s: value %" PRIu64 " written twice (values "
				"must be unique per key)\n", h->ops[i].key, dup);
			return HIST_EXIT_BAD;
		}
		if (j - i > HIST_KEY_OPS_MAX) {
			printf("key %s ops %zu UNKNOWN: more than %u operations on one key\n",
			       h->ops[i].key, j - i, HIST_KEY_OPS_MAX);
			big++;
		} else {
			enum lin_result r = hist_check_key(&h->ops[i], j - i, budget);
			bad += r == LIN_VIOLATION;
			unknown += r == LIN_UNKNOWN;
		}
		i = j;
	}
	unknown += big;
	printf("histcheck: keys %zu ops %zu linearizable %zu violations %zu unknown %zu\n", keys,
	       h->count, keys - bad - unknown, bad, unknown);
	return bad ? HIST_EXIT_VIOLATION : unknown ? HIST_EXIT_UNKNOWN : HIST_EXIT_OK;
}

static void usage(void)
{
	fprintf(stderr, "usage: histcheck [--budget STEPS] FILE|-\n"
			"  checks each key's register history for linearizability; see the\n"
			"  comment at the top of tests/cluster/histcheck.c for the format\n");
}

int main(int argc, char **argv)
{
	uint64_t budget = HIST_BUDGET_DEFAULT;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) {
			if (hist_u64(argv[++i], &budget) != 0 || budget == 0) {
				usage();
				return HIST_EXIT_BAD;
			}
		} else if (path == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
			path = argv[i];
		} else {
			usage();
			return HIST_EXIT_BAD;
		}
	}
	if (path == NULL) {
		usage();
		return HIST_EXIT_BAD;
	}
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (in == NULL) {
		fprintf(stderr, "histcheck: %s: %s\n", path, strerror(errno));
		return HIST_EXIT_BAD;
	}
	struct hist h = { 0 };
	int rc = hist_read(in, path, &h);
	if (in != stdin)
		fclose(in);
	int status = rc == 0 ? hist_check(&h, budget) : HIST_EXIT_BAD;
	for (size_t i = 0; i < h.count; i++)
		free(h.ops[i].key);
	free(h.ops);
	return status;
}
