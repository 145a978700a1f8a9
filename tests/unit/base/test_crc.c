/* CRC16-XMODEM against Redis Cluster's slot vectors, and CRC32C against the published check
 * value, with the hardware and table paths required to agree at every length and offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/crc.h"

uint32_t crc32c_extend_sw(uint32_t crc, const void *buf, size_t len);

static void test_crc16_check_value(void **state)
{
	(void)state;
	/* The CRC16 the Redis Cluster specification names: XMODEM, check value 0x31C3. */
	assert_int_equal(crc16_xmodem("123456789", 9), 0x31C3);
	assert_int_equal(crc16_xmodem("", 0), 0);
}

static void test_crc16_redis_slots(void **state)
{
	(void)state;
	/* Slots that redis-cli CLUSTER KEYSLOT reports for these keys. */
	assert_int_equal(crc16_xmodem("foo", 3) % 16384, 12182);
	assert_int_equal(crc16_xmodem("bar", 3) % 16384, 5061);
	assert_int_equal(crc16_xmodem("hello", 5) % 16384, 866);
}

static void test_crc32c_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c("", 0), 0);
	/* 32 bytes of zeros: the iSCSI test vector from RFC 3720. */
	uint8_t zeros[32] = { 0 };
	assert_int_equal(crc32c(zeros, sizeof(zeros)), 0x8A9136AAu);
}

static void test_crc32c_paths_agree_and_extend(void **state)
{
	(void)state;
	uint8_t buf[300];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t off = 0; off < 9; off++) {
		for (size_t len = 0; len + off <= sizeof(buf); len += 7) {
			uint32_t whole = crc32c(buf + off, len);
			assert_int_equal(whole, crc32c_extend_sw(0, buf + off, len));
			size_t half = len / 2;
			uint32_t split = crc32c_extend(crc32c(buf + off, half), buf + off + half,
						       len - half);
			assert_int_equal(whole, split);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc16_check_value),
		cmocka_unit_test(test_crc16_redis_slots),
		cmocka_unit_test(test_crc32c_check_value),
		cmocka_unit_test(test_crc32c_paths_agree_and_extend),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
