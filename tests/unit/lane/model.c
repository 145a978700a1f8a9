/* The lane tests' reference model (see model.h). */
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/panic.h"

void lm_init(struct lm *m)
{
	memset(m, 0, sizeof(*m));
}

void lm_free(struct lm *m)
{
	for (uint32_t i = 0; i < m->count; i++)
		free(m->keys[i].val);
	free(m->keys);
	memset(m, 0, sizeof(*m));
}

static char *lm_dup(const char *p, size_t len)
{
	char *s = malloc(len + 1);
	ASSERT(s != NULL);
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

void lm_copy(struct lm *dst, const struct lm *src)
{
	lm_free(dst);
	dst->keys = calloc(src->cap ? src->cap : 1, sizeof(*dst->keys));
	ASSERT(dst->keys != NULL);
	dst->cap = src->cap;
	dst->count = src->count;
	for (uint32_t i = 0; i < src->count; i++) {
		dst->keys[i] = src->keys[i];
		dst->keys[i].val = src->keys[i].val ? lm_dup(src->keys[i].val, src->keys[i].len) : NULL;
	}
}

struct lm_key *lm_find(struct lm *m, const char *key)
{
	for (uint32_t i = 0; i < m->count; i++)
		if (strcmp(m->keys[i].name, key) == 0)
			return &m->keys[i];
	return NULL;
}

static struct lm_key *lm_get_or_add(struct lm *m, const char *key)
{
	struct lm_key *k = lm_find(m, key);
	if (k != NULL)
		return k;
	if (m->count == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->keys = realloc(m->keys, m->cap * sizeof(*m->keys));
		ASSERT(m->keys != NULL);
	}
	k = &m->keys[m->count++];
	memset(k, 0, sizeof(*k));
	ASSERT(strlen(key) < LM_KEY_BYTES_MAX);
	strcpy(k->name, key);
	k->expire_ms = -1;
	return k;
}

static bool lm_alive(const struct lm_key *k, int64_t now_ms)
{
	return k != NULL && k->present && (k->expire_ms < 0 || k->expire_ms > now_ms);
}

static void lm_set_val(struct lm_key *k, const char *p, size_t len)
{
	free(k->val);
	k->val = lm_dup(p, len);
	k->len = len;
	k->present = true;
}

static void lm_delete(struct lm_key *k)
{
	free(k->val);
	k->val = NULL;
	k->len = 0;
	k->present = false;
	k->expire_ms = -1;
}

static int64_t lm_arg_int(const struct resp_arg *a)
{
	char buf[32];
	ASSERT(a->len < sizeof(buf));
	memcpy(buf, a->ptr, a->len);
	buf[a->len] = '\0';
	return strtoll(buf, NULL, 10);
}

static bool lm_is(const struct resp_arg *a, const char *name)
{
	return a->len == strlen(name) && strncasecmp(a->ptr, name, a->len) == 0;
}

static void lm_key_name(const struct resp_arg *a, char *out)
{
	ASSERT(a->len < LM_KEY_BYTES_MAX);
	memcpy(out, a->ptr, a->len);
	out[a->len] = '\0';
}

int lm_apply(struct lm *m, uint32_t argc, const struct resp_arg *argv, int64_t now_ms,
	     char *reply, size_t cap)
{
	char name[LM_KEY_BYTES_MAX];
	lm_key_name(&argv[1], name);
	struct lm_key *k = lm_find(m, name);
	bool alive = lm_alive(k, now_ms);
	if (lm_is(&argv[0], "set") && (argc == 3 || argc == 5)) {
		k = lm_get_or_add(m, name);
		lm_set_val(k, argv[2].ptr, argv[2].len);
		k->expire_ms = argc == 5 ? lm_arg_int(&argv[4]) : -1;
		ASSERT(argc == 3 || (lm_is(&argv[3], "pxat") && k->expire_ms > now_ms));
		snprintf(reply, cap, "+OK\r\n");
	} else if (lm_is(&argv[0], "del") && argc == 2) {
		if (alive)
			lm_delete(k);
		snprintf(reply, cap, ":%d\r\n", alive ? 1 : 0);
	} else if (lm_is(&argv[0], "incrby") && argc == 3) {
		int64_t v = lm_arg_int(&argv[2]) + (alive ? strtoll(k->val, NULL, 10) : 0);
		char num[32];
		int n = snprintf(num, sizeof(num), "%" PRId64, v);
		if (!alive) {
			k = lm_get_or_add(m, name);
			k->expire_ms = -1;
		}
		lm_set_val(k, num, (size_t)n);
		snprintf(reply, cap, ":%" PRId64 "\r\n", v);
	} else if (lm_is(&argv[0], "append") && argc == 3) {
		if (!alive) {
			k = lm_get_or_add(m, name);
			lm_set_val(k, argv[2].ptr, argv[2].len);
			k->expire_ms = -1;
		} else {
			char *v = malloc(k->len + argv[2].len + 1);
			ASSERT(v != NULL);
			memcpy(v, k->val, k->len);
			memcpy(v + k->len, argv[2].ptr, argv[2].len);
			v[k->len + argv[2].len] = '\0';
			free(k->val);
			k->val = v;
			k->len += argv[2].len;
		}
		snprintf(reply, cap, ":%zu\r\n", k->len);
	} else if (lm_is(&argv[0], "pexpireat") && argc == 3) {
		int64_t when = lm_arg_int(&argv[2]);
		if (alive && when <= now_ms)
			lm_delete(k);
		else if (alive)
			k->expire_ms = when;
		snprintf(reply, cap, ":%d\r\n", alive ? 1 : 0);
	} else if (lm_is(&argv[0], "persist") && argc == 2) {
		bool had = alive && k->expire_ms >= 0;
		if (had)
			k->expire_ms = -1;
		snprintf(reply, cap, ":%d\r\n", had ? 1 : 0);
	} else {
		return -EINVAL;
	}
	return 0;
}

char *lm_read(struct lm *m, uint32_t argc, const struct resp_arg *argv, int64_t now_ms,
	      size_t *len)
{
	char name[LM_KEY_BYTES_MAX];
	lm_key_name(&argv[1], name);
	struct lm_key *k = lm_find(m, name);
	bool alive = lm_alive(k, now_ms);
	ASSERT(argc == 2);
	char head[48];
	int n;
	if (lm_is(&argv[0], "exists")) {
		n = snprintf(head, sizeof(head), ":%d\r\n", alive ? 1 : 0);
		*len = (size_t)n;
		return lm_dup(head, (size_t)n);
	}
	ASSERT(lm_is(&argv[0], "get"));
	if (!alive) {
		*len = 5;
		return lm_dup("$-1\r\n", 5);
	}
	n = snprintf(head, sizeof(head), "$%zu\r\n", k->len);
	char *r = malloc((size_t)n + k->len + 3);
	ASSERT(r != NULL);
	memcpy(r, head, (size_t)n);
	memcpy(r + n, k->val, k->len);
	memcpy(r + n + k->len, "\r\n", 3);
	*len = (size_t)n + k->len + 2;
	return r;
}

uint64_t lm_live_count(const struct lm *m, int64_t now_ms)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < m->count; i++)
		n += lm_alive(&m->keys[i], now_ms);
	return n;
}

/* ---- Per-key states ---- */

void lm_state_get(struct lm *m, const char *key, struct lm_state *out)
{
	struct lm_key *k = lm_find(m, key);
	memset(out, 0, sizeof(*out));
	out->expire_ms = -1;
	if (k == NULL || !k->present)
		return;
	out->present = true;
	out->val = lm_dup(k->val, k->len);
	out->len = k->len;
	out->expire_ms = k->expire_ms;
}

void lm_state_set(struct lm *m, const char *key, const struct lm_state *st)
{
	struct lm_key *k = lm_get_or_add(m, key);
	if (!st->present) {
		lm_delete(k);
		return;
	}
	lm_set_val(k, st->val, st->len);
	k->expire_ms = st->expire_ms;
}

void lm_state_free(struct lm_state *st)
{
	free(st->val);
	memset(st, 0, sizeof(*st));
}

bool lm_state_equal(const struct lm_state *a, const struct lm_state *b)
{
	if (a->present != b->present)
		return false;
	if (!a->present)
		return true;
	return a->len == b->len && memcmp(a->val, b->val, a->len) == 0 &&
	       a->expire_ms == b->expire_ms;
}

void lm_state_of_db(struct kv_db *db, const char *key, int64_t now_ms, struct lm_state *out)
{
	const char *val;
	size_t len;
	memset(out, 0, sizeof(*out));
	out->expire_ms = -1;
	if (!kv_db_get(db, key, strlen(key), now_ms, &val, &len))
		return;
	out->present = true;
	out->val = lm_dup(val, len);
	out->len = len;
	out->expire_ms = kv_db_expire_get(db, key, strlen(key), now_ms);
}

bool lm_matches_db(struct lm *m, struct kv_db *db, int64_t now_ms, char *why, size_t cap)
{
	for (uint32_t i = 0; i < m->count; i++) {
		struct lm_key *k = &m->keys[i];
		struct lm_state want, got;
		lm_state_get(m, k->name, &want);
		want.present = lm_alive(k, now_ms);
		lm_state_of_db(db, k->name, now_ms, &got);
		bool eq = lm_state_equal(&want, &got);
		if (!eq)
			snprintf(why, cap, "key %s: model %s (%zu bytes, expire %" PRId64 "), db %s "
				 "(%zu bytes, expire %" PRId64 ")", k->name,
				 want.present ? "present" : "absent", want.len, want.expire_ms,
				 got.present ? "present" : "absent", got.len, got.expire_ms);
		lm_state_free(&want);
		lm_state_free(&got);
		if (!eq)
			return false;
	}
	uint64_t want_n = lm_live_count(m, now_ms), got_n = kv_db_size(db);
	if (want_n != got_n) {
		snprintf(why, cap, "the model has %" PRIu64 " keys, the db %" PRIu64, want_n, got_n);
		return false;
	}
	return true;
}
