/* The data directory, on a real filesystem: created with its FORMAT file; locked against a
 * second user (in this process, and in another one) until released, also by the death of
 * its holder; refused, with a sentence that says why, when its format is another version,
 * its FORMAT file is damaged, or it holds lanes but no FORMAT file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/log.h"
#include "log/log.h"

static char base[256];

static int setup(void **state)
{
	(void)state;
	const char *t = getenv("TMPDIR");
	snprintf(base, sizeof(base), "%s/spindle-datadir-XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd);
}

static void put(const char *dir, const char *name, const char *body)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
}

static void test_create_and_reopen(void **state)
{
	(void)state;
	char dir[300], err[256] = "";
	snprintf(dir, sizeof(dir), "%s/data", base);
	struct log_datadir *dd = NULL;
	assert_int_equal(log_datadir_open(dir, &dd, err, sizeof(err)), 0);
	assert_non_null(dd);
	char path[400], body[64] = { 0 };
	snprintf(path, sizeof(path), "%s/FORMAT", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(body, sizeof(body), f));
	fclose(f);
	char want[64];
	snprintf(want, sizeof(want), "spindle-data-format %u\n", LOG_FORMAT_VERSION);
	assert_string_equal(body, want);
	log_datadir_close(dd);
	assert_int_equal(log_datadir_open(dir, &dd, err, sizeof(err)), 0);
	log_datadir_close(dd);
	char lane[300], lane_want[400];
	assert_int_equal(log_lane_dir(dir, 7, lane, sizeof(lane)), 0);
	snprintf(lane_want, sizeof(lane_want), "%s/lane-007", dir);
	assert_string_equal(lane, lane_want);
	assert_int_equal(log_lane_dir(dir, 1234, lane, sizeof(lane)), 0);
	assert_non_null(strstr(lane, "lane-1234"));
	assert_int_equal(log_lane_dir(dir, 7, lane, 10), -ENAMETOOLONG);
}

static void test_lock_in_process(void **state)
{
	(void)state;
	char dir[300], err[256] = "";
	snprintf(dir, sizeof(dir), "%s/data", base);
	struct log_datadir *a = NULL, *b = NULL;
	assert_int_equal(log_datadir_open(dir, &a, err, sizeof(err)), 0);
	assert_int_equal(log_datadir_open(dir, &b, err, sizeof(err)), -EBUSY);
	assert_null(b);
	assert_non_null(strstr(err, "in use by another process"));
	char pid[32];
	snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
	assert_non_null(strstr(err, pid));
	log_datadir_close(a);
	assert_int_equal(log_datadir_open(dir, &b, err, sizeof(err)), 0);
	log_datadir_close(b);
}

static void test_lock_across_processes(void **state)
{
	(void)state;
	char dir[300], err[256] = "";
	snprintf(dir, sizeof(dir), "%s/data", base);
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct log_datadir *dd = NULL;
		char e[256];
		int rc = log_datadir_open(dir, &dd, e, sizeof(e));
		char c = rc == 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1)
			_exit(2);
		pause(); /* holds the lock until killed */
		_exit(0);
	}
	char c = 0;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	struct log_datadir *dd = NULL;
	assert_int_equal(log_datadir_open(dir, &dd, err, sizeof(err)), -EBUSY);
	char pid[32];
	snprintf(pid, sizeof(pid), "pid %d", (int)child);
	assert_non_null(strstr(err, pid));
	/* kill -9: the kernel drops the lock with the process. */
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(log_datadir_open(dir, &dd, err, sizeof(err)), 0);
	log_datadir_close(dd);
	close(ready[0]);
	close(ready[1]);
}

static void test_format_refusals(void **state)
{
	(void)state;
	char dir[300], err[256] = "";
	struct log_datadir *dd = NULL;
	snprintf(dir, sizeof(dir), "%s/v9", base);
	assert_int_equal(mkdir(dir, 0755), 0);
	put(dir, "FORMAT", "spindle-data-format 9\n");
	assert_int_equal(log_datadir_open(dir, &dd, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "format version 9"));
	assert_null(dd);
	snprintf(dir, sizeof(dir), "%s/damaged", base);
	assert_int_equal(mkdir(dir, 0755), 0);
	put(dir, "FORMAT", "hello\n");
	assert_int_equal(log_datadir_open(dir, &dd, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "damaged"));
	snprintf(dir, sizeof(dir), "%s/nolabel", base);
	assert_int_equal(mkdir(dir, 0755), 0);
	char lane[400];
	snprintf(lane, sizeof(lane), "%s/lane-000", dir);
	assert_int_equal(mkdir(lane, 0755), 0);
	assert_int_equal(log_datadir_open(dir, &dd, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "no FORMAT file"));
	snprintf(dir, sizeof(dir), "%s/afile", base);
	put(base, "afile", "x");
	assert_int_equal(log_datadir_open(dir, &dd, err, sizeof(err)), -ENOTDIR);
	snprintf(dir, sizeof(dir), "%s/no/parent", base);
	assert_int_equal(log_datadir_open(dir, &dd, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	log_level_min = LOG_LEVEL_ERROR + 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_in_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_across_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
