/* The output chain: bytes across chunk boundaries, consuming from the head in every step
 * size, iovecs, splicing (copy into the tail's room or relinking), pool reuse with a bounded
 * free list, and the oom flag when allocations fail. */
#include <sys/uio.h>

#include "out_util.h"

#define POOL_FREE_MAX 4

struct fixture {
	struct resp_chunk_pool pool;
	struct resp_out out;
	char *pattern;      /* PATTERN_BYTES of a non-repeating byte sequence */
};

#define PATTERN_BYTES (8 * RESP_CHUNK_BYTES + 123)

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	resp_chunk_pool_init(&f->pool, POOL_FREE_MAX);
	resp_out_init(&f->out, &f->pool, 2);
	f->pattern = malloc(PATTERN_BYTES);
	for (size_t i = 0; i < PATTERN_BYTES; i++)
		f->pattern[i] = (char)(i * 7 + i / 251);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	resp_out_reset(&f->out);
	assert_int_equal(f->pool.chunks_out, 0);
	resp_chunk_pool_destroy(&f->pool);
	free(f->pattern);
	free(f);
	return 0;
}

/* Appends pattern[0..len) in pieces of at most step bytes (each under a chunk). */
static void add_pattern(struct fixture *f, size_t len, size_t step)
{
	for (size_t off = 0; off < len; off += step)
		resp_add_raw(&f->out, f->pattern + off, MIN(step, len - off));
}

static void expect_pattern_suffix(struct fixture *f, size_t total, size_t sent)
{
	size_t len;
	char *got = out_flatten(&f->out, &len);
	assert_int_equal(len, total - sent);
	assert_memory_equal(got, f->pattern + sent, len);
	free(got);
}

static void test_out_fills_chunks_in_order(void **state)
{
	struct fixture *f = *state;
	add_pattern(f, 3 * RESP_CHUNK_BYTES + 10, 1000);
	assert_int_equal(out_check(&f->out), 4);
	for (struct resp_chunk *c = f->out.head; c != f->out.tail; c = c->next)
		assert_int_equal(c->len, RESP_CHUNK_BYTES);
	assert_int_equal(f->out.tail->len, 10);
	assert_int_equal(f->pool.chunks_out, 4);
	expect_pattern_suffix(f, 3 * RESP_CHUNK_BYTES + 10, 0);
}

static void test_out_consume_every_step(void **state)
{
	struct fixture *f = *state;
	const size_t total = 3 * RESP_CHUNK_BYTES + 77;
	const size_t steps[] = { 1, 7, 1000, RESP_CHUNK_BYTES - 1, RESP_CHUNK_BYTES,
				 RESP_CHUNK_BYTES + 1, 2 * RESP_CHUNK_BYTES + 5, total };
	for (size_t s = 0; s < ARRAY_SIZE(steps); s++) {
		add_pattern(f, total, 999);
		size_t sent = 0;
		while (sent < total) {
			size_t n = MIN(steps[s], total - sent);
			resp_out_consume(&f->out, n);
			sent += n;
			/* Whole chunks behind the head were returned at once. */
			assert_int_equal(f->pool.chunks_out, out_check(&f->out));
			if (n < 1000 && sent % 4099 < n)
				expect_pattern_suffix(f, total, sent);
		}
		assert_null(f->out.head);
		assert_int_equal(f->pool.chunks_out, 0);
	}
	resp_out_consume(&f->out, 0);
	assert_int_equal(out_check(&f->out), 0);
}

static void test_out_consume_then_append(void **state)
{
	struct fixture *f = *state;
	resp_add_raw(&f->out, "hello", 5);
	resp_out_consume(&f->out, 2);
	assert_int_equal(f->out.head_off, 2);
	resp_add_raw(&f->out, " world", 6);
	OUT_EXPECT(&f->out, "llo world");
	/* Sending everything frees the last chunk too: an idle connection holds nothing. */
	resp_add_raw(&f->out, "abc", 3);
	resp_out_consume(&f->out, 3);
	assert_null(f->out.head);
	assert_null(f->out.tail);
	assert_int_equal(f->pool.chunks_out, 0);
}

static void test_out_iov(void **state)
{
	struct fixture *f = *state;
	const size_t total = 2 * RESP_CHUNK_BYTES + 50;
	add_pattern(f, total, 4000);
	resp_out_consume(&f->out, 100);
	struct iovec iov[8];
	size_t n = resp_out_iov(&f->out, iov, 8);
	assert_int_equal(n, 3);
	assert_ptr_equal(iov[0].iov_base, f->out.head->data + 100);
	assert_int_equal(iov[0].iov_len, RESP_CHUNK_BYTES - 100);
	size_t off = 100;
	for (size_t i = 0; i < n; i++) {
		assert_memory_equal(iov[i].iov_base, f->pattern + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	assert_int_equal(off, total);
	assert_int_equal(resp_out_iov(&f->out, iov, 2), 2);
	assert_int_equal(resp_out_iov(&f->out, iov, 0), 0);
	resp_out_reset(&f->out);
	assert_int_equal(resp_out_iov(&f->out, iov, 8), 0);
}

static void test_out_splice_small_copies(void **state)
{
	struct fixture *f = *state;
	struct resp_out reply;
	resp_out_init(&reply, &f->pool, 2);
	resp_add_simple(&f->out, "OK");
	resp_add_int(&reply, 42);
	resp_out_splice(&f->out, &reply);
	/* Copied into the room left in out's chunk: no chunk for a 5-byte reply. */
	assert_int_equal(out_check(&f->out), 1);
	assert_int_equal(out_check(&reply), 0);
	assert_int_equal(f->pool.chunks_out, 1);
	OUT_EXPECT(&f->out, "+OK\r\n:42\r\n");
	/* Into an empty out: relinked, even when partly sent. */
	resp_add_simple(&reply, "PONG");
	resp_out_consume(&reply, 1);
	resp_out_splice(&f->out, &reply);
	assert_int_equal(out_check(&reply), 0);
	OUT_EXPECT(&f->out, "PONG\r\n");
}

static void test_out_splice_relinks(void **state)
{
	struct fixture *f = *state;
	struct resp_out reply;
	resp_out_init(&reply, &f->pool, 2);
	add_pattern(f, 100, 100);
	struct resp_chunk *first = f->out.head;
	for (size_t off = 100; off < 2 * RESP_CHUNK_BYTES + 100; off += 500)
		resp_add_raw(&reply, f->pattern + off, MIN(500, 2 * RESP_CHUNK_BYTES + 100 - off));
	struct resp_chunk *reply_head = reply.head;
	uint64_t chunks = f->pool.chunks_out;
	resp_out_splice(&f->out, &reply);
	assert_int_equal(f->pool.chunks_out, chunks);
	assert_ptr_equal(f->out.head, first);
	assert_ptr_equal(first->next, reply_head);
	assert_int_equal(out_check(&reply), 0);
	expect_pattern_suffix(f, 2 * RESP_CHUNK_BYTES + 100, 0);
	/* Splicing an empty output changes nothing. */
	resp_out_splice(&f->out, &reply);
	expect_pattern_suffix(f, 2 * RESP_CHUNK_BYTES + 100, 0);
}

static void test_out_pool_reuse_bounded(void **state)
{
	struct fixture *f = *state;
	add_pattern(f, 2 * RESP_CHUNK_BYTES, RESP_CHUNK_BYTES);
	assert_int_equal(f->pool.allocs, 2);
	resp_out_reset(&f->out);
	assert_int_equal(f->pool.free_count, 2);
	/* Reused: no new malloc. */
	add_pattern(f, 2 * RESP_CHUNK_BYTES, RESP_CHUNK_BYTES);
	assert_int_equal(f->pool.allocs, 2);
	assert_int_equal(f->pool.free_count, 0);
	resp_out_reset(&f->out);
	/* More chunks than free_max: only free_max are kept. */
	add_pattern(f, (POOL_FREE_MAX + 3) * RESP_CHUNK_BYTES, RESP_CHUNK_BYTES);
	assert_int_equal(f->pool.chunks_out, POOL_FREE_MAX + 3);
	assert_int_equal(f->pool.allocs, POOL_FREE_MAX + 3);
	resp_out_reset(&f->out);
	assert_int_equal(f->pool.free_count, POOL_FREE_MAX);
	assert_int_equal(f->pool.chunks_out, 0);
	/* Dedicated chunks are never pooled. */
	resp_add_raw(&f->out, f->pattern, RESP_CHUNK_BYTES + 1);
	assert_int_equal(f->out.head->cap, RESP_CHUNK_BYTES + 1);
	resp_out_reset(&f->out);
	assert_int_equal(f->pool.free_count, POOL_FREE_MAX);
	for (const struct resp_chunk *c = f->pool.free; c != NULL; c = c->next)
		assert_int_equal(c->cap, RESP_CHUNK_BYTES);
}

static void test_out_oom(void **state)
{
	struct fixture *f = *state;
	f->pool.fault = (struct resp_alloc_fault){ .armed = true, .allocs_left = 0 };
	resp_add_simple(&f->out, "OK");
	assert_true(f->out.oom);
	assert_int_equal(out_check(&f->out), 0);
	/* Once oom, nothing more is written, even when memory is back. */
	f->pool.fault.armed = false;
	resp_add_int(&f->out, 1);
	assert_int_equal(f->out.bytes, 0);
	resp_out_reset(&f->out);
	assert_false(f->out.oom);

	/* The second chunk fails halfway through a write. */
	f->pool.fault = (struct resp_alloc_fault){ .armed = true, .allocs_left = 1 };
	add_pattern(f, RESP_CHUNK_BYTES + 100, 1000);
	assert_true(f->out.oom);
	assert_int_equal(out_check(&f->out), 1);
	assert_int_equal(f->out.bytes, RESP_CHUNK_BYTES);
	resp_out_reset(&f->out);

	/* A dedicated chunk fails. */
	f->pool.fault = (struct resp_alloc_fault){ .armed = true, .allocs_left = 0 };
	resp_add_bulk(&f->out, f->pattern, 2 * RESP_CHUNK_BYTES);
	assert_true(f->out.oom);
	assert_int_equal(out_check(&f->out), 0);
	resp_out_reset(&f->out);
	f->pool.fault.armed = false;

	/* A pooled chunk still serves when malloc fails. */
	resp_add_simple(&f->out, "OK");
	resp_out_reset(&f->out);
	assert_true(f->pool.free_count > 0);
	f->pool.fault = (struct resp_alloc_fault){ .armed = true, .allocs_left = 0 };
	resp_add_simple(&f->out, "OK");
	assert_false(f->out.oom);
	OUT_EXPECT(&f->out, "+OK\r\n");

	/* oom travels with a splice. */
	struct resp_out reply;
	resp_out_init(&reply, &f->pool, 2);
	reply.oom = true;
	resp_out_splice(&f->out, &reply);
	assert_true(f->out.oom);
	f->pool.fault.armed = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_out_fills_chunks_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_consume_every_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_consume_then_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_iov, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_splice_small_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_splice_relinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_pool_reuse_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_oom, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
