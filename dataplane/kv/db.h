/* Inside the db: the keyspace (hash table + volatile index), and the operations the command
 * handlers build on. Every change to an existing object goes through these functions, so
 * that an open snapshot is handed the objects it still needs before they change or go. */
#ifndef SPINDLE_KV_DB_H
#define SPINDLE_KV_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"
#include "kv/obj.h"
#include "kv/table.h"

#define KV_VOL_CAP_MIN 16

/* One key with a TTL. The index is dense: sampling it costs nothing for keys without one. */
struct kv_vol_entry {
	struct kv_obj *obj;
	int64_t expire_ms;
};

struct kv_keyspace {
	struct kv_table table;
	struct kv_vol_entry *vol;
	uint64_t vol_len, vol_cap;
	/* On the db's list of flushed keyspaces being freed by kv_db_work(): */
	struct kv_keyspace *trash_next;
	uint64_t trash_pos;
};

struct kv_db {
	unsigned arena;
	uint64_t seed;
	uint32_t gen;               /* generation of new objects; see snap.c */
	struct kv_keyspace ks;
	struct kv_snapshot *snap;   /* the open snapshot, or NULL */
	struct kv_keyspace *trash;  /* flushed keyspaces, freed a bit per kv_db_work() */
	uint64_t expire_pos;        /* the rotating position of active expiry in ks.vol */
	size_t obj_bytes;           /* usable bytes of every object the db owns or gave away */
	size_t dropped_array_bytes; /* slot and index arrays of flushed keyspaces */
	struct kv_db_stats stats;
};

/* A looked-up key. slot and obj are valid until the next change of the db. */
struct kv_ref {
	uint64_t hash;
	uint64_t *slot;
	struct kv_obj *obj;
};

/* ---- Objects ---- */
struct kv_obj *kv_db_obj_alloc(struct kv_db *db, size_t key_len, size_t val_len);
void kv_db_obj_free(struct kv_db *db, struct kv_obj *obj);

static inline bool kv_expired(int64_t expire_ms, int64_t now_ms)
{
	return expire_ms >= 0 && now_ms > expire_ms;
}

/* -1 if obj (an object of ks) has no TTL, else its absolute expiry time. */
static inline int64_t kv_keyspace_obj_expire(const struct kv_keyspace *ks,
					     const struct kv_obj *obj)
{
	return obj->vol_idx == KV_VOL_NONE ? -1 : ks->vol[obj->vol_idx].expire_ms;
}

static inline int64_t kv_db_obj_expire(const struct kv_db *db, const struct kv_obj *obj)
{
	return kv_keyspace_obj_expire(&db->ks, obj);
}

/* ---- Lookup ---- */
/* The key's object if it exists and is not expired at now_ms, else NULL (ref->hash is set
 * either way). Never changes the db. */
struct kv_obj *kv_db_find(struct kv_db *db, const char *key, size_t len, int64_t now_ms,
			  struct kv_ref *ref);
/* As kv_db_find(), but for a write: a key expired at now_ms is deleted first. */
struct kv_obj *kv_db_find_write(struct kv_db *db, const char *key, size_t len, int64_t now_ms,
				struct kv_ref *ref);

/* ---- Changes (ref from the lookup just before) ---- */
/* Sets the key's value (val_len zero bytes if val is NULL), adding the key if ref->obj is
 * NULL. keep_ttl keeps an existing TTL;
 * otherwise the key ends up without one. Returns the object, or NULL if memory is short
 * (the db is then unchanged). */
struct kv_obj *kv_db_store(struct kv_db *db, struct kv_ref *ref, const char *key, size_t len,
			   const char *val, size_t val_len, bool keep_ttl);
/* Makes ref->obj's value val_len bytes long, keeping its start and zero-filling any new
 * bytes, and returns the object to write the value into (NULL if memory is short). */
struct kv_obj *kv_db_resize_value(struct kv_db *db, struct kv_ref *ref, size_t val_len);
void kv_db_delete(struct kv_db *db, struct kv_ref *ref);
/* Sets (when_ms >= 0) or removes (when_ms = -1) the TTL of ref->obj. Returns 0 or -ENOMEM. */
int kv_db_expire_set(struct kv_db *db, struct kv_ref *ref, int64_t when_ms);

/* ---- Snapshot hooks (snap.c) ---- */
/* True if the open snapshot still has to write obj as it is now. */
bool kv_snapshot_wants(const struct kv_snapshot *snap, const struct kv_obj *obj);
/* Hands obj (with its expiry) to the snapshot, which frees it once written. */
void kv_snapshot_take(struct kv_snapshot *snap, struct kv_obj *obj, int64_t expire_ms);
/* The snapshot cannot go on (err < 0, reported by kv_snapshot_error()): it drops everything
 * it holds and wants nothing more. */
void kv_snapshot_fail(struct kv_snapshot *snap, int err);
/* The db is being flushed: the snapshot takes the whole keyspace (and true is returned), or
 * false if it needs nothing from it. */
bool kv_snapshot_take_keyspace(struct kv_snapshot *snap, struct kv_keyspace *ks);

/* ---- Keyspaces (for snap.c and loading) ---- */
void kv_keyspace_init(struct kv_keyspace *ks, unsigned arena, uint64_t seed);
/* Adds an object whose key is absent (loading a snapshot); 0 or -ENOMEM. */
int kv_keyspace_insert(struct kv_db *db, struct kv_obj *obj, int64_t expire_ms);
/* Queues a keyspace that nothing needs any more for incremental freeing. */
void kv_db_trash_keyspace(struct kv_db *db, struct kv_keyspace *ks);

#endif
