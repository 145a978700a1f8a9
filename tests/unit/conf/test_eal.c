/* The EAL command line built from the configuration: cores pinned in loop order with the
 * main thread elsewhere, the NIC as -a or --vdev, hugepage memory as -m or --socket-mem on a
 * NUMA node, defaults for what the keys leave open, eal-args last and taking the place of
 * the options it names, conflicts refused with a reason, and an overflow reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "conf/conf.h"

static char out[CONF_EAL_BYTES_MAX + 8192];

static struct conf conf_with(const char *const *kv)
{
	struct conf c;
	char err[256];
	conf_defaults(&c);
	for (unsigned i = 0; kv[i] != NULL; i += 2)
		assert_int_equal(conf_set(&c, kv[i], kv[i + 1], err, sizeof(err)), 0);
	return c;
}

static int build(const struct conf *c, long cpus, bool huge)
{
	struct conf_eal_host h = { .cpus = cpus, .hugepages_free = huge };
	return conf_eal_args_build(c, &h, out, sizeof(out));
}

static void test_defaults_float_and_pick_memory(void **state)
{
	(void)state;
	struct conf c = conf_with((const char *const[]){ "loops", "2", "lanes", "4", "port", "7001",
							 "node-id", "3", NULL });
	assert_int_equal(build(&c, 8, false), 0);
	assert_string_equal(out, "--lcores=(0-2)@(0-7) --no-pci --no-huge -m 256 "
			    "--file-prefix=spindled-3-7001 --no-telemetry --log-level=lib.eal:warning");
	assert_int_equal(build(&c, 8, true), 0);
	assert_non_null(strstr(out, " --in-memory "));
	assert_null(strstr(out, "--no-huge"));
}

static void test_cores_main_core_nic_and_memory(void **state)
{
	(void)state;
	struct conf c = conf_with((const char *const[]){ "loops", "3", "lanes", "6", "cores", "2,4-5",
							 "nic", "0000:3b:00.0", "hugepage-bytes", "1g",
							 NULL });
	assert_int_equal(build(&c, 6, false), 0);
	/* the main thread on every CPU the loops do not have */
	assert_non_null(strstr(out, "--lcores=0@(0-1,3),1@2,2@4,3@5 "));
	assert_non_null(strstr(out, " -a 0000:3b:00.0 "));
	assert_null(strstr(out, "--no-pci"));
	assert_non_null(strstr(out, " -m 1024 --in-memory "));

	c = conf_with((const char *const[]){ "loops", "2", "lanes", "2", "cores", "1-2",
					     "main-core", "0", "numa-node", "1",
					     "hugepage-bytes", "1536m", "nic",
					     "net_af_packet0,iface=eth1", NULL });
	assert_int_equal(build(&c, 4, true), 0);
	assert_non_null(strstr(out, "--lcores=0@0,1@1,2@2 "));
	assert_non_null(strstr(out, " --vdev=net_af_packet0,iface=eth1 "));
	assert_non_null(strstr(out, " --socket-mem=0,1536 --in-memory "));

	/* a main core without cores: the loops still float */
	c = conf_with((const char *const[]){ "loops", "1", "main-core", "3", NULL });
	assert_int_equal(build(&c, 4, false), 0);
	assert_non_null(strstr(out, "--lcores=0@3,(1-1)@(0-3) "));

	/* every CPU taken by the loops: the main thread floats over all of them */
	c = conf_with((const char *const[]){ "loops", "2", "cores", "0-1", NULL });
	assert_int_equal(build(&c, 2, false), 0);
	assert_non_null(strstr(out, "--lcores=0@(0-1),1@0,2@1 "));
}

static int build_allowed(const struct conf *c, long cpus, const int *allowed, unsigned n)
{
	struct conf_eal_host h = { .cpus = cpus, .hugepages_free = false };
	for (unsigned i = 0; i < n; i++)
		h.allowed[allowed[i] / 64] |= 1ull << (allowed[i] % 64);
	return conf_eal_args_build(c, &h, out, sizeof(out));
}

/* Started under taskset or in a cpuset, the threads that float stay on the CPUs allowed. */
static void test_floating_threads_keep_the_process_affinity(void **state)
{
	(void)state;
	struct conf c = conf_with((const char *const[]){ "loops", "1", NULL });
	assert_int_equal(build_allowed(&c, 2, (const int[]){ 0 }, 1), 0);
	assert_non_null(strstr(out, "--lcores=(0-1)@(0) "));

	c = conf_with((const char *const[]){ "loops", "2", NULL });
	assert_int_equal(build_allowed(&c, 16, (const int[]){ 2, 3, 4, 9, 130 }, 5), 0);
	assert_non_null(strstr(out, "--lcores=(0-2)@(2-4,9,130) "));

	/* loops pinned by cores: the main thread gets the allowed CPUs they leave */
	c = conf_with((const char *const[]){ "loops", "1", "cores", "3", NULL });
	assert_int_equal(build_allowed(&c, 8, (const int[]){ 2, 3 }, 2), 0);
	assert_non_null(strstr(out, "--lcores=0@(2),1@3 "));
	/* ... or all of them when the loops have them all */
	assert_int_equal(build_allowed(&c, 8, (const int[]){ 3 }, 1), 0);
	assert_non_null(strstr(out, "--lcores=0@(3),1@3 "));

	/* a main core with floating loops */
	c = conf_with((const char *const[]){ "loops", "1", "main-core", "0", NULL });
	assert_int_equal(build_allowed(&c, 4, (const int[]){ 1, 2 }, 2), 0);
	assert_non_null(strstr(out, "--lcores=0@0,(1-1)@(1-2) "));
}

static void test_eal_args_replace_what_they_name(void **state)
{
	(void)state;
	struct conf c = conf_with((const char *const[]){
		"eal-args", "-l 0-1 --vdev=net_null0 --no-huge -m 64 --file-prefix=x --log-level=8",
		NULL });
	assert_int_equal(build(&c, 8, true), 0);
	assert_string_equal(out, "--no-telemetry -l 0-1 --vdev=net_null0 --no-huge -m 64 "
			    "--file-prefix=x --log-level=8");

	/* eal-args with --in-memory and a key's memory: not given twice */
	c = conf_with((const char *const[]){ "hugepage-bytes", "128m", "eal-args", "--in-memory", NULL });
	assert_int_equal(build(&c, 2, true), 0);
	const char *first = strstr(out, "--in-memory");
	assert_non_null(first);
	assert_null(strstr(first + 1, "--in-memory"));
}

static void test_conflicts_refused(void **state)
{
	(void)state;
	static const char *const cases[][4] = {
		{ "cores", "1", "-l 0-1", "cores is set and eal-args also gives the lcores" },
		{ "main-core", "0", "--main-lcore=2", "main-core is set" },
		{ "nic", "0000:3b:00.0", "-a 0000:3b:00.1", "nic is set and eal-args also gives devices" },
		{ "nic", "net_null0", "--no-pci", "nic is set" },
		{ "hugepage-bytes", "1g", "--socket-mem=1024", "hugepage-bytes is set" },
		{ "numa-node", "1", "--socket-mem=0,512", "numa-node is set" },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf c = conf_with((const char *const[]){ "loops", "1", cases[i][0], cases[i][1],
								 "eal-args", cases[i][2], NULL });
		char err[256] = "";
		assert_int_equal(conf_validate(&c, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, cases[i][3]));
		assert_int_equal(build(&c, 4, false), -EINVAL);
		assert_non_null(strstr(out, cases[i][3]));
	}
	/* --log-level is not -l, --no-telemetry is not a device */
	struct conf c = conf_with((const char *const[]){ "cores", "1", "nic", "net_null0",
							 "eal-args", "--log-level=lib.eal:debug --no-telemetry",
							 NULL });
	char err[256] = "";
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
}

static void test_overflow_reported(void **state)
{
	(void)state;
	struct conf c = conf_with((const char *const[]){ "loops", "2", "cores", "1-2", NULL });
	struct conf_eal_host h = { .cpus = 4, .hugepages_free = false };
	char small[64]; /* room for the reason, not for the arguments */
	assert_int_equal(conf_eal_args_build(&c, &h, small, sizeof(small)), -ENOSPC);
	assert_non_null(strstr(small, "exceed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_float_and_pick_memory),
		cmocka_unit_test(test_cores_main_core_nic_and_memory),
		cmocka_unit_test(test_floating_threads_keep_the_process_affinity),
		cmocka_unit_test(test_eal_args_replace_what_they_name),
		cmocka_unit_test(test_conflicts_refused),
		cmocka_unit_test(test_overflow_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
