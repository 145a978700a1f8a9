/* Point-in-time snapshots of a db, written while the db keeps changing, and loading them.
 *
 * Consistency by generation stamps: kv_snapshot_begin() starts generation G; every object
 * created or changed from then on is stamped G, and every object that existed at begin has
 * a stamp below G until the snapshot writes it (and stamps it G). So "stamp < G" means "in
 * the image and not written yet". The snapshot walks the table with the scan cursor (which
 * reaches every home across resizes); an object that the db is about to change or delete
 * while its stamp is still below G (or while it is the record being written) is handed to
 * the snapshot first (kv_snapshot_take()), and the db goes on with a copy. A flush hands
 * over the whole keyspace at once. Each object of the image is therefore written exactly
 * once, which the trailer's record count checks.
 *
 * The stream:
 *   header   "SPNDLKV\0", u32 version, u32 reserved (0), little endian
 *   record   u8 tag (1: no TTL, 2: TTL), varint key_len, varint val_len,
 *            [i64 expire_ms if tag 2], key bytes, value bytes
 *   trailer  u8 0xff, u64 number of records
 * Checksums are the log module's business (it wraps the stream in a file). */
#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "base/mem.h"
#include "base/panic.h"
#include "kv/db.h"
#include "kv/varint.h"

#define SNAP_MAGIC "SPNDLKV"
#define SNAP_VERSION 1u
#define SNAP_HEADER_BYTES 16
#define SNAP_TAG_PLAIN 0x01
#define SNAP_TAG_TTL 0x02
#define SNAP_TAG_END 0xff
#define SNAP_REC_HEAD_MAX (1 + 2 * KV_VARINT_BYTES_MAX + 8)
#define SNAP_TRAILER_BYTES 9
#define SNAP_STEPS_PER_CALL 256 /* scan steps (each a few homes) per kv_snapshot_next() */
#define SNAP_PENDING_MIN 16
/* A loaded record whose key and value are larger than this is gathered in a buffer that grows
 * with the bytes that arrive, and becomes an object only once all are in: a stream cannot make
 * the loader reserve what a record's head claims (up to 512 MiB) before sending it. */
#define SNAP_LOAD_EAGER_BYTES (64u * 1024)

struct snap_item {
	struct kv_obj *obj;
	int64_t expire_ms;
};

struct kv_snapshot {
	struct kv_db *db;
	uint32_t gen;
	struct kv_keyspace *ks;      /* the keyspace walked: the db's, or the adopted one */
	struct kv_keyspace *adopted; /* taken over from a flush; owned */
	uint64_t cursor;
	bool walk_done, started, done;
	int err;
	/* Objects handed over by the db, owned, written before the walk continues. */
	struct snap_item *pending;
	size_t pending_len, pending_cap;
	/* The record being written. */
	struct snap_item cur;
	bool cur_active, cur_owned;
	uint64_t cur_off;            /* bytes of key + value written */
	uint8_t stage[SNAP_REC_HEAD_MAX > SNAP_HEADER_BYTES ? SNAP_REC_HEAD_MAX : SNAP_HEADER_BYTES];
	uint32_t stage_len, stage_off;
	uint64_t records, expected;
};

/* Where the bytes of one kv_snapshot_next() go. */
struct snap_out {
	uint8_t *buf;
	size_t cap, len;
};

static void put_u64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

struct kv_snapshot *kv_snapshot_begin(struct kv_db *db)
{
	ASSERT_MSG(db->snap == NULL, "one snapshot per db at a time");
	ASSERT(db->gen < UINT32_MAX);
	struct kv_snapshot *snap = mem_arena_alloc(db->arena, sizeof(*snap));
	if (snap == NULL)
		return NULL;
	memset(snap, 0, sizeof(*snap));
	snap->db = db;
	snap->gen = ++db->gen;
	snap->ks = &db->ks;
	snap->expected = kv_db_size(db);
	db->snap = snap;
	return snap;
}

bool kv_snapshot_wants(const struct kv_snapshot *snap, const struct kv_obj *obj)
{
	if (snap->err != 0)
		return false; /* a failed snapshot keeps nothing */
	if (obj->gen < snap->gen)
		return true;
	return snap->cur_active && !snap->cur_owned && snap->cur.obj == obj;
}

void kv_snapshot_take(struct kv_snapshot *snap, struct kv_obj *obj, int64_t expire_ms)
{
	if (snap->cur_active && snap->cur.obj == obj) {
		ASSERT(!snap->cur_owned);
		snap->cur_owned = true;
		return;
	}
	ASSERT(obj->gen < snap->gen);
	obj->gen = snap->gen;
	if (snap->pending_len == snap->pending_cap && snap->err == 0) {
		size_t cap = snap->pending_cap ? snap->pending_cap * 2 : SNAP_PENDING_MIN;
		struct snap_item *p = mem_arena_realloc(snap->db->arena, snap->pending,
							cap * sizeof(*p));
		if (p == NULL) {
			snap->err = -ENOMEM;
		} else {
			snap->pending = p;
			snap->pending_cap = cap;
		}
	}
	if (snap->err != 0) {
		/* The image is lost already; do not hold memory for it. */
		kv_db_obj_free(snap->db, obj);
		return;
	}
	snap->pending[snap->pending_len++] = (struct snap_item){ obj, expire_ms };
}

void kv_snapshot_fail(struct kv_snapshot *snap, int err)
{
	ASSERT(err < 0);
	if (snap->err == 0)
		snap->err = err;
	for (size_t i = 0; i < snap->pending_len; i++)
		kv_db_obj_free(snap->db, snap->pending[i].obj);
	snap->pending_len = 0;
	if (snap->cur_active && snap->cur_owned)
		kv_db_obj_free(snap->db, snap->cur.obj);
	snap->cur_active = snap->cur_owned = false;
	snap->cur.obj = NULL;
}

bool kv_snapshot_take_keyspace(struct kv_snapshot *snap, struct kv_keyspace *ks)
{
	if (snap->adopted != NULL || snap->err != 0)
		return false; /* the db's keyspace holds only objects newer than the image */
	if (snap->walk_done && (!snap->cur_active || snap->cur_owned))
		return false;
	snap->adopted = ks;
	snap->ks = ks;
	return true;
}

/* Copies staged bytes, then the current record's key and value, to out. True when the
 * record (or staged piece) is complete. */
static bool snap_flush(struct kv_snapshot *snap, struct snap_out *out)
{
	size_t n = MIN((size_t)(snap->stage_len - snap->stage_off), out->cap - out->len);
	memcpy(out->buf + out->len, snap->stage + snap->stage_off, n);
	out->len += n;
	snap->stage_off += (uint32_t)n;
	if (snap->stage_off < snap->stage_len)
		return false;
	if (!snap->cur_active)
		return true;
	const struct kv_obj *o = snap->cur.obj;
	uint64_t body = (uint64_t)o->key_len + o->val_len;
	n = (size_t)MIN(body - snap->cur_off, (uint64_t)(out->cap - out->len));
	memcpy(out->buf + out->len, o->data + snap->cur_off, n);
	out->len += n;
	snap->cur_off += n;
	if (snap->cur_off < body)
		return false;
	if (snap->cur_owned)
		kv_db_obj_free(snap->db, snap->cur.obj);
	snap->cur_active = snap->cur_owned = false;
	snap->cur.obj = NULL;
	snap->records++;
	return true;
}

/* Makes item the record being written and stages its head. */
static void snap_start(struct kv_snapshot *snap, struct snap_item item, bool owned)
{
	ASSERT(!snap->cur_active && snap->stage_off == snap->stage_len);
	uint8_t *p = snap->stage;
	size_t n = 0;
	p[n++] = item.expire_ms >= 0 ? SNAP_TAG_TTL : SNAP_TAG_PLAIN;
	n += kv_varint_put(p + n, item.obj->key_len);
	n += kv_varint_put(p + n, item.obj->val_len);
	if (item.expire_ms >= 0) {
		put_u64le(p + n, (uint64_t)item.expire_ms);
		n += 8;
	}
	snap->stage_len = (uint32_t)n;
	snap->stage_off = 0;
	snap->cur = item;
	snap->cur_active = true;
	snap->cur_owned = owned;
	snap->cur_off = 0;
}

struct snap_walk {
	struct kv_snapshot *snap;
	struct snap_out *out;
};

static bool snap_visit(void *ctx, struct kv_obj *obj)
{
	struct snap_walk *w = ctx;
	struct kv_snapshot *snap = w->snap;
	if (obj->gen >= snap->gen)
		return true; /* newer than the image, or written already */
	if (w->out->len == w->out->cap)
		return false; /* no room: redo this step next call */
	obj->gen = snap->gen;
	struct snap_item item = { obj, kv_keyspace_obj_expire(snap->ks, obj) };
	snap_start(snap, item, false);
	return snap_flush(snap, w->out);
}

static void snap_stage_header(struct kv_snapshot *snap)
{
	memcpy(snap->stage, SNAP_MAGIC, 8);
	uint32_t version = SNAP_VERSION, reserved = 0;
	for (int i = 0; i < 4; i++) {
		snap->stage[8 + i] = (uint8_t)(version >> (8 * i));
		snap->stage[12 + i] = (uint8_t)(reserved >> (8 * i));
	}
	snap->stage_len = SNAP_HEADER_BYTES;
	snap->stage_off = 0;
	snap->started = true;
}

static void snap_stage_trailer(struct kv_snapshot *snap)
{
	ASSERT_MSG(snap->records == snap->expected,
		   "snapshot wrote %llu records of %llu", (unsigned long long)snap->records,
		   (unsigned long long)snap->expected);
	snap->stage[0] = SNAP_TAG_END;
	put_u64le(snap->stage + 1, snap->records);
	snap->stage_len = SNAP_TRAILER_BYTES;
	snap->stage_off = 0;
	snap->done = true;
}

size_t kv_snapshot_next(struct kv_snapshot *snap, void *buf, size_t cap)
{
	struct snap_out out = { .buf = buf, .cap = cap, .len = 0 };
	if (snap->err != 0)
		return 0;
	if (!snap->started)
		snap_stage_header(snap);
	unsigned steps = 0;
	while (out.len < out.cap) {
		if (!snap_flush(snap, &out))
			break;
		if (snap->done)
			break;
		if (snap->pending_len > 0) {
			snap_start(snap, snap->pending[--snap->pending_len], true);
			continue;
		}
		if (snap->walk_done) {
			snap_stage_trailer(snap);
			continue;
		}
		if (steps++ == SNAP_STEPS_PER_CALL)
			break;
		struct snap_walk w = { snap, &out };
		if (kv_table_scan_step(&snap->ks->table, &snap->cursor, false, snap_visit, &w) &&
		    snap->cursor == 0)
			snap->walk_done = true;
	}
	return out.len;
}

bool kv_snapshot_done(const struct kv_snapshot *snap)
{
	return snap->err != 0 ||
	       (snap->done && snap->stage_off == snap->stage_len && !snap->cur_active);
}

int kv_snapshot_error(const struct kv_snapshot *snap)
{
	return snap->err;
}

void kv_snapshot_end(struct kv_snapshot *snap)
{
	struct kv_db *db = snap->db;
	ASSERT(db->snap == snap);
	for (size_t i = 0; i < snap->pending_len; i++)
		kv_db_obj_free(db, snap->pending[i].obj);
	mem_arena_free(db->arena, snap->pending);
	if (snap->cur_active && snap->cur_owned)
		kv_db_obj_free(db, snap->cur.obj);
	if (snap->adopted != NULL)
		kv_db_trash_keyspace(db, snap->adopted);
	db->snap = NULL;
	mem_arena_free(db->arena, snap);
}

/* ---- Loading ---- */

enum snap_load_state { LOAD_HEADER, LOAD_HEAD, LOAD_BODY, LOAD_TRAILER, LOAD_END };

struct kv_snapshot_loader {
	struct kv_db *db;
	enum snap_load_state state;
	int err;
	uint8_t stage[SNAP_REC_HEAD_MAX + 1];
	uint32_t stage_len;
	struct kv_obj *obj;    /* the record being read, when allocated up front */
	uint8_t *big;          /* or its bytes so far, for a large one */
	uint64_t big_cap;
	uint64_t key_len, val_len;
	int64_t expire_ms;
	uint64_t body_off;
	uint64_t records;
};

struct kv_snapshot_loader *kv_snapshot_load_begin(unsigned arena)
{
	struct kv_snapshot_loader *ld = mem_arena_alloc(arena, sizeof(*ld));
	if (ld == NULL)
		return NULL;
	memset(ld, 0, sizeof(*ld));
	ld->db = kv_db_create(arena);
	if (ld->db == NULL) {
		mem_arena_free(arena, ld);
		return NULL;
	}
	return ld;
}

static int load_header(struct kv_snapshot_loader *ld)
{
	if (memcmp(ld->stage, SNAP_MAGIC, 8) != 0)
		return -EBADMSG;
	uint32_t version = 0, reserved = 0;
	for (int i = 0; i < 4; i++) {
		version |= (uint32_t)ld->stage[8 + i] << (8 * i);
		reserved |= (uint32_t)ld->stage[12 + i] << (8 * i);
	}
	if (version != SNAP_VERSION || reserved != 0)
		return -EBADMSG;
	ld->state = LOAD_HEAD;
	return 0;
}

/* Parses the staged record head once it is complete: 1 = need more bytes, 0 = parsed (the
 * object is allocated), < 0 = corrupt or no memory. */
static int load_head(struct kv_snapshot_loader *ld)
{
	const uint8_t *p = ld->stage;
	size_t len = ld->stage_len;
	if (p[0] == SNAP_TAG_END) {
		ld->state = LOAD_TRAILER;
		return len < SNAP_TRAILER_BYTES ? 1 : 0;
	}
	if (p[0] != SNAP_TAG_PLAIN && p[0] != SNAP_TAG_TTL)
		return -EBADMSG;
	uint64_t key_len, val_len;
	size_t n = 1;
	int r = kv_varint_get(p + n, len - n, &key_len);
	if (r <= 0)
		return r == 0 ? 1 : -EBADMSG;
	n += (size_t)r;
	r = kv_varint_get(p + n, len - n, &val_len);
	if (r <= 0)
		return r == 0 ? 1 : -EBADMSG;
	n += (size_t)r;
	if (key_len > KV_KEY_BYTES_MAX || val_len > KV_STRING_BYTES_MAX)
		return -EBADMSG;
	ld->expire_ms = -1;
	if (p[0] == SNAP_TAG_TTL) {
		if (len < n + 8)
			return 1;
		ld->expire_ms = (int64_t)get_u64le(p + n);
		if (ld->expire_ms < 0)
			return -EBADMSG;
	}
	ld->key_len = key_len;
	ld->val_len = val_len;
	if (key_len + val_len <= SNAP_LOAD_EAGER_BYTES) {
		ld->obj = kv_db_obj_alloc(ld->db, key_len, val_len);
		if (ld->obj == NULL)
			return -ENOMEM;
	}
	ld->body_off = 0;
	ld->state = LOAD_BODY;
	return 0;
}

/* The record's bytes are all in: the key must be new. */
static int load_record_done(struct kv_snapshot_loader *ld)
{
	if (ld->obj == NULL) {
		ld->obj = kv_db_obj_alloc(ld->db, ld->key_len, ld->val_len);
		if (ld->obj == NULL)
			return -ENOMEM;
		memcpy(ld->obj->data, ld->big, ld->key_len + ld->val_len);
		mem_arena_free(ld->db->arena, ld->big);
		ld->big = NULL;
		ld->big_cap = 0;
	}
	struct kv_obj *o = ld->obj;
	ld->obj = NULL;
	struct kv_table *t = &ld->db->ks.table;
	if (kv_table_find(t, kv_obj_key(o), o->key_len,
			  kv_table_hash(t, kv_obj_key(o), o->key_len)) != NULL) {
		kv_db_obj_free(ld->db, o);
		return -EBADMSG;
	}
	int rc = kv_keyspace_insert(ld->db, o, ld->expire_ms);
	if (rc != 0) {
		kv_db_obj_free(ld->db, o);
		return rc;
	}
	ld->records++;
	ld->stage_len = 0;
	ld->state = LOAD_HEAD;
	return 0;
}

/* Consumes bytes from buf; returns how many, or a negative errno. */
static int64_t load_step(struct kv_snapshot_loader *ld, const uint8_t *buf, size_t len)
{
	if (ld->state == LOAD_BODY) {
		uint64_t body = ld->key_len + ld->val_len;
		size_t n = (size_t)MIN(body - ld->body_off, (uint64_t)len);
		if (ld->obj != NULL) {
			memcpy(ld->obj->data + ld->body_off, buf, n);
		} else {
			if (ld->body_off + n > ld->big_cap) {
				uint64_t cap = MIN(body, MAX(ld->body_off + n, 2 * ld->big_cap));
				uint8_t *p = mem_arena_realloc(ld->db->arena, ld->big, (size_t)cap);
				if (p == NULL)
					return -ENOMEM;
				ld->big = p;
				ld->big_cap = cap;
			}
			memcpy(ld->big + ld->body_off, buf, n);
		}
		ld->body_off += n;
		if (ld->body_off == body) {
			int rc = load_record_done(ld);
			if (rc != 0)
				return rc;
		}
		return (int64_t)n;
	}
	if (ld->state == LOAD_END)
		return -EBADMSG; /* bytes after the trailer */
	/* Header, record head and trailer arrive a byte at a time through the stage. */
	ld->stage[ld->stage_len++] = buf[0];
	int rc = 1;
	if (ld->state == LOAD_HEADER)
		rc = ld->stage_len < SNAP_HEADER_BYTES ? 1 : load_header(ld);
	else if (ld->state == LOAD_HEAD)
		rc = load_head(ld);
	if (rc == 0 && ld->state == LOAD_BODY && ld->key_len + ld->val_len == 0)
		rc = load_record_done(ld);
	else if (ld->state == LOAD_TRAILER && ld->stage_len == SNAP_TRAILER_BYTES)
		rc = get_u64le(ld->stage + 1) == ld->records ? (ld->state = LOAD_END, 0) : -EBADMSG;
	if (rc < 0)
		return rc;
	if (rc == 0)
		ld->stage_len = 0;
	ASSERT(ld->stage_len < sizeof(ld->stage)); /* a head is complete within the stage */
	return 1;
}

int kv_snapshot_load_feed(struct kv_snapshot_loader *ld, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (ld->err == 0 && len > 0) {
		int64_t n = load_step(ld, p, len);
		if (n < 0) {
			ld->err = (int)n;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	return ld->err;
}

static void load_free(struct kv_snapshot_loader *ld, bool keep_db)
{
	if (ld->obj != NULL)
		kv_db_obj_free(ld->db, ld->obj);
	unsigned arena = ld->db->arena;
	mem_arena_free(arena, ld->big);
	if (!keep_db)
		kv_db_destroy(ld->db);
	mem_arena_free(arena, ld);
}

struct kv_db *kv_snapshot_load_end(struct kv_snapshot_loader *ld, int *err)
{
	int rc = ld->err;
	if (rc == 0 && ld->state != LOAD_END)
		rc = -EBADMSG; /* the stream stopped early */
	struct kv_db *db = rc == 0 ? ld->db : NULL;
	load_free(ld, rc == 0);
	if (err != NULL)
		*err = rc;
	return db;
}

void kv_snapshot_load_abort(struct kv_snapshot_loader *ld)
{
	load_free(ld, false);
}

struct kv_db *kv_snapshot_load(unsigned arena, const void *buf, size_t len, int *err)
{
	struct kv_snapshot_loader *ld = kv_snapshot_load_begin(arena);
	if (ld == NULL) {
		if (err != NULL)
			*err = -ENOMEM;
		return NULL;
	}
	kv_snapshot_load_feed(ld, buf, len);
	return kv_snapshot_load_end(ld, err);
}
