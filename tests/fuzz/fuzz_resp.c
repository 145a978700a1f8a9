/* Fuzz target for the RESP request parser (and, through a round trip, the reply writer).
 *
 * Each input is parsed as a client's byte stream three ways: whole; in pieces whose sizes
 * come from a generator seeded by the input's hash, with the bytes not yet delivered
 * poisoned under ASan so that a read past the delivered bytes is caught; and whole again
 * under tight limits. Invariants: the outcomes (commands, EMPTYs, the error) do not depend on the
 * split; a finished command's arguments lie inside the bytes it consumed (or in the inline
 * scratch space); the state is zero at every command boundary; and every command written
 * back as a RESP array of bulks parses to the same arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif
#include "resp/resp.h"
#include "fuzz.h"

#define FUZZ_CHECK(cond)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz_resp: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                               \
			abort();                                                \
		}                                                               \
	} while (0)

struct fuzz_ctx {
	struct resp_argv argv, argv2;
	struct resp_chunk_pool pool;
	bool ready;
};

static struct fuzz_ctx ctx;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static bool inside(const struct resp_arg *a, const char *base, size_t len)
{
	return a->ptr >= base && a->len <= len && a->ptr + a->len <= base + len;
}

/* Writes the command back as a multibulk and checks that it parses to the same arguments. */
static void check_round_trip(const struct resp_argv *argv)
{
	struct resp_out out;
	resp_out_init(&out, &ctx.pool, 2);
	resp_add_array(&out, argv->argc);
	for (uint32_t i = 0; i < argv->argc; i++)
		resp_add_bulk(&out, argv->argv[i].ptr, argv->argv[i].len);
	FUZZ_CHECK(!out.oom);
	char *flat = malloc(out.bytes);
	size_t n = 0;
	for (struct resp_chunk *c = out.head; c != NULL; c = c->next) {
		memcpy(flat + n, c->data, c->len);
		n += c->len;
	}
	FUZZ_CHECK(n == out.bytes);
	resp_out_consume(&out, out.bytes);
	FUZZ_CHECK(out.head == NULL && ctx.pool.chunks_out == 0);

	struct resp_limits lim;
	resp_limits_default(&lim);
	struct resp_parse_state st = { 0 };
	size_t used;
	const char *err = NULL;
	enum resp_parse_status r = resp_parse_command(&st, &lim, flat, n, &used, &ctx.argv2, &err);
	FUZZ_CHECK(r == RESP_PARSE_DONE && used == n);
	FUZZ_CHECK(ctx.argv2.argc == argv->argc);
	for (uint32_t i = 0; i < argv->argc; i++) {
		FUZZ_CHECK(ctx.argv2.argv[i].len == argv->argv[i].len);
		FUZZ_CHECK(memcmp(ctx.argv2.argv[i].ptr, argv->argv[i].ptr, argv->argv[i].len) == 0);
	}
	free(flat);
}

/* Folds one outcome into the transcript hash and checks what must hold of it. */
static uint64_t note(uint64_t h, enum resp_parse_status r, const char *buf, size_t len,
		     size_t used, const char *err, bool round_trip)
{
	int code = (int)r;
	h = fnv1a(h, &code, sizeof(code));
	if (r == RESP_PARSE_ERROR) {
		FUZZ_CHECK(err != NULL && strncmp(err, "ERR ", 4) == 0);
		return fnv1a(h, err, strlen(err));
	}
	FUZZ_CHECK(used > 0 && used <= len);
	if (r == RESP_PARSE_EMPTY)
		return h;
	FUZZ_CHECK(ctx.argv.argc > 0 && ctx.argv.argc <= ctx.argv.cap);
	for (uint32_t i = 0; i < ctx.argv.argc; i++) {
		const struct resp_arg *a = &ctx.argv.argv[i];
		FUZZ_CHECK(inside(a, buf, used) ||
			   inside(a, ctx.argv.inline_buf, ctx.argv.inline_cap));
		h = fnv1a(h, &a->len, sizeof(a->len));
		h = fnv1a(h, a->ptr, a->len);
	}
	if (round_trip)
		check_round_trip(&ctx.argv);
	return h;
}

/* Parses data as a stream delivered in pieces (piece_seed 0: all at once). Returns the
 * transcript hash. */
static uint64_t run(const uint8_t *data, size_t size, const struct resp_limits *lim,
		    uint64_t piece_seed, bool round_trip)
{
	struct resp_parse_state st = { 0 }, zero = { 0 };
	uint64_t h = 0xcbf29ce484222325ull, x = piece_seed | 1;
	size_t pos = 0, avail = piece_seed == 0 ? size : 0;
	/* One copy of the whole stream; what has not been delivered yet is poisoned. */
	char *stream = malloc(size > 0 ? size : 1);
	memcpy(stream, data, size);
	ASAN_POISON_MEMORY_REGION(stream + avail, size - avail);
	for (;;) {
		size_t used = 1;
		const char *err = NULL;
		const char *buf = stream + pos;
		size_t n = avail - pos;
		enum resp_parse_status r = resp_parse_command(&st, lim, buf, n, &used, &ctx.argv, &err);
		if (r == RESP_PARSE_MORE) {
			FUZZ_CHECK(used == 0);
			if (avail == size) {
				h = fnv1a(h, "MORE", 4);
				break;
			}
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t more = MIN(size - avail, 1 + x % 64);
			ASAN_UNPOISON_MEMORY_REGION(stream + avail, more);
			avail += more;
			continue;
		}
		FUZZ_CHECK(memcmp(&st, &zero, sizeof(st)) == 0);
		h = note(h, r, buf, n, used, err, round_trip);
		if (r == RESP_PARSE_ERROR)
			break;
		pos += used;
	}
	ASAN_UNPOISON_MEMORY_REGION(stream, size);
	free(stream);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ctx.ready) {
		if (resp_argv_init(&ctx.argv) != 0 || resp_argv_init(&ctx.argv2) != 0)
			abort();
		resp_chunk_pool_init(&ctx.pool, 4);
		ctx.ready = true;
	}
	struct resp_limits lim;
	resp_limits_default(&lim);
	uint64_t whole = run(data, size, &lim, 0, true);
	uint64_t split = run(data, size, &lim, fnv1a(0xcbf29ce484222325ull, data, size), false);
	FUZZ_CHECK(whole == split);
	/* Tight limits reach every limit error with small inputs. Pieces can change which
	 * error comes first there (a partial command meets the query limit), so no comparison. */
	struct resp_limits tight = { .bulk_bytes_max = 16, .args_max = 4, .query_bytes_max = 64 };
	run(data, size, &tight, 0, false);
	return 0;
}
