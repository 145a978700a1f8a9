/* Log level names parse, and a line is written whole with its level and component. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define LOG_COMPONENT "unit"
#include "base/log.h"

static void test_log_level_parse(void **state)
{
	(void)state;
	enum log_level l;
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("loud", &l), -EINVAL);
}

static void test_log_line_format(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	int saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	log_process_name_set("tester");
	LOG_WARN("disk full path=%s", "/data");
	LOG_DEBUG("hidden below the minimum level");
	dup2(saved, STDERR_FILENO);
	close(fds[1]);
	char buf[512] = { 0 };
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "tester["));
	assert_non_null(strstr(buf, " WARN unit: disk full path=/data\n"));
	assert_null(strstr(buf, "hidden"));
	close(fds[0]);
	close(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_level_parse),
		cmocka_unit_test(test_log_line_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
