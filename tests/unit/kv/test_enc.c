/* Encoded commands: round trips of every shape (binary and empty arguments, many arguments,
 * the internal records), and corrupt entries: every truncation, every byte changed, random
 * bytes, bad ids, bad counts and lengths are refused without reading out of bounds. */
#include "kv_test.h"

#include <errno.h>

#include "kv/cmds.h"

static void append(struct kv_enc *enc, const char *const *words, uint32_t n)
{
	struct test_argv a;
	test_argv_set(&a, words, n);
	const struct kv_cmd *cmd = kv_cmd_lookup(a.argv[0].ptr, a.argv[0].len);
	assert_non_null(cmd);
	struct resp_out err = { 0 };
	assert_int_equal(kv_cmd_prepare(cmd, a.argc, a.argv, 1000, enc, &err), 0);
}

static void expect_next(struct kv_dec *dec, const struct kv_enc *enc, size_t *pos,
			const char *name, const char *const *args, uint32_t n)
{
	assert_int_equal(kv_enc_next(dec, enc->buf, enc->len, pos), 1);
	assert_string_equal(dec->cmd->name, name);
	assert_int_equal(dec->argc, n + 1);
	assert_memory_equal(dec->argv[0].ptr, name, strlen(name));
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(dec->argv[i + 1].len, strlen(args[i]));
		assert_memory_equal(dec->argv[i + 1].ptr, args[i], strlen(args[i]));
	}
}

static void test_enc_round_trip(void **state)
{
	(void)state;
	struct kv_enc enc = { 0 };
	struct kv_dec dec = { 0 };
	append(&enc, (const char *[]){ "SET", "k", "v" }, 3);
	append(&enc, (const char *[]){ "set", "", "" }, 3);
	append(&enc, (const char *[]){ "DEL", "a", "b", "c" }, 4);
	append(&enc, (const char *[]){ "incr", "n" }, 2);
	assert_int_equal(kv_enc_expired_key(&enc, "old", 3), 0);
	assert_int_equal(kv_enc_flush(&enc), 0);
	assert_int_equal(enc.count, 6);
	assert_int_equal(kv_enc_check(enc.buf, enc.len), 6);
	size_t pos = 0;
	expect_next(&dec, &enc, &pos, "set", (const char *[]){ "k", "v" }, 2);
	expect_next(&dec, &enc, &pos, "set", (const char *[]){ "", "" }, 2);
	expect_next(&dec, &enc, &pos, "del", (const char *[]){ "a", "b", "c" }, 3);
	expect_next(&dec, &enc, &pos, "incr", (const char *[]){ "n" }, 1);
	expect_next(&dec, &enc, &pos, "__expired", (const char *[]){ "old" }, 1);
	assert_true(dec.cmd->kind & KV_CMD_INTERNAL);
	expect_next(&dec, &enc, &pos, "__flush", NULL, 0);
	assert_int_equal(kv_enc_next(&dec, enc.buf, enc.len, &pos), 0);
	assert_int_equal(pos, enc.len);
	/* Reset keeps the memory; the buffer starts over. */
	uint8_t *buf = enc.buf;
	kv_enc_reset(&enc);
	assert_int_equal(enc.len, 0);
	assert_int_equal(enc.count, 0);
	append(&enc, (const char *[]){ "APPEND", "k", "x" }, 3);
	assert_ptr_equal(enc.buf, buf);
	kv_enc_free(&enc);
	kv_dec_free(&dec);
}

/* Binary arguments, a large value, and an MSET of many arguments (the argv grows). */
static void test_enc_binary_and_large(void **state)
{
	(void)state;
	struct kv_enc enc = { 0 };
	struct kv_dec dec = { 0 };
	enum { PAIRS = 5000, BIG = 1 << 20 };
	struct resp_arg *argv = calloc(1 + 2 * PAIRS, sizeof(*argv));
	char (*names)[16] = calloc(PAIRS, 16);
	argv[0] = (struct resp_arg){ "MSET", 4 };
	for (int i = 0; i < PAIRS; i++) {
		int n = snprintf(names[i], 16, "k%d", i);
		argv[1 + 2 * i] = (struct resp_arg){ names[i], (size_t)n };
		argv[2 + 2 * i] = (struct resp_arg){ "\0\r\n\xff", 4 };
	}
	struct resp_out err = { 0 };
	assert_int_equal(kv_cmd_prepare(kv_cmd_lookup("mset", 4), 1 + 2 * PAIRS, argv, 0, &enc,
					&err), 0);
	char *big = malloc(BIG);
	memset(big, 'z', BIG);
	struct resp_arg set[3] = { { "SET", 3 }, { "big", 3 }, { big, BIG } };
	assert_int_equal(kv_cmd_prepare(kv_cmd_lookup("set", 3), 3, set, 0, &enc, &err), 0);
	size_t pos = 0;
	assert_int_equal(kv_enc_next(&dec, enc.buf, enc.len, &pos), 1);
	assert_int_equal(dec.argc, 1 + 2 * PAIRS);
	for (int i = 0; i < PAIRS; i++) {
		assert_int_equal(dec.argv[1 + 2 * i].len, strlen(names[i]));
		assert_memory_equal(dec.argv[2 + 2 * i].ptr, "\0\r\n\xff", 4);
	}
	assert_int_equal(kv_enc_next(&dec, enc.buf, enc.len, &pos), 1);
	assert_int_equal(dec.argv[2].len, BIG);
	assert_memory_equal(dec.argv[2].ptr, big, BIG);
	assert_int_equal(kv_enc_next(&dec, enc.buf, enc.len, &pos), 0);
	free(big);
	free(names);
	free(argv);
	kv_enc_free(&enc);
	kv_dec_free(&dec);
}

static struct kv_enc sample(void)
{
	struct kv_enc enc = { 0 };
	append(&enc, (const char *[]){ "SET", "key", "value", "EX", "100" }, 5);
	append(&enc, (const char *[]){ "MSET", "a", "1", "b", "2" }, 5);
	append(&enc, (const char *[]){ "EXPIRE", "a", "10", "NX" }, 4);
	append(&enc, (const char *[]){ "SETRANGE", "a", "3", "xyz" }, 4);
	return enc;
}

static void test_enc_truncated_and_flipped(void **state)
{
	(void)state;
	struct kv_enc enc = sample();
	int64_t full = kv_enc_check(enc.buf, enc.len);
	assert_int_equal(full, 4);
	/* Command boundaries, where a truncated entry is still whole commands. */
	size_t bounds[8], nb = 0, pos = 0;
	struct kv_dec dec = { 0 };
	bounds[nb++] = 0;
	while (kv_enc_next(&dec, enc.buf, enc.len, &pos) == 1)
		bounds[nb++] = pos;
	for (size_t len = 0; len < enc.len; len++) {
		bool boundary = false;
		for (size_t b = 0; b < nb; b++)
			boundary |= bounds[b] == len;
		int64_t r = kv_enc_check(enc.buf, len);
		if (boundary)
			assert_true(r >= 0 && r < full);
		else
			assert_int_equal(r, -EBADMSG);
	}
	uint8_t *copy = malloc(enc.len);
	for (size_t i = 0; i < enc.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, enc.buf, enc.len);
			copy[i] ^= (uint8_t)(1u << bit);
			int64_t r = kv_enc_check(copy, enc.len);
			assert_true(r == -EBADMSG || (r >= 0 && r <= 2 * full));
		}
	}
	free(copy);
	kv_dec_free(&dec);
	kv_enc_free(&enc);
}

static void test_enc_bad_fields(void **state)
{
	(void)state;
	/* Unknown ids, an id that is not a logged command, a count the arity refuses, a length
	 * past the end, an overlong varint, a count larger than the bytes left. */
	static const uint8_t unknown[] = { 0x7f, 0x00 };
	static const uint8_t zero_id[] = { 0x00, 0x00 };
	static const uint8_t set_one_arg[] = { 1, 1, 1, 'k' };
	static const uint8_t len_past_end[] = { 1, 2, 1, 'k', 9, 'v' };
	static const uint8_t overlong[] = { 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					    0x80, 0x00 };
	static const uint8_t huge_count[] = { 8, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 'a' };
	static const uint8_t flush_with_arg[] = { 19, 1, 1, 'x' };
	static const uint8_t del_ok[] = { 8, 1, 1, 'a' };
	struct { const uint8_t *p; size_t n; } bad[] = {
		{ unknown, sizeof(unknown) }, { zero_id, sizeof(zero_id) },
		{ set_one_arg, sizeof(set_one_arg) }, { len_past_end, sizeof(len_past_end) },
		{ overlong, sizeof(overlong) }, { huge_count, sizeof(huge_count) },
		{ flush_with_arg, sizeof(flush_with_arg) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (kv_enc_check(bad[i].p, bad[i].n) != -EBADMSG)
			fail_msg("bad entry %zu accepted", i);
	}
	assert_int_equal(kv_enc_check(del_ok, sizeof(del_ok)), 1);
	assert_int_equal(kv_enc_check(NULL, 0), 0);
}

/* Random bytes, and random bytes after a valid command: never a crash, never a read past the
 * buffer (ASan checks the latter). */
static void test_enc_random_garbage(void **state)
{
	(void)state;
	uint64_t rng = 99;
	struct kv_dec dec = { 0 };
	for (int round = 0; round < 20000; round++) {
		size_t len = test_rand(&rng) % 64;
		uint8_t *buf = malloc(len + 1);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(test_rand(&rng) % (round % 2 ? 24 : 256));
		size_t pos = 0;
		int r;
		while ((r = kv_enc_next(&dec, buf, len, &pos)) == 1)
			assert_true(pos <= len);
		assert_true(r == 0 || r == -EBADMSG);
		free(buf);
	}
	kv_dec_free(&dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enc_round_trip),
		cmocka_unit_test(test_enc_binary_and_large),
		cmocka_unit_test(test_enc_truncated_and_flipped),
		cmocka_unit_test(test_enc_bad_fields),
		cmocka_unit_test(test_enc_random_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
