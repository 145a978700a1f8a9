/* Log-linear latency histogram. A value v falls in octave shift = max(0, msb(v) - SUB_BITS + 1)
 * and sub-bucket v >> shift, which lies in [HALF, 2*HALF) once shift > 0; the index
 * shift*HALF + (v >> shift) is then contiguous over all octaves, starting with the exact
 * values 0..2*HALF-1. A bucket spans 2^shift values above a lower bound of at least
 * HALF*2^shift, which bounds the relative error by 1/HALF. */
#include "bench/hist.h"

#include <math.h>
#include <string.h>

#include "base/panic.h"

STATIC_ASSERT(BENCH_HIST_VALUE_BITS < 64, "bucket arithmetic needs 64-bit headroom");
STATIC_ASSERT(BENCH_HIST_SUB_BITS >= 2, "at least two sub-buckets per octave");

static uint32_t hist_shift(uint64_t value)
{
	if (value < (2ull * BENCH_HIST_HALF))
		return 0;
	uint32_t msb = 63u - (uint32_t)__builtin_clzll(value);
	return msb - (BENCH_HIST_SUB_BITS - 1);
}

uint32_t bench_hist_index(uint64_t value)
{
	ASSERT(value <= BENCH_HIST_VALUE_MAX);
	uint32_t shift = hist_shift(value);
	uint64_t index = (uint64_t)shift * BENCH_HIST_HALF + (value >> shift);
	ASSERT(index < BENCH_HIST_BUCKETS);
	return (uint32_t)index;
}

static uint32_t index_shift(uint32_t index)
{
	uint32_t octave = index / BENCH_HIST_HALF;
	return octave == 0 ? 0 : octave - 1;
}

uint64_t bench_hist_bucket_low(uint32_t index)
{
	ASSERT(index < BENCH_HIST_BUCKETS);
	uint32_t shift = index_shift(index);
	uint64_t sub = index - (uint64_t)shift * BENCH_HIST_HALF;
	return sub << shift;
}

uint64_t bench_hist_bucket_high(uint32_t index)
{
	return bench_hist_bucket_low(index) + (1ull << index_shift(index)) - 1;
}

void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void bench_hist_record(struct bench_hist *h, uint64_t value)
{
	if (unlikely(value > BENCH_HIST_VALUE_MAX)) {
		value = BENCH_HIST_VALUE_MAX;
		h->clamped++;
	}
	h->counts[bench_hist_index(value)]++;
	h->count++;
	h->sum += (double)value;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	if (src->count == 0)
		return;
	for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->clamped += src->clamped;
	dst->sum += src->sum;
	dst->min = MIN(dst->min, src->min);
	dst->max = MAX(dst->max, src->max);
}

uint64_t bench_hist_rank(uint64_t count, double p)
{
	ASSERT(count > 0);
	/* The epsilon keeps 99% of 100 at rank 99 when p/100*count rounds up in binary. */
	uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)count - 1e-9);
	rank = MAX(rank, 1ull);
	return MIN(rank, count);
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
	ASSERT(p > 0.0 && p <= 100.0);
	if (h->count == 0)
		return 0;
	uint64_t rank = bench_hist_rank(h->count, p);
	uint64_t seen = 0;
	for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = bench_hist_bucket_high(i);
			v = MIN(v, h->max);
			return MAX(v, h->min);
		}
	}
	PANIC("histogram counts sum to less than count=%llu", (unsigned long long)h->count);
}

double bench_hist_mean(const struct bench_hist *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}
