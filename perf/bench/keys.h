/* Key choice for the load generator: a fast per-thread random generator (xoshiro256**,
 * seeded through splitmix64) and a zipfian distribution over ranks 0..n-1, rank 0 the most
 * popular, by the method of Gray et al., "Quickly Generating Billion-Record Synthetic
 * Databases" (SIGMOD 1994), as YCSB uses it: O(n) set-up, O(1) per draw, exact for the two
 * most popular ranks and close to the power law beyond (within a fifth at ranks 2 to 5, a few
 * percent in the body). */
#ifndef SPINDLE_BENCH_KEYS_H
#define SPINDLE_BENCH_KEYS_H

#include <stdint.h>

#define BENCH_ZIPF_KEYS_MAX 200000000ull  /* set-up sums n terms; keep it under a second */

struct bench_rng {
	uint64_t s[4];
};

void bench_rng_seed(struct bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(struct bench_rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t bench_rng_below(struct bench_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double bench_rng_unit(struct bench_rng *r);

struct bench_zipf {
	uint64_t n;
	double theta;        /* skew, 0 < theta < 1; YCSB's default is 0.99 */
	double alpha;        /* 1 / (1 - theta) */
	double zeta_n;       /* sum over i = 1..n of 1 / i^theta */
	double eta;
	double one_plus_half_pow_theta;
};

/* Returns 0, or -EINVAL for n == 0, n > BENCH_ZIPF_KEYS_MAX or theta outside (0, 1). */
int bench_zipf_init(struct bench_zipf *z, uint64_t n, double theta);
/* A rank in [0, n); rank i has probability proportional to 1 / (i + 1)^theta. */
uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r);

#endif
