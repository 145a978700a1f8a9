/* COMMAND's subcommands beyond what the battery compares byte for byte with Redis (whose
 * counts and lists differ by design: spindle has fewer commands): COUNT, LIST and its
 * filters, DOCS, HELP, and COMMAND with no arguments, in both protocols. */
#include "kv_test.h"

#include "kv/kv.h"

struct fixture {
	struct resp_chunk_pool pool;
	struct resp_out out;
};

static char *run(struct fixture *f, uint8_t proto, const char *const *words, uint32_t n,
		 size_t *len)
{
	struct test_argv a;
	test_argv_set(&a, words, n);
	f->out.proto = proto;
	kv_command_reply(a.argc, a.argv, &f->out);
	return test_out_take(&f->out, len);
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void test_cmdinfo_count_and_all(void **state)
{
	(void)state;
	struct fixture f;
	resp_chunk_pool_init(&f.pool, 16);
	resp_out_init(&f.out, &f.pool, 2);
	size_t len;
	char *r = run(&f, 2, (const char *[]){ "COMMAND", "COUNT" }, 2, &len);
	assert_string_equal(r, ":50\r\n");
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND" }, 1, &len);
	assert_memory_equal(r, "*50\r\n*10\r\n$4\r\nping\r\n", 20);
	assert_int_equal(count_str(r, "*10\r\n"), 50 + 16 + 7 + 5 + 5); /* with the subcommands */
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "INFO" }, 2, &len);
	assert_memory_equal(r, "*50\r\n", 5);
	free(r);
	r = run(&f, 3, (const char *[]){ "COMMAND", "INFO", "get" }, 3, &len);
	assert_memory_equal(r, "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n", 26);
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "COUNT", "x" }, 3, &len);
	assert_string_equal(r, "-ERR wrong number of arguments for 'command|count' command\r\n");
	free(r);
	resp_chunk_pool_destroy(&f.pool);
}

static void test_cmdinfo_list(void **state)
{
	(void)state;
	struct fixture f;
	resp_chunk_pool_init(&f.pool, 16);
	resp_out_init(&f.out, &f.pool, 2);
	size_t len;
	char *r = run(&f, 2, (const char *[]){ "COMMAND", "LIST" }, 2, &len);
	assert_memory_equal(r, "*83\r\n", 5); /* 50 commands and 33 subcommands */
	assert_int_equal(count_str(r, "$10\r\nconfig|get\r\n"), 1);
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "LIST", "FILTERBY", "pattern", "CONFIG*" }, 5,
		&len);
	assert_memory_equal(r, "*6\r\n$6\r\nconfig\r\n", 16);
	assert_int_equal(count_str(r, "config|"), 5);
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "LIST", "FILTERBY", "ACLCAT", "string" }, 5,
		&len);
	assert_memory_equal(r, "*20\r\n", 5); /* every string command spindle has */
	assert_int_equal(count_str(r, "$6\r\nappend\r\n"), 1);
	assert_int_equal(count_str(r, "$3\r\ndel\r\n"), 0);
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "LIST", "FILTERBY", "aclcat", "nosuch" }, 5,
		&len);
	assert_string_equal(r, "*0\r\n");
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "LIST", "FILTERBY", "module", "x" }, 5, &len);
	assert_string_equal(r, "*0\r\n");
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "LIST", "FILTERBY", "x", "y" }, 5, &len);
	assert_string_equal(r, "-ERR syntax error\r\n");
	free(r);
	resp_chunk_pool_destroy(&f.pool);
}

static void test_cmdinfo_docs_and_help(void **state)
{
	(void)state;
	struct fixture f;
	resp_chunk_pool_init(&f.pool, 16);
	resp_out_init(&f.out, &f.pool, 3);
	size_t len;
	char *r = run(&f, 3, (const char *[]){ "COMMAND", "DOCS", "get", "nosuch" }, 4, &len);
	assert_string_equal(r, "%1\r\n$3\r\nget\r\n%3\r\n$7\r\nsummary\r\n$26\r\n"
			       "Returns the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n"
			       "$5\r\ngroup\r\n$6\r\nstring\r\n");
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "DOCS", "config" }, 3, &len);
	assert_memory_equal(r, "*2\r\n$6\r\nconfig\r\n*8\r\n", 19);
	assert_int_equal(count_str(r, "$6\r\nserver\r\n"), 1 + 5); /* subcommands inherit it */
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "DOCS", "config|get" }, 3, &len);
	assert_memory_equal(r, "*2\r\n$10\r\nconfig|get\r\n*2\r\n$5\r\ngroup\r\n", 35);
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "DOCS" }, 2, &len);
	assert_memory_equal(r, "*100\r\n", 6); /* 50 commands, name and docs each */
	free(r);
	r = run(&f, 2, (const char *[]){ "COMMAND", "HELP" }, 2, &len);
	assert_memory_equal(r, "*17\r\n+COMMAND <subcommand>", 25);
	free(r);
	resp_chunk_pool_destroy(&f.pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdinfo_count_and_all),
		cmocka_unit_test(test_cmdinfo_list),
		cmocka_unit_test(test_cmdinfo_docs_and_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
