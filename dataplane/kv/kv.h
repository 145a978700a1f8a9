/* The key-value core: the state machine of one lane.
 *
 * A struct kv_db is a keyspace of Redis strings with expiry. Commands run on it through the
 * command table (struct kv_cmd): reads at once with kv_cmd_exec(); writes first through
 * kv_cmd_prepare(), which checks them and makes them deterministic (relative expiry times
 * become absolute ones) and appends them to a struct kv_enc, the payload of a log entry;
 * every replica later decodes the entry (kv_enc_next()) and runs each command with
 * kv_cmd_exec() at the entry's time, reaching the same state. Every write also runs directly
 * (kv_cmd_exec() without prepare) with the same replies and effects, which is what an
 * in-memory lane may do; the unit tests check that both paths agree.
 *
 * The rules that make replicas agree:
 *   - Time is always a parameter (now_ms, wall-clock milliseconds); nothing here reads a
 *     clock, a random source or any other state of the process.
 *   - A read command never changes the db: a key whose time is past reads as missing but
 *     stays until a write or the expiry work removes it. Replicated lanes remove expired
 *     keys only through logged records (kv_enc_expired_key()), never on their own.
 *   - A write's reply and effect depend only on the db, its arguments and now_ms.
 * The lane module must give entries non-decreasing times (a new primary whose clock is
 * behind continues from the last entry's time), or keys could come back to life.
 *
 * Replies are written to a struct resp_out (resp/resp.h) in the connection's protocol. */
#ifndef SPINDLE_KV_KV_H
#define SPINDLE_KV_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp/resp.h"

/* ---- Limits ---- */
#define KV_STRING_BYTES_MAX (512ull * 1024 * 1024) /* proto-max-bulk-len: longest value */
#define KV_KEY_BYTES_MAX KV_STRING_BYTES_MAX
#define KV_SCAN_COUNT_DEFAULT 10
#define KV_SCAN_CURSOR_MAX ((1ull << 48) - 1) /* cursors use the low 48 bits only */

/* ---- The db ---- */

struct kv_db;

/* The hash seed of dbs created after this call (the daemon sets a random one at start-up;
 * tests and the simulator keep the fixed default, so that runs repeat exactly). */
void kv_seed_set(uint64_t seed);

/* A new empty db allocating from jemalloc arena `arena` (base/mem.h). NULL if memory is
 * short. */
struct kv_db *kv_db_create(unsigned arena);
struct kv_db *kv_db_create_seeded(unsigned arena, uint64_t seed);
/* Frees the db and everything in it; no snapshot may be open. */
void kv_db_destroy(struct kv_db *db);

/* Keys, including keys whose time has passed but that are not removed yet (as DBSIZE). */
uint64_t kv_db_size(const struct kv_db *db);
/* Keys with a time to live. */
uint64_t kv_db_volatile_count(const struct kv_db *db);
/* Bytes the db holds: objects, slot arrays, the volatile index, and dropped data not yet
 * freed. */
size_t kv_db_memory_bytes(const struct kv_db *db);

/* Empties the db at once. The memory is given back incrementally by kv_db_work() (a flushed
 * db of millions of keys does not stop the loop), or kept by an open snapshot that still
 * needs it. */
void kv_db_flush(struct kv_db *db);

/* Background work, called once per loop turn: moves up to `budget` slots of a hash table
 * resize and frees up to `budget` objects of flushed data. Returns the units of work done
 * (0: nothing to do). */
uint64_t kv_db_work(struct kv_db *db, uint64_t budget);

/* Active expiry, in-memory lanes: examines up to `budget` keys with a TTL, in a rotating
 * order over the volatile index (so every key with a TTL is examined once every
 * volatile_count / budget calls, and keys without a TTL cost nothing), and deletes those
 * expired at now_ms. Returns the keys deleted. */
uint64_t kv_db_expire_cycle(struct kv_db *db, int64_t now_ms, uint64_t budget);

/* Active expiry, replicated lanes: as kv_db_expire_cycle() but reports the expired keys
 * instead of deleting them; the lane logs them with kv_enc_expired_key(). Examines at most
 * `max` keys and at most one pass over the index per call. A reported key is reported again
 * by later calls until the logged delete is applied, so call it at a modest rate (Redis: 10
 * times a second) or not while a delete record is in flight. key is valid during the call
 * only. Returns the keys reported. */
typedef void (*kv_expired_cb)(void *ctx, const char *key, size_t len);
uint64_t kv_db_expired_collect(struct kv_db *db, int64_t now_ms, uint64_t max,
			       kv_expired_cb cb, void *ctx);

/* Counters for INFO. */
struct kv_db_stats {
	uint64_t expired_keys;   /* keys deleted because their time had passed */
	uint64_t keyspace_hits;  /* reads that found a key */
	uint64_t keyspace_misses;
};
void kv_db_stats_get(const struct kv_db *db, struct kv_db_stats *stats);

/* ---- Single-key getters (for commands the lane module gathers across lanes) ---- */

/* The value of key at now_ms: true and *val, *val_len (valid until the db next changes), or
 * false if the key is missing or expired. */
bool kv_db_get(struct kv_db *db, const char *key, size_t len, int64_t now_ms,
	       const char **val, size_t *val_len);
bool kv_db_exists(struct kv_db *db, const char *key, size_t len, int64_t now_ms);
/* The key's absolute expiry time in ms; -1 without a TTL, -2 if the key is missing. */
int64_t kv_db_expire_get(struct kv_db *db, const char *key, size_t len, int64_t now_ms);

/* ---- Multi-lane helpers: KEYS, SCAN ---- */

/* Appends every key matching the glob pattern (Redis's stringmatch: a star, ?, [abc], [^a],
 * [a-z] and \x) that is not expired at now_ms to out as bulk strings; returns how many. The
 * caller writes the array header. */
uint64_t kv_db_keys(struct kv_db *db, const char *pattern, size_t pattern_len, int64_t now_ms,
		    struct resp_out *out);

struct kv_scan_args {
	const char *match;    /* NULL: every key */
	size_t match_len;
	uint64_t count;       /* COUNT: work hint, >= 1 */
	bool type_given;      /* TYPE was given ... */
	bool type_string;     /* ... and is "string" (the only type here; others match nothing) */
};

/* Parses SCAN's arguments (argv[0] = "SCAN", argv[1] = the cursor, then MATCH, COUNT, TYPE)
 * as Redis does; on a bad argument writes Redis's error to out and returns -EINVAL. */
int kv_scan_args_parse_or_reply(uint32_t argc, const struct resp_arg *argv, uint64_t *cursor,
				struct kv_scan_args *args, struct resp_out *out);

/* One SCAN call on this db: appends the keys found (bulk strings) to out, stores how many in
 * *keys, and returns the next cursor (0: done). Every key present for the whole scan is
 * returned at least once, also across resizes; a key may be returned twice. Only the low 48
 * bits of cursor are used; the result is below 2^48, so the caller may use the bits above
 * (for example for the lane). */
uint64_t kv_db_scan(struct kv_db *db, uint64_t cursor, const struct kv_scan_args *args,
		    int64_t now_ms, struct resp_out *out, uint64_t *keys);

/* Checks FLUSHALL / FLUSHDB's arguments ([ASYNC|SYNC]); false after writing Redis's error. */
bool kv_flush_args_ok_or_reply(uint32_t argc, const struct resp_arg *argv, struct resp_out *out);

/* Redis's glob matching (stringmatchlen), case-sensitive or not. */
bool kv_match(const char *pattern, size_t pattern_len, const char *str, size_t str_len,
	      bool nocase);

/* ---- The command table ---- */

/* What the dataplane does with a command. */
#define KV_CMD_READ       (1u << 0)  /* kv_cmd_exec() at once on the lane's db */
#define KV_CMD_WRITE      (1u << 1)  /* kv_cmd_prepare(), log, then kv_cmd_exec() */
#define KV_CMD_CONN       (1u << 2)  /* run by the connection layer (no handler here) */
#define KV_CMD_ALL_LANES  (1u << 3)  /* run on every lane by the lane module (db functions) */
#define KV_CMD_NO_DB      (1u << 4)  /* kv_cmd_exec() with db = NULL: touches no keys */
#define KV_CMD_INTERNAL   (1u << 5)  /* only in log records; clients get "unknown command" */
#define KV_CMD_CONTAINER  (1u << 6)  /* has subcommands; look up argv[1] (kv_cmd_resolve) */

#define KV_BIT(x) (1u << (x))

/* Redis's command flags, as COMMAND reports them. */
enum kv_redis_flag {
	KV_RF_WRITE, KV_RF_READONLY, KV_RF_DENYOOM, KV_RF_MODULE, KV_RF_ADMIN, KV_RF_PUBSUB,
	KV_RF_NOSCRIPT, KV_RF_BLOCKING, KV_RF_LOADING, KV_RF_STALE, KV_RF_SKIP_MONITOR,
	KV_RF_SKIP_SLOWLOG, KV_RF_ASKING, KV_RF_FAST, KV_RF_NO_AUTH, KV_RF_MAY_REPLICATE,
	KV_RF_SENTINEL, KV_RF_ONLY_SENTINEL, KV_RF_NO_MANDATORY_KEYS, KV_RF_PROTECTED,
	KV_RF_MODULE_GETKEYS, KV_RF_MODULE_NO_CLUSTER, KV_RF_NO_ASYNC_LOADING,
	KV_RF_NO_MULTI, KV_RF_MOVABLE_KEYS, KV_RF_ALLOW_BUSY, KV_RF_COUNT
};

/* Redis's ACL categories, in the order COMMAND lists them. */
enum kv_acl_cat {
	KV_ACL_KEYSPACE, KV_ACL_READ, KV_ACL_WRITE, KV_ACL_SET, KV_ACL_SORTEDSET, KV_ACL_LIST,
	KV_ACL_HASH, KV_ACL_STRING, KV_ACL_BITMAP, KV_ACL_HYPERLOGLOG, KV_ACL_GEO,
	KV_ACL_STREAM, KV_ACL_PUBSUB, KV_ACL_ADMIN, KV_ACL_FAST, KV_ACL_SLOW,
	KV_ACL_BLOCKING, KV_ACL_DANGEROUS, KV_ACL_CONNECTION, KV_ACL_TRANSACTION,
	KV_ACL_SCRIPTING, KV_ACL_COUNT
};

/* Key spec flags (Redis 7), in the order COMMAND lists them. */
enum kv_key_flag {
	KV_KF_RO, KV_KF_RW, KV_KF_OW, KV_KF_RM, KV_KF_ACCESS, KV_KF_UPDATE, KV_KF_INSERT,
	KV_KF_DELETE, KV_KF_NOT_KEY, KV_KF_INCOMPLETE, KV_KF_VARIABLE_FLAGS, KV_KF_COUNT
};

/* One key spec of the form every command here has: begin_search by index, find_keys by
 * range. */
struct kv_key_spec {
	const char *notes;
	uint32_t flags;     /* KV_BIT(enum kv_key_flag) */
	int16_t index;      /* begin_search index */
	int16_t lastkey;    /* range: last key relative to the first (-1 = the last argument) */
	int16_t keystep;
	int16_t limit;
};

struct kv_db;
struct kv_enc;

typedef void (*kv_exec_fn)(struct kv_db *db, uint32_t argc, const struct resp_arg *argv,
			   int64_t now_ms, struct resp_out *out);
typedef int (*kv_prepare_fn)(uint32_t argc, const struct resp_arg *argv, int64_t now_ms,
			     struct kv_enc *enc, struct resp_out *err);

struct kv_cmd {
	const char *name;            /* lower case; a subcommand's own name ("get") */
	const char *fullname;        /* "get", "config|get" */
	const struct kv_cmd *subs;   /* subcommands (KV_CMD_CONTAINER) */
	uint16_t subs_count;
	int16_t arity;               /* Redis's: n exactly, or -n for at least n */
	uint32_t kind;               /* KV_CMD_* */
	uint32_t flags;              /* KV_BIT(enum kv_redis_flag) */
	uint32_t acl;                /* KV_BIT(enum kv_acl_cat) */
	int16_t key_first, key_last, key_step; /* legacy key positions (0 0 0: no keys) */
	uint16_t log_id;             /* the id in encoded commands, 0 if never logged */
	const char *const *tips;     /* NULL-terminated, or NULL */
	const struct kv_key_spec *key_spec; /* NULL: no keys */
	const char *since, *group, *summary; /* for COMMAND DOCS */
	kv_exec_fn exec;             /* NULL for KV_CMD_CONN and KV_CMD_ALL_LANES */
	kv_prepare_fn prepare;       /* KV_CMD_WRITE only */
};

/* The command named name[0..len) (any case), or NULL. Internal commands are not found. */
const struct kv_cmd *kv_cmd_lookup(const char *name, size_t len);
/* Looks up argv[0] and, for a container, the subcommand argv[1], and checks the arity. On a
 * miss writes Redis's error (unknown command, unknown subcommand, wrong number of arguments)
 * to out and returns NULL. */
const struct kv_cmd *kv_cmd_resolve_or_reply(uint32_t argc, const struct resp_arg *argv,
					     struct resp_out *out);
bool kv_cmd_arity_ok(const struct kv_cmd *cmd, uint32_t argc);

/* "ERR unknown command 'foo', with args beginning with: 'a' 'b' " */
void kv_reply_unknown_command(struct resp_out *out, uint32_t argc, const struct resp_arg *argv);
/* "ERR wrong number of arguments for 'get' command" */
void kv_reply_wrong_arity(struct resp_out *out, const struct kv_cmd *cmd);

/* Runs a READ, NO_DB or WRITE command (decoded from an entry, or directly); argv[0] is the
 * command name and the arity must have been checked. db may be NULL for KV_CMD_NO_DB. An
 * argument longer than KV_STRING_BYTES_MAX is answered with Redis's size error. */
void kv_cmd_exec(const struct kv_cmd *cmd, struct kv_db *db, uint32_t argc,
		 const struct resp_arg *argv, int64_t now_ms, struct resp_out *out);

/* Checks a WRITE command and appends its deterministic form to enc. Returns 0, or a negative
 * errno after writing the error reply to err (nothing is appended): -EINVAL for a syntax
 * error, -ENOMEM if enc could not grow. The arity must have been checked. */
int kv_cmd_prepare(const struct kv_cmd *cmd, uint32_t argc, const struct resp_arg *argv,
		   int64_t now_ms, struct kv_enc *enc, struct resp_out *err);

/* The replies of COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS,
 * GETKEYSANDFLAGS, HELP), generated from the table; argv[0] = "COMMAND". */
void kv_command_reply(uint32_t argc, const struct resp_arg *argv, struct resp_out *out);

/* The keys of a command's arguments by its key spec: fills pos[] with argument indexes and
 * returns how many (at most max). For MGET, DEL, ...: the lane module splits by these. */
uint32_t kv_cmd_keys(const struct kv_cmd *cmd, uint32_t argc, uint32_t *pos, uint32_t max);

/* All top-level commands, for tests and COMMAND. */
const struct kv_cmd *kv_cmd_table(size_t *count);

/* ---- Encoded commands: the payload of log entries ---- */

/* A growable byte buffer of encoded commands; zero-initialised is a valid empty one. */
struct kv_enc {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint32_t count; /* commands appended */
};

void kv_enc_reset(struct kv_enc *enc); /* empties it, keeping the memory */
void kv_enc_free(struct kv_enc *enc);

/* The internal record of active expiry on a replicated lane: deletes key if it is expired
 * at the entry's time (and does nothing otherwise). Returns 0 or -ENOMEM. */
int kv_enc_expired_key(struct kv_enc *enc, const char *key, size_t len);
/* The internal record that empties the lane (FLUSHALL / FLUSHDB). */
int kv_enc_flush(struct kv_enc *enc);

/* One decoded command. argv points into the entry's bytes (argv[0] is the command name). */
struct kv_dec {
	const struct kv_cmd *cmd;
	uint32_t argc;
	struct resp_arg *argv;
	uint32_t argv_cap;
};

void kv_dec_free(struct kv_dec *dec); /* zero-initialised is a valid empty kv_dec */

/* Decodes the command at buf[*pos..len): 1 and *pos advanced, 0 at the end of the buffer,
 * -EBADMSG if the bytes are not a valid command (never reads out of bounds), -ENOMEM. */
int kv_enc_next(struct kv_dec *dec, const uint8_t *buf, size_t len, size_t *pos);
/* Checks that a whole entry decodes, so that a corrupt one is refused before any of it is
 * applied. Returns the number of commands or -EBADMSG / -ENOMEM. */
int64_t kv_enc_check(const uint8_t *buf, size_t len);

/* ---- Snapshots ---- */

struct kv_snapshot;

/* A point-in-time image of db, produced incrementally while the db keeps changing (an object
 * about to change or go while the snapshot still needs it is handed to the snapshot first).
 * One snapshot per db at a time. NULL if memory is short. */
struct kv_snapshot *kv_snapshot_begin(struct kv_db *db);
/* Writes the next bytes of the stream to buf (at most cap) and returns how many; does a
 * bounded amount of work per call (it may return 0 bytes before the end). */
size_t kv_snapshot_next(struct kv_snapshot *snap, void *buf, size_t cap);
/* True once the whole stream has been returned. */
bool kv_snapshot_done(const struct kv_snapshot *snap);
/* 0, or -ENOMEM if the snapshot could not keep an object it needed (the stream is then
 * incomplete: discard it and take another). */
int kv_snapshot_error(const struct kv_snapshot *snap);
/* Ends the snapshot (done or not) and gives back what it held. */
void kv_snapshot_end(struct kv_snapshot *snap);

/* Rebuilds a db from a stream, fed in pieces of any size. */
struct kv_snapshot_loader;
struct kv_snapshot_loader *kv_snapshot_load_begin(unsigned arena);
/* 0, or -EBADMSG for a corrupt stream (then only kv_snapshot_load_abort()), -ENOMEM. */
int kv_snapshot_load_feed(struct kv_snapshot_loader *ld, const void *buf, size_t len);
/* Returns the db if the stream was complete and valid (NULL otherwise, with *err set);
 * frees the loader either way. */
struct kv_db *kv_snapshot_load_end(struct kv_snapshot_loader *ld, int *err);
void kv_snapshot_load_abort(struct kv_snapshot_loader *ld);
/* Convenience: the whole stream in one buffer. */
struct kv_db *kv_snapshot_load(unsigned arena, const void *buf, size_t len, int *err);

#endif
