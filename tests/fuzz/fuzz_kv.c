/* Fuzz target for the key-value core's decoders and handlers.
 *
 * The first byte picks what the rest is:
 *   0: a log entry: kv_enc_check() and kv_enc_next() must agree, and a valid entry is applied
 *      to two dbs with different hash seeds, which must end with the same keys.
 *   1: a snapshot stream, fed to the loader in pieces whose sizes come from the input; a
 *      stream it accepts is snapshotted again and must load to a db of the same size.
 *   2: client commands (a name picked from the table or an unknown one, then arguments),
 *      each run through the logged path (prepare, encode, decode, exec) on one db and the
 *      direct path (exec) on another with the same seed: the replies must be byte for byte
 *      the same, and the dbs must end the same size and snapshot and reload to it.
 * Every handler therefore sees arbitrary arguments; none may crash or read out of bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "fuzz.h"

#define FUZZ_NOW_MS 1700000000000ll
#define FUZZ_ARGS_MAX 8
#define FUZZ_ARG_BYTES_MAX 40

#define FUZZ_CHECK(cond)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz_kv: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                               \
			abort();                                                \
		}                                                               \
	} while (0)

/* Reads the input a byte at a time; past the end everything is zero. */
struct fuzz_in {
	const uint8_t *p;
	size_t len, pos;
};

static uint8_t in_byte(struct fuzz_in *in)
{
	return in->pos < in->len ? in->p[in->pos++] : 0;
}

static size_t in_take(struct fuzz_in *in, size_t want, const uint8_t **bytes)
{
	size_t n = want < in->len - in->pos ? want : in->len - in->pos;
	*bytes = in->p + in->pos;
	in->pos += n;
	return n;
}

static struct resp_chunk_pool pool;
static bool pool_ready;

static void out_init(struct resp_out *out)
{
	if (!pool_ready) {
		resp_chunk_pool_init(&pool, 64);
		pool_ready = true;
	}
	resp_out_init(out, &pool, 2);
}

/* SETRANGE with a large offset makes a value of up to 512 MB (as Redis allows), which a fuzzer
 * run cannot afford; the unit tests cover those offsets. */
static bool fuzz_too_big(const struct kv_cmd *cmd, uint32_t argc, const struct resp_arg *argv)
{
	if (strcmp(cmd->name, "setrange") != 0 || argc != 4 || argv[3].len == 0)
		return false;
	char num[24];
	size_t n = argv[2].len < sizeof(num) - 1 ? argv[2].len : sizeof(num) - 1;
	memcpy(num, argv[2].ptr, n);
	num[n] = '\0';
	long long off = strtoll(num, NULL, 10);
	return off > (1 << 20) && off <= (long long)KV_STRING_BYTES_MAX;
}

/* A snapshot of db, loaded back: returns its size, or -1 if it did not load. */
static int64_t snapshot_reload_size(struct kv_db *db)
{
	struct kv_snapshot *snap = kv_snapshot_begin(db);
	struct kv_snapshot_loader *ld = kv_snapshot_load_begin(0);
	FUZZ_CHECK(snap != NULL && ld != NULL);
	uint8_t buf[97];
	while (!kv_snapshot_done(snap)) {
		size_t n = kv_snapshot_next(snap, buf, sizeof(buf));
		FUZZ_CHECK(kv_snapshot_load_feed(ld, buf, n) == 0);
	}
	kv_snapshot_end(snap);
	int err;
	struct kv_db *copy = kv_snapshot_load_end(ld, &err);
	if (copy == NULL)
		return -1;
	int64_t size = (int64_t)kv_db_size(copy);
	kv_db_destroy(copy);
	return size;
}

static void fuzz_entry(const uint8_t *data, size_t len)
{
	int64_t count = kv_enc_check(data, len);
	struct kv_dec dec = { 0 };
	size_t pos = 0;
	int64_t n = 0;
	int r;
	while ((r = kv_enc_next(&dec, data, len, &pos)) == 1) {
		FUZZ_CHECK(pos <= len);
		n++;
	}
	FUZZ_CHECK(count < 0 ? r < 0 : (r == 0 && n == count));
	if (count > 0) {
		struct kv_db *a = kv_db_create_seeded(0, 1), *b = kv_db_create_seeded(0, 2);
		struct resp_out out;
		out_init(&out);
		for (int rep = 0; rep < 2; rep++) {
			pos = 0;
			while (kv_enc_next(&dec, data, len, &pos) == 1) {
				if (!fuzz_too_big(dec.cmd, dec.argc, dec.argv))
					kv_cmd_exec(dec.cmd, rep ? b : a, dec.argc, dec.argv,
						    FUZZ_NOW_MS, &out);
			}
			resp_out_reset(&out);
		}
		FUZZ_CHECK(kv_db_size(a) == kv_db_size(b));
		FUZZ_CHECK(snapshot_reload_size(a) == (int64_t)kv_db_size(a));
		kv_db_destroy(a);
		kv_db_destroy(b);
	}
	kv_dec_free(&dec);
}

static void fuzz_snapshot(const uint8_t *data, size_t len)
{
	struct kv_snapshot_loader *ld = kv_snapshot_load_begin(0);
	FUZZ_CHECK(ld != NULL);
	struct fuzz_in in = { data, len, 0 };
	size_t step = 1 + (len > 0 ? data[0] % 13 : 0);
	while (in.pos < in.len) {
		const uint8_t *p;
		size_t n = in_take(&in, step, &p);
		if (kv_snapshot_load_feed(ld, p, n) != 0)
			break;
		step = 1 + (step * 7 + 3) % 29;
	}
	int err;
	struct kv_db *db = kv_snapshot_load_end(ld, &err);
	FUZZ_CHECK((db == NULL) == (err != 0));
	if (db != NULL) {
		FUZZ_CHECK(snapshot_reload_size(db) == (int64_t)kv_db_size(db));
		kv_db_destroy(db);
	}
}

static const char *const fuzz_words[] = {
	"k", "k2", "", "NX", "XX", "GET", "KEEPTTL", "PERSIST", "EX", "PX", "EXAT", "PXAT", "GT",
	"LT", "0", "1", "-1", "10", "100", "1700000000500", "9223372036854775807", "1.5", "inf",
	"nan", "abc", "MATCH", "COUNT", "TYPE", "*", "k*", "string", "536870912", "get", "info",
};

/* The next argument: a word that commands care about, or raw bytes from the input. */
static struct resp_arg fuzz_arg(struct fuzz_in *in)
{
	uint8_t pick = in_byte(in);
	if (pick < 2 * (sizeof(fuzz_words) / sizeof(fuzz_words[0]))) {
		const char *w = fuzz_words[pick / 2];
		return (struct resp_arg){ w, strlen(w) };
	}
	const uint8_t *p;
	size_t n = in_take(in, in_byte(in) % FUZZ_ARG_BYTES_MAX, &p);
	return (struct resp_arg){ (const char *)p, n };
}

/* DBSIZE, FLUSHALL/FLUSHDB, KEYS and SCAN as the lane module runs them on one lane. */
static void run_all_lanes(const struct kv_cmd *cmd, struct kv_db *db, uint32_t argc,
			  const struct resp_arg *argv, int64_t now, struct resp_out *out)
{
	struct resp_out tmp;
	resp_out_init(&tmp, out->pool, out->proto);
	uint64_t n = 0;
	if (strcmp(cmd->name, "dbsize") == 0) {
		resp_add_int(out, (int64_t)kv_db_size(db));
	} else if (cmd->name[0] == 'f') {
		if (kv_flush_args_ok_or_reply(argc, argv, out)) {
			kv_db_flush(db);
			resp_add_simple(out, "OK");
		}
	} else if (strcmp(cmd->name, "keys") == 0) {
		n = kv_db_keys(db, argv[1].ptr, argv[1].len, now, &tmp);
		resp_add_array(out, n);
		resp_out_splice(out, &tmp);
	} else {
		struct kv_scan_args args;
		uint64_t cursor;
		if (kv_scan_args_parse_or_reply(argc, argv, &cursor, &args, out) != 0)
			return;
		cursor = kv_db_scan(db, cursor, &args, now, &tmp, &n);
		FUZZ_CHECK(cursor <= KV_SCAN_CURSOR_MAX);
		resp_add_array(out, 2);
		resp_add_bulk_int(out, (int64_t)cursor);
		resp_add_array(out, n);
		resp_out_splice(out, &tmp);
	}
}

static bool out_equal(const struct resp_out *a, const struct resp_out *b)
{
	if (a->bytes != b->bytes)
		return false;
	/* Both chains start at offset 0; compare the runs that both chunks hold, so that a large
	 * reply (COMMAND's) costs a few memcmp() calls instead of an instrumented loop a byte. */
	const struct resp_chunk *ca = a->head, *cb = b->head;
	uint32_t ia = 0, ib = 0;
	for (uint64_t left = a->bytes; left > 0;) {
		while (ia == ca->len) {
			ca = ca->next;
			ia = 0;
		}
		while (ib == cb->len) {
			cb = cb->next;
			ib = 0;
		}
		uint32_t run = ca->len - ia < cb->len - ib ? ca->len - ia : cb->len - ib;
		if (run > left)
			run = (uint32_t)left;
		if (memcmp(ca->data + ia, cb->data + ib, run) != 0)
			return false;
		ia += run;
		ib += run;
		left -= run;
	}
	return true;
}

static void run_one(const struct kv_cmd *cmd, struct kv_db *db, uint32_t argc,
		    const struct resp_arg *argv, int64_t now, bool logged, struct kv_enc *enc,
		    struct kv_dec *dec, struct resp_out *out)
{
	if (cmd->kind & KV_CMD_ALL_LANES) {
		run_all_lanes(cmd, db, argc, argv, now, out);
	} else if ((cmd->kind & KV_CMD_WRITE) && logged) {
		kv_enc_reset(enc);
		if (kv_cmd_prepare(cmd, argc, argv, now, enc, out) != 0)
			return;
		size_t pos = 0;
		FUZZ_CHECK(kv_enc_next(dec, enc->buf, enc->len, &pos) == 1 && pos == enc->len);
		kv_cmd_exec(dec->cmd, db, dec->argc, dec->argv, now, out);
	} else {
		kv_cmd_exec(cmd, db, argc, argv, now, out);
	}
}

static void fuzz_commands(const uint8_t *data, size_t len)
{
	struct fuzz_in in = { data, len, 0 };
	/* One seed for both: the same operations then give the same table, and KEYS and SCAN the
	 * same order. */
	struct kv_db *dbs[2] = { kv_db_create_seeded(0, 3), kv_db_create_seeded(0, 3) };
	struct resp_out outs[2];
	out_init(&outs[0]);
	out_init(&outs[1]);
	struct kv_enc enc = { 0 };
	struct kv_dec dec = { 0 };
	size_t count;
	const struct kv_cmd *table = kv_cmd_table(&count);
	int64_t now = FUZZ_NOW_MS;
	while (in.pos < in.len) {
		uint8_t pick = in_byte(&in);
		struct resp_arg argv[FUZZ_ARGS_MAX];
		argv[0] = pick < count ? (struct resp_arg){ table[pick].name, strlen(table[pick].name) }
				       : (struct resp_arg){ "__flush", pick % 2 ? 7 : 3 };
		uint32_t argc = 1 + in_byte(&in) % FUZZ_ARGS_MAX;
		for (uint32_t i = 1; i < argc; i++)
			argv[i] = fuzz_arg(&in);
		now += in_byte(&in) * 50;
		/* The name resolves from the arguments alone, the same for both paths: once. */
		const struct kv_cmd *cmd = kv_cmd_resolve_or_reply(argc, argv, &outs[0]);
		if (cmd != NULL && !(cmd->kind & KV_CMD_CONN) && !fuzz_too_big(cmd, argc, argv)) {
			for (int side = 0; side < 2; side++)
				run_one(cmd, dbs[side], argc, argv, now, side == 0, &enc, &dec,
					&outs[side]);
			FUZZ_CHECK(out_equal(&outs[0], &outs[1]));
		}
		resp_out_reset(&outs[0]);
		resp_out_reset(&outs[1]);
		for (int side = 0; side < 2; side++) {
			kv_db_work(dbs[side], 16);
			kv_db_expire_cycle(dbs[side], now, 4);
		}
	}
	for (int side = 0; side < 2; side++) {
		while (kv_db_expire_cycle(dbs[side], now, 1000) > 0)
			;
	}
	FUZZ_CHECK(kv_db_size(dbs[0]) == kv_db_size(dbs[1]));
	FUZZ_CHECK(snapshot_reload_size(dbs[0]) == (int64_t)kv_db_size(dbs[0]));
	kv_db_destroy(dbs[0]);
	kv_db_destroy(dbs[1]);
	kv_enc_free(&enc);
	kv_dec_free(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_entry(data + 1, size - 1);
		break;
	case 1:
		fuzz_snapshot(data + 1, size - 1);
		break;
	default:
		fuzz_commands(data + 1, size - 1);
		break;
	}
	return 0;
}
