/* Runs a client command on one db the way the dataplane does: resolve it (unknown command,
 * arity), then a read or no-db command at once, a write through prepare -> encode -> decode
 * -> exec (the replicated path) or straight to exec (the direct path), and the all-lanes
 * commands as the lane module runs them on a single lane. */
#ifndef SPINDLE_TESTS_KV_RUN_H
#define SPINDLE_TESTS_KV_RUN_H

#include "kv_test.h"

#include "kv/kv.h"

struct kv_runner {
	struct kv_enc enc;
	struct kv_dec dec;
	bool direct; /* writes skip prepare and the log */
};

static inline void run_all_lanes(const struct kv_cmd *cmd, struct kv_db *db, uint32_t argc,
				 const struct resp_arg *argv, int64_t now, struct resp_out *out)
{
	struct resp_out tmp;
	resp_out_init(&tmp, out->pool, out->proto);
	const char *name = cmd->name;
	if (strcmp(name, "dbsize") == 0) {
		resp_add_int(out, (int64_t)kv_db_size(db));
	} else if (strcmp(name, "flushall") == 0 || strcmp(name, "flushdb") == 0) {
		if (kv_flush_args_ok_or_reply(argc, argv, out)) {
			kv_db_flush(db);
			resp_add_simple(out, "OK");
		}
	} else if (strcmp(name, "keys") == 0) {
		uint64_t n = kv_db_keys(db, argv[1].ptr, argv[1].len, now, &tmp);
		resp_add_array(out, n);
		resp_out_splice(out, &tmp);
	} else if (strcmp(name, "scan") == 0) {
		uint64_t cursor, n;
		struct kv_scan_args args;
		if (kv_scan_args_parse_or_reply(argc, argv, &cursor, &args, out) != 0)
			return;
		uint64_t next = kv_db_scan(db, cursor, &args, now, &tmp, &n);
		resp_add_array(out, 2);
		char num[24];
		snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
		resp_add_bulk_str(out, num);
		resp_add_array(out, n);
		resp_out_splice(out, &tmp);
	} else {
		fail_msg("no lane runner for %s", name);
	}
}

static inline void kv_run(struct kv_runner *r, struct kv_db *db, uint32_t argc,
			  const struct resp_arg *argv, int64_t now, struct resp_out *out)
{
	const struct kv_cmd *cmd = kv_cmd_resolve_or_reply(argc, argv, out);
	if (cmd == NULL)
		return;
	assert_false(cmd->kind & KV_CMD_CONN);
	if (cmd->kind & KV_CMD_ALL_LANES) {
		run_all_lanes(cmd, db, argc, argv, now, out);
	} else if ((cmd->kind & KV_CMD_WRITE) && !r->direct) {
		kv_enc_reset(&r->enc);
		if (kv_cmd_prepare(cmd, argc, argv, now, &r->enc, out) != 0) {
			assert_int_equal(r->enc.len, 0);
			return;
		}
		assert_int_equal(kv_enc_check(r->enc.buf, r->enc.len), 1);
		size_t pos = 0;
		assert_int_equal(kv_enc_next(&r->dec, r->enc.buf, r->enc.len, &pos), 1);
		assert_int_equal(pos, r->enc.len);
		kv_cmd_exec(r->dec.cmd, db, r->dec.argc, r->dec.argv, now, out);
	} else {
		kv_cmd_exec(cmd, db, argc, argv, now, out);
	}
}

static inline void kv_runner_free(struct kv_runner *r)
{
	kv_enc_free(&r->enc);
	kv_dec_free(&r->dec);
}

#endif
