/* Assertions that stay on in every build. A failed one is a programmer error: the process
 * stops at once with the place and the condition, because continuing could corrupt data. */
#ifndef SPINDLE_BASE_PANIC_H
#define SPINDLE_BASE_PANIC_H

#include "base/compiler.h"

__attribute__((noreturn)) PRINTF_FMT(3, 4)
void base_panic(const char *file, int line, const char *fmt, ...);

#define PANIC(...) base_panic(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT(cond)                                                   \
	do {                                                           \
		if (unlikely(!(cond)))                                 \
			base_panic(__FILE__, __LINE__, "assertion failed: %s", #cond); \
	} while (0)

#define ASSERT_MSG(cond, ...)                                          \
	do {                                                           \
		if (unlikely(!(cond)))                                 \
			base_panic(__FILE__, __LINE__, __VA_ARGS__);    \
	} while (0)

#define STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

#endif
