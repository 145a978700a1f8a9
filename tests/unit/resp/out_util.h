/* Test helpers shared by the resp unit tests: flatten an output chain to one string and
 * check the chain's invariants. */
#ifndef SPINDLE_TESTS_RESP_OUT_UTIL_H
#define SPINDLE_TESTS_RESP_OUT_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/compiler.h"
#include "resp/resp.h"

/* Checks the invariants resp.h states for a chain; returns the number of chunks. */
static inline size_t out_check(const struct resp_out *out)
{
	if (out->head == NULL) {
		assert_null(out->tail);
		assert_int_equal(out->bytes, 0);
		assert_int_equal(out->head_off, 0);
		return 0;
	}
	assert_true(out->head_off < out->head->len);
	uint64_t sum = 0;
	size_t chunks = 0;
	const struct resp_chunk *last = NULL;
	for (const struct resp_chunk *c = out->head; c != NULL; c = c->next) {
		assert_true(c->len > 0);
		assert_true(c->len <= c->cap);
		sum += c->len;
		chunks++;
		last = c;
	}
	assert_ptr_equal(last, out->tail);
	assert_int_equal(sum - out->head_off, out->bytes);
	return chunks;
}

/* The unsent bytes of out as one malloc'd buffer (NUL-terminated for convenience). */
static inline char *out_flatten(const struct resp_out *out, size_t *len)
{
	out_check(out);
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
	return buf;
}

/* Asserts that out holds exactly want[0..want_len), then empties it. */
static inline void out_expect_take(struct resp_out *out, const char *want, size_t want_len)
{
	size_t len;
	char *got = out_flatten(out, &len);
	if (len != want_len || memcmp(got, want, len) != 0)
		fail_msg("output mismatch:\n got  (%zu) \"%s\"\n want (%zu) \"%s\"", len, got,
			 want_len, want);
	free(got);
	resp_out_reset(out);
}

#define OUT_EXPECT(out, lit) out_expect_take((out), (lit), sizeof(lit) - 1)

#endif
