/* The keyspace commands (DEL UNLINK EXISTS EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL PERSIST
 * TYPE), PING and ECHO, and the internal commands of log records (delete-if-expired, flush),
 * with Redis 7.0's semantics and reply bytes. The EXPIRE family is logged as PEXPIREAT with
 * an absolute time. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base/compiler.h"
#include "kv/cmds.h"
#include "kv/db.h"
#include "kv/num.h"

KV_EXEC(ping)
{
	(void)db;
	(void)now_ms;
	if (argc > 2)
		resp_add_error(out, "ERR wrong number of arguments for 'ping' command");
	else if (argc == 1)
		resp_add_simple(out, "PONG");
	else
		resp_add_bulk(out, argv[1].ptr, argv[1].len);
}

KV_EXEC(echo)
{
	(void)db;
	(void)argc;
	(void)now_ms;
	resp_add_bulk(out, argv[1].ptr, argv[1].len);
}

static void del_run(struct kv_db *db, uint32_t argc, const struct resp_arg *argv,
		    int64_t now_ms, struct resp_out *out)
{
	int64_t deleted = 0;
	for (uint32_t i = 1; i < argc; i++) {
		struct kv_ref ref;
		if (kv_db_find_write(db, argv[i].ptr, argv[i].len, now_ms, &ref) != NULL) {
			kv_db_delete(db, &ref);
			deleted++;
		}
	}
	resp_add_int(out, deleted);
}

KV_EXEC(del)
{
	del_run(db, argc, argv, now_ms, out);
}

/* UNLINK frees in the background in Redis; here the memory of one key is freed at once
 * (a string is one allocation), so it is DEL. */
KV_EXEC(unlink)
{
	del_run(db, argc, argv, now_ms, out);
}

KV_EXEC(exists)
{
	int64_t count = 0;
	for (uint32_t i = 1; i < argc; i++)
		count += kv_db_exists(db, argv[i].ptr, argv[i].len, now_ms);
	resp_add_int(out, count);
}

KV_EXEC(type)
{
	(void)argc;
	resp_add_simple(out, kv_db_exists(db, argv[1].ptr, argv[1].len, now_ms) ? "string" : "none");
}

static void ttl_run(struct kv_db *db, const struct resp_arg *key, int64_t now_ms, bool ms,
		    struct resp_out *out)
{
	int64_t when = kv_db_expire_get(db, key->ptr, key->len, now_ms);
	if (when < 0) {
		resp_add_int(out, when); /* -2 missing, -1 no TTL */
		return;
	}
	int64_t ttl = MAX(when - now_ms, 0);
	resp_add_int(out, ms ? ttl : (ttl + 500) / 1000);
}

KV_EXEC(ttl)
{
	(void)argc;
	ttl_run(db, &argv[1], now_ms, false, out);
}

KV_EXEC(pttl)
{
	(void)argc;
	ttl_run(db, &argv[1], now_ms, true, out);
}

KV_EXEC(persist)
{
	(void)argc;
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find_write(db, argv[1].ptr, argv[1].len, now_ms, &ref);
	if (o == NULL || o->vol_idx == KV_VOL_NONE) {
		resp_add_int(out, 0);
		return;
	}
	if (kv_db_expire_set(db, &ref, -1) != 0)
		kv_enc_oom_reply(out);
	else
		resp_add_int(out, 1);
}

/* ---- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (expireGenericCommand) ---- */

enum expire_flag { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

static bool expire_flags_or_reply(uint32_t argc, const struct resp_arg *argv, unsigned *flags,
				  struct resp_out *out)
{
	static const struct { const char *word; unsigned flag; } words[] = {
		{ "nx", EXP_NX }, { "xx", EXP_XX }, { "gt", EXP_GT }, { "lt", EXP_LT },
	};
	*flags = 0;
	for (uint32_t j = 3; j < argc; j++) {
		unsigned f = 0;
		for (size_t w = 0; w < ARRAY_SIZE(words) && f == 0; w++)
			f = kv_arg_is(&argv[j], words[w].word) ? words[w].flag : 0;
		if (f == 0) {
			/* Redis prints the option as a C string. */
			size_t len = argv[j].len > 0 ? strnlen(argv[j].ptr, argv[j].len) : 0;
			resp_add_errorf(out, "ERR Unsupported option %.*s", (int)len, argv[j].ptr);
			return false;
		}
		*flags |= f;
	}
	if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
		resp_add_error(out, "ERR NX and XX, GT or LT options at the same time are not compatible");
		return false;
	}
	if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
		resp_add_error(out, "ERR GT and LT options at the same time are not compatible");
		return false;
	}
	return true;
}

/* The absolute time in ms of a relative (base = now) or absolute (base = 0) argument. */
static bool expire_when_or_reply(const struct resp_arg *arg, bool seconds, int64_t base,
				 const char *cmd, int64_t *when, struct resp_out *out)
{
	int64_t w;
	if (!kv_arg_ll_or_reply(arg, &w, out))
		return false;
	if (seconds) {
		if (w > INT64_MAX / 1000 || w < INT64_MIN / 1000)
			goto invalid;
		w *= 1000;
	}
	if (w > INT64_MAX - base)
		goto invalid;
	*when = w + base;
	return true;
invalid:
	resp_add_errorf(out, "ERR invalid expire time in '%s' command", cmd);
	return false;
}

/* Whether NX/XX/GT/LT let a key whose TTL is `current` (-1: none) take `when`. */
static bool expire_flags_allow(unsigned flags, int64_t current, int64_t when)
{
	if ((flags & EXP_NX) && current != -1)
		return false;
	if ((flags & EXP_XX) && current == -1)
		return false;
	/* No TTL counts as an infinite one: GT never beats it, LT always does. */
	if ((flags & EXP_GT) && (current == -1 || when <= current))
		return false;
	if ((flags & EXP_LT) && current != -1 && when >= current)
		return false;
	return true;
}

static void expire_run(struct kv_db *db, uint32_t argc, const struct resp_arg *argv,
		       int64_t now_ms, bool seconds, bool relative, const char *cmd,
		       struct resp_out *out)
{
	unsigned flags;
	int64_t when;
	if (!expire_flags_or_reply(argc, argv, &flags, out) ||
	    !expire_when_or_reply(&argv[2], seconds, relative ? now_ms : 0, cmd, &when, out))
		return;
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find_write(db, argv[1].ptr, argv[1].len, now_ms, &ref);
	if (o == NULL || !expire_flags_allow(flags, kv_db_obj_expire(db, o), when)) {
		resp_add_int(out, 0);
		return;
	}
	if (when <= now_ms) {
		/* A time already past deletes the key (checkAlreadyExpired). */
		kv_db_delete(db, &ref);
		db->stats.expired_keys++;
	} else if (kv_db_expire_set(db, &ref, when) != 0) {
		kv_enc_oom_reply(out);
		return;
	}
	resp_add_int(out, 1);
}

KV_EXEC(expire)
{
	expire_run(db, argc, argv, now_ms, true, true, "expire", out);
}

KV_EXEC(pexpire)
{
	expire_run(db, argc, argv, now_ms, false, true, "pexpire", out);
}

KV_EXEC(expireat)
{
	expire_run(db, argc, argv, now_ms, true, false, "expireat", out);
}

KV_EXEC(pexpireat)
{
	expire_run(db, argc, argv, now_ms, false, false, "pexpireat", out);
}

/* Logs PEXPIREAT key <absolute ms> [flags...]: the checks that do not depend on the key are
 * answered here, as exec would answer them. */
static int expire_prepare(uint32_t argc, const struct resp_arg *argv, int64_t now_ms,
			  bool seconds, bool relative, const char *cmd, struct kv_enc *enc,
			  struct resp_out *err)
{
	unsigned flags;
	int64_t when;
	if (!expire_flags_or_reply(argc, argv, &flags, err) ||
	    !expire_when_or_reply(&argv[2], seconds, relative ? now_ms : 0, cmd, &when, err))
		return -EINVAL;
	char num[KV_LL_STR_BYTES];
	struct resp_arg a[7] = { { "pexpireat", 9 }, argv[1], { num, kv_num_print_ll(num, when) } };
	uint32_t n = 3;
	static const char *const names[] = { "NX", "XX", "GT", "LT" };
	for (unsigned b = 0; b < ARRAY_SIZE(names); b++) {
		if (flags & (1u << b))
			a[n++] = (struct resp_arg){ names[b], 2 };
	}
	if (kv_enc_append(enc, KV_LOG_PEXPIREAT, n, a) != 0)
		return kv_enc_oom_reply(err);
	return 0;
}

KV_PREPARE(expire)
{
	return expire_prepare(argc, argv, now_ms, true, true, "expire", enc, err);
}

KV_PREPARE(pexpire)
{
	return expire_prepare(argc, argv, now_ms, false, true, "pexpire", enc, err);
}

KV_PREPARE(expireat)
{
	return expire_prepare(argc, argv, now_ms, true, false, "expireat", enc, err);
}

KV_PREPARE(pexpireat)
{
	return expire_prepare(argc, argv, now_ms, false, false, "pexpireat", enc, err);
}

/* ---- Internal commands ---- */

KV_EXEC(flush)
{
	(void)argc;
	(void)argv;
	(void)now_ms;
	kv_db_flush(db);
	resp_add_simple(out, "OK");
}

/* Deletes each key that is expired at the entry's time; a key that was since given a new
 * value or TTL stays. */
KV_EXEC(expired)
{
	int64_t deleted = 0;
	for (uint32_t i = 1; i < argc; i++) {
		struct kv_ref ref;
		uint64_t before = db->stats.expired_keys;
		kv_db_find_write(db, argv[i].ptr, argv[i].len, now_ms, &ref);
		deleted += (int64_t)(db->stats.expired_keys - before);
	}
	resp_add_int(out, deleted);
}
