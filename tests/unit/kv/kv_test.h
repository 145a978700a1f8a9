/* Helpers shared by the kv unit tests: a seeded PRNG, reply capture, and argv building. */
#ifndef SPINDLE_TESTS_KV_TEST_H
#define SPINDLE_TESTS_KV_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "base/compiler.h"
#include "resp/resp.h"

/* splitmix64: a small seeded generator, so that every randomized test repeats exactly. */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The unsent bytes of out as one malloc'd NUL-terminated buffer. */
static inline char *test_out_take(struct resp_out *out, size_t *len)
{
	char *buf = malloc(out->bytes + 1);
	assert_non_null(buf);
	size_t n = 0;
	uint32_t off = out->head_off;
	for (const struct resp_chunk *c = out->head; c != NULL; c = c->next) {
		memcpy(buf + n, c->data + off, c->len - off);
		n += c->len - off;
		off = 0;
	}
	buf[n] = '\0';
	*len = n;
	resp_out_reset(out);
	return buf;
}

/* Asserts that out holds exactly want[0..want_len), then empties it. */
static inline void test_out_expect(struct resp_out *out, const char *want, size_t want_len,
				   const char *what)
{
	size_t len;
	char *got = test_out_take(out, &len);
	if (len != want_len || memcmp(got, want, len) != 0) {
		print_error("%s:\n got  (%zu) \"%s\"\n want (%zu) \"%s\"\n", what, len, got,
			    want_len, want);
		free(got);
		fail();
	}
	free(got);
}

#define OUT_EXPECT(out, lit) test_out_expect((out), (lit), sizeof(lit) - 1, "reply")

#define TEST_ARGS_MAX 64

/* An argv built from C strings (no NULs); the strings must outlive it. */
struct test_argv {
	uint32_t argc;
	struct resp_arg argv[TEST_ARGS_MAX];
};

static inline void test_argv_set(struct test_argv *a, const char *const *words, uint32_t n)
{
	assert_true(n <= TEST_ARGS_MAX);
	a->argc = n;
	for (uint32_t i = 0; i < n; i++) {
		a->argv[i].ptr = words[i];
		a->argv[i].len = strlen(words[i]);
	}
}

#endif
