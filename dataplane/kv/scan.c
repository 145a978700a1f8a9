/* KEYS and SCAN on one db, and FLUSHALL's arguments, for the lane module to run these
 * commands on every lane and gather the results.
 *
 * A SCAN cursor is a position in hash space (table.h); the client sees it bit-reversed, so
 * that a small db gives small cursors, as Redis's do. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base/panic.h"
#include "kv/db.h"
#include "kv/num.h"

#define SCAN_ITERATIONS_PER_COUNT 10 /* table steps per COUNT before giving up (Redis's) */

struct keys_ctx {
	struct kv_db *db;
	const char *pattern;
	size_t pattern_len;
	bool all;
	int64_t now_ms;
	struct resp_out *out;
	uint64_t n;
};

static bool keys_visit(void *ctx, struct kv_obj *o)
{
	struct keys_ctx *k = ctx;
	if (!k->all && !kv_match(k->pattern, k->pattern_len, kv_obj_key(o), o->key_len, false))
		return true;
	if (kv_expired(kv_db_obj_expire(k->db, o), k->now_ms))
		return true;
	resp_add_bulk(k->out, kv_obj_key(o), o->key_len);
	k->n++;
	return true;
}

uint64_t kv_db_keys(struct kv_db *db, const char *pattern, size_t pattern_len, int64_t now_ms,
		    struct resp_out *out)
{
	struct keys_ctx k = {
		.db = db, .pattern = pattern, .pattern_len = pattern_len,
		.all = pattern_len == 1 && pattern[0] == '*', .now_ms = now_ms, .out = out,
	};
	uint64_t pos = 0;
	kv_table_walk(&db->ks.table, &pos, UINT64_MAX, keys_visit, &k);
	return k.n;
}

static bool scan_word(const struct resp_arg *a, const char *word)
{
	return a->len == strlen(word) && strncasecmp(a->ptr, word, a->len) == 0;
}

int kv_scan_args_parse_or_reply(uint32_t argc, const struct resp_arg *argv, uint64_t *cursor,
				struct kv_scan_args *args, struct resp_out *out)
{
	ASSERT(argc >= 2);
	memset(args, 0, sizeof(*args));
	args->count = KV_SCAN_COUNT_DEFAULT;
	if (!kv_num_parse_cursor(argv[1].ptr, argv[1].len, cursor)) {
		resp_add_error(out, "ERR invalid cursor");
		return -EINVAL;
	}
	for (uint32_t i = 2; i < argc; i += 2) {
		bool has_value = argc - i >= 2;
		if (has_value && scan_word(&argv[i], "count")) {
			int64_t count;
			if (!kv_num_parse_ll(argv[i + 1].ptr, argv[i + 1].len, &count)) {
				resp_add_error(out, RESP_ERR_NOT_INTEGER);
				return -EINVAL;
			}
			if (count < 1) {
				resp_add_error(out, RESP_ERR_SYNTAX);
				return -EINVAL;
			}
			args->count = (uint64_t)count;
		} else if (has_value && scan_word(&argv[i], "match")) {
			const struct resp_arg *p = &argv[i + 1];
			bool all = p->len == 1 && p->ptr[0] == '*';
			args->match = all ? NULL : p->ptr;
			args->match_len = all ? 0 : p->len;
		} else if (has_value && scan_word(&argv[i], "type")) {
			args->type_given = true;
			args->type_string = scan_word(&argv[i + 1], "string");
		} else {
			resp_add_error(out, RESP_ERR_SYNTAX);
			return -EINVAL;
		}
	}
	return 0;
}

/* Reverses the low 48 bits (the cursor's bits). */
static uint64_t scan_reverse48(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
	v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
	v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
	v = __builtin_bswap64(v);
	return v >> (64 - KV_SCAN_CURSOR_BITS);
}

struct scan_ctx {
	struct kv_db *db;
	const struct kv_scan_args *args;
	int64_t now_ms;
	struct resp_out *out;
	uint64_t visited, keys;
};

static bool scan_visit(void *ctx, struct kv_obj *o)
{
	struct scan_ctx *s = ctx;
	s->visited++;
	const struct kv_scan_args *a = s->args;
	if (a->match != NULL && !kv_match(a->match, a->match_len, kv_obj_key(o), o->key_len, false))
		return true;
	if (a->type_given && !a->type_string)
		return true;
	if (kv_expired(kv_db_obj_expire(s->db, o), s->now_ms))
		return true;
	resp_add_bulk(s->out, kv_obj_key(o), o->key_len);
	s->keys++;
	return true;
}

uint64_t kv_db_scan(struct kv_db *db, uint64_t cursor, const struct kv_scan_args *args,
		    int64_t now_ms, struct resp_out *out, uint64_t *keys)
{
	ASSERT(args->count >= 1);
	struct scan_ctx s = { .db = db, .args = args, .now_ms = now_ms, .out = out };
	uint64_t pos = scan_reverse48(cursor & KV_SCAN_CURSOR_MAX);
	/* As Redis: at most 10 x COUNT steps, stopping once COUNT keys were seen (before the
	 * filters), so that a sparse table cannot make one call long. */
	uint64_t steps = args->count > UINT64_MAX / SCAN_ITERATIONS_PER_COUNT
		? UINT64_MAX : args->count * SCAN_ITERATIONS_PER_COUNT;
	do {
		bool whole = kv_table_scan_step(&db->ks.table, &pos, true, scan_visit, &s);
		ASSERT(whole);
	} while (pos != 0 && --steps > 0 && s.visited < args->count);
	*keys = s.keys;
	return scan_reverse48(pos);
}

bool kv_flush_args_ok_or_reply(uint32_t argc, const struct resp_arg *argv, struct resp_out *out)
{
	if (argc == 1 || (argc == 2 && (scan_word(&argv[1], "sync") || scan_word(&argv[1], "async"))))
		return true;
	resp_add_error(out, RESP_ERR_SYNTAX);
	return false;
}
