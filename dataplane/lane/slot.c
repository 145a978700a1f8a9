/* Redis Cluster's key slot function. */
#include "lane/slot.h"

#include <string.h>

#include "base/crc.h"

uint16_t lane_slot_of_key(const void *key, size_t len)
{
	const char *k = key;
	const char *open = memchr(k, '{', len);
	if (open != NULL) {
		size_t start = (size_t)(open - k) + 1;
		const char *close = memchr(k + start, '}', len - start);
		if (close != NULL && close > k + start)
			return (uint16_t)(crc16_xmodem(k + start, (size_t)(close - (k + start))) % LANE_SLOTS);
	}
	return (uint16_t)(crc16_xmodem(k, len) % LANE_SLOTS);
}
