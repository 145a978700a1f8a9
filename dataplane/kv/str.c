/* The string commands, with Redis 7.0's semantics and reply bytes, and the prepare step of
 * each write: the same parsing (so a syntax error is answered before anything is logged),
 * then the deterministic form to log (a relative expiry becomes PXAT with an absolute time).
 *
 * A write looks keys up with kv_db_find_write() (an expired key is deleted first, the same on
 * every replica since they all run the entry at its time); a read with kv_db_find(), which
 * never changes the db. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"
#include "kv/cmds.h"
#include "kv/db.h"
#include "kv/num.h"

#define RESP_OOM "ERR out of memory"

static void reply_oom(struct resp_out *out)
{
	resp_add_error(out, RESP_OOM);
}

/* ---- SET and its options (parseExtendedStringArgumentsOrReply) ---- */

enum set_flag {
	SET_NX = 1 << 0, SET_XX = 1 << 1, SET_GET = 1 << 2, SET_KEEPTTL = 1 << 3,
	SET_PERSIST = 1 << 4, SET_EX = 1 << 5, SET_PX = 1 << 6, SET_EXAT = 1 << 7,
	SET_PXAT = 1 << 8,
};
#define SET_ANY_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

struct set_opts {
	unsigned flags;
	const struct resp_arg *expire; /* the time argument of EX/PX/EXAT/PXAT */
};

/* Which options are allowed, and with what they conflict, exactly as Redis checks them
 * (a repeated EX, for example, is accepted and the last one wins). */
static bool set_opt_allowed(unsigned flags, unsigned opt, bool is_set)
{
	switch (opt) {
	case SET_NX: return is_set && !(flags & SET_XX);
	case SET_XX: return is_set && !(flags & SET_NX);
	case SET_GET: return is_set;
	case SET_KEEPTTL: return is_set && !(flags & (SET_PERSIST | SET_ANY_EXPIRE));
	case SET_PERSIST: return !is_set && !(flags & (SET_ANY_EXPIRE | SET_KEEPTTL));
	default: return !(flags & (SET_KEEPTTL | SET_PERSIST | (SET_ANY_EXPIRE & ~opt)));
	}
}

static unsigned set_opt_word(const struct resp_arg *a)
{
	static const struct { const char *word; unsigned flag; } words[] = {
		{ "nx", SET_NX }, { "xx", SET_XX }, { "get", SET_GET }, { "keepttl", SET_KEEPTTL },
		{ "persist", SET_PERSIST }, { "ex", SET_EX }, { "px", SET_PX },
		{ "exat", SET_EXAT }, { "pxat", SET_PXAT },
	};
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		if (kv_arg_is(a, words[i].word))
			return words[i].flag;
	}
	return 0;
}

/* Parses argv[first..argc) as SET (is_set) or GETEX options. */
static bool set_parse_or_reply(uint32_t argc, const struct resp_arg *argv, uint32_t first,
			       bool is_set, struct set_opts *o, struct resp_out *out)
{
	memset(o, 0, sizeof(*o));
	for (uint32_t j = first; j < argc; j++) {
		unsigned opt = set_opt_word(&argv[j]);
		bool takes_value = (opt & SET_ANY_EXPIRE) != 0;
		if (opt == 0 || !set_opt_allowed(o->flags, opt, is_set) ||
		    (takes_value && j + 1 == argc)) {
			resp_add_error(out, RESP_ERR_SYNTAX);
			return false;
		}
		o->flags |= opt;
		if (takes_value)
			o->expire = &argv[++j];
	}
	return true;
}

enum expire_err { EXPIRE_OK, EXPIRE_NOT_INTEGER, EXPIRE_INVALID };

/* The absolute expiry time of an EX/PX/EXAT/PXAT argument (getExpireMillisecondsOrReply). */
static enum expire_err set_expire_ms(const struct set_opts *o, int64_t now_ms, int64_t *when_ms)
{
	int64_t ms;
	if (!kv_num_parse_ll(o->expire->ptr, o->expire->len, &ms))
		return EXPIRE_NOT_INTEGER;
	bool seconds = o->flags & (SET_EX | SET_EXAT);
	if (ms <= 0 || (seconds && ms > INT64_MAX / 1000))
		return EXPIRE_INVALID;
	if (seconds)
		ms *= 1000;
	if (o->flags & (SET_EX | SET_PX)) {
		if (ms > INT64_MAX - now_ms)
			return EXPIRE_INVALID;
		ms += now_ms;
	}
	*when_ms = ms;
	return EXPIRE_OK;
}

static bool set_expire_ms_or_reply(const struct set_opts *o, int64_t now_ms, const char *cmd,
				   int64_t *when_ms, struct resp_out *out)
{
	switch (set_expire_ms(o, now_ms, when_ms)) {
	case EXPIRE_OK:
		return true;
	case EXPIRE_NOT_INTEGER:
		resp_add_error(out, RESP_ERR_NOT_INTEGER);
		return false;
	case EXPIRE_INVALID:
		break;
	}
	resp_add_errorf(out, "ERR invalid expire time in '%s' command", cmd);
	return false;
}

/* The value of key for GET-like replies: the bulk or a null. */
static void reply_value(struct resp_out *out, const struct kv_obj *o)
{
	if (o == NULL)
		resp_add_null(out);
	else
		resp_add_bulk(out, kv_obj_cval(o), o->val_len);
}

enum set_reply { SET_REPLY_OK, SET_REPLY_INT };

/* setGenericCommand once the options are checked; when_ms < 0: no expiry given. */
static void set_run(struct kv_db *db, const struct resp_arg *key, const struct resp_arg *val,
		    unsigned flags, int64_t when_ms, int64_t now_ms, enum set_reply kind,
		    struct resp_out *out)
{
	struct kv_ref ref;
	if (flags & SET_GET) {
		struct kv_obj *old = kv_db_find(db, key->ptr, key->len, now_ms, &ref);
		reply_value(out, old);
	}
	struct kv_obj *o = kv_db_find_write(db, key->ptr, key->len, now_ms, &ref);
	if (((flags & SET_NX) && o != NULL) || ((flags & SET_XX) && o == NULL)) {
		if (!(flags & SET_GET)) {
			if (kind == SET_REPLY_INT)
				resp_add_int(out, 0);
			else
				resp_add_null(out);
		}
		return;
	}
	bool stored = kv_db_store(db, &ref, key->ptr, key->len, val->ptr, val->len,
				  flags & SET_KEEPTTL) != NULL;
	if (stored && when_ms >= 0)
		stored = kv_db_expire_set(db, &ref, when_ms) == 0;
	if (flags & SET_GET)
		return;
	if (!stored)
		reply_oom(out);
	else if (kind == SET_REPLY_INT)
		resp_add_int(out, 1);
	else
		resp_add_simple(out, "OK");
}

KV_EXEC(set)
{
	struct set_opts o;
	int64_t when_ms = -1;
	if (!set_parse_or_reply(argc, argv, 3, true, &o, out))
		return;
	if (o.expire != NULL && !set_expire_ms_or_reply(&o, now_ms, "set", &when_ms, out))
		return;
	set_run(db, &argv[1], &argv[2], o.flags, when_ms, now_ms, SET_REPLY_OK, out);
}

/* Logs SET key value [NX|XX] [GET] [KEEPTTL] [PXAT when]. */
static int set_encode(struct kv_enc *enc, const struct resp_arg *key,
		      const struct resp_arg *val, unsigned flags, int64_t when_ms,
		      struct resp_out *err)
{
	char num[KV_LL_STR_BYTES];
	struct resp_arg a[8] = { { "set", 3 }, *key, *val };
	uint32_t n = 3;
	if (flags & SET_NX)
		a[n++] = (struct resp_arg){ "NX", 2 };
	if (flags & SET_XX)
		a[n++] = (struct resp_arg){ "XX", 2 };
	if (flags & SET_GET)
		a[n++] = (struct resp_arg){ "GET", 3 };
	if (flags & SET_KEEPTTL)
		a[n++] = (struct resp_arg){ "KEEPTTL", 7 };
	if (when_ms >= 0) {
		a[n++] = (struct resp_arg){ "PXAT", 4 };
		a[n++] = (struct resp_arg){ num, kv_num_print_ll(num, when_ms) };
	}
	if (kv_enc_append(enc, KV_LOG_SET, n, a) != 0)
		return kv_enc_oom_reply(err);
	return 0;
}

KV_PREPARE(set)
{
	struct set_opts o;
	int64_t when_ms = -1;
	if (!set_parse_or_reply(argc, argv, 3, true, &o, err))
		return -EINVAL;
	if (o.expire != NULL && !set_expire_ms_or_reply(&o, now_ms, "set", &when_ms, err))
		return -EINVAL;
	return set_encode(enc, &argv[1], &argv[2], o.flags, when_ms, err);
}

KV_EXEC(setnx)
{
	(void)argc;
	set_run(db, &argv[1], &argv[2], SET_NX, -1, now_ms, SET_REPLY_INT, out);
}

/* SETEX key seconds value, PSETEX key ms value. */
static bool setex_when_or_reply(const struct resp_arg *argv, unsigned unit, int64_t now_ms,
				int64_t *when_ms, struct resp_out *out)
{
	struct set_opts o = { .flags = unit, .expire = &argv[2] };
	return set_expire_ms_or_reply(&o, now_ms, unit == SET_EX ? "setex" : "psetex", when_ms,
				      out);
}

KV_EXEC(setex)
{
	(void)argc;
	int64_t when_ms;
	if (setex_when_or_reply(argv, SET_EX, now_ms, &when_ms, out))
		set_run(db, &argv[1], &argv[3], 0, when_ms, now_ms, SET_REPLY_OK, out);
}

KV_EXEC(psetex)
{
	(void)argc;
	int64_t when_ms;
	if (setex_when_or_reply(argv, SET_PX, now_ms, &when_ms, out))
		set_run(db, &argv[1], &argv[3], 0, when_ms, now_ms, SET_REPLY_OK, out);
}

KV_PREPARE(setex)
{
	(void)argc;
	int64_t when_ms;
	if (!setex_when_or_reply(argv, SET_EX, now_ms, &when_ms, err))
		return -EINVAL;
	return set_encode(enc, &argv[1], &argv[3], 0, when_ms, err);
}

KV_PREPARE(psetex)
{
	(void)argc;
	int64_t when_ms;
	if (!setex_when_or_reply(argv, SET_PX, now_ms, &when_ms, err))
		return -EINVAL;
	return set_encode(enc, &argv[1], &argv[3], 0, when_ms, err);
}

/* ---- GET, GETSET, GETDEL, GETEX, MGET ---- */

KV_EXEC(get)
{
	(void)argc;
	struct kv_ref ref;
	reply_value(out, kv_db_find(db, argv[1].ptr, argv[1].len, now_ms, &ref));
}

KV_EXEC(getset)
{
	(void)argc;
	set_run(db, &argv[1], &argv[2], SET_GET, -1, now_ms, SET_REPLY_OK, out);
}

KV_EXEC(getdel)
{
	(void)argc;
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find_write(db, argv[1].ptr, argv[1].len, now_ms, &ref);
	reply_value(out, o);
	if (o != NULL)
		kv_db_delete(db, &ref);
}

KV_EXEC(getex)
{
	struct set_opts o;
	int64_t when_ms = -1;
	if (!set_parse_or_reply(argc, argv, 2, false, &o, out))
		return;
	struct kv_ref ref;
	struct kv_obj *obj = kv_db_find_write(db, argv[1].ptr, argv[1].len, now_ms, &ref);
	if (obj == NULL) {
		resp_add_null(out);
		return;
	}
	if (o.expire != NULL && !set_expire_ms_or_reply(&o, now_ms, "getex", &when_ms, out))
		return;
	reply_value(out, obj);
	/* An absolute time already past deletes the key (checkAlreadyExpired). */
	if ((o.flags & (SET_EXAT | SET_PXAT)) && when_ms <= now_ms)
		kv_db_delete(db, &ref);
	else if (o.expire != NULL || (o.flags & SET_PERSIST))
		kv_db_expire_set(db, &ref, o.expire != NULL ? when_ms : -1);
}

/* GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]: a valid time is logged as PXAT.
 * An invalid one is logged as given: whether it is an error depends on whether the key
 * exists (a missing key answers nil first), which only the entry's execution knows. */
KV_PREPARE(getex)
{
	struct set_opts o;
	int64_t when_ms;
	if (!set_parse_or_reply(argc, argv, 2, false, &o, err))
		return -EINVAL;
	if (o.expire == NULL || set_expire_ms(&o, now_ms, &when_ms) != EXPIRE_OK) {
		if (kv_enc_append(enc, KV_LOG_GETEX, argc, argv) != 0)
			return kv_enc_oom_reply(err);
		return 0;
	}
	char num[KV_LL_STR_BYTES];
	struct resp_arg a[4] = { { "getex", 5 }, argv[1], { "PXAT", 4 },
				 { num, kv_num_print_ll(num, when_ms) } };
	if (kv_enc_append(enc, KV_LOG_GETEX, 4, a) != 0)
		return kv_enc_oom_reply(err);
	return 0;
}

KV_EXEC(mget)
{
	resp_add_array(out, argc - 1);
	for (uint32_t i = 1; i < argc; i++) {
		struct kv_ref ref;
		reply_value(out, kv_db_find(db, argv[i].ptr, argv[i].len, now_ms, &ref));
	}
}

/* ---- MSET, MSETNX ---- */

static bool mset_arity_or_reply(uint32_t argc, const char *cmd, struct resp_out *out)
{
	if (argc % 2 == 1)
		return true;
	resp_add_errorf(out, "ERR wrong number of arguments for '%s' command", cmd);
	return false;
}

static void mset_run(struct kv_db *db, uint32_t argc, const struct resp_arg *argv,
		     int64_t now_ms, bool nx, struct resp_out *out)
{
	struct kv_ref ref;
	if (nx) {
		for (uint32_t j = 1; j < argc; j += 2) {
			if (kv_db_find_write(db, argv[j].ptr, argv[j].len, now_ms, &ref) != NULL) {
				resp_add_int(out, 0);
				return;
			}
		}
	}
	bool stored = true;
	for (uint32_t j = 1; j < argc; j += 2) {
		kv_db_find_write(db, argv[j].ptr, argv[j].len, now_ms, &ref);
		stored &= kv_db_store(db, &ref, argv[j].ptr, argv[j].len, argv[j + 1].ptr,
				      argv[j + 1].len, false) != NULL;
	}
	if (!stored)
		reply_oom(out);
	else if (nx)
		resp_add_int(out, 1);
	else
		resp_add_simple(out, "OK");
}

KV_EXEC(mset)
{
	if (mset_arity_or_reply(argc, "mset", out))
		mset_run(db, argc, argv, now_ms, false, out);
}

KV_EXEC(msetnx)
{
	if (mset_arity_or_reply(argc, "msetnx", out))
		mset_run(db, argc, argv, now_ms, true, out);
}

KV_PREPARE(mset)
{
	if (!mset_arity_or_reply(argc, "mset", err))
		return -EINVAL;
	return kv_prepare_verbatim(argc, argv, now_ms, enc, err);
}

KV_PREPARE(msetnx)
{
	if (!mset_arity_or_reply(argc, "msetnx", err))
		return -EINVAL;
	return kv_prepare_verbatim(argc, argv, now_ms, enc, err);
}

/* ---- INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT ---- */

/* Stores a new value for ref's key (created if missing), keeping any TTL. */
static bool store_keep_ttl(struct kv_db *db, struct kv_ref *ref, const struct resp_arg *key,
			   const char *val, size_t len)
{
	return kv_db_store(db, ref, key->ptr, key->len, val, len, true) != NULL;
}

static void incr_run(struct kv_db *db, const struct resp_arg *key, int64_t incr,
		     int64_t now_ms, struct resp_out *out)
{
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find_write(db, key->ptr, key->len, now_ms, &ref);
	int64_t value = 0;
	if (o != NULL && !kv_num_parse_ll(kv_obj_cval(o), o->val_len, &value)) {
		resp_add_error(out, RESP_ERR_NOT_INTEGER);
		return;
	}
	if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
	    (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
		resp_add_error(out, RESP_ERR_OVERFLOW);
		return;
	}
	value += incr;
	char num[KV_LL_STR_BYTES];
	if (!store_keep_ttl(db, &ref, key, num, kv_num_print_ll(num, value)))
		reply_oom(out);
	else
		resp_add_int(out, value);
}

KV_EXEC(incr)
{
	(void)argc;
	incr_run(db, &argv[1], 1, now_ms, out);
}

KV_EXEC(decr)
{
	(void)argc;
	incr_run(db, &argv[1], -1, now_ms, out);
}

/* DECRBY of INT64_MIN cannot be negated. */
static bool decrby_arg_or_reply(const struct resp_arg *a, int64_t *incr, struct resp_out *out)
{
	int64_t v;
	if (!kv_arg_ll_or_reply(a, &v, out))
		return false;
	if (v == INT64_MIN) {
		resp_add_error(out, "ERR decrement would overflow");
		return false;
	}
	*incr = -v;
	return true;
}

KV_EXEC(incrby)
{
	(void)argc;
	int64_t incr;
	if (kv_arg_ll_or_reply(&argv[2], &incr, out))
		incr_run(db, &argv[1], incr, now_ms, out);
}

KV_EXEC(decrby)
{
	(void)argc;
	int64_t incr;
	if (decrby_arg_or_reply(&argv[2], &incr, out))
		incr_run(db, &argv[1], incr, now_ms, out);
}

KV_PREPARE(incrby)
{
	int64_t incr;
	if (!kv_arg_ll_or_reply(&argv[2], &incr, err))
		return -EINVAL;
	return kv_prepare_verbatim(argc, argv, now_ms, enc, err);
}

KV_PREPARE(decrby)
{
	int64_t incr;
	if (!decrby_arg_or_reply(&argv[2], &incr, err))
		return -EINVAL;
	return kv_prepare_verbatim(argc, argv, now_ms, enc, err);
}

/* Long double arithmetic, as Redis: the stored result is the "%.17Lf" text, so every replica
 * (same binary, same x87 long double) stores the same bytes. */
KV_EXEC(incrbyfloat)
{
	(void)argc;
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find_write(db, argv[1].ptr, argv[1].len, now_ms, &ref);
	long double value = 0, incr;
	if ((o != NULL && !kv_num_parse_ld(kv_obj_cval(o), o->val_len, &value)) ||
	    !kv_num_parse_ld(argv[2].ptr, argv[2].len, &incr)) {
		resp_add_error(out, RESP_ERR_NOT_FLOAT);
		return;
	}
	value += incr;
	if (isnan(value) || isinf(value)) {
		resp_add_error(out, "ERR increment would produce NaN or Infinity");
		return;
	}
	char num[KV_LD_STR_BYTES];
	size_t len = kv_num_print_ld(num, value);
	if (!store_keep_ttl(db, &ref, &argv[1], num, len))
		reply_oom(out);
	else
		resp_add_bulk(out, num, len);
}

KV_PREPARE(incrbyfloat)
{
	long double incr;
	if (!kv_num_parse_ld(argv[2].ptr, argv[2].len, &incr)) {
		resp_add_error(err, RESP_ERR_NOT_FLOAT);
		return -EINVAL;
	}
	return kv_prepare_verbatim(argc, argv, now_ms, enc, err);
}

/* ---- APPEND, STRLEN, GETRANGE, SETRANGE ---- */

/* checkStringLength: would size + append bytes pass the 512 MB limit? */
static bool string_len_ok_or_reply(uint64_t size, uint64_t append, struct resp_out *out)
{
	if (size + append <= KV_STRING_BYTES_MAX)
		return true;
	resp_add_error(out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
	return false;
}

KV_EXEC(append)
{
	(void)argc;
	struct kv_ref ref;
	const struct resp_arg *val = &argv[2];
	struct kv_obj *o = kv_db_find_write(db, argv[1].ptr, argv[1].len, now_ms, &ref);
	if (o == NULL) {
		o = kv_db_store(db, &ref, argv[1].ptr, argv[1].len, val->ptr, val->len, false);
	} else {
		if (!string_len_ok_or_reply(o->val_len, val->len, out))
			return;
		size_t old = o->val_len;
		o = kv_db_resize_value(db, &ref, old + val->len);
		if (o != NULL)
			memcpy(kv_obj_val(o) + old, val->ptr, val->len);
	}
	if (o == NULL)
		reply_oom(out);
	else
		resp_add_int(out, o->val_len);
}

KV_EXEC(strlen)
{
	(void)argc;
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find(db, argv[1].ptr, argv[1].len, now_ms, &ref);
	resp_add_int(out, o != NULL ? o->val_len : 0);
}

KV_EXEC(getrange)
{
	(void)argc;
	int64_t start, end;
	if (!kv_arg_ll_or_reply(&argv[2], &start, out) || !kv_arg_ll_or_reply(&argv[3], &end, out))
		return;
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find(db, argv[1].ptr, argv[1].len, now_ms, &ref);
	int64_t len = o != NULL ? o->val_len : 0;
	if (o == NULL || (start < 0 && end < 0 && start > end)) {
		resp_add_bulk(out, "", 0);
		return;
	}
	if (start < 0)
		start += len;
	if (end < 0)
		end += len;
	start = MAX(start, 0);
	end = MAX(end, 0);
	if (end >= len)
		end = len - 1;
	if (start > end || len == 0)
		resp_add_bulk(out, "", 0);
	else
		resp_add_bulk(out, kv_obj_cval(o) + start, (size_t)(end - start + 1));
}

/* SETRANGE's offset: an integer, not negative, and (with a value to write) in bounds. */
static bool setrange_offset_or_reply(const struct resp_arg *argv, int64_t *offset,
				     struct resp_out *out)
{
	if (!kv_arg_ll_or_reply(&argv[2], offset, out))
		return false;
	if (*offset < 0) {
		resp_add_error(out, "ERR offset is out of range");
		return false;
	}
	return argv[3].len == 0 || string_len_ok_or_reply((uint64_t)*offset, argv[3].len, out);
}

KV_EXEC(setrange)
{
	(void)argc;
	int64_t offset;
	if (!setrange_offset_or_reply(argv, &offset, out))
		return;
	const struct resp_arg *val = &argv[3];
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find_write(db, argv[1].ptr, argv[1].len, now_ms, &ref);
	if (val->len == 0) {
		resp_add_int(out, o != NULL ? o->val_len : 0);
		return;
	}
	size_t end = (size_t)offset + val->len;
	if (o == NULL) {
		o = kv_db_store(db, &ref, argv[1].ptr, argv[1].len, NULL, end, false);
	} else if (end > o->val_len) {
		o = kv_db_resize_value(db, &ref, end);
	} else {
		/* Same length: still a change the snapshot must not see. */
		o = kv_db_resize_value(db, &ref, o->val_len);
	}
	if (o == NULL) {
		reply_oom(out);
		return;
	}
	memcpy(kv_obj_val(o) + offset, val->ptr, val->len);
	resp_add_int(out, o->val_len);
}

KV_PREPARE(setrange)
{
	int64_t offset;
	if (!setrange_offset_or_reply(argv, &offset, err))
		return -EINVAL;
	return kv_prepare_verbatim(argc, argv, now_ms, enc, err);
}
