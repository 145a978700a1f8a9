/* A reference model of one keyspace for the lane's tests: Redis strings with absolute expiry
 * times, and the few commands the tests send (SET [PXAT], GET, DEL, INCRBY, APPEND,
 * PEXPIREAT, PERSIST, EXISTS) with the replies Redis gives in RESP2. It is deliberately
 * plain (a list of keys, compared one by one) so that it can be trusted by reading it.
 *
 * Tests keep every expiry time either well in the past or well in the future, so that the
 * model's answers do not depend on when a command ran. */
#ifndef SPINDLE_TESTS_LANE_MODEL_H
#define SPINDLE_TESTS_LANE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"

#define LM_KEY_BYTES_MAX 64
#define LM_REPLY_BYTES_MAX 128   /* replies the model writes (values are compared apart) */

struct lm_key {
	char name[LM_KEY_BYTES_MAX];
	bool present;
	char *val;
	size_t len;
	int64_t expire_ms;           /* -1: no time to live */
};

struct lm {
	struct lm_key *keys;
	uint32_t count, cap;
};

/* One key's state, for histories. */
struct lm_state {
	bool present;
	char *val;
	size_t len;
	int64_t expire_ms;
};

void lm_init(struct lm *m);
void lm_free(struct lm *m);
void lm_copy(struct lm *dst, const struct lm *src);
struct lm_key *lm_find(struct lm *m, const char *key);
/* Applies a write (argv[0] in any case) at now_ms and writes the reply Redis gives into
 * reply (RESP2). Returns 0, or -EINVAL for a command the model does not know. */
int lm_apply(struct lm *m, uint32_t argc, const struct resp_arg *argv, int64_t now_ms,
	     char *reply, size_t cap);
/* The reply of a read (GET, EXISTS) at now_ms, into a buffer the caller frees. */
char *lm_read(struct lm *m, uint32_t argc, const struct resp_arg *argv, int64_t now_ms,
	      size_t *len);
uint64_t lm_live_count(const struct lm *m, int64_t now_ms);

void lm_state_get(struct lm *m, const char *key, struct lm_state *out);
void lm_state_set(struct lm *m, const char *key, const struct lm_state *st);
void lm_state_free(struct lm_state *st);
bool lm_state_equal(const struct lm_state *a, const struct lm_state *b);
/* The state db holds for key at now_ms. */
void lm_state_of_db(struct kv_db *db, const char *key, int64_t now_ms, struct lm_state *out);

/* Compares db with the model at now_ms: every key and its value and expiry, and the key
 * count. Returns true when equal; otherwise describes the first difference in why. */
bool lm_matches_db(struct lm *m, struct kv_db *db, int64_t now_ms, char *why, size_t cap);

#endif
