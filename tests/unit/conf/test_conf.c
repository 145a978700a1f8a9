/* The configuration: defaults, the file format (comments, quotes, sizes, repeated peers),
 * errors that name the file, the line and the reason, command-line overrides, cross-key
 * validation, and a reference that lists every key. */
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
	assert_int_equal(conf_set(&c, "recv-buffers", "1000", err, sizeof(err)), 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_parses),
		cmocka_unit_test(test_file_errors_name_line_and_reason),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_overrides_and_validation),
		cmocka_unit_test(test_reference_lists_every_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
