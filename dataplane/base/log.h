/* Structured log lines on stderr: "time level component: message key=value ...".
 * Each source file names its component with LOG_COMPONENT before including this header. */
#ifndef SPINDLE_BASE_LOG_H
#define SPINDLE_BASE_LOG_H

#include "base/compiler.h"

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

#ifndef LOG_COMPONENT
#define LOG_COMPONENT "spindle"
#endif

extern enum log_level log_level_min;

PRINTF_FMT(3, 4)
void log_write(enum log_level level, const char *component, const char *fmt, ...);
/* Parses "debug", "info", "warn" or "error"; returns 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
/* Prefixes every line with this process's name (default "spindle"). */
void log_process_name_set(const char *name);

#define LOG_AT(lvl, ...)                                               \
	do {                                                           \
		if ((lvl) >= log_level_min)                            \
			log_write((lvl), LOG_COMPONENT, __VA_ARGS__);  \
	} while (0)
#define LOG_DEBUG(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_ERROR(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
