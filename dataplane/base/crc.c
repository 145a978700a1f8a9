/* CRC16-XMODEM by table, and CRC32C by the SSE4.2 crc32 instruction with a table fallback
 * chosen once at start-up. The tables are computed from the polynomials by a constructor
 * that runs before main(), so there is no large literal to review and no check per call. */
#include "base/crc.h"

#include <stdbool.h>

static uint16_t crc16_table[256];
static uint32_t crc32c_table[8][256];
static bool crc32c_use_hw;

/* Built before main() (and before any thread), so the hot paths need no once-check. */
__attribute__((constructor)) static void crc_tables_build(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint16_t c = (uint16_t)(i << 8);
		for (int k = 0; k < 8; k++)
			c = (uint16_t)((c & 0x8000) ? (c << 1) ^ 0x1021 : c << 1);
		crc16_table[i] = c;
	}
	for (unsigned i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++)
		for (unsigned t = 1; t < 8; t++)
			crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^
					     crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
	__builtin_cpu_init();
	crc32c_use_hw = __builtin_cpu_supports("sse4.2");
}

uint16_t crc16_xmodem(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint16_t crc = 0;
	for (size_t i = 0; i < len; i++)
		crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ p[i]) & 0xff]);
	return crc;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;
	while (len >= 8) {
		uint64_t v;
		__builtin_memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return c32;
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len >= 8) {
		uint32_t lo, hi;
		__builtin_memcpy(&lo, p, 4);
		__builtin_memcpy(&hi, p + 4, 4);
		lo ^= crc;
		crc = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
		      crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
		      crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
		      crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

/* Exposed for the unit test, which checks that both paths agree. */
uint32_t crc32c_extend_sw(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_extend_sw(uint32_t crc, const void *buf, size_t len)
{
	return ~crc32c_sw(~crc, buf, len);
}

uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len)
{
	if (crc32c_use_hw)
		return ~crc32c_hw(~crc, buf, len);
	return ~crc32c_sw(~crc, buf, len);
}
