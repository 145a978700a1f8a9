/* The db: objects, lookups with expiry, the changes handlers make, the volatile index and
 * active expiry, flushing with incremental freeing, and the background work. */
#include "kv/db.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "base/mem.h"
#include "base/panic.h"
#include "kv/bigmem.h"

#define DB_SEED_DEFAULT 0x9e3779b97f4a7c15ull

static uint64_t db_seed_default = DB_SEED_DEFAULT;

void kv_seed_set(uint64_t seed)
{
	db_seed_default = seed;
}

/* ---- Objects ---- */

struct kv_obj *kv_db_obj_alloc(struct kv_db *db, size_t key_len, size_t val_len)
{
	ASSERT(key_len <= KV_KEY_BYTES_MAX && val_len <= KV_STRING_BYTES_MAX);
	struct kv_obj *o = mem_arena_alloc(db->arena, sizeof(*o) + key_len + val_len);
	if (o == NULL)
		return NULL;
	o->key_len = (uint32_t)key_len;
	o->val_len = (uint32_t)val_len;
	o->gen = db->gen;
	o->vol_idx = KV_VOL_NONE;
	db->obj_bytes += mem_usable_bytes(o);
	return o;
}

void kv_db_obj_free(struct kv_db *db, struct kv_obj *obj)
{
	size_t bytes = mem_usable_bytes(obj);
	ASSERT(db->obj_bytes >= bytes);
	db->obj_bytes -= bytes;
	mem_arena_free(db->arena, obj);
}

/* An object the db lets go of: the open snapshot keeps it if it still has to write it. */
static void db_release(struct kv_db *db, struct kv_obj *obj, int64_t expire_ms)
{
	obj->vol_idx = KV_VOL_NONE;
	if (db->snap != NULL && kv_snapshot_wants(db->snap, obj))
		kv_snapshot_take(db->snap, obj, expire_ms);
	else
		kv_db_obj_free(db, obj);
}

/* ---- The volatile index ---- */

static size_t vol_bytes(uint64_t cap)
{
	return (size_t)cap * sizeof(struct kv_vol_entry);
}

static int vol_add(struct kv_keyspace *ks, unsigned arena, struct kv_obj *obj, int64_t when_ms)
{
	ASSERT(obj->vol_idx == KV_VOL_NONE && when_ms >= 0);
	if (ks->vol_len == ks->vol_cap) {
		uint64_t cap = ks->vol_cap ? ks->vol_cap * 2 : KV_VOL_CAP_MIN;
		struct kv_vol_entry *v = ks->vol == NULL
			? kv_big_alloc(arena, vol_bytes(cap), false)
			: kv_big_realloc(arena, ks->vol, vol_bytes(ks->vol_cap), vol_bytes(cap));
		if (v == NULL)
			return -ENOMEM;
		ks->vol = v;
		ks->vol_cap = cap;
	}
	ks->vol[ks->vol_len] = (struct kv_vol_entry){ .obj = obj, .expire_ms = when_ms };
	obj->vol_idx = (uint32_t)ks->vol_len++;
	return 0;
}

static void vol_remove(struct kv_keyspace *ks, unsigned arena, struct kv_obj *obj)
{
	uint64_t idx = obj->vol_idx, last = ks->vol_len - 1;
	ASSERT(idx <= last && ks->vol[idx].obj == obj);
	if (idx != last) {
		ks->vol[idx] = ks->vol[last];
		ks->vol[idx].obj->vol_idx = (uint32_t)idx;
	}
	ks->vol_len--;
	obj->vol_idx = KV_VOL_NONE;
	if (ks->vol_cap > KV_VOL_CAP_MIN && ks->vol_len < ks->vol_cap / 4) {
		/* Shrinking is optional: on failure the array just stays larger. */
		struct kv_vol_entry *v = kv_big_realloc(arena, ks->vol, vol_bytes(ks->vol_cap),
							vol_bytes(ks->vol_cap / 2));
		if (v != NULL) {
			ks->vol = v;
			ks->vol_cap /= 2;
		}
	}
}

/* obj replaces the object in ref (same key): the slot and the index entry follow it. */
static void db_moved(struct kv_db *db, struct kv_ref *ref, struct kv_obj *obj)
{
	kv_slot_replace(ref->slot, obj);
	if (obj->vol_idx != KV_VOL_NONE)
		db->ks.vol[obj->vol_idx].obj = obj;
	ref->obj = obj;
}

/* ---- Keyspaces and the db ---- */

void kv_keyspace_init(struct kv_keyspace *ks, unsigned arena, uint64_t seed)
{
	memset(ks, 0, sizeof(*ks));
	kv_table_init(&ks->table, arena, seed);
}

static size_t keyspace_array_bytes(const struct kv_keyspace *ks)
{
	return kv_table_bytes(&ks->table) + vol_bytes(ks->vol_cap);
}

static void keyspace_free_arrays(struct kv_keyspace *ks, unsigned arena)
{
	kv_table_free(&ks->table);
	kv_big_free(arena, ks->vol, vol_bytes(ks->vol_cap));
	ks->vol = NULL;
	ks->vol_len = ks->vol_cap = 0;
}

int kv_keyspace_insert(struct kv_db *db, struct kv_obj *obj, int64_t expire_ms)
{
	struct kv_keyspace *ks = &db->ks;
	uint64_t hash = kv_table_hash(&ks->table, kv_obj_key(obj), obj->key_len);
	ASSERT(kv_table_find(&ks->table, kv_obj_key(obj), obj->key_len, hash) == NULL);
	if (expire_ms >= 0 && vol_add(ks, db->arena, obj, expire_ms) != 0)
		return -ENOMEM;
	if (kv_table_insert(&ks->table, obj, hash, NULL) != 0) {
		if (obj->vol_idx != KV_VOL_NONE)
			vol_remove(ks, db->arena, obj);
		return -ENOMEM;
	}
	return 0;
}

struct kv_db *kv_db_create_seeded(unsigned arena, uint64_t seed)
{
	struct kv_db *db = mem_arena_alloc(arena, sizeof(*db));
	if (db == NULL)
		return NULL;
	memset(db, 0, sizeof(*db));
	db->arena = arena;
	db->seed = seed;
	kv_keyspace_init(&db->ks, arena, seed);
	return db;
}

struct kv_db *kv_db_create(unsigned arena)
{
	return kv_db_create_seeded(arena, db_seed_default);
}

static bool db_free_visit(void *ctx, struct kv_obj *obj)
{
	kv_db_obj_free(ctx, obj);
	return true;
}

void kv_db_destroy(struct kv_db *db)
{
	if (db == NULL)
		return;
	ASSERT_MSG(db->snap == NULL, "end the snapshot before destroying its db");
	while (db->trash != NULL)
		kv_db_work(db, UINT64_MAX);
	uint64_t pos = 0;
	kv_table_walk(&db->ks.table, &pos, UINT64_MAX, db_free_visit, db);
	keyspace_free_arrays(&db->ks, db->arena);
	ASSERT(db->obj_bytes == 0 && db->dropped_array_bytes == 0);
	mem_arena_free(db->arena, db);
}

uint64_t kv_db_size(const struct kv_db *db)
{
	return kv_table_count(&db->ks.table);
}

uint64_t kv_db_volatile_count(const struct kv_db *db)
{
	return db->ks.vol_len;
}

size_t kv_db_memory_bytes(const struct kv_db *db)
{
	return db->obj_bytes + keyspace_array_bytes(&db->ks) + db->dropped_array_bytes;
}

void kv_db_stats_get(const struct kv_db *db, struct kv_db_stats *stats)
{
	*stats = db->stats;
}

/* ---- Lookups ---- */

static struct kv_obj *db_lookup(struct kv_db *db, const char *key, size_t len,
				struct kv_ref *ref)
{
	ref->hash = kv_table_hash(&db->ks.table, key, len);
	ref->slot = kv_table_find(&db->ks.table, key, len, ref->hash);
	ref->obj = ref->slot ? kv_slot_obj(*ref->slot) : NULL;
	return ref->obj;
}

struct kv_obj *kv_db_find(struct kv_db *db, const char *key, size_t len, int64_t now_ms,
			  struct kv_ref *ref)
{
	struct kv_obj *o = db_lookup(db, key, len, ref);
	if (o != NULL && kv_expired(kv_db_obj_expire(db, o), now_ms)) {
		/* A read leaves the key where it is; the ref must not be used to change it. */
		ref->obj = NULL;
		ref->slot = NULL;
		o = NULL;
	}
	if (o != NULL)
		db->stats.keyspace_hits++;
	else
		db->stats.keyspace_misses++;
	return o;
}

struct kv_obj *kv_db_find_write(struct kv_db *db, const char *key, size_t len, int64_t now_ms,
				struct kv_ref *ref)
{
	struct kv_obj *o = db_lookup(db, key, len, ref);
	if (o != NULL && kv_expired(kv_db_obj_expire(db, o), now_ms)) {
		kv_db_delete(db, ref);
		db->stats.expired_keys++;
		o = NULL;
	}
	return o;
}

bool kv_db_get(struct kv_db *db, const char *key, size_t len, int64_t now_ms,
	       const char **val, size_t *val_len)
{
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find(db, key, len, now_ms, &ref);
	if (o == NULL)
		return false;
	*val = kv_obj_cval(o);
	*val_len = o->val_len;
	return true;
}

bool kv_db_exists(struct kv_db *db, const char *key, size_t len, int64_t now_ms)
{
	struct kv_ref ref;
	return kv_db_find(db, key, len, now_ms, &ref) != NULL;
}

int64_t kv_db_expire_get(struct kv_db *db, const char *key, size_t len, int64_t now_ms)
{
	struct kv_ref ref;
	struct kv_obj *o = kv_db_find(db, key, len, now_ms, &ref);
	return o == NULL ? -2 : kv_db_obj_expire(db, o);
}

/* ---- Changes ---- */

/* Whether a value of val_len can be written over obj's without a new allocation: it fits,
 * and does not leave most of the allocation unused. */
static bool db_fits_in_place(const struct kv_obj *obj, size_t val_len)
{
	size_t need = sizeof(*obj) + obj->key_len + val_len;
	size_t have = mem_usable_bytes(obj);
	return need <= have && have <= need + need / 4 + 16;
}

/* A copy of ref's object with a value of val_len bytes (with keep_value, its start copied
 * and the rest zero; otherwise for the caller to fill); the copy takes over the object's
 * place in the table and the index, and the object goes to db_release(). */
static struct kv_obj *db_copy_replace(struct kv_db *db, struct kv_ref *ref, size_t val_len,
				      bool keep_value)
{
	struct kv_obj *old = ref->obj;
	struct kv_obj *o = kv_db_obj_alloc(db, old->key_len, val_len);
	if (o == NULL)
		return NULL;
	memcpy(o->data, old->data, old->key_len);
	if (keep_value) {
		size_t keep = MIN((size_t)old->val_len, val_len);
		memcpy(kv_obj_val(o), kv_obj_val(old), keep);
		memset(kv_obj_val(o) + keep, 0, val_len - keep);
	}
	int64_t expire_ms = kv_db_obj_expire(db, old);
	o->vol_idx = old->vol_idx;
	db_moved(db, ref, o);
	db_release(db, old, expire_ms);
	return o;
}

static bool db_snapshot_wants(const struct kv_db *db, const struct kv_obj *obj)
{
	return db->snap != NULL && kv_snapshot_wants(db->snap, obj);
}

static struct kv_obj *db_insert(struct kv_db *db, struct kv_ref *ref, const char *key,
				size_t len, const char *val, size_t val_len)
{
	struct kv_obj *o = kv_db_obj_alloc(db, len, val_len);
	if (o == NULL)
		return NULL;
	memcpy(o->data, key, len);
	if (val != NULL)
		memcpy(kv_obj_val(o), val, val_len);
	else
		memset(kv_obj_val(o), 0, val_len);
	if (kv_table_insert(&db->ks.table, o, ref->hash, &ref->slot) != 0) {
		kv_db_obj_free(db, o);
		return NULL;
	}
	ref->obj = o;
	return o;
}

struct kv_obj *kv_db_store(struct kv_db *db, struct kv_ref *ref, const char *key, size_t len,
			   const char *val, size_t val_len, bool keep_ttl)
{
	if (ref->obj == NULL)
		return db_insert(db, ref, key, len, val, val_len);
	struct kv_obj *o = ref->obj;
	ASSERT(o->key_len == len && ref->slot != NULL);
	if (db_snapshot_wants(db, o) || !db_fits_in_place(o, val_len)) {
		o = db_copy_replace(db, ref, val_len, false);
		if (o == NULL)
			return NULL;
	}
	o->val_len = (uint32_t)val_len;
	if (val != NULL)
		memcpy(kv_obj_val(o), val, val_len);
	else
		memset(kv_obj_val(o), 0, val_len);
	o->gen = db->gen;
	if (!keep_ttl && o->vol_idx != KV_VOL_NONE)
		vol_remove(&db->ks, db->arena, o);
	return o;
}

struct kv_obj *kv_db_resize_value(struct kv_db *db, struct kv_ref *ref, size_t val_len)
{
	struct kv_obj *old = ref->obj;
	ASSERT(old != NULL && ref->slot != NULL && val_len <= KV_STRING_BYTES_MAX);
	if (db_snapshot_wants(db, old))
		return db_copy_replace(db, ref, val_len, true);
	size_t old_len = old->val_len, before = mem_usable_bytes(old);
	struct kv_obj *o = mem_arena_realloc(db->arena, old, sizeof(*old) + old->key_len + val_len);
	if (o == NULL)
		return NULL;
	db->obj_bytes = db->obj_bytes - before + mem_usable_bytes(o);
	if (o != old)
		db_moved(db, ref, o);
	if (val_len > old_len)
		memset(kv_obj_val(o) + old_len, 0, val_len - old_len);
	o->val_len = (uint32_t)val_len;
	o->gen = db->gen;
	return o;
}

void kv_db_delete(struct kv_db *db, struct kv_ref *ref)
{
	struct kv_obj *o = ref->obj;
	ASSERT(o != NULL && ref->slot != NULL);
	int64_t expire_ms = kv_db_obj_expire(db, o);
	if (o->vol_idx != KV_VOL_NONE)
		vol_remove(&db->ks, db->arena, o);
	kv_table_remove(&db->ks.table, ref->slot);
	db_release(db, o, expire_ms);
	ref->obj = NULL;
	ref->slot = NULL;
}

int kv_db_expire_set(struct kv_db *db, struct kv_ref *ref, int64_t when_ms)
{
	ASSERT(ref->obj != NULL && ref->slot != NULL);
	/* The expiry is part of the image: a snapshot that still needs the object gets it as
	 * it is, and the db goes on with a copy. */
	if (db_snapshot_wants(db, ref->obj) && 
	    db_copy_replace(db, ref, ref->obj->val_len, true) == NULL)
		return -ENOMEM;
	struct kv_obj *o = ref->obj;
	o->gen = db->gen;
	if (when_ms < 0) {
		if (o->vol_idx != KV_VOL_NONE)
			vol_remove(&db->ks, db->arena, o);
		return 0;
	}
	if (o->vol_idx != KV_VOL_NONE) {
		db->ks.vol[o->vol_idx].expire_ms = when_ms;
		return 0;
	}
	return vol_add(&db->ks, db->arena, o, when_ms);
}

/* ---- Flushing and freeing ---- */

void kv_db_trash_keyspace(struct kv_db *db, struct kv_keyspace *ks)
{
	ks->trash_pos = 0;
	ks->trash_next = NULL;
	struct kv_keyspace **tail = &db->trash;
	while (*tail != NULL)
		tail = &(*tail)->trash_next;
	*tail = ks;
}

void kv_db_flush(struct kv_db *db)
{
	struct kv_keyspace *old = mem_arena_alloc(db->arena, sizeof(*old));
	if (old == NULL) {
		/* No memory for the bookkeeping: free everything now instead, and give up a
		 * snapshot that would have needed it. */
		if (db->snap != NULL)
			kv_snapshot_fail(db->snap, -ENOMEM);
		uint64_t pos = 0;
		kv_table_walk(&db->ks.table, &pos, UINT64_MAX, db_free_visit, db);
		keyspace_free_arrays(&db->ks, db->arena);
	} else {
		*old = db->ks;
		db->dropped_array_bytes += keyspace_array_bytes(old);
		if (db->snap == NULL || !kv_snapshot_take_keyspace(db->snap, old))
			kv_db_trash_keyspace(db, old);
	}
	kv_keyspace_init(&db->ks, db->arena, db->seed);
	db->expire_pos = 0;
}

/* Frees up to budget slots' worth of the oldest flushed keyspace. */
static uint64_t db_trash_work(struct kv_db *db, uint64_t budget)
{
	struct kv_keyspace *ks = db->trash;
	if (ks == NULL)
		return 0;
	uint64_t before = ks->trash_pos;
	kv_table_walk(&ks->table, &ks->trash_pos, budget, db_free_visit, db);
	if (ks->trash_pos != UINT64_MAX)
		return ks->trash_pos - before;
	size_t bytes = keyspace_array_bytes(ks);
	ASSERT(db->dropped_array_bytes >= bytes);
	db->dropped_array_bytes -= bytes;
	keyspace_free_arrays(ks, db->arena);
	db->trash = ks->trash_next;
	mem_arena_free(db->arena, ks);
	return 1;
}

uint64_t kv_db_work(struct kv_db *db, uint64_t budget)
{
	uint64_t done = kv_table_rehash_step(&db->ks.table, budget);
	done += db_trash_work(db, budget);
	return done;
}

/* ---- Active expiry ---- */

uint64_t kv_db_expire_cycle(struct kv_db *db, int64_t now_ms, uint64_t budget)
{
	struct kv_keyspace *ks = &db->ks;
	uint64_t pass = ks->vol_len, examined = 0, deleted = 0;
	while (examined < budget && examined < pass && ks->vol_len > 0) {
		if (db->expire_pos >= ks->vol_len)
			db->expire_pos = 0;
		struct kv_vol_entry e = ks->vol[db->expire_pos];
		examined++;
		if (!kv_expired(e.expire_ms, now_ms)) {
			db->expire_pos++;
			continue;
		}
		/* The last entry moves into this position: examine it next. */
		struct kv_ref ref;
		db_lookup(db, kv_obj_key(e.obj), e.obj->key_len, &ref);
		ASSERT(ref.obj == e.obj);
		kv_db_delete(db, &ref);
		db->stats.expired_keys++;
		deleted++;
	}
	return deleted;
}

uint64_t kv_db_expired_collect(struct kv_db *db, int64_t now_ms, uint64_t max,
			       kv_expired_cb cb, void *ctx)
{
	struct kv_keyspace *ks = &db->ks;
	uint64_t pass = ks->vol_len, examined = 0, reported = 0;
	while (examined < max && examined < pass) {
		if (db->expire_pos >= ks->vol_len)
			db->expire_pos = 0;
		const struct kv_vol_entry *e = &ks->vol[db->expire_pos++];
		examined++;
		if (kv_expired(e->expire_ms, now_ms)) {
			cb(ctx, kv_obj_key(e->obj), e->obj->key_len);
			reported++;
		}
	}
	return reported;
}
