/* The command table and its entry points: every name found in any case and nothing else,
 * the table's own consistency (kinds, handlers, log ids, Redis flags), Redis's texts for an
 * unknown command or subcommand and a wrong number of arguments, and key positions. */
#include "kv_test.h"

#include <errno.h>

#include "kv/cmds.h"

struct fixture {
	struct resp_chunk_pool pool;
	struct resp_out out;
};

static void fx_init(struct fixture *f)
{
	resp_chunk_pool_init(&f->pool, 16);
	resp_out_init(&f->out, &f->pool, 2);
}

static void fx_free(struct fixture *f)
{
	resp_out_reset(&f->out);
	resp_chunk_pool_destroy(&f->pool);
}

static void test_cmd_lookup_every_name(void **state)
{
	(void)state;
	size_t n;
	const struct kv_cmd *t = kv_cmd_table(&n);
	assert_int_equal(n, 50); /* Redis's 48 we serve, plus SPINDLE and WAIT */
	for (size_t i = 0; i < n; i++) {
		char upper[64], mixed[64];
		size_t len = strlen(t[i].name);
		for (size_t j = 0; j < len; j++) {
			upper[j] = (char)(t[i].name[j] >= 'a' && t[i].name[j] <= 'z'
					  ? t[i].name[j] - 32 : t[i].name[j]);
			mixed[j] = j % 2 ? upper[j] : t[i].name[j];
		}
		assert_ptr_equal(kv_cmd_lookup(t[i].name, len), &t[i]);
		assert_ptr_equal(kv_cmd_lookup(upper, len), &t[i]);
		assert_ptr_equal(kv_cmd_lookup(mixed, len), &t[i]);
		assert_ptr_not_equal(kv_cmd_lookup(t[i].name, len - 1), &t[i]);
	}
	assert_null(kv_cmd_lookup("", 0));
	assert_null(kv_cmd_lookup("gett", 4));
	assert_null(kv_cmd_lookup("ge", 2));
	assert_null(kv_cmd_lookup("__flush", 7));   /* internal commands stay hidden */
	assert_null(kv_cmd_lookup("__expired", 9));
	assert_null(kv_cmd_lookup("config|get", 10));
	assert_null(kv_cmd_lookup("get\0", 4));
	char longname[100];
	memset(longname, 'a', sizeof(longname));
	assert_null(kv_cmd_lookup(longname, sizeof(longname)));
}

/* Each kind has what it needs: writes a prepare and a log id (or a rewrite to one), reads and
 * no-db commands an exec, connection and all-lanes commands none; Redis's own flags agree. */
static void check_entry(const struct kv_cmd *c)
{
	uint32_t kinds = c->kind & (KV_CMD_READ | KV_CMD_WRITE | KV_CMD_CONN | KV_CMD_ALL_LANES |
				    KV_CMD_NO_DB);
	assert_int_equal(__builtin_popcount(kinds), 1);
	if (c->kind & KV_CMD_WRITE) {
		assert_non_null(c->exec);
		assert_non_null(c->prepare);
		assert_true(c->flags & KV_BIT(KV_RF_WRITE));
		if (c->log_id != KV_LOG_NONE)
			assert_ptr_equal(kv_cmd_by_log_id(c->log_id), c);
	}
	if (c->kind & KV_CMD_READ) {
		assert_non_null(c->exec);
		assert_null(c->prepare);
		assert_true(c->flags & KV_BIT(KV_RF_READONLY));
		assert_int_equal(c->log_id, KV_LOG_NONE);
	}
	if (c->kind & (KV_CMD_CONN | KV_CMD_ALL_LANES))
		assert_null(c->exec);
	if (c->kind & KV_CMD_NO_DB)
		assert_non_null(c->exec);
	assert_int_equal(c->key_spec != NULL, c->key_first != 0);
	assert_true(strchr(c->fullname, '|') == NULL || strstr(c->fullname, c->name) != NULL);
	for (uint16_t i = 0; i < c->subs_count; i++)
		check_entry(&c->subs[i]);
}

static void test_cmd_table_consistent(void **state)
{
	(void)state;
	size_t n;
	const struct kv_cmd *t = kv_cmd_table(&n);
	for (size_t i = 0; i < n; i++)
		check_entry(&t[i]);
	for (uint64_t id = 1; id < KV_LOG_COUNT; id++)
		assert_non_null(kv_cmd_by_log_id(id));
	assert_null(kv_cmd_by_log_id(0));
	assert_null(kv_cmd_by_log_id(KV_LOG_COUNT));
	assert_null(kv_cmd_by_log_id(UINT64_MAX));
	assert_ptr_equal(kv_cmd_by_log_id(KV_LOG_SET), kv_cmd_lookup("set", 3));
}

static const struct kv_cmd *resolve(struct fixture *f, const char *const *words, uint32_t n)
{
	struct test_argv a;
	test_argv_set(&a, words, n);
	return kv_cmd_resolve_or_reply(a.argc, a.argv, &f->out);
}

static void test_cmd_resolve_errors(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	assert_ptr_equal(resolve(&f, (const char *[]){ "get", "k" }, 2), kv_cmd_lookup("get", 3));
	assert_int_equal(f.out.bytes, 0);
	assert_null(resolve(&f, (const char *[]){ "get" }, 1));
	OUT_EXPECT(&f.out, "-ERR wrong number of arguments for 'get' command\r\n");
	assert_null(resolve(&f, (const char *[]){ "foo" }, 1));
	OUT_EXPECT(&f.out, "-ERR unknown command 'foo', with args beginning with: \r\n");
	assert_null(resolve(&f, (const char *[]){ "foo", "a", "b" }, 3));
	OUT_EXPECT(&f.out, "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
	const struct kv_cmd *c = resolve(&f, (const char *[]){ "CONFIG", "get", "x" }, 3);
	assert_non_null(c);
	assert_string_equal(c->fullname, "config|get");
	assert_true(c->kind & KV_CMD_CONN);
	assert_null(resolve(&f, (const char *[]){ "config", "get" }, 2));
	OUT_EXPECT(&f.out, "-ERR wrong number of arguments for 'config|get' command\r\n");
	assert_null(resolve(&f, (const char *[]){ "config", "nope" }, 2));
	OUT_EXPECT(&f.out, "-ERR unknown subcommand 'nope'. Try CONFIG HELP.\r\n");
	assert_null(resolve(&f, (const char *[]){ "client" }, 1));
	OUT_EXPECT(&f.out, "-ERR wrong number of arguments for 'client' command\r\n");
	/* COMMAND alone is fine (arity -1): it is COMMAND itself. */
	c = resolve(&f, (const char *[]){ "command" }, 1);
	assert_string_equal(c->fullname, "command");
	/* The argument list is cut after 128 bytes, each argument at the remaining room. */
	char big[300];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_null(resolve(&f, (const char *[]){ "nope", big, "more" }, 3));
	size_t len;
	char *got = test_out_take(&f.out, &len);
	assert_int_equal(len, strlen("-ERR unknown command 'nope', with args beginning with: '") +
			 128 + strlen("' \r\n"));
	free(got);
	fx_free(&f);
}

static void test_cmd_keys(void **state)
{
	(void)state;
	uint32_t pos[8];
	assert_int_equal(kv_cmd_keys(kv_cmd_lookup("get", 3), 2, pos, 8), 1);
	assert_int_equal(pos[0], 1);
	assert_int_equal(kv_cmd_keys(kv_cmd_lookup("mset", 4), 7, pos, 8), 3);
	assert_true(pos[0] == 1 && pos[1] == 3 && pos[2] == 5);
	assert_int_equal(kv_cmd_keys(kv_cmd_lookup("del", 3), 4, pos, 8), 3);
	assert_true(pos[0] == 1 && pos[1] == 2 && pos[2] == 3);
	assert_int_equal(kv_cmd_keys(kv_cmd_lookup("del", 3), 20, pos, 8), 8); /* at most max */
	assert_int_equal(kv_cmd_keys(kv_cmd_lookup("ping", 4), 2, pos, 8), 0);
	assert_int_equal(kv_cmd_keys(kv_cmd_lookup("set", 3), 5, pos, 8), 1);
}

/* An argument longer than a string may be (the parser's limit is configurable) is refused
 * before it reaches a handler, in exec and in prepare. */
static void test_cmd_oversized_argument(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	struct kv_db *db = kv_db_create(0);
	char small[8] = "x";
	struct resp_arg a[3] = { { "SET", 3 }, { "k", 1 }, { small, KV_STRING_BYTES_MAX + 1 } };
	kv_cmd_exec(kv_cmd_lookup("set", 3), db, 3, a, 0, &f.out);
	OUT_EXPECT(&f.out, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
	struct kv_enc enc = { 0 };
	assert_int_equal(kv_cmd_prepare(kv_cmd_lookup("set", 3), 3, a, 0, &enc, &f.out), -EINVAL);
	OUT_EXPECT(&f.out, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
	assert_int_equal(enc.len, 0);
	a[1].len = KV_STRING_BYTES_MAX + 1;
	a[2].len = 1;
	kv_cmd_exec(kv_cmd_lookup("set", 3), db, 3, a, 0, &f.out);
	OUT_EXPECT(&f.out, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
	assert_int_equal(kv_db_size(db), 0);
	kv_enc_free(&enc);
	kv_db_destroy(db);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_lookup_every_name),
		cmocka_unit_test(test_cmd_table_consistent),
		cmocka_unit_test(test_cmd_resolve_errors),
		cmocka_unit_test(test_cmd_keys),
		cmocka_unit_test(test_cmd_oversized_argument),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
