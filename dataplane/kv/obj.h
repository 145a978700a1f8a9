/* One key and its string value in a single allocation: a 16-byte header, the key bytes, then
 * the value bytes (neither NUL-terminated). The expiry time is not here: a key with a TTL
 * has an entry in its keyspace's volatile index (db.h), and vol_idx points at it, so that the
 * many keys without a TTL pay 4 bytes for it instead of 8. */
#ifndef SPINDLE_KV_OBJ_H
#define SPINDLE_KV_OBJ_H

#include <stdint.h>

#define KV_VOL_NONE UINT32_MAX

struct kv_obj {
	uint32_t key_len;
	uint32_t val_len;
	uint32_t gen;     /* snapshot generation: see snap.c */
	uint32_t vol_idx; /* index in the volatile index, or KV_VOL_NONE */
	char data[];
};

_Static_assert(sizeof(struct kv_obj) == 16, "object header is 16 bytes");

static inline const char *kv_obj_key(const struct kv_obj *o)
{
	return o->data;
}

static inline char *kv_obj_val(struct kv_obj *o)
{
	return o->data + o->key_len;
}

static inline const char *kv_obj_cval(const struct kv_obj *o)
{
	return o->data + o->key_len;
}

#endif
