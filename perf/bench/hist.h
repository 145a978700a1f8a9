/* A latency histogram with bounded relative error, in the manner of HdrHistogram: values are
 * counted in log-linear buckets (every power of two split into BENCH_HIST_HALF equal
 * sub-buckets), so any reported percentile is within 1/BENCH_HIST_HALF (about 0.1%) of the
 * exact one, for values from 1 ns to BENCH_HIST_VALUE_MAX, at a fixed 264 KiB per histogram.
 * Recording is two shifts and an add; histograms of threads and processes merge by adding. */
#ifndef SPINDLE_BENCH_HIST_H
#define SPINDLE_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 11                              /* 2^11 sub-buckets per octave */
#define BENCH_HIST_HALF (1u << (BENCH_HIST_SUB_BITS - 1))  /* 1024: relative error < 1/1024 */
#define BENCH_HIST_VALUE_BITS 42                            /* values below 2^42 ns (73 min) */
#define BENCH_HIST_VALUE_MAX ((1ull << BENCH_HIST_VALUE_BITS) - 1)
#define BENCH_HIST_BUCKETS ((BENCH_HIST_VALUE_BITS - BENCH_HIST_SUB_BITS + 2) * BENCH_HIST_HALF)

struct bench_hist {
	uint64_t count;
	uint64_t min;      /* exact; UINT64_MAX while empty */
	uint64_t max;      /* exact (after clamping to BENCH_HIST_VALUE_MAX) */
	uint64_t clamped;  /* values above BENCH_HIST_VALUE_MAX, counted as the maximum */
	double sum;        /* for the mean */
	uint64_t counts[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_record(struct bench_hist *h, uint64_t value);
/* Adds every count of src to dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The value at percentile p (0 < p <= 100): the smallest recorded value v such that at least
 * p% of the values are <= v, reported as its bucket's highest value (never above the exact
 * maximum). 0 for an empty histogram. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);
double bench_hist_mean(const struct bench_hist *h);
/* The 1-based rank of percentile p among count sorted values: ceil(p/100 * count), at least 1. */
uint64_t bench_hist_rank(uint64_t count, double p);

/* Bucket arithmetic, exported for the tests and for plotting. */
uint32_t bench_hist_index(uint64_t value);
uint64_t bench_hist_bucket_low(uint32_t index);
uint64_t bench_hist_bucket_high(uint32_t index);

#endif
