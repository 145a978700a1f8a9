/* The simulator's random generator: xoshiro256** seeded through splitmix64, so that one
 * 64-bit seed reproduces a whole run. Every random choice of a simulation comes from one of
 * these, never from the C library. */
#ifndef SPINDLE_SIM_RNG_H
#define SPINDLE_SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct sim_rng {
	uint64_t s[4];
};

void sim_rng_seed(struct sim_rng *g, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *g);
/* Uniform in [0, n) (n > 0), without modulo bias. */
uint64_t sim_rng_below(struct sim_rng *g, uint64_t n);
/* Uniform in [lo, hi]. */
uint64_t sim_rng_range(struct sim_rng *g, uint64_t lo, uint64_t hi);
/* True with probability ppm / 1,000,000. */
bool sim_rng_ppm(struct sim_rng *g, uint32_t ppm);

#endif
