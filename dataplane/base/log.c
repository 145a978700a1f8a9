/* The log line writer and the panic path. One write(2) per line so that lines from several
 * threads and processes sharing a terminal or file never interleave. */
#include "base/log.h"
#include "base/panic.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_level_min = LOG_LEVEL_INFO;
static char log_process_name[32] = "spindle";

static const char *const log_level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

void log_process_name_set(const char *name)
{
	snprintf(log_process_name, sizeof(log_process_name), "%s", name);
}

int log_level_parse(const char *name, enum log_level *out)
{
	static const char *const lower[] = { "debug", "info", "warn", "error" };
	for (unsigned i = 0; i < ARRAY_SIZE(lower); i++) {
		if (strcmp(name, lower[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static size_t log_prefix(char *buf, size_t cap, const char *level, const char *component)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, log_process_name, (int)getpid(), level,
			 component);
	return n < 0 ? 0 : MIN((size_t)n, cap - 1);
}

static void log_emit(const char *level, const char *component, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n = log_prefix(line, sizeof(line), level, component);
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m > 0)
		n += MIN((size_t)m, sizeof(line) - n - 2);
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

void log_write(enum log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(log_level_names[level], component, fmt, ap);
	va_end(ap);
}

void base_panic(const char *file, int line, const char *fmt, ...)
{
	char where[256];
	snprintf(where, sizeof(where), "%s:%d", file, line);
	va_list ap;
	va_start(ap, fmt);
	log_emit("PANIC", where, fmt, ap);
	va_end(ap);
	abort();
}
