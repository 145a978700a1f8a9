/* The admin protocol's requests and answer codes: every command and option parses to what it
 * says; malformed requests are refused with a sentence; codes map to names and to
 * spindlectl's exit codes both ways. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/admin.h"

static char err[256];

static struct ctld_admin_req ok(const char *line)
{
	struct ctld_admin_req r;
	int rc = ctld_admin_parse(line, &r, err, sizeof(err));
	if (rc != 0)
		fail_msg("'%s' refused: %s", line, err);
	return r;
}

static void test_commands(void **state)
{
	(void)state;
	struct ctld_admin_req r = ok("status");
	assert_int_equal(r.op, CTLD_ADMIN_STATUS);
	assert_false(r.json);
	r = ok("status --json");
	assert_true(r.json);
	r = ok("failover 7");
	assert_int_equal(r.op, CTLD_ADMIN_FAILOVER);
	assert_int_equal(r.lane, 7);
	assert_false(r.all);
	assert_int_equal(r.to, REPL_NODE_NONE);
	assert_int_equal(r.timeout_ms, CTLD_ADMIN_TIMEOUT_MS_DEFAULT);
	r = ok("failover all --to 3 --timeout 9 --json");
	assert_true(r.all);
	assert_int_equal(r.to, 3);
	assert_int_equal(r.timeout_ms, 9000);
	assert_true(r.json);
	r = ok("node add 4 127.0.1.4:17600 10.98.0.4");
	assert_int_equal(r.op, CTLD_ADMIN_NODE_ADD);
	assert_int_equal(r.node, 4);
	assert_string_equal(r.mgmt_addr, "127.0.1.4:17600");
	assert_string_equal(r.repl_addr, "10.98.0.4");
	assert_int_equal(r.timeout_ms, CTLD_ADMIN_NODE_TIMEOUT_MS_DEFAULT);
	r = ok("node remove 2");
	assert_int_equal(r.op, CTLD_ADMIN_NODE_REMOVE);
	assert_int_equal(r.node, 2);
	r = ok("node replace 2 5 127.0.1.5:17600");
	assert_int_equal(r.op, CTLD_ADMIN_NODE_REPLACE);
	assert_int_equal(r.node, 2);
	assert_int_equal(r.new_node, 5);
	assert_string_equal(r.repl_addr, "");
	r = ok("node drain 3 --timeout 30 --json");
	assert_int_equal(r.op, CTLD_ADMIN_NODE_DRAIN);
	assert_int_equal(r.node, 3);
	assert_int_equal(r.to, REPL_NODE_NONE);
	assert_int_equal(r.timeout_ms, 30000);
	assert_true(r.json);
	r = ok("node drain 1");
	assert_int_equal(r.timeout_ms, CTLD_ADMIN_TIMEOUT_MS_DEFAULT);
	r = ok("bootstrap --lanes 16");
	assert_int_equal(r.op, CTLD_ADMIN_BOOTSTRAP);
	assert_int_equal(r.lanes, 16);
	r = ok("  status\t");
	assert_int_equal(r.op, CTLD_ADMIN_STATUS);
}

static void test_refusals(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "frob", "status extra", "failover", "failover x", "failover 4096",
		"failover 1 --to 0", "failover 1 --to 64", "failover 1 --to", "status --to 2",
		"status --lanes 3", "failover 1 --timeout 0", "failover 1 --timeout 3601",
		"failover 1 --colour", "node", "node add", "node add 4", "node add 64 1.2.3.4:5",
		"node add 4 1.2.3.4", "node add 4 1.2.3.4:5 r extra", "node remove", "node remove 0",
		"node remove 2 3", "node replace 2 2 1.2.3.4:5", "node replace 2 1.2.3.4:5",
		"node drain", "node drain 0", "node drain 64", "node drain x", "node drain 1 2",
		"node drain 1 --to 2", "node drain 1 --lanes 2",
		"bootstrap 3", "bootstrap --lanes 0", "bootstrap --lanes 4097",
		"node add 4 1.2.3.4:5 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"a b c d e f g h i j k l m n o p q",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ctld_admin_req r;
		err[0] = '\0';
		if (ctld_admin_parse(bad[i], &r, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(strlen(err) > 5);
	}
	char longline[2048];
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	struct ctld_admin_req r;
	assert_int_equal(ctld_admin_parse(longline, &r, err, sizeof(err)), -EINVAL);
}

static void test_codes(void **state)
{
	(void)state;
	for (int c = 0; c <= CTLD_ADMIN_CODE_MAX; c++)
		assert_int_equal(ctld_admin_code_parse(ctld_admin_code_name((enum ctld_admin_code)c)), c);
	assert_int_equal(ctld_admin_code_parse("NOPE"), -1);
	assert_int_equal(ctld_admin_exit_code(CTLD_ADMIN_OK), 0);
	assert_int_equal(ctld_admin_exit_code(CTLD_ADMIN_USAGE), 2);
	assert_int_equal(ctld_admin_exit_code(CTLD_ADMIN_NOLEADER), 3);
	assert_int_equal(ctld_admin_exit_code(CTLD_ADMIN_NOMAJORITY), 3);
	assert_int_equal(ctld_admin_exit_code(CTLD_ADMIN_UNKNOWN), 4);
	assert_int_equal(ctld_admin_exit_code(CTLD_ADMIN_STATE), 5);
	assert_int_equal(ctld_admin_exit_code(CTLD_ADMIN_TIMEOUT), 6);
	assert_int_equal(ctld_admin_exit_code(CTLD_ADMIN_INTERNAL), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
