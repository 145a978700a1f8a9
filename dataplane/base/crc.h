/* Checksums: CRC16 (XMODEM, the one Redis Cluster uses for hash slots) and CRC32C (Castagnoli,
 * for log records and frames; hardware instructions where the CPU has them). */
#ifndef SPINDLE_BASE_CRC_H
#define SPINDLE_BASE_CRC_H

#include <stddef.h>
#include <stdint.h>

uint16_t crc16_xmodem(const void *buf, size_t len);

/* Extends crc with len bytes; start a new checksum with crc = 0. */
uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len);

static inline uint32_t crc32c(const void *buf, size_t len)
{
	return crc32c_extend(0, buf, len);
}

#endif
