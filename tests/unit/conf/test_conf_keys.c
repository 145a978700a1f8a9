/* Every configuration key, one by one: values it takes (and how it shows them back), values
 * it refuses (named in the error, with the file and line when they come from a file), a
 * case table that must cover every key the table has, and docs/CONFIG.md kept in step with
 * the table (every key documented once, under its group, with the table's default; no key
 * documented that does not exist). */
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

#define GOOD_MAX 6
#define BAD_MAX 8
#define LONG_TOKEN "@long" /* stands for a value one byte longer than the key's field holds */

struct good_value {
	const char *in;
	const char *shown;  /* conf_get_text() afterwards */
};

struct key_case {
	const char *key;
	struct good_value good[GOOD_MAX];
	const char *bad[BAD_MAX];
	size_t long_bytes;  /* with LONG_TOKEN in bad: the field's size */
};

static const struct key_case cases[] = {
	{ "node-id", { { "1", "1" }, { "63", "63" } }, { "0", "64", "x", "-1", "1.5", "" } },
	{ "cluster-id", { { "0", "0" }, { "4294967295", "4294967295" } },
	  { "4294967296", "abc", "-3", "1k" } },
	{ "bind", { { "0.0.0.0", "0.0.0.0" }, { "10.1.2.3", "10.1.2.3" }, { "::1", "::1" },
		    { "::", "::" } },
	  { "localhost", "10.1.2", "256.0.0.1", "", "1.2.3.4 5.6.7.8" } },
	{ "port", { { "1", "1" }, { "65535", "65535" }, { "17000", "17000" } },
	  { "0", "65536", "http", "80k" } },
	{ "requirepass", { { "s3cret", "s3cret" }, { "", "" }, { "with space", "with space" } },
	  { LONG_TOKEN }, CONF_STR_BYTES_MAX },
	{ "maxclients", { { "1", "1" }, { "10000000", "10000000" } },
	  { "0", "10000001", "many" } },
	{ "client-output-max-bytes", { { "64k", "65536" }, { "1g", "1073741824" },
				       { "1099511627776", "1099511627776" } },
	  { "65535", "2t", "1099511627777", "1x", "k" } },
	{ "client-query-max-bytes", { { "1m", "1048576" }, { "2GB", "2147483648" } },
	  { "1023k", "1q" } },
	{ "proto-max-bulk-bytes", { { "1m", "1048576" }, { "512m", "536870912" } },
	  { "1048575", "lots" } },
	{ "recv-buffers", { { "16", "16" }, { "32768", "32768" }, { "1024", "1024" } },
	  { "8", "65536", "1000", "17" } },
	{ "recv-buffer-bytes", { { "1k", "1024" }, { "1m", "1048576" }, { "16384", "16384" } },
	  { "1023", "2m" } },
	{ "loops", { { "1", "1" }, { "128", "128" } }, { "0", "129", "two" } },
	{ "lanes", { { "1", "1" }, { "1024", "1024" } }, { "0", "1025" } },
	{ "cores", { { "2-5", "2-5" }, { "0", "0" }, { "7,3,1", "7,3,1" }, { "1-2,4", "1,2,4" },
		     { "", "" }, { "1023", "1023" } },
	  { "5-2", "1024", "a", "1,,", "2-", "3,3", "0-128", "1 2" } },
	{ "main-core", { { "auto", "auto" }, { "0", "0" }, { "1023", "1023" } },
	  { "1024", "-1", "any", "" } },
	{ "numa-node", { { "auto", "auto" }, { "0", "0" }, { "31", "31" } },
	  { "32", "-1", "node0" } },
	{ "spin", { { "yes", "yes" }, { "no", "no" }, { "YES", "yes" } }, { "1", "true", "" } },
	{ "idle-sleep-us", { { "10", "10" }, { "100000", "100000" } }, { "9", "100001" } },
	{ "durability", { { "disk", "disk" }, { "memory", "memory" }, { "Memory", "memory" } },
	  { "ram", "", "none" } },
	{ "data-dir", { { "/var/lib/spindle", "/var/lib/spindle" }, { "data", "data" } },
	  { "", LONG_TOKEN }, 201 },
	{ "segment-bytes", { { "4m", "4194304" }, { "64m", "67108864" }, { "1g", "1073741824" },
			     { "8196k", "8392704" } },
	  { "1m", "2g", "4097k", "5000000", "64q" } },
	{ "snapshot-every-bytes", { { "1m", "1048576" }, { "1024g", "1099511627776" } },
	  { "1k", "2048g" } },
	{ "transport", { { "none", "none" }, { "dpdk", "dpdk" }, { "udp", "udp" } },
	  { "tcp", "rdma", "" } },
	{ "repl-ip", { { "10.9.0.1", "10.9.0.1" }, { "", "" } }, { "fe80::1", "10.9.0.300", "host" } },
	{ "repl-udp-port", { { "1", "1" }, { "65535", "65535" } }, { "0", "65536" } },
	{ "mtu", { { "576", "576" }, { "9000", "9000" }, { "65535", "65535" } }, { "575", "65536" } },
	{ "bootstrap-primary", { { "0", "0" }, { "63", "63" } }, { "64", "-1" } },
	{ "bootstrap", { { "self", "self" }, { "control", "control" }, { "Control", "control" } },
	  { "none", "", "1" } },
	{ "peer", { { "2 10.0.0.2", "2 10.0.0.2" }, { "63 10.0.0.63 02:00:00:00:00:3f", "63 10.0.0.63" },
		    { "5 10.0.0.5 10.1.0.5:6379", "5 10.0.0.5" },
		    { "6 10.0.0.6 02:00:00:00:00:06 10.1.0.6:7000", "6 10.0.0.6" } },
	  { "2", "0 10.0.0.2", "64 10.0.0.2", "2 10.0.0", "2 10.0.0.2 zz",
	    "2 10.0.0.2 10.1.0.2:0", "2 10.0.0.2 02:00:00:00:00:02 10.1.0.2:1 extra", "x 10.0.0.2" } },
	{ "nic", { { "0000:3b:00.0", "0000:3b:00.0" }, { "3b:00.1", "3b:00.1" }, { "", "" },
		   { "net_af_packet0,iface=veth1", "net_af_packet0,iface=veth1" },
		   { "net_tap0", "net_tap0" }, { "net_memif0,role=client", "net_memif0,role=client" } },
	  { "eth0", "0000:3b:00", "0000:3b:20.0", "0000:3b:00.8", "net_", "net_tap0,",
	    "net_af_packet0,iface=a b", "af_packet0" } },
	{ "nic-rx-desc", { { "64", "64" }, { "4096", "4096" }, { "32768", "32768" } },
	  { "32", "65536", "1000" } },
	{ "nic-tx-desc", { { "64", "64" }, { "512", "512" } }, { "0", "100", "65536" } },
	{ "mbufs", { { "0", "0" }, { "16384", "16384" }, { "16777216", "16777216" } },
	  { "16777217", "lots", "16k" } },
	{ "hugepage-bytes", { { "0", "0" }, { "1g", "1073741824" }, { "64m", "67108864" } },
	  { "2048g", "1x" } },
	{ "lease-ms", { { "10", "10" }, { "60000", "60000" } }, { "9", "60001", "1s" } },
	{ "heartbeat-ms", { { "1", "1" }, { "10000", "10000" } }, { "0", "10001" } },
	{ "drift-ppm", { { "0", "0" }, { "100000", "100000" } }, { "100001", "0.5" } },
	{ "control-socket", { { "/run/spindle/control.sock", "/run/spindle/control.sock" },
			      { "", "" } },
	  { LONG_TOKEN }, 108 },
	{ "eal-args", { { "--in-memory -a 0000:3b:00.0", "--in-memory -a 0000:3b:00.0" },
			{ "", "" } },
	  { LONG_TOKEN }, CONF_EAL_BYTES_MAX },
	{ "log-level", { { "debug", "debug" }, { "warn", "warn" }, { "error", "error" } },
	  { "warning", "INFO", "verbose", "" } },
};

static const struct key_case *case_find(const char *key)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(cases[i].key, key) == 0)
			return &cases[i];
	return NULL;
}

/* A value that stands for a bad one: LONG_TOKEN is made into long_bytes 'x's. */
static const char *bad_value(const struct key_case *kc, const char *bad, char *buf, size_t cap)
{
	if (strcmp(bad, LONG_TOKEN) != 0)
		return bad;
	assert_true(kc->long_bytes > 0 && kc->long_bytes < cap);
	memset(buf, 'x', kc->long_bytes);
	buf[kc->long_bytes] = '\0';
	return buf;
}

static void key_covered(const char *key, void *arg)
{
	(void)arg;
	if (case_find(key) == NULL)
		fail_msg("key '%s' has no cases in test_conf_keys.c: add good and bad values", key);
}

static void test_every_key_has_cases(void **state)
{
	(void)state;
	conf_keys_foreach(key_covered, NULL);
	struct conf c;
	conf_defaults(&c);
	char text[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (conf_get_text(&c, cases[i].key, text, sizeof(text)) != 0)
			fail_msg("cases name '%s', which is not a key", cases[i].key);
}

static void test_good_values(void **state)
{
	(void)state;
	char err[CONF_ERR_BYTES_MAX], text[1200];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct key_case *kc = &cases[i];
		for (int g = 0; g < GOOD_MAX && kc->good[g].in; g++) {
			struct conf c;
			conf_defaults(&c);
			if (conf_set(&c, kc->key, kc->good[g].in, err, sizeof(err)) != 0)
				fail_msg("%s '%s' refused: %s", kc->key, kc->good[g].in, err);
			assert_int_equal(conf_get_text(&c, kc->key, text, sizeof(text)), 0);
			if (strcmp(text, kc->good[g].shown) != 0)
				fail_msg("%s '%s' shows as '%s', expected '%s'", kc->key,
					 kc->good[g].in, text, kc->good[g].shown);
		}
	}
}

/* Refused by conf_set() with the key named first, and the value left as it was. */
static void test_bad_values(void **state)
{
	(void)state;
	char err[CONF_ERR_BYTES_MAX], before[1200], after[1200], buf[1100], prefix[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct key_case *kc = &cases[i];
		snprintf(prefix, sizeof(prefix), "%s: ", kc->key);
		for (int b = 0; b < BAD_MAX && kc->bad[b]; b++) {
			const char *v = bad_value(kc, kc->bad[b], buf, sizeof(buf));
			struct conf c;
			conf_defaults(&c);
			conf_get_text(&c, kc->key, before, sizeof(before));
			err[0] = '\0';
			if (conf_set(&c, kc->key, v, err, sizeof(err)) != -EINVAL)
				fail_msg("%s '%.40s' was taken", kc->key, v);
			if (strncmp(err, prefix, strlen(prefix)) != 0)
				fail_msg("%s '%.40s': error '%s' does not start with the key", kc->key, v, err);
			conf_get_text(&c, kc->key, after, sizeof(after));
			assert_string_equal(before, after);
		}
	}
}

/* The same bad values from a file: "FILE:3: key: reason". An empty value from a file is a
 * missing value unless quoted; quote every value so the key's own check answers. */
static void test_bad_values_in_a_file(void **state)
{
	(void)state;
	char path[64], err[CONF_ERR_BYTES_MAX], buf[1100], needle[128];
	snprintf(path, sizeof(path), "/tmp/spindle-conf-keys-%d.conf", (int)getpid());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct key_case *kc = &cases[i];
		for (int b = 0; b < BAD_MAX && kc->bad[b]; b++) {
			const char *v = bad_value(kc, kc->bad[b], buf, sizeof(buf));
			FILE *f = fopen(path, "w");
			assert_non_null(f);
			fprintf(f, "# node 1\n\n%s \"%s\"\nport 7000\n", kc->key, v);
			fclose(f);
			struct conf c;
			conf_defaults(&c);
			assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), -EINVAL);
			snprintf(needle, sizeof(needle), "%s:3: %s: ", path, kc->key);
			if (strncmp(err, needle, strlen(needle)) != 0)
				fail_msg("%s '%.40s' from a file: '%s' does not start with '%s'", kc->key,
					 v, err, needle);
			assert_int_equal(c.port, 6379); /* stopped at the bad line */
		}
	}
	unlink(path);
}

static void test_unknown_keys(void **state)
{
	(void)state;
	struct conf c;
	conf_defaults(&c);
	char err[CONF_ERR_BYTES_MAX];
	const char *unknown[] = { "Port", "ports", "save", "appendonly", "node_id", "--port", "" };
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_int_equal(conf_set(&c, unknown[i], "1", err, sizeof(err)), -EINVAL);
		char want[64];
		snprintf(want, sizeof(want), "unknown key '%s'", unknown[i]);
		assert_string_equal(err, want);
	}
}

/* ---- docs/CONFIG.md ---- */

struct doc_key {
	char name[64];
	char group[64];
	char def[128];      /* after "Default: ": the backquoted text, or empty/none */
	int line;
};

#define DOC_KEYS_MAX 128

struct doc {
	struct doc_key keys[DOC_KEYS_MAX];
	int count;
};

/* "Default: `6379`" -> "6379"; "Default: empty" -> ""; "Default: none" -> "(none)". */
static void doc_default_parse(const char *line, char *out, size_t cap)
{
	const char *p = line + strlen("Default: ");
	if (*p == '`') {
		const char *end = strchr(p + 1, '`');
		size_t n = end ? (size_t)(end - p - 1) : 0;
		snprintf(out, cap, "%.*s", (int)n, p + 1);
	} else if (strncmp(p, "empty", 5) == 0) {
		snprintf(out, cap, "%s", "");
	} else if (strncmp(p, "none", 4) == 0) {
		snprintf(out, cap, "%s", "(none)");
	} else {
		snprintf(out, cap, "(unreadable: %.60s)", p);
	}
}

static void doc_read(struct doc *d, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	char line[1024], group[64] = "";
	int lineno = 0;
	struct doc_key *cur = NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "## ", 3) == 0) {
			snprintf(group, sizeof(group), "%.60s", line + 3);
			cur = NULL;
		} else if (strncmp(line, "### `", 5) == 0) {
			assert_true(d->count < DOC_KEYS_MAX);
			cur = &d->keys[d->count++];
			memset(cur, 0, sizeof(*cur));
			snprintf(cur->name, sizeof(cur->name), "%.*s", (int)strcspn(line + 5, "`"),
				 line + 5);
			snprintf(cur->group, sizeof(cur->group), "%s", group);
			snprintf(cur->def, sizeof(cur->def), "(no Default: line)");
			cur->line = lineno;
		} else if (cur != NULL && strncmp(line, "Default: ", 9) == 0) {
			doc_default_parse(line, cur->def, sizeof(cur->def));
		}
	}
	fclose(f);
}

/* $SPINDLE_SOURCE_DIR (meson test sets it), else the tree this test was built from. */
static const char *config_md_path(char *buf, size_t cap)
{
	const char *src = getenv("SPINDLE_SOURCE_DIR");
	snprintf(buf, cap, "%s/docs/CONFIG.md", src ? src : SPINDLE_SOURCE_ROOT);
	return buf;
}

static struct doc the_doc;

static void doc_key_check(const char *key, void *arg)
{
	const struct doc *d = arg;
	struct conf_key_info info;
	char range[128];
	assert_int_equal(conf_key_info_get(key, &info, range, sizeof(range)), 0);
	const struct doc_key *dk = NULL;
	for (int i = 0; i < d->count; i++) {
		if (strcmp(d->keys[i].name, key) != 0)
			continue;
		if (dk != NULL)
			fail_msg("docs/CONFIG.md documents '%s' twice (lines %d and %d)", key, dk->line,
				 d->keys[i].line);
		dk = &d->keys[i];
	}
	if (dk == NULL)
		fail_msg("docs/CONFIG.md has no '### `%s`' section", key);
	if (strcmp(dk->group, info.group) != 0)
		fail_msg("docs/CONFIG.md:%d: '%s' is under '## %s', the table groups it under '%s'",
			 dk->line, key, dk->group, info.group);
	const char *want = info.def == NULL ? "(none)" : info.def;
	if (strcmp(dk->def, want) != 0)
		fail_msg("docs/CONFIG.md:%d: '%s' says its default is '%s', the table says '%s'",
			 dk->line, key, dk->def, want);
}

static void test_config_md_matches_the_table(void **state)
{
	(void)state;
	char path[512];
	memset(&the_doc, 0, sizeof(the_doc));
	doc_read(&the_doc, config_md_path(path, sizeof(path)));
	conf_keys_foreach(doc_key_check, &the_doc);
	struct conf c;
	conf_defaults(&c);
	char text[1200];
	for (int i = 0; i < the_doc.count; i++)
		if (conf_get_text(&c, the_doc.keys[i].name, text, sizeof(text)) != 0)
			fail_msg("docs/CONFIG.md:%d documents '%s', which is not a key",
				 the_doc.keys[i].line, the_doc.keys[i].name);
}

/* The example node file in docs/CONFIG.md (between "```conf" and "```") loads and validates. */
static void test_config_md_example_is_valid(void **state)
{
	(void)state;
	char path[512], tmp[64], line[1024], err[CONF_ERR_BYTES_MAX];
	FILE *in = fopen(config_md_path(path, sizeof(path)), "r");
	assert_non_null(in);
	snprintf(tmp, sizeof(tmp), "/tmp/spindle-conf-example-%d.conf", (int)getpid());
	FILE *out = fopen(tmp, "w");
	assert_non_null(out);
	int inside = 0, lines = 0;
	while (fgets(line, sizeof(line), in) != NULL) {
		if (!inside && lines == 0 && strncmp(line, "```conf", 7) == 0) {
			inside = 1;
		} else if (inside && strncmp(line, "```", 3) == 0) {
			inside = 0;
		} else if (inside) {
			fputs(line, out);
			lines++;
		}
	}
	fclose(in);
	fclose(out);
	assert_true(lines > 20);
	struct conf c;
	conf_defaults(&c);
	if (conf_load_file(&c, tmp, err, sizeof(err)) != 0 || conf_validate(&c, err, sizeof(err)) != 0)
		fail_msg("the example in docs/CONFIG.md: %s", err);
	unlink(tmp);
	assert_int_equal(c.peers_count, 2);
	assert_int_equal(c.transport, CONF_TRANSPORT_DPDK);
	assert_int_equal(c.cores_count, c.loops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key_has_cases),
		cmocka_unit_test(test_good_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_values_in_a_file),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_config_md_matches_the_table),
		cmocka_unit_test(test_config_md_example_is_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
