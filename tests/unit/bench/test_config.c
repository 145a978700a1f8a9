/* spindle-bench's command line: defaults, every kind of option, a custom command after --,
 * and bad input answered with a message that names the option (never a crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "bench/cmd.h"
#include "bench/config.h"

#define BENCH_CMD_ARGS_MAX_TEST BENCH_CMD_ARGS_MAX

#define ARGV(...) ((char *[]){ "spindle-bench", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "spindle-bench", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(cfg, err, ...) \
	bench_config_parse(cfg, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), err, sizeof(err))

static struct bench_config cfg;

static void test_defaults(void **state)
{
	(void)state;
	char err[256];
	char *argv[] = { "spindle-bench", NULL };
	assert_int_equal(bench_config_parse(&cfg, 1, argv, err, sizeof(err)), BENCH_CONFIG_OK);
	assert_int_equal(ntohs(cfg.target.sin_port), 6379);
	assert_int_equal(cfg.conns, 50);
	assert_int_equal(cfg.pipeline, 1);
	assert_int_equal(cfg.workload, BENCH_WORKLOAD_SET);
	assert_true(cfg.duration_s == 10.0);
	assert_int_equal(cfg.wait_replicas, -1);
	assert_string_equal(cfg.label, "127.0.0.1:6379");
}

static void test_options(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(PARSE(&cfg, err, "-h", "localhost", "-p", "17001", "-c", "2k",
			       "--hold", "19k", "-P", "16", "-R", "50000", "-w", "mixed", "-r", "0.5",
			       "-d", "100", "-k", "1m", "--dist", "zipf", "--zipf-theta", "0.8",
			       "--wait", "1:0", "-n", "1000000", "-D", "30", "--warmup", "2",
			       "--timeout-ms", "500", "--source-addrs", "127.0.0.1+4", "--check",
			       "--label", "redis-aof", "--procs", "2", "-t", "4"),
			 BENCH_CONFIG_OK);
	assert_int_equal(ntohl(cfg.target.sin_addr.s_addr), 0x7f000001);
	assert_int_equal(ntohs(cfg.target.sin_port), 17001);
	assert_int_equal(cfg.conns, 2000);
	assert_int_equal(cfg.hold, 19000);
	assert_int_equal(cfg.pipeline, 16);
	assert_true(cfg.rate == 50000.0);
	assert_int_equal(cfg.workload, BENCH_WORKLOAD_MIXED);
	assert_true(cfg.read_ratio == 0.5);
	assert_int_equal(cfg.keyspace, 1000000);
	assert_int_equal(cfg.dist, BENCH_DIST_ZIPF);
	assert_int_equal(cfg.wait_replicas, 1);
	assert_int_equal(cfg.wait_timeout_ms, 0);
	assert_int_equal(cfg.requests, 1000000);
	assert_int_equal(cfg.sources, 4);
	assert_int_equal(ntohl(cfg.source[3].s_addr), 0x7f000004);
	assert_true(cfg.check);
	assert_string_equal(cfg.label, "redis-aof");
	assert_int_equal(cfg.procs, 2);
	assert_int_equal(cfg.threads, 4);
}

static void test_custom_command(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(PARSE(&cfg, err, "-c", "3", "--", "LPUSH", "list:__key__", "__value__"),
			 BENCH_CONFIG_OK);
	assert_int_equal(cfg.workload, BENCH_WORKLOAD_CUSTOM);
	assert_int_equal(cfg.cmd_argc, 3);
	assert_string_equal(cfg.cmd_argv[1], "list:__key__");
	assert_int_equal(cfg.threads <= 3, 1);  /* never more threads than connections */
	assert_int_equal(PARSE(&cfg, err, "-w", "get", "--", "GET", "x"), BENCH_CONFIG_BAD);
	assert_non_null(strstr(err, "not both"));
}

/* Several ports: connections go round them; the label and the first target follow. */
static void test_ports(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(PARSE(&cfg, err, "-p", "17401,17402,17403", "--trace", "t.txt"),
			 BENCH_CONFIG_OK);
	assert_int_equal(cfg.ports, 3);
	assert_int_equal(cfg.port[0], 17401);
	assert_int_equal(cfg.port[2], 17403);
	assert_int_equal(ntohs(cfg.target.sin_port), 17401);
	assert_string_equal(cfg.label, "127.0.0.1:17401,17402,17403");
	assert_string_equal(cfg.trace_path, "t.txt");
	assert_int_equal(PARSE(&cfg, err, "-p", "17001,17002,17003,17004,17005,17006,17007,"
			       "17008,17009,17010,17011,17012,17013,17014,17015,17016"),
			 BENCH_CONFIG_OK);
	assert_int_equal(cfg.ports, BENCH_PORTS_MAX);
	assert_string_equal(cfg.label, "127.0.0.1:17001+15 ports");
	assert_int_equal(PARSE(&cfg, err, "-p", "7001"), BENCH_CONFIG_OK);
	assert_int_equal(cfg.ports, 1);
	assert_null(cfg.trace_path);
}

static void expect_bad(const char *want, int argc, char **argv)
{
	char err[256] = "";
	assert_int_equal(bench_config_parse(&cfg, argc, argv, err, sizeof(err)), BENCH_CONFIG_BAD);
	if (strstr(err, want) == NULL)
		fail_msg("message \"%s\" does not mention \"%s\"", err, want);
}

#define BAD(want, ...) expect_bad(want, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

/* Each bad command line gets a message naming what is wrong. */
static void test_bad_input(void **state)
{
	(void)state;
	BAD("--connections", "-c", "0");
	BAD("--connections", "-c", "abc");
	BAD("--connections", "-c", "-5");
	BAD("--connections", "-c", "5x");
	BAD("--port", "-p", "70000");
	BAD("--port", "-p", "1,2,0");
	BAD("--port", "-p", "1,,2");
	BAD("--port", "-p", "1,2,");
	BAD("--port", "-p", ",");
	BAD("--port", "-p", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17");
	BAD("bad option", "--trace");
	BAD("--pipeline", "-P", "99999999999999999999999");
	BAD("--rate", "-R", "nan");
	BAD("--rate", "-R", "0");
	BAD("--read-ratio", "-r", "1.5");
	BAD("--workload", "-w", "delete");
	BAD("--dist", "--dist", "gauss");
	BAD("IPv4", "-h", "example.com");
	BAD("--wait", "--wait", "x");
	BAD("--wait", "--wait", "1:");
	BAD("--wait", "--wait", "101");
	BAD("--source-addrs", "--source-addrs", "127.0.0.1+0");
	BAD("--source-addrs", "--source-addrs", "1.2.3");
	BAD("--source-addrs", "--source-addrs", ",");
	BAD("--label", "--label", "a\"b");
	BAD("--value-bytes", "--check", "-d", "8");
	BAD("mixed", "--check", "-w", "get");
	BAD("--warmup", "-D", "1", "--warmup", "1");
	BAD("bad option", "--bogus");
	BAD("bad option", "-c");
	BAD("--hold", "-c", "1000000", "--hold", "1000000");
	char *many[BENCH_CMD_ARGS_MAX_TEST + 3] = { "spindle-bench", "--" };
	for (int i = 2; i < BENCH_CMD_ARGS_MAX_TEST + 3; i++)
		many[i] = "x";
	expect_bad("command", BENCH_CMD_ARGS_MAX_TEST + 3, many);
	char err[64];
	assert_int_equal(PARSE(&cfg, err, "--help"), BENCH_CONFIG_HELP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_custom_command),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
