/* LEB128 unsigned varints for encoded commands and snapshot records: 7 bits a byte, low
 * bits first, the high bit set on every byte but the last. At most 10 bytes for 64 bits. */
#ifndef SPINDLE_KV_VARINT_H
#define SPINDLE_KV_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define KV_VARINT_BYTES_MAX 10

/* Writes v to p (room for KV_VARINT_BYTES_MAX bytes); returns the bytes written. */
static inline size_t kv_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Reads a varint from p[0..len): the bytes used (> 0), 0 if p ends before the varint does,
 * or -1 if the bytes are not a valid varint (too long, or bits beyond 64). */
static inline int kv_varint_get(const uint8_t *p, size_t len, uint64_t *v)
{
	uint64_t r = 0;
	for (size_t i = 0; i < KV_VARINT_BYTES_MAX; i++) {
		if (i == len)
			return 0;
		uint64_t b = p[i];
		if (i == KV_VARINT_BYTES_MAX - 1 && b > 1)
			return -1;
		r |= (b & 0x7f) << (7 * i);
		if (b < 0x80) {
			*v = r;
			return (int)i + 1;
		}
	}
	return -1;
}

#endif
