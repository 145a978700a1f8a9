/* kv_hash(): see hash.h. The constants are the fractional parts of sqrt(2), sqrt(3) and
 * sqrt(5) (made odd): numbers with balanced bits, so that a multiply by them spreads every
 * input bit over the whole product. */
#include "kv/hash.h"

#include <string.h>

#define HASH_K0 0x6a09e667f3bcc909ull
#define HASH_K1 0xbb67ae8584caa73bull
#define HASH_K2 0x3c6ef372fe94f82bull

/* The product folded to 64 bits, plus both operands: should one operand be zero, the other
 * still reaches the result instead of being erased. */
static inline uint64_t hash_mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return ((uint64_t)r ^ (uint64_t)(r >> 64)) ^ a ^ b;
}

/* Unaligned little-endian loads (the project runs on x86-64 and arm64, both little endian). */
static inline uint64_t hash_load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t hash_load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

uint64_t kv_hash(uint64_t seed, const void *key, size_t len)
{
	const uint8_t *p = key;
	/* Key words enter every multiply xored with a seeded constant, so a client that does not
	 * know the seed cannot pick words that cancel. */
	const uint64_t k1 = seed ^ HASH_K1, k2 = seed ^ HASH_K2;
	uint64_t state = hash_mum(seed ^ HASH_K0, HASH_K1 ^ (uint64_t)len);
	uint64_t a, b;

	if (len <= 16) {
		if (len >= 8) {
			/* Two loads that overlap for len < 16; the length is mixed in separately. */
			a = hash_load64(p);
			b = hash_load64(p + len - 8);
		} else if (len >= 4) {
			a = hash_load32(p);
			b = hash_load32(p + len - 4);
		} else if (len > 0) {
			a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len / 2] << 8) | p[len - 1];
			b = 0;
		} else {
			a = b = 0;
		}
	} else {
		size_t left = len;
		if (left > 48) {
			/* Three independent lanes keep the multiplier busy on long keys. */
			uint64_t s1 = state, s2 = state;
			do {
				state = hash_mum(hash_load64(p) ^ k1, hash_load64(p + 8) ^ state);
				s1 = hash_mum(hash_load64(p + 16) ^ k2, hash_load64(p + 24) ^ s1);
				s2 = hash_mum(hash_load64(p + 32) ^ k1 ^ k2, hash_load64(p + 40) ^ s2);
				p += 48;
				left -= 48;
			} while (left > 48);
			state ^= s1 ^ s2;
		}
		while (left > 16) {
			state = hash_mum(hash_load64(p) ^ k1, hash_load64(p + 8) ^ state);
			p += 16;
			left -= 16;
		}
		/* The last 16 bytes of the key, overlapping what the loop already took. */
		a = hash_load64(p + left - 16);
		b = hash_load64(p + left - 8);
	}
	a ^= k1;
	b ^= state;
	return hash_mum(hash_mum(a, b) ^ k2, state ^ HASH_K0 ^ (uint64_t)len);
}
