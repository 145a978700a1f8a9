/* Clock reads for the parts of the system that may read clocks (never the replication core,
 * which gets time through its I/O table). */
#ifndef SPINDLE_BASE_CLOCK_H
#define SPINDLE_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_SEC 1000000000ull

/* Monotonic time in nanoseconds: for timeouts, leases and latency. */
static inline uint64_t time_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Wall-clock time in milliseconds since the epoch: for key expiry, as Redis uses it. */
static inline int64_t time_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
