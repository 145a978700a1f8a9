/* Random numbers and the zipfian rank generator (see keys.h for the method's source). */
#include "bench/keys.h"

#include <errno.h>
#include <math.h>

#include "base/panic.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void bench_rng_seed(struct bench_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t bench_rng_next(struct bench_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t bench_rng_below(struct bench_rng *r, uint64_t n)
{
	ASSERT(n > 0);
	/* Multiply-shift: the bias is below n / 2^64, far under anything a run can see. */
	return (uint64_t)(((unsigned __int128)bench_rng_next(r) * n) >> 64);
}

double bench_rng_unit(struct bench_rng *r)
{
	return (double)(bench_rng_next(r) >> 11) * 0x1.0p-53;
}

static double zipf_zeta(uint64_t n, double theta)
{
	double sum = 0.0;
	for (uint64_t i = 1; i <= n; i++)
		sum += pow((double)i, -theta);
	return sum;
}

int bench_zipf_init(struct bench_zipf *z, uint64_t n, double theta)
{
	if (n == 0 || n > BENCH_ZIPF_KEYS_MAX || !(theta > 0.0 && theta < 1.0))
		return -EINVAL;
	z->n = n;
	z->theta = theta;
	z->alpha = 1.0 / (1.0 - theta);
	z->zeta_n = zipf_zeta(n, theta);
	double zeta_2 = zipf_zeta(2, theta);
	z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta_2 / z->zeta_n);
	z->one_plus_half_pow_theta = 1.0 + pow(0.5, theta);
	return 0;
}

uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r)
{
	ASSERT(z->n > 0);
	double u = bench_rng_unit(r);
	double uz = u * z->zeta_n;
	if (uz < 1.0)
		return 0;
	if (uz < z->one_plus_half_pow_theta || z->n == 1)
		return z->n > 1 ? 1 : 0;
	double x = (double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha);
	uint64_t rank = (uint64_t)x;
	return rank < z->n ? rank : z->n - 1;
}
