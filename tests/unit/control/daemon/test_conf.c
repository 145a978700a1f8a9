/* spindle-control's configuration: defaults are valid once the required keys are given;
 * every number is range-checked; members and addresses are parsed and checked; files report
 * the line of a mistake; the cross-key rules refuse what cannot work. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "daemon/conf.h"

static char err[CTLD_CONF_ERR_BYTES_MAX];

static void minimal(struct ctld_conf *c)
{
	ctld_conf_defaults(c);
	assert_int_equal(ctld_conf_set(c, "node-id", "2", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_set(c, "mgmt-addr", "127.0.1.2:17600", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_set(c, "member", "1 127.0.1.1:17600", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_set(c, "member", "2 127.0.1.2:17600", err, sizeof(err)), 0);
}

static void test_defaults_and_required(void **state)
{
	(void)state;
	struct ctld_conf c;
	ctld_conf_defaults(&c);
	assert_int_equal(ctld_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "node-id"));
	minimal(&c);
	assert_int_equal(ctld_conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(c.node_timeout_ms, 250);
	assert_int_equal(c.lease_wait_ms, 300);
	assert_int_equal(c.segment_bytes, 4u << 20);
	assert_int_equal(c.members_count, 2);
	assert_non_null(ctld_conf_member(&c, 1));
	assert_null(ctld_conf_member(&c, 3));
}

static void test_numbers_and_sizes(void **state)
{
	(void)state;
	struct ctld_conf c;
	minimal(&c);
	assert_int_equal(ctld_conf_set(&c, "node-timeout-ms", "400", err, sizeof(err)), 0);
	assert_int_equal(c.node_timeout_ms, 400);
	assert_int_equal(ctld_conf_set(&c, "node-timeout-ms", "9", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(ctld_conf_set(&c, "node-timeout-ms", "12x", err, sizeof(err)), -EINVAL);
	assert_int_equal(ctld_conf_set(&c, "node-timeout-ms", "-1", err, sizeof(err)), -EINVAL);
	assert_int_equal(ctld_conf_set(&c, "node-timeout-ms", "99999999999999999999", err,
				       sizeof(err)), -EINVAL);
	assert_int_equal(ctld_conf_set(&c, "segment-bytes", "8m", err, sizeof(err)), 0);
	assert_int_equal(c.segment_bytes, 8u << 20);
	assert_int_equal(ctld_conf_set(&c, "segment-bytes", "512k", err, sizeof(err)), -EINVAL);
	assert_int_equal(ctld_conf_set(&c, "node-id", "64", err, sizeof(err)), -EINVAL);
	assert_int_equal(ctld_conf_set(&c, "node-id", "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(ctld_conf_set(&c, "no-such-key", "1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key"));
}

static void test_members_and_addresses(void **state)
{
	(void)state;
	struct ctld_conf c;
	minimal(&c);
	const char *bad_members[] = { "1 127.0.1.1:17600", "64 10.0.0.1:1", "0 10.0.0.1:1",
				      "3", "3 10.0.0.1", "3 10.0.0.1:0", "3 10.0.0.1:65536",
				      "3 host:80", "3 10.0.0.1:80 extra", "x 10.0.0.1:80" };
	for (size_t i = 0; i < sizeof(bad_members) / sizeof(bad_members[0]); i++)
		assert_int_equal(ctld_conf_set(&c, "member", bad_members[i], err, sizeof(err)), -EINVAL);
	assert_int_equal(c.members_count, 2);
	assert_int_equal(ctld_conf_set(&c, "member", "63 10.0.0.63:1", err, sizeof(err)), 0);
	assert_string_equal(ctld_conf_member(&c, 63)->addr, "10.0.0.63:1");
	struct sockaddr_in sa;
	assert_int_equal(ctld_addr_parse("10.1.2.3:4567", &sa), 0);
	assert_int_equal(ntohs(sa.sin_port), 4567);
	assert_int_equal(ntohl(sa.sin_addr.s_addr), 0x0a010203);
	const char *bad_addrs[] = { "", ":1", "10.1.2.3", "10.1.2.3:", "10.1.2.3:x", "10.1.2:5",
				    "10.1.2.3:70000", "::1:5" };
	for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++)
		assert_int_equal(ctld_addr_parse(bad_addrs[i], &sa), -EINVAL);
	assert_int_equal(ctld_conf_set(&c, "mgmt-addr", "10.0.0.1", err, sizeof(err)), -EINVAL);
}

static void test_cross_key_rules(void **state)
{
	(void)state;
	struct ctld_conf c;
	minimal(&c);
	/* This node among the members at another address. */
	assert_int_equal(ctld_conf_set(&c, "mgmt-addr", "127.0.1.9:17600", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "member 2"));
	minimal(&c);
	assert_int_equal(ctld_conf_set(&c, "raft-heartbeat-ms", "200", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_validate(&c, err, sizeof(err)), -EINVAL);
	minimal(&c);
	assert_int_equal(ctld_conf_set(&c, "report-ms", "200", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_validate(&c, err, sizeof(err)), -EINVAL);
	minimal(&c);
	assert_int_equal(ctld_conf_set(&c, "metrics-addr", "nowhere", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_validate(&c, err, sizeof(err)), -EINVAL);
	/* A node that joins later lists the others, not itself. */
	ctld_conf_defaults(&c);
	assert_int_equal(ctld_conf_set(&c, "node-id", "4", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_set(&c, "mgmt-addr", "127.0.1.4:17600", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_set(&c, "member", "1 127.0.1.1:17600", err, sizeof(err)), 0);
	assert_int_equal(ctld_conf_validate(&c, err, sizeof(err)), 0);
}

static void test_file(void **state)
{
	(void)state;
	char path[] = "/tmp/spindle-ctld-conf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "# a control daemon\nnode-id 3   # this node\n\nmgmt-addr \"127.0.1.3:17600\"\n"
		   "member 3 127.0.1.3:17600\nlease-wait-ms 500\n");
	fclose(f);
	struct ctld_conf c;
	ctld_conf_defaults(&c);
	assert_int_equal(ctld_conf_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.node_id, 3);
	assert_int_equal(c.lease_wait_ms, 500);
	assert_int_equal(ctld_conf_validate(&c, err, sizeof(err)), 0);
	f = fopen(path, "w");
	fprintf(f, "node-id 3\nlease-wait-ms lots\n");
	fclose(f);
	assert_int_equal(ctld_conf_load_file(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2:"));
	f = fopen(path, "w");
	fprintf(f, "mgmt-addr \"127.0.0.1:1\n");
	fclose(f);
	assert_int_equal(ctld_conf_load_file(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "quotes"));
	unlink(path);
	assert_int_equal(ctld_conf_load_file(&c, path, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_required),
		cmocka_unit_test(test_numbers_and_sizes),
		cmocka_unit_test(test_members_and_addresses),
		cmocka_unit_test(test_cross_key_rules),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
