/* Log records: encode and decode, and every way a record can be damaged or cut: each byte
 * of the header and of the body flipped, the record cut at every offset (decoded from a
 * buffer of exactly that size, so that ASan catches any read past it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/crc.h"
#include "log/record.h"

static uint32_t make(uint8_t *buf, uint32_t len, uint8_t kind)
{
	static uint8_t body[5000];
	for (uint32_t i = 0; i < len; i++)
		body[i] = (uint8_t)(i * 7 + 3);
	struct log_record r = { .epoch = 0x1122334455667788ull, .index = 0x0102030405060708ull,
				.durable_pos = (3ull << 32) | 4096, .len = len, .type = 0xBEEF,
				.kind = kind, .body = body };
	return log_record_encode(buf, &r);
}

static void test_round_trip(void **state)
{
	(void)state;
	uint8_t buf[6000];
	uint32_t lens[] = { 0, 1, 7, 8, 9, 100, 4096, 4999 };
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(buf, 0xEE, sizeof(buf));
		uint32_t n = make(buf, lens[i], LOG_RECORD_ENTRY);
		assert_int_equal(n, log_record_bytes(lens[i]));
		assert_int_equal(n % LOG_RECORD_ALIGN_BYTES, 0);
		for (uint32_t k = LOG_RECORD_HEADER_BYTES + lens[i]; k < n; k++)
			assert_int_equal(buf[k], 0); /* padding is zeroed */
		struct log_record r;
		uint32_t used = 0;
		assert_int_equal(log_record_decode(buf, n, &r, &used), LOG_RECORD_OK);
		assert_int_equal(used, n);
		assert_int_equal(r.epoch, 0x1122334455667788ull);
		assert_int_equal(r.index, 0x0102030405060708ull);
		assert_int_equal(r.durable_pos, (3ull << 32) | 4096);
		assert_int_equal(r.len, lens[i]);
		assert_int_equal(r.type, 0xBEEF);
		assert_int_equal(r.kind, LOG_RECORD_ENTRY);
		for (uint32_t k = 0; k < lens[i]; k++)
			assert_int_equal(r.body[k], (uint8_t)(k * 7 + 3));
	}
	uint32_t n = make(buf, 0, LOG_RECORD_BASE);
	struct log_record r;
	uint32_t used;
	assert_int_equal(log_record_decode(buf, n, &r, &used), LOG_RECORD_OK);
	assert_int_equal(r.kind, LOG_RECORD_BASE);
}

static void test_little_endian_layout(void **state)
{
	(void)state;
	uint8_t buf[64];
	make(buf, 0, LOG_RECORD_RESET);
	assert_int_equal(buf[8], 0x88);   /* epoch, low byte first */
	assert_int_equal(buf[16], 0x08);  /* index */
	assert_int_equal(buf[36], 0xEF);  /* type */
	assert_int_equal(buf[38], LOG_RECORD_RESET);
	assert_int_equal(buf[39], LOG_RECORD_MAGIC);
	uint32_t hdr_crc = buf[0] | buf[1] << 8 | buf[2] << 16 | (uint32_t)buf[3] << 24;
	assert_int_equal(hdr_crc, crc32c(buf + 4, 36));
}

static void test_every_header_byte(void **state)
{
	(void)state;
	uint8_t buf[200];
	uint32_t n = make(buf, 100, LOG_RECORD_ENTRY);
	for (uint32_t i = 0; i < LOG_RECORD_HEADER_BYTES; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			struct log_record r;
			uint32_t used;
			assert_int_equal(log_record_decode(buf, n, &r, &used), LOG_RECORD_BAD_HEADER);
			assert_int_equal(log_record_decode_header(buf, n, &r),
					 LOG_RECORD_BAD_HEADER);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
}

static void test_every_body_byte(void **state)
{
	(void)state;
	uint8_t buf[200];
	uint32_t n = make(buf, 100, LOG_RECORD_ENTRY);
	for (uint32_t i = LOG_RECORD_HEADER_BYTES; i < LOG_RECORD_HEADER_BYTES + 100; i++) {
		buf[i] ^= 0x40;
		struct log_record r;
		uint32_t used;
		assert_int_equal(log_record_decode(buf, n, &r, &used), LOG_RECORD_BAD_BODY);
		/* The header alone is still sound: this is how a torn body is told apart. */
		assert_int_equal(log_record_decode_header(buf, n, &r), LOG_RECORD_OK);
		buf[i] ^= 0x40;
	}
}

static void test_cut_at_every_offset(void **state)
{
	(void)state;
	uint8_t full[400];
	uint32_t n = make(full, 300, LOG_RECORD_ENTRY);
	for (uint32_t cut = 0; cut < n; cut++) {
		uint8_t *p = malloc(cut ? cut : 1);
		memcpy(p, full, cut);
		struct log_record r;
		uint32_t used;
		assert_int_equal(log_record_decode(p, cut, &r, &used), LOG_RECORD_SHORT);
		free(p);
	}
	/* Cut short and the rest never written: the tail reads as zeros, the body fails. */
	for (uint32_t cut = LOG_RECORD_HEADER_BYTES; cut < LOG_RECORD_HEADER_BYTES + 300; cut++) {
		uint8_t buf[400];
		memcpy(buf, full, n);
		memset(buf + cut, 0, n - cut);
		struct log_record r;
		uint32_t used;
		assert_int_equal(log_record_decode(buf, n, &r, &used), LOG_RECORD_BAD_BODY);
	}
	for (uint32_t cut = 1; cut < LOG_RECORD_HEADER_BYTES; cut++) {
		uint8_t buf[400];
		memcpy(buf, full, n);
		memset(buf + cut, 0, n - cut);
		struct log_record r;
		uint32_t used;
		assert_int_equal(log_record_decode(buf, n, &r, &used), LOG_RECORD_BAD_HEADER);
	}
}

static void test_zero_and_nonsense(void **state)
{
	(void)state;
	uint8_t buf[128] = { 0 };
	struct log_record r;
	uint32_t used;
	assert_int_equal(log_record_decode(buf, sizeof(buf), &r, &used), LOG_RECORD_ZERO);
	/* Sound checksums over impossible fields are still refused. */
	make(buf, 0, LOG_RECORD_ENTRY);
	buf[38] = 9; /* no such kind */
	buf[0] = buf[1] = buf[2] = buf[3] = 0;
	uint32_t c = crc32c(buf + 4, 36);
	memcpy(buf, &c, 4);
	assert_int_equal(log_record_decode(buf, sizeof(buf), &r, &used), LOG_RECORD_BAD_HEADER);
	make(buf, 0, LOG_RECORD_BASE);
	buf[32] = 5; /* a base record with a body */
	c = crc32c(buf + 4, 36);
	memcpy(buf, &c, 4);
	assert_int_equal(log_record_decode(buf, sizeof(buf), &r, &used), LOG_RECORD_BAD_HEADER);
	make(buf, 0, LOG_RECORD_ENTRY);
	buf[35] = 0x7f; /* a length far beyond the cap */
	c = crc32c(buf + 4, 36);
	memcpy(buf, &c, 4);
	assert_int_equal(log_record_decode(buf, sizeof(buf), &r, &used), LOG_RECORD_BAD_HEADER);
	assert_string_equal(log_record_status_name(LOG_RECORD_BAD_BODY), "bad record checksum");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_little_endian_layout),
		cmocka_unit_test(test_every_header_byte),
		cmocka_unit_test(test_every_body_byte),
		cmocka_unit_test(test_cut_at_every_offset),
		cmocka_unit_test(test_zero_and_nonsense),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
