/* The configuration: defaults, the file format (comments, quotes, sizes, repeated peers,
 * quoted empty values), errors that name the file, the line and the reason, command-line
 * overrides, cross-key validation (cores, NIC rings, hugepages), the dump that loads back,
 * and a grouped reference that lists every key. Key by key: test_conf_keys.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf/conf.h"

static char path[64];

static const char *write_file(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/spindle-conf-test-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_defaults(void **state)
{
	(void)state;
	struct conf c;
	conf_defaults(&c);
	assert_int_equal(c.port, 6379);
	assert_string_equal(c.bind, "127.0.0.1");
	assert_int_equal(c.loops, 1);
	assert_int_equal(c.lanes, 8);
	assert_int_equal(c.durability, CONF_DURABILITY_DISK);
	assert_int_equal(c.proto_max_bulk_bytes, 512ull * 1024 * 1024);
	assert_int_equal(c.recv_buffer_bytes, 16 * 1024);
	assert_false(c.spin);
	char err[256];
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
}

static void test_file_parses(void **state)
{
	(void)state;
	struct conf c;
	conf_defaults(&c);
	char err[256] = "";
	const char *p = write_file(
		"# a comment\n"
		"\n"
		"port 7001   # trailing comment\n"
		"loops 2\n"
		"lanes 16\n"
		"spin yes\n"
		"durability memory\n"
		"data-dir \"/var/lib/spindle data\"\n"
		"segment-bytes 128m\n"
		"client-output-max-bytes 1g\n"
		"transport udp\n"
		"repl-ip 10.9.0.1\n"
		"peer 2 10.9.0.2 02:00:00:00:00:02 127.0.0.1:7002\n"
		"peer 3 10.9.0.3\n");
	assert_int_equal(conf_load_file(&c, p, err, sizeof(err)), 0);
	assert_int_equal(c.port, 7001);
	assert_int_equal(c.loops, 2);
	assert_int_equal(c.lanes, 16);
	assert_true(c.spin);
	assert_int_equal(c.durability, CONF_DURABILITY_MEMORY);
	assert_string_equal(c.data_dir, "/var/lib/spindle data");
	assert_int_equal(c.segment_bytes, 128ull << 20);
	assert_int_equal(c.client_output_max_bytes, 1ull << 30);
	assert_int_equal(c.transport, CONF_TRANSPORT_UDP);
	assert_int_equal(c.peers_count, 2);
	assert_int_equal(c.peers[0].node_id, 2);
	assert_string_equal(c.peers[0].mac, "02:00:00:00:00:02");
	assert_string_equal(c.peers[0].client_addr, "127.0.0.1:7002");
	assert_string_equal(c.peers[1].ip, "10.9.0.3");
	assert_string_equal(c.peers[1].mac, "");
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	unlink(p);
}

static void expect_file_error(const char *text, const char *needle)
{
	struct conf c;
	conf_defaults(&c);
	char err[256] = "";
	const char *p = write_file(text);
	assert_int_equal(conf_load_file(&c, p, err, sizeof(err)), -EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, needle);
	assert_non_null(strstr(err, p));
	unlink(p);
}

static void test_file_errors_name_line_and_reason(void **state)
{
	(void)state;
	expect_file_error("port 7000\nprot 7001\n", ":2: unknown key 'prot'");
	expect_file_error("port 70000\n", ":1: port: 70000 is out of range [1, 65535]");
	expect_file_error("\n\nloops two\n", ":3: loops: 'two' is not a number");
	expect_file_error("spin maybe\n", "spin: 'maybe' is not yes or no");
	expect_file_error("durability paper\n", "'paper' is not one of: disk, memory");
	expect_file_error("segment-bytes 64q\n", "is not a size");
	expect_file_error("data-dir \"/unterminated\n", ":1: unbalanced quotes");
	expect_file_error("port\n", ":1: port: missing value");
	expect_file_error("peer 2 not-an-ip\n", "is not an IPv4 address");
	expect_file_error("peer 2 10.0.0.2\npeer 2 10.0.0.3\n", ":2: peer: node 2 listed twice");
	expect_file_error("peer 99 10.0.0.2\n", "ID 1-63");
	expect_file_error("port -1\n", "is not a number");
}

static void test_missing_file(void **state)
{
	(void)state;
	struct conf c;
	conf_defaults(&c);
	char err[256];
	assert_int_equal(conf_load_file(&c, "/nonexistent/spindle.conf", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/spindle.conf"));
}

static void test_overrides_and_validation(void **state)
{
	(void)state;
	struct conf c;
	conf_defaults(&c);
	char err[256];
	assert_int_equal(conf_set(&c, "bind", "0.0.0.0", err, sizeof(err)), 0);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "requirepass"));
	assert_int_equal(conf_set(&c, "requirepass", "s3cret", err, sizeof(err)), 0);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	/* A power-of-two key refuses other values where they are set (with the line). */
	assert_int_equal(conf_set(&c, "recv-buffers", "1000", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "power of two"));
	c.recv_buffers = 1000;
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "power of two"));
	conf_set(&c, "recv-buffers", "1024", err, sizeof(err));
	conf_set(&c, "loops", "4", err, sizeof(err));
	conf_set(&c, "lanes", "2", err, sizeof(err));
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -EINVAL);
	conf_set(&c, "lanes", "8", err, sizeof(err));
	conf_set(&c, "transport", "dpdk", err, sizeof(err));
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no peer"));
	assert_int_equal(conf_set(&c, "no-such-key", "1", err, sizeof(err)), -EINVAL);
	char text[64];
	assert_int_equal(conf_get_text(&c, "lanes", text, sizeof(text)), 0);
	assert_string_equal(text, "8");
	assert_int_equal(conf_get_text(&c, "transport", text, sizeof(text)), 0);
	assert_string_equal(text, "dpdk");
	assert_int_equal(conf_get_text(&c, "nope", text, sizeof(text)), -ENOENT);
}

static void count_key(const char *key, void *arg)
{
	(void)key;
	(*(int *)arg)++;
}

static void test_reference_lists_every_key(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	conf_reference_write(f);
	fclose(f);
	int keys = 0;
	conf_keys_foreach(count_key, &keys);
	int rows = 0;
	for (char *p = buf; (p = strstr(p, "\n| `")) != NULL; p++)
		rows++;
	assert_int_equal(rows, keys);
	assert_non_null(strstr(buf, "| `lanes` | 8 |"));
	free(buf);
}

static void load_text(struct conf *c, const char *text)
{
	char err[CONF_ERR_BYTES_MAX] = "";
	conf_defaults(c);
	const char *p = write_file(text);
	int rc = conf_load_file(c, p, err, sizeof(err));
	unlink(p);
	if (rc != 0)
		fail_msg("loading failed: %s", err);
}

static void expect_invalid(const char *text, const char *needle)
{
	struct conf c;
	char err[CONF_ERR_BYTES_MAX] = "";
	load_text(&c, text);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, needle);
}

/* A quoted empty value sets an empty string; an unquoted one is a missing value. */
static void test_quoted_empty_value(void **state)
{
	(void)state;
	struct conf c;
	load_text(&c, "requirepass \"\"\ncores \"\"\neal-args \"\" # none\n");
	assert_string_equal(c.requirepass, "");
	assert_int_equal(c.cores_count, 0);
	expect_file_error("eal-args\n", ":1: eal-args: missing value");
	expect_file_error("nic   # a comment only\n", ":1: nic: missing value");
}

static void test_cores_and_numa(void **state)
{
	(void)state;
	struct conf c;
	char err[CONF_ERR_BYTES_MAX], text[64];
	load_text(&c, "loops 4\nlanes 8\ncores 2-4,8\nmain-core 0\nnuma-node 1\n");
	assert_int_equal(c.cores_count, 4);
	assert_int_equal(c.cores[0], 2);
	assert_int_equal(c.cores[2], 4);
	assert_int_equal(c.cores[3], 8);
	assert_int_equal(c.main_core, 0);
	assert_int_equal(c.numa_node, 1);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(conf_get_text(&c, "cores", text, sizeof(text)), 0);
	assert_string_equal(text, "2-4,8");
	load_text(&c, "cores 9,3,4\n");
	assert_int_equal(c.cores[0], 9); /* loop order is the order given */
	conf_get_text(&c, "cores", text, sizeof(text));
	assert_string_equal(text, "9,3,4");
	conf_defaults(&c);
	assert_int_equal(c.main_core, CONF_AUTO);
	assert_int_equal(c.numa_node, CONF_AUTO);
	conf_get_text(&c, "numa-node", text, sizeof(text));
	assert_string_equal(text, "auto");
	expect_invalid("loops 3\nlanes 8\ncores 2-5\n", "cores lists 4 CPUs but loops is 3");
	expect_invalid("loops 2\ncores 2-3\nmain-core 3\n", "main-core 3 is also in cores");
}

static void test_nic_and_memory_rules(void **state)
{
	(void)state;
	struct conf c;
	char err[CONF_ERR_BYTES_MAX];
	load_text(&c, "nic 0000:3b:00.0\nnic-rx-desc 2048\nnic-tx-desc 512\nmbufs 0\n"
		      "hugepage-bytes 2g\n");
	assert_string_equal(c.nic, "0000:3b:00.0");
	assert_int_equal(c.nic_rx_desc, 2048);
	assert_int_equal(c.nic_tx_desc, 512);
	assert_int_equal(c.hugepage_bytes, 2ull << 30);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	/* 2 loops x (1024 + 1024) descriptors + 1024 spare = 5120 */
	expect_invalid("loops 2\nmbufs 5119\n", "give at least 5120");
	load_text(&c, "loops 2\nmbufs 5120\n");
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	expect_invalid("hugepage-bytes 32m\n", "hugepage-bytes 33554432 is below");
}

/* The log refuses segments it cannot use; the configuration must refuse them first, with the
 * line, instead of letting the node stop at start. */
static void test_segment_bytes_the_log_can_use(void **state)
{
	(void)state;
	expect_file_error("segment-bytes 1m\n", "out of range [4194304, 1073741824]");
	expect_file_error("segment-bytes 2g\n", "out of range");
	expect_file_error("segment-bytes 4097k\n", "is not a multiple of 4096 bytes");
	struct conf c;
	load_text(&c, "segment-bytes 1g\n");
	assert_int_equal(c.segment_bytes, 1ull << 30);
}

/* What --check-config prints loads back to the same configuration. */
static void test_dump_loads_back(void **state)
{
	(void)state;
	struct conf a, b;
	load_text(&a, "node-id 2\nbind 0.0.0.0\nrequirepass \"s3 cret\"\nloops 2\ncores 4,5\n"
		      "transport dpdk\nrepl-ip 10.9.0.2\nnic net_af_packet0,iface=veth1\n"
		      "peer 1 10.9.0.1 02:00:00:00:00:01 10.0.0.1:6379\npeer 3 10.9.0.3\n"
		      "data-dir \"/var/lib/spindle\"\n");
	char *t1 = NULL, *t2 = NULL;
	size_t n1 = 0, n2 = 0;
	FILE *f = open_memstream(&t1, &n1);
	conf_dump(&a, f);
	fclose(f);
	assert_non_null(strstr(t1, "requirepass \"(set)\""));
	assert_null(strstr(t1, "s3 cret"));
	load_text(&b, t1);
	f = open_memstream(&t2, &n2);
	conf_dump(&b, f);
	fclose(f);
	assert_string_equal(t1, t2);
	assert_int_equal(b.peers_count, 2);
	assert_string_equal(b.peers[0].client_addr, "10.0.0.1:6379");
	assert_int_equal(b.cores[1], 5);
	free(t1);
	free(t2);
}

static void test_reference_is_grouped(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	conf_reference_write(f);
	fclose(f);
	const char *groups[] = { "### Identity", "### Clients", "### Cores and lanes",
				 "### Storage", "### Replication", "### NIC and DPDK", "### Timeouts",
				 "### Limits", "### Security", "### Control plane and logging" };
	const char *at = buf;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		const char *g = strstr(at, groups[i]);
		if (g == NULL)
			fail_msg("reference lacks '%s' after the groups before it", groups[i]);
		at = g;
	}
	const char *nic = strstr(buf, "### NIC and DPDK");
	const char *row = strstr(buf, "| `nic-rx-desc` | 1024 | 64 to 32768, a power of two |");
	assert_non_null(row);
	assert_true(row > nic && row < strstr(buf, "### Timeouts"));
	assert_non_null(strstr(buf, "| `numa-node` | auto | auto, 0 to 31 |"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_parses),
		cmocka_unit_test(test_file_errors_name_line_and_reason),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_overrides_and_validation),
		cmocka_unit_test(test_reference_lists_every_key),
		cmocka_unit_test(test_quoted_empty_value),
		cmocka_unit_test(test_cores_and_numa),
		cmocka_unit_test(test_nic_and_memory_rules),
		cmocka_unit_test(test_segment_bytes_the_log_can_use),
		cmocka_unit_test(test_dump_loads_back),
		cmocka_unit_test(test_reference_is_grouped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
