/* The request parser: every well-formed shape and every malformed one with Redis's exact
 * error text, each fed whole, one byte at a time and in other piece sizes with the same
 * result; limits at their edges; pipelines; and linear work for a million-argument command
 * and a large bulk arriving in 16 KiB pieces. */
#include "parse_util.h"

#define S(lit) lit, sizeof(lit) - 1

struct fixture {
	struct resp_limits lim;
	struct resp_argv argv;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	resp_limits_default(&f->lim);
	assert_int_equal(resp_argv_init(&f->argv), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	resp_argv_free(&f->argv);
	free(f);
	return 0;
}

static const size_t steps[] = { 0, 1, 2, 3, 5, 7, 16, 64 };
/* For inputs of tens of KiB, where one byte at a time would copy gigabytes. */
static const size_t big_steps[] = { 0, 1000, 4096, 65536 };

static void expect_steps(struct fixture *f, const char *in, size_t len, const char *want,
			 const size_t *step, size_t n_steps)
{
	for (size_t i = 0; i < n_steps; i++) {
		char *got = parse_transcript(&f->lim, &f->argv, in, len, step[i], NULL);
		if (strcmp(got, want) != 0)
			fail_msg("step %zu:\n got  \"%s\"\n want \"%s\"", step[i], got, want);
		free(got);
	}
}

/* The same transcript whatever the pieces: whole, every prefix one byte longer than the last,
 * and a few other sizes. */
static void expect_with(struct fixture *f, const char *in, size_t len, const char *want)
{
	expect_steps(f, in, len, want, steps, ARRAY_SIZE(steps));
}

static void expect_big(struct fixture *f, const char *in, size_t len, const char *want)
{
	expect_steps(f, in, len, want, big_steps, ARRAY_SIZE(big_steps));
}

#define EXPECT(in_lit, want) expect_with(f, S(in_lit), (want))

static void test_parse_multibulk(void **state)
{
	struct fixture *f = *state;
	EXPECT("*1\r\n$4\r\nPING\r\n", "[PING] ");
	EXPECT("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", "[SET,k,] ");
	/* Bulk data is taken by length: CR, LF, NUL and '*' are ordinary bytes in it. */
	EXPECT("*2\r\n$4\r\nECHO\r\n$6\r\n\r\n\0*$\n\r\n", "[ECHO,\\x0d\\x0a\\x00*$\\x0a] ");
	EXPECT("*1\r\n$10\r\n0123456789\r\n", "[0123456789] ");
	/* Empty multibulks: nothing to do, the bytes are consumed. */
	EXPECT("*0\r\n", "E ");
	EXPECT("*-1\r\n", "E ");
	EXPECT("*-5\r\n*1\r\n$4\r\nPING\r\n", "E [PING] ");
	/* Incomplete at every point: nothing is returned. */
	EXPECT("*", "MORE");
	EXPECT("*2\r", "MORE");
	EXPECT("*2\r\n$3\r\nGET\r\n$1", "MORE");
	EXPECT("*2\r\n$3\r\nGET\r\n$1\r\nk\r", "MORE");
	EXPECT("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI", "[PING] MORE");
}

static void test_parse_inline(void **state)
{
	struct fixture *f = *state;
	EXPECT("PING\r\n", "[PING] ");
	EXPECT("PING\n", "[PING] ");
	EXPECT("SET  a\tb \r\n", "[SET,a,b] ");
	/* As redis-server 7.0.15 splits them (checked on the wire). */
	EXPECT("ECHO \"a\\x41\\n\\q\"\r\n", "[ECHO,aA\\x0aq] ");
	EXPECT("ECHO 'it\\'s'\r\n", "[ECHO,it's] ");
	EXPECT("ECHO\ta\vb\r\n", "[ECHO,a\\x0bb] ");
	EXPECT("ECHO \"a\"\v\r\n", "[ECHO,a] ");
	EXPECT("ECHO x\r\r\n", "[ECHO,x] ");
	EXPECT("ECHO \"x\r\"\r\n", "[ECHO,x\\x0d] ");
	EXPECT("PING\rECHO\n", "[PING,ECHO] ");
	EXPECT("ECHO \"\\x4g\"\n", "[ECHO,x4g] ");
	EXPECT("ECHO \"\\\\\"\n", "[ECHO,\\x5c] ");
	EXPECT("ECHO \"\\t\\r\\b\\a\\\"\"\n", "[ECHO,\\x09\\x0d\\x08\\x07\"] ");
	EXPECT("ECHO \"\\xfF\\x00\"\n", "[ECHO,\\xff\\x00] ");
	EXPECT("SET k \"\" ''\n", "[SET,k,,] ");
	EXPECT("a\"b c\" d\n", "[ab c,d] ");
	EXPECT("'a\\b' \"'\" '\"'\n", "[a\\x5cb,',\"] ");
	/* A NUL is an ordinary byte of an inline word. */
	EXPECT("ECHO a\0b\n", "[ECHO,a\\x00b] ");
	/* Blank lines are skipped, one EMPTY each. */
	EXPECT("\r\n", "E ");
	EXPECT("\n\n", "E E ");
	EXPECT("   \r\nPING\r\n", "E [PING] ");
	EXPECT(" \t\v\f\r\n", "E ");
	EXPECT("PING", "MORE");
	EXPECT("PING\r", "MORE");
}

static void test_parse_pipeline(void **state)
{
	struct fixture *f = *state;
	EXPECT("*1\r\n$4\r\nPING\r\nPING\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*0\r\n"
	       "SET a 'b c'\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$3\r\nxyz\r\n",
	       "[PING] [PING] E [GET,k] E [SET,a,b c] [SET,a,xyz] ");
	/* Many commands in one buffer. */
	struct sbuf in = { 0 }, want = { 0 };
	sbuf_str(&want, "");
	for (int i = 0; i < 500; i++) {
		char cmd[64], w[32];
		int n = i % 2 ? snprintf(cmd, sizeof(cmd), "*2\r\n$4\r\nINCR\r\n$%d\r\n%d\r\n",
					 snprintf(NULL, 0, "%d", i), i)
			      : snprintf(cmd, sizeof(cmd), "INCR %d\r\n", i);
		sbuf_add(&in, cmd, (size_t)n);
		snprintf(w, sizeof(w), "[INCR,%d] ", i);
		sbuf_str(&want, w);
	}
	for (size_t s = 0; s < 4; s++) {
		char *got = parse_transcript(&f->lim, &f->argv, in.p, in.len, steps[s], NULL);
		assert_string_equal(got, want.p);
		free(got);
	}
	free(in.p);
	free(want.p);
}

static void test_parse_multibulk_errors(void **state)
{
	struct fixture *f = *state;
	const char *mbulk = "ERR Protocol error: invalid multibulk length";
	EXPECT("*x\r\n", mbulk);
	EXPECT("*\r\n", mbulk);
	EXPECT("*-0\r\n", mbulk);
	EXPECT("*01\r\n", mbulk);
	EXPECT("*+1\r\n$4\r\nPING\r\n", mbulk);
	EXPECT("* 1\r\n", mbulk);
	EXPECT("*1 \r\n", mbulk);
	EXPECT("*99999999999999999999\r\n", mbulk);
	EXPECT("*1048577\r\n", mbulk);
	/* Stricter than Redis: the CR of a count line must be followed by LF. */
	EXPECT("*1\rX$4\r\nPING\r\n", mbulk);
	EXPECT("*1\r\nx\r\n", "ERR Protocol error: expected '$', got 'x'");
	EXPECT("*2\r\n$1\r\na\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'");
	EXPECT("*1\r\n\r\n", "ERR Protocol error: expected '$', got ' '");
	EXPECT("*1\r\n\n\r\n", "ERR Protocol error: expected '$', got ' '");
	EXPECT("*1\r\n\0\r\n", "ERR Protocol error: expected '$', got ' '");
	const char *bulk = "ERR Protocol error: invalid bulk length";
	EXPECT("*1\r\n$-1\r\n", bulk);
	EXPECT("*1\r\n$04\r\nPING\r\n", bulk);
	EXPECT("*1\r\n$\r\n", bulk);
	EXPECT("*1\r\n$4x\r\n", bulk);
	EXPECT("*1\r\n$+4\r\n", bulk);
	EXPECT("*1\r\n$536870913\r\n", bulk);
	EXPECT("*1\r\n$99999999999999999999\r\n", bulk);
	EXPECT("*1\r\n$4\rXPING\r\n", bulk);
	/* Stricter than Redis: bulk data must be followed by CRLF. */
	const char *crlf = "ERR Protocol error: bulk data not followed by CRLF";
	EXPECT("*1\r\n$4\r\nPINGXY*1\r\n$4\r\nPING\r\n", crlf);
	EXPECT("*1\r\n$4\r\nPING\rX", crlf);
	EXPECT("*1\r\n$4\r\nPING\n\r", crlf);
	/* An error ends the stream after the commands before it. */
	EXPECT("PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$a\r\n", "[PING] [PING] ERR Protocol error: invalid bulk length");
}

static void test_parse_inline_errors(void **state)
{
	struct fixture *f = *state;
	const char *quotes = "ERR Protocol error: unbalanced quotes in request";
	EXPECT("ECHO \"a\"b\r\n", quotes);
	EXPECT("ECHO \"ab\r\n", quotes);
	EXPECT("ECHO 'ab\r\n", quotes);
	EXPECT("ECHO a\"b c\"d\r\n", quotes);
	EXPECT("ECHO \"\\\"\n", quotes);
	EXPECT("ECHO 'a'b\n", quotes);
	EXPECT("ECHO '\\'\n", quotes);
	EXPECT("PING\r\nECHO \"\n", "[PING] ERR Protocol error: unbalanced quotes in request");
}

/* A buffer of n bytes of c (not NUL-terminated). */
static char *filled(size_t n, char c)
{
	char *p = malloc(n + 16);
	memset(p, c, n);
	return p;
}

static void test_parse_line_limits(void **state)
{
	struct fixture *f = *state;
	const size_t max = RESP_INLINE_BYTES_MAX;
	/* Inline: max bytes without LF wait; max + 1 are an error. A line of exactly max bytes
	 * (its CR included) and its LF is accepted. */
	char *in = filled(max + 1, 'a');
	expect_big(f, in, max, "MORE");
	expect_big(f, in, max + 1, "ERR Protocol error: too big inline request");
	in[max] = '\n';
	size_t calls = 0;
	char *got = parse_transcript(&f->lim, &f->argv, in, max + 1, 4096, &calls);
	assert_int_equal(strlen(got), max + 3);
	free(got);
	in[max - 1] = '\n';
	in[max] = 'b';
	got = parse_transcript(&f->lim, &f->argv, in, max + 1, 1000, NULL);
	assert_int_equal(strlen(got), (max - 1) + 3 + strlen("MORE"));
	free(got);
	free(in);

	/* Count line: '*' and max - 1 digits wait; one more is an error. */
	in = filled(max + 1, '1');
	in[0] = '*';
	expect_big(f, in, max, "MORE");
	expect_big(f, in, max + 1, "ERR Protocol error: too big mbulk count string");
	in[max] = '\r';
	expect_big(f, in, max + 1, "MORE");
	free(in);

	/* Bulk length line, the same after a valid count line. */
	in = filled(max + 5, '1');
	memcpy(in, "*1\r\n$", 5);
	expect_big(f, in, max + 4, "MORE");
	expect_big(f, in, max + 5, "ERR Protocol error: too big bulk count string");
	free(in);
}

static void test_parse_config_limits(void **state)
{
	struct fixture *f = *state;
	f->lim.args_max = 3;
	EXPECT("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "[a,b,c] ");
	EXPECT("*4\r\n", "ERR Protocol error: invalid multibulk length");
	EXPECT("a b c\n", "[a,b,c] ");
	EXPECT("a b c d\n", "ERR Protocol error: too many arguments in inline request");
	resp_limits_default(&f->lim);

	f->lim.bulk_bytes_max = 10;
	EXPECT("*1\r\n$10\r\n0123456789\r\n", "[0123456789] ");
	EXPECT("*1\r\n$11\r\n", "ERR Protocol error: invalid bulk length");
	resp_limits_default(&f->lim);

	/* A partial command of exactly query_bytes_max waits; one byte more is an error. A
	 * complete command may be longer: the limit is on what must be kept waiting. */
	f->lim.query_bytes_max = 20;
	const char cmd[] = "*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n";
	expect_with(f, cmd, 20, "MORE");
	expect_with(f, cmd, 21, "ERR Protocol error: query buffer limit exceeded");
	char *got = parse_transcript(&f->lim, &f->argv, cmd, sizeof(cmd) - 1, 0, NULL);
	assert_string_equal(got, "[ECHO,0123456789] ");
	free(got);
	EXPECT("PING PING PING PING PING", "ERR Protocol error: query buffer limit exceeded");
	resp_limits_default(&f->lim);
}

static void test_parse_oom(void **state)
{
	struct fixture *f = *state;
	/* Up to RESP_ARGV_CAP_INITIAL arguments need no allocation. */
	f->argv.fault = (struct resp_alloc_fault){ .armed = true, .allocs_left = 0 };
	EXPECT("a b c\n", "ERR out of memory"); /* the inline scratch space */
	f->argv.fault.armed = false;
	EXPECT("a b c\n", "[a,b,c] ");
	f->argv.fault = (struct resp_alloc_fault){ .armed = true, .allocs_left = 0 };
	EXPECT("a b c\n", "[a,b,c] ");
	struct sbuf in = { 0 };
	sbuf_str(&in, "*17\r\n");
	for (int i = 0; i < 17; i++)
		sbuf_str(&in, "$1\r\nx\r\n");
	char *got = parse_transcript(&f->lim, &f->argv, in.p, in.len, 0, NULL);
	assert_string_equal(got, "ERR out of memory");
	free(got);
	f->argv.fault.armed = false;
	got = parse_transcript(&f->lim, &f->argv, in.p, in.len, 0, NULL);
	assert_string_equal(got, "[x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x] ");
	free(got);
	free(in.p);
}

/* Feeds in[0..len) piece bytes at a time without copying; returns the calls made. */
static size_t feed_pieces(struct fixture *f, const char *in, size_t len, size_t piece,
			  enum resp_parse_status *last)
{
	struct resp_parse_state st = { 0 };
	size_t avail = 0, calls = 0, used;
	const char *err = NULL;
	do {
		avail = MIN(len, avail + piece);
		*last = resp_parse_command(&st, &f->lim, in, avail, &used, &f->argv, &err);
		calls++;
	} while (*last == RESP_PARSE_MORE && avail < len);
	if (*last == RESP_PARSE_DONE)
		assert_int_equal(used, len);
	return calls;
}

static void test_parse_million_args_linear(void **state)
{
	struct fixture *f = *state;
	const uint32_t n = RESP_ARGS_MAX_DEFAULT; /* the exact maximum */
	struct sbuf in = { 0 };
	char line[64];
	snprintf(line, sizeof(line), "*%u\r\n", n);
	sbuf_str(&in, line);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "$%d\r\n%u\r\n", snprintf(NULL, 0, "%u", i), i);
		sbuf_str(&in, line);
	}
	enum resp_parse_status last;
	f->argv.bytes_examined = 0;
	feed_pieces(f, in.p, in.len, in.len, &last);
	assert_int_equal(last, RESP_PARSE_DONE);
	uint64_t whole = f->argv.bytes_examined;

	f->argv.bytes_examined = 0;
	size_t calls = feed_pieces(f, in.p, in.len, 16 * 1024, &last);
	assert_int_equal(last, RESP_PARSE_DONE);
	assert_int_equal(f->argv.argc, n);
	for (uint32_t i = 0; i < n; i++) {
		int k = snprintf(line, sizeof(line), "%u", i);
		assert_int_equal(f->argv.argv[i].len, (size_t)k);
		assert_memory_equal(f->argv.argv[i].ptr, line, (size_t)k);
	}
	uint64_t pieces = f->argv.bytes_examined;
	print_message("million args: %zu bytes, %zu calls, examined %llu whole, %llu in pieces\n",
		      in.len, calls, (unsigned long long)whole, (unsigned long long)pieces);
	/* Linear: the header lines once while scanning and once more to collect the arguments,
	 * plus at most one line's worth again at each piece boundary. Quadratic work would be
	 * hundreds of times the input. */
	assert_true(whole <= in.len);
	assert_true(pieces <= 2 * whole + calls * 24);
	free(in.p);
}

static void test_parse_large_bulk_linear(void **state)
{
	struct fixture *f = *state;
	const size_t bulk = 64u << 20;
	char *in = malloc(bulk + 64);
	int h = snprintf(in, 64, "*2\r\n$3\r\nSET\r\n$%zu\r\n", bulk);
	memset(in + h, 'v', bulk);
	memcpy(in + h + bulk, "\r\n", 2);
	size_t len = (size_t)h + bulk + 2;
	enum resp_parse_status last;
	f->argv.bytes_examined = 0;
	size_t calls = feed_pieces(f, in, len, 16 * 1024, &last);
	assert_int_equal(last, RESP_PARSE_DONE);
	assert_int_equal(f->argv.argc, 2);
	assert_int_equal(f->argv.argv[1].len, bulk);
	assert_ptr_equal(f->argv.argv[1].ptr, in + h);
	print_message("64 MiB bulk: %zu calls, %llu bytes examined\n", calls,
		      (unsigned long long)f->argv.bytes_examined);
	/* Bulk data is counted, never scanned. */
	assert_true(f->argv.bytes_examined < 128);
	free(in);
}

/* Random inputs built from valid and broken pieces, split at random points: the transcript
 * must not depend on the split. */
static void test_parse_random_splits(void **state)
{
	struct fixture *f = *state;
	static const char *const parts[] = {
		"*1\r\n$4\r\nPING\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "PING\r\n", "\n",
		"SET a \"b\\x41\"\r\n", "*0\r\n", "*-1\r\n", "*1\r\n$0\r\n\r\n", "ECHO 'x y'\n",
		"*1\r\n$1\r\nxY", "*x\r\n", "ECHO \"\n", "*1\r\nz\r\n", "\r\n",
	};
	uint64_t x = 88172645463325252ull;
	for (int round = 0; round < 300; round++) {
		struct sbuf in = { 0 };
		sbuf_str(&in, "");
		int n = 1 + round % 12;
		for (int i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			sbuf_str(&in, parts[x % ARRAY_SIZE(parts)]);
		}
		char *whole = parse_transcript(&f->lim, &f->argv, in.p, in.len, 0, NULL);
		for (size_t step = 1; step < 9; step++) {
			char *got = parse_transcript(&f->lim, &f->argv, in.p, in.len, step, NULL);
			assert_string_equal(got, whole);
			free(got);
		}
		free(whole);
		free(in.p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_multibulk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_pipeline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_multibulk_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_inline_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_line_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_config_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_million_args_linear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_large_bulk_linear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_random_splits, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
