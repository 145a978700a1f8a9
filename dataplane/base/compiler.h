/* Compiler helpers used everywhere: branch hints, alignment, sizes, container_of. */
#ifndef SPINDLE_BASE_COMPILER_H
#define SPINDLE_BASE_COMPILER_H

#include <stddef.h>

#define CACHE_LINE_BYTES 64

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define IS_POW2(x) ((x) != 0 && (((x) & ((x) - 1)) == 0))
#define CACHE_ALIGNED __attribute__((aligned(CACHE_LINE_BYTES)))
#define UNUSED __attribute__((unused))
#define PRINTF_FMT(a, b) __attribute__((format(printf, a, b)))

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
