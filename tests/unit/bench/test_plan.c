/* Run plans: how connections, threads and requests are split over processes so that no
 * process exceeds its open-file limit; command sizes for buffer sizing; the key layout of a
 * checking run; and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/plan.h"

static struct bench_config cfg;
static struct bench_plan plan;

static void config(int argc, char **argv)
{
	char err[256];
	assert_int_equal(bench_config_parse(&cfg, argc, argv, err, sizeof(err)), BENCH_CONFIG_OK);
}

#define CONFIG(...) config((int)(sizeof((char *[]){ "b", __VA_ARGS__ }) / sizeof(char *)), \
			   (char *[]){ "b", __VA_ARGS__, NULL })

/* Every process's connections fit in nofile minus the reserve. */
static void expect_fits(uint64_t nofile)
{
	uint64_t total = 0;
	for (uint32_t p = 0; p < plan.procs; p++) {
		uint64_t n = 0;
		for (uint32_t t = plan.proc_first_thread[p]; t < plan.proc_first_thread[p + 1]; t++) {
			assert_int_equal(bench_plan_proc_of(&plan, t), p);
			n += bench_plan_share(cfg.conns, plan.threads, t).count +
			     bench_plan_share(cfg.hold, plan.threads, t).count;
		}
		assert_true(n + BENCH_FD_RESERVE <= nofile);
		assert_true(plan.proc_first_thread[p] < plan.proc_first_thread[p + 1]);
		total += n;
	}
	assert_int_equal(total, (uint64_t)cfg.conns + cfg.hold);
	assert_int_equal(plan.proc_first_thread[plan.procs], plan.threads);
}

static void test_split_by_open_file_limit(void **state)
{
	(void)state;
	char err[256];
	CONFIG("-c", "50", "--hold", "19000", "-t", "2");
	assert_int_equal(bench_plan_build(&plan, &cfg, 20000, err, sizeof(err)), 0);
	assert_int_equal(plan.procs, 1);
	expect_fits(20000);
	CONFIG("-c", "100", "--hold", "50000", "-t", "2");
	assert_int_equal(bench_plan_build(&plan, &cfg, 20000, err, sizeof(err)), 0);
	assert_int_equal(plan.procs, 3);
	assert_int_equal(plan.threads, 3);
	expect_fits(20000);
	CONFIG("-c", "7", "--hold", "3", "-t", "1");
	assert_int_equal(bench_plan_build(&plan, &cfg, 1024, err, sizeof(err)), 0);
	assert_int_equal(plan.procs, 1);
	CONFIG("-c", "10", "--procs", "2", "-t", "5");
	assert_int_equal(bench_plan_build(&plan, &cfg, 1024, err, sizeof(err)), 0);
	assert_int_equal(plan.procs, 2);
	assert_int_equal(plan.threads, 5);
	expect_fits(1024);
	/* Too few processes, asked for explicitly: refused with the reason. */
	CONFIG("-c", "30000", "--procs", "1");
	assert_int_equal(bench_plan_build(&plan, &cfg, 20000, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "open-file limit"));
}

static void test_shares_tile(void **state)
{
	(void)state;
	for (uint64_t total = 0; total < 40; total += 3) {
		for (uint32_t parts = 1; parts < 9; parts++) {
			uint64_t next = 0;
			for (uint32_t p = 0; p < parts; p++) {
				struct bench_share s = bench_plan_share(total, parts, p);
				assert_int_equal(s.first, next);
				assert_true(s.count <= total / parts + 1);
				next = s.first + s.count;
			}
			assert_int_equal(next, total);
		}
	}
	struct bench_share big = bench_plan_share(UINT64_MAX / 2, 7, 6);
	assert_int_equal(big.first + big.count, UINT64_MAX / 2);
}

static void test_sizes_and_keys(void **state)
{
	(void)state;
	char err[256];
	CONFIG("-c", "10", "-d", "100", "-k", "1000", "--wait", "1:0");
	assert_int_equal(bench_plan_build(&plan, &cfg, 1024, err, sizeof(err)), 0);
	assert_int_equal(plan.key_width, 3);
	assert_string_equal(plan.nonce, "");
	/* SET key:NNN <100 bytes> then WAIT 1 0. */
	size_t set = strlen("*3\r\n$3\r\nSET\r\n$7\r\nkey:000\r\n$100\r\n\r\n") + 100;
	size_t wait = strlen("*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n");
	assert_int_equal(plan.req_bytes_max, set + wait);

	CONFIG("-c", "10", "-k", "1000", "--check", "-w", "mixed");
	assert_int_equal(bench_plan_build(&plan, &cfg, 1024, err, sizeof(err)), 0);
	assert_int_equal(plan.keys_per_conn, 100);
	assert_int_equal(plan.key_range, 100);
	assert_int_equal(strlen(plan.nonce), 9);  /* 8 hex digits and ':' */
	assert_int_equal(plan.nonce[8], ':');
	assert_int_equal(plan.key_bytes, 9 + 3);

	CONFIG("-k", "1000000000", "--dist", "zipf");
	assert_int_equal(bench_plan_build(&plan, &cfg, 1024, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "zipf"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_by_open_file_limit),
		cmocka_unit_test(test_shares_tile),
		cmocka_unit_test(test_sizes_and_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
