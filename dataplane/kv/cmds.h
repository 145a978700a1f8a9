/* Inside the command table: the ids of logged commands and the handlers behind the table.
 * Each handler answers exactly as Redis 7.0 does, byte for byte. */
#ifndef SPINDLE_KV_CMDS_H
#define SPINDLE_KV_CMDS_H

#include "kv/kv.h"

/* The ids of commands in encoded entries. They are stored in logs and snapshots of the log:
 * never renumber or reuse one. */
enum kv_log_id {
	KV_LOG_NONE = 0,
	KV_LOG_SET = 1,
	KV_LOG_SETNX = 2,
	KV_LOG_GETSET = 3,
	KV_LOG_GETDEL = 4,
	KV_LOG_GETEX = 5,
	KV_LOG_MSET = 6,
	KV_LOG_MSETNX = 7,
	KV_LOG_DEL = 8,
	KV_LOG_UNLINK = 9,
	KV_LOG_INCR = 10,
	KV_LOG_INCRBY = 11,
	KV_LOG_DECR = 12,
	KV_LOG_DECRBY = 13,
	KV_LOG_INCRBYFLOAT = 14,
	KV_LOG_APPEND = 15,
	KV_LOG_SETRANGE = 16,
	KV_LOG_PEXPIREAT = 17,
	KV_LOG_PERSIST = 18,
	KV_LOG_FLUSH = 19,     /* internal: empty the lane */
	KV_LOG_EXPIRED = 20,   /* internal: delete keys if expired at the entry's time */
	KV_LOG_COUNT
};

/* The command of a log id, or NULL. */
const struct kv_cmd *kv_cmd_by_log_id(uint64_t id);
/* The internal commands (KV_CMD_INTERNAL), for kv_cmd_by_log_id(). */
const struct kv_cmd *kv_cmd_internal_table(size_t *count);

/* Appends id and argv[1..argc) to enc: 0 or -ENOMEM. */
int kv_enc_append(struct kv_enc *enc, enum kv_log_id id, uint32_t argc,
		  const struct resp_arg *argv);
/* Replies "ERR out of memory" for a failed append or allocation; returns -ENOMEM. */
int kv_enc_oom_reply(struct resp_out *err);

/* Arguments compared as Redis compares them: as C strings (to the first NUL), ignoring
 * case. */
bool kv_arg_is(const struct resp_arg *a, const char *word);
/* A strict 64-bit integer argument, or Redis's "value is not an integer" error. */
bool kv_arg_ll_or_reply(const struct resp_arg *a, int64_t *v, struct resp_out *out);

#define KV_EXEC(name) void kv_exec_##name(struct kv_db *db, uint32_t argc, \
	const struct resp_arg *argv, int64_t now_ms, struct resp_out *out)
#define KV_PREPARE(name) int kv_prepare_##name(uint32_t argc, const struct resp_arg *argv, \
	int64_t now_ms, struct kv_enc *enc, struct resp_out *err)

/* keys.c */
KV_EXEC(ping); KV_EXEC(echo); KV_EXEC(del); KV_EXEC(unlink); KV_EXEC(exists);
KV_EXEC(expire); KV_EXEC(pexpire); KV_EXEC(expireat); KV_EXEC(pexpireat);
KV_EXEC(ttl); KV_EXEC(pttl); KV_EXEC(persist); KV_EXEC(type);
KV_EXEC(flush); KV_EXEC(expired);
KV_PREPARE(expire); KV_PREPARE(pexpire); KV_PREPARE(expireat); KV_PREPARE(pexpireat);

/* str.c */
KV_EXEC(get); KV_EXEC(set); KV_EXEC(setnx); KV_EXEC(setex); KV_EXEC(psetex);
KV_EXEC(getset); KV_EXEC(getdel); KV_EXEC(getex); KV_EXEC(mget); KV_EXEC(mset);
KV_EXEC(msetnx); KV_EXEC(incr); KV_EXEC(incrby); KV_EXEC(decr); KV_EXEC(decrby);
KV_EXEC(incrbyfloat); KV_EXEC(append); KV_EXEC(strlen); KV_EXEC(getrange);
KV_EXEC(setrange);
KV_PREPARE(set); KV_PREPARE(setex); KV_PREPARE(psetex); KV_PREPARE(getex);
KV_PREPARE(mset); KV_PREPARE(msetnx); KV_PREPARE(incrby); KV_PREPARE(decrby);
KV_PREPARE(incrbyfloat); KV_PREPARE(setrange);

/* enc.c: encodes a write command as it is (nothing in it depends on the time). */
KV_PREPARE(verbatim);

/* cmdinfo.c */
KV_EXEC(command);

#endif
