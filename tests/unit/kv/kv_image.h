/* A db's contents as sorted (key, value, expiry) triples, to compare two dbs exactly. */
#ifndef SPINDLE_TESTS_KV_IMAGE_H
#define SPINDLE_TESTS_KV_IMAGE_H

#include "kv_test.h"

#include "kv/db.h"

struct image_entry {
	char *key, *val;
	size_t key_len, val_len;
	int64_t expire_ms;
};

struct image {
	struct image_entry *e;
	size_t n, cap;
	const struct kv_db *db;
};

static inline bool image_visit(void *ctx, struct kv_obj *o)
{
	struct image *img = ctx;
	if (img->n == img->cap) {
		img->cap = img->cap ? img->cap * 2 : 64;
		img->e = realloc(img->e, img->cap * sizeof(*img->e));
		assert_non_null(img->e);
	}
	struct image_entry *e = &img->e[img->n++];
	e->key_len = o->key_len;
	e->val_len = o->val_len;
	e->key = malloc(o->key_len + 1);
	e->val = malloc(o->val_len + 1);
	memcpy(e->key, kv_obj_key(o), o->key_len);
	memcpy(e->val, kv_obj_val(o), o->val_len);
	e->expire_ms = kv_db_obj_expire(img->db, o);
	return true;
}

static inline int image_cmp(const void *a, const void *b)
{
	const struct image_entry *x = a, *y = b;
	size_t n = MIN(x->key_len, y->key_len);
	int c = memcmp(x->key, y->key, n);
	if (c != 0)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

static inline struct image image_take(const struct kv_db *db)
{
	struct image img = { .db = db };
	uint64_t pos = 0;
	kv_table_walk(&db->ks.table, &pos, UINT64_MAX, image_visit, &img);
	if (img.n > 0)
		qsort(img.e, img.n, sizeof(*img.e), image_cmp);
	return img;
}

static inline void image_free(struct image *img)
{
	for (size_t i = 0; i < img->n; i++) {
		free(img->e[i].key);
		free(img->e[i].val);
	}
	free(img->e);
}

static inline void image_expect_equal(const struct image *a, const struct image *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->e[i].key_len, b->e[i].key_len);
		assert_memory_equal(a->e[i].key, b->e[i].key, a->e[i].key_len);
		assert_int_equal(a->e[i].val_len, b->e[i].val_len);
		assert_memory_equal(a->e[i].val, b->e[i].val, a->e[i].val_len);
		assert_int_equal(a->e[i].expire_ms, b->e[i].expire_ms);
	}
}

#endif
