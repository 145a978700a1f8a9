/* kv_hash(): every length path, seeding, and the quality a linear-probing table needs (each
 * input bit moves about half the output bits; short similar keys spread evenly). */
#include "kv_test.h"

#include "kv/hash.h"

static void test_hash_deterministic_and_seeded(void **state)
{
	(void)state;
	const char *k = "user:1000";
	assert_int_equal(kv_hash(1, k, 9), kv_hash(1, k, 9));
	assert_int_not_equal(kv_hash(1, k, 9), kv_hash(2, k, 9));
	assert_int_not_equal(kv_hash(1, k, 9), kv_hash(1, k, 8));
	/* The empty key hashes, and differs by seed. */
	assert_int_not_equal(kv_hash(1, "", 0), kv_hash(2, "", 0));
}

/* Keys that differ in one byte at every position, for every length up to 200 (all the load
 * paths: 1-3, 4-7, 8-16, 17-48, and the 48-byte loop), give distinct hashes. */
static void test_hash_every_length_and_position(void **state)
{
	(void)state;
	uint8_t buf[200];
	for (size_t len = 1; len <= sizeof(buf); len++) {
		memset(buf, 'a', len);
		uint64_t base = kv_hash(7, buf, len);
		for (size_t i = 0; i < len; i++) {
			buf[i] = 'b';
			assert_int_not_equal(kv_hash(7, buf, len), base);
			buf[i] = 'a';
		}
		/* Trailing zero bytes change the hash (the length is mixed in). */
		memset(buf, 0, len);
		if (len > 1)
			assert_int_not_equal(kv_hash(7, buf, len), kv_hash(7, buf, len - 1));
	}
}

/* Avalanche: flipping one input bit flips close to half of the 64 output bits on average. */
static void test_hash_avalanche(void **state)
{
	(void)state;
	uint64_t rng = 42;
	static const size_t lens[] = { 3, 8, 16, 24, 64, 100 };
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t len = lens[li];
		uint64_t flips = 0, trials = 0;
		for (int round = 0; round < 200; round++) {
			uint8_t buf[128];
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)test_rand(&rng);
			uint64_t h = kv_hash(99, buf, len);
			for (size_t bit = 0; bit < len * 8; bit++) {
				buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				flips += (uint64_t)__builtin_popcountll(h ^ kv_hash(99, buf, len));
				buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				trials++;
			}
		}
		double mean = (double)flips / (double)trials;
		if (mean < 30.0 || mean > 34.0)
			fail_msg("len %zu: mean flipped bits %.2f", len, mean);
	}
}

/* Sequential keys ("key:0".."key:N") spread evenly over the top bits (the table's homes) and
 * the low 16 bits (its tags). */
static void test_hash_bucket_spread(void **state)
{
	(void)state;
	enum { BUCKETS = 1024, KEYS = 200000 };
	static uint32_t top[BUCKETS], low[BUCKETS];
	memset(top, 0, sizeof(top));
	memset(low, 0, sizeof(low));
	for (int i = 0; i < KEYS; i++) {
		char key[32];
		int n = snprintf(key, sizeof(key), "key:%d", i);
		uint64_t h = kv_hash(5, key, (size_t)n);
		top[h >> 54]++;
		low[h & (BUCKETS - 1)]++;
	}
	/* Expected ~195 per bucket; a chi-square over 1023 degrees of freedom stays well under
	 * 1250 for a good hash. */
	double exp = (double)KEYS / BUCKETS, chi_top = 0, chi_low = 0;
	for (int b = 0; b < BUCKETS; b++) {
		chi_top += (top[b] - exp) * (top[b] - exp) / exp;
		chi_low += (low[b] - exp) * (low[b] - exp) / exp;
	}
	if (chi_top > 1250 || chi_low > 1250)
		fail_msg("chi-square top %.1f low %.1f", chi_top, chi_low);
}

/* A key word equal to a public constant must not erase the rest of the key. */
static void test_hash_no_zeroing_words(void **state)
{
	(void)state;
	uint64_t k[2] = { 0xbb67ae8584caa73bull, 0 };
	uint64_t h0 = kv_hash(0, k, 16);
	k[1] = 1;
	assert_int_not_equal(h0, kv_hash(0, k, 16));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_deterministic_and_seeded),
		cmocka_unit_test(test_hash_every_length_and_position),
		cmocka_unit_test(test_hash_avalanche),
		cmocka_unit_test(test_hash_bucket_spread),
		cmocka_unit_test(test_hash_no_zeroing_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
