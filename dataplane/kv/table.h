/* The keyspace's hash table: open addressing with linear probing over an array of 8-byte
 * slots, each a tagged pointer (the object's address in the low 48 bits, 16 bits of its hash
 * above them), so that a probe compares tags in one cache line and touches an object only
 * when its tag matches.
 *
 * Placement: an entry's home slot is the top `bits` bits of its hash; it lives at its home
 * or after it, with no empty slot in between. Deleting leaves a tombstone, unless the next
 * slot is empty, in which case the slot (and the tombstones before it) become empty again.
 * Entries never move inside an array; they move only when the incremental resize carries
 * them to the next array. That is what lets SCAN and the snapshot walk a table that keeps
 * changing under them.
 *
 * Resizing: when an insert would fill more than 3/4 of the slots (live plus tombstones), or
 * a delete leaves fewer than 1/8 live, a second array is allocated and every insert and
 * delete then moves KV_TABLE_REHASH_SLOTS slots of the old array into it (kv_db_work()
 * moves more between commands). The new array is sized so that it cannot fill up before
 * the move is complete: no operation ever waits for a whole-table rehash.
 *
 * The scan cursor is a position in hash space: the top KV_SCAN_CURSOR_BITS bits of a hash.
 * Because a home is a prefix of the hash, a cursor names the same region of keys in arrays
 * of every size, so a scan that spans resizes still visits every home exactly once. */
#ifndef SPINDLE_KV_TABLE_H
#define SPINDLE_KV_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/obj.h"

#define KV_TABLE_BITS_MIN 3      /* the smallest array: 8 slots */
#define KV_TABLE_BITS_MAX 40     /* 2^40 slots; must stay <= KV_SCAN_CURSOR_BITS */
#define KV_TABLE_REHASH_SLOTS 16 /* old slots moved per insert or delete while resizing */
#define KV_SCAN_CURSOR_BITS 48

#define KV_SLOT_EMPTY 0ull
#define KV_SLOT_TOMB 1ull
#define KV_SLOT_PTR_MASK ((1ull << 48) - 1)

_Static_assert(KV_TABLE_BITS_MAX <= KV_SCAN_CURSOR_BITS, "a home fits in a cursor");

struct kv_tab {
	uint64_t *slots; /* NULL until the first insert */
	uint8_t bits;
	uint64_t live;   /* slots holding an entry */
	uint64_t used;   /* live + tombstones */
};

struct kv_table {
	struct kv_tab main;
	struct kv_tab next;   /* the resize target while rehashing */
	bool rehashing;
	uint64_t rehash_pos;  /* slots of main below this have been moved */
	uint64_t seed;
	unsigned arena;
};

/* Returns false to stop a walk early. */
typedef bool (*kv_table_visit_fn)(void *ctx, struct kv_obj *obj);

void kv_table_init(struct kv_table *t, unsigned arena, uint64_t seed);
/* Frees the arrays (not the objects). */
void kv_table_free(struct kv_table *t);

uint64_t kv_table_hash(const struct kv_table *t, const void *key, size_t len);

static inline uint64_t kv_table_count(const struct kv_table *t)
{
	return t->main.live + t->next.live;
}

/* Memory of the slot arrays. */
size_t kv_table_bytes(const struct kv_table *t);

static inline struct kv_obj *kv_slot_obj(uint64_t w)
{
	return (struct kv_obj *)(uintptr_t)(w & KV_SLOT_PTR_MASK);
}

static inline bool kv_slot_live(uint64_t w)
{
	return w > KV_SLOT_TOMB;
}

/* Points a slot at a new copy of its object (same key, so the tag stays). */
static inline void kv_slot_replace(uint64_t *slot, struct kv_obj *obj)
{
	*slot = (*slot & ~KV_SLOT_PTR_MASK) | (uint64_t)(uintptr_t)obj;
}

/* The slot holding key, or NULL. The pointer is valid until the next insert, remove or
 * rehash step. Never changes the table. */
uint64_t *kv_table_find(const struct kv_table *t, const void *key, size_t len, uint64_t hash);

/* Adds obj, whose key must not be in the table; hash = kv_table_hash() of its key.
 * Returns 0 and the slot it went to in *slot (if slot is not NULL; valid as for
 * kv_table_find()), or -ENOMEM if the table is full and could not grow. */
int kv_table_insert(struct kv_table *t, struct kv_obj *obj, uint64_t hash, uint64_t **slot);

/* Removes the entry in slot (from kv_table_find()). */
void kv_table_remove(struct kv_table *t, uint64_t *slot);

/* Moves up to `slots` slots of a resize in progress; returns the slots visited (0 when no
 * resize is running). */
uint64_t kv_table_rehash_step(struct kv_table *t, uint64_t slots);

/* One step of a scan: visits the entries of the homes that cursor names (in both arrays
 * while resizing). exact: only entries whose home is in the step (each entry is reported in
 * one step per pass, at the cost of hashing the keys it passes); otherwise every entry of
 * the probe runs that start in the step (some twice, no hashing). If fn stops the step, the
 * cursor is left as it was and false is returned; otherwise *cursor advances (0 = the scan
 * is complete). Only the low KV_SCAN_CURSOR_BITS bits of the cursor are used. fn must not
 * change the table. */
bool kv_table_scan_step(const struct kv_table *t, uint64_t *cursor, bool exact,
			kv_table_visit_fn fn, void *ctx);

/* Visits slots [*pos, *pos + n) of the concatenation main + next in order, calling fn for
 * each entry; *pos advances, and is UINT64_MAX once every slot has been visited. For walks
 * during which the table does not change (KEYS, freeing a dropped table). Returns false if
 * fn stopped the walk (*pos then names the slot after the entry it stopped at). */
bool kv_table_walk(const struct kv_table *t, uint64_t *pos, uint64_t n, kv_table_visit_fn fn,
		   void *ctx);

#endif
